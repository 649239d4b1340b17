//! Errors of the tools, each with the exit status Kafka's tool uses for it.

use kafka_protocol::ResponseError;

/// What went wrong while running a tool.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// No broker of the bootstrap list accepted a connection.
    #[error("Could not connect to any bootstrap server ({0}): is a broker running there?")]
    Unreachable(String),
    /// The broker closed the connection or stopped answering.
    #[error("Lost the connection to {0} (no answer within the timeout)")]
    Disconnected(String),
    /// A response we could not make sense of.
    #[error("Protocol error: {0}")]
    Protocol(String),
    /// The broker lacks an API the command needs.
    #[error("Unsupported: {0}")]
    Unsupported(String),
    /// An error code in a Kafka response.
    #[error("{message}")]
    Kafka {
        /// Kafka's error code.
        code: i16,
        /// Kafka's exception text for it.
        message: String,
    },
    /// Bad command-line arguments: usage was printed.
    #[error("{0}")]
    Usage(String),
}

impl ToolError {
    /// An error for a Kafka error code, with the broker's message when it sent one.
    pub(crate) fn from_code(code: i16, message: Option<&str>) -> Self {
        let text = match message.filter(|m| !m.is_empty()) {
            Some(m) => m.to_string(),
            None => match ResponseError::try_from_code(code) {
                Some(e) => e.to_string(),
                None => format!("error code {code}"),
            },
        };
        ToolError::Kafka {
            code,
            message: text,
        }
    }
}
