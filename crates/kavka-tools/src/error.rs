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
            None => match kafka_message(code) {
                Some(m) => m.to_string(),
                None => match ResponseError::try_from_code(code) {
                    Some(e) => e.to_string(),
                    None => format!("error code {code}"),
                },
            },
        };
        ToolError::Kafka {
            code,
            message: text,
        }
    }
}

/// Kafka's default exception message for the error codes the tools meet.
fn kafka_message(code: i16) -> Option<&'static str> {
    Some(match code {
        1 => "The requested offset is not within the range of offsets maintained by the server.",
        3 => "This server does not host this topic-partition.",
        5 => "There is no leader for this topic-partition as we are in the middle of a leadership election.",
        7 => "The request timed out.",
        14 => "The coordinator is loading and hence can't process requests.",
        15 => "The coordinator is not available.",
        16 => "This is not the correct coordinator.",
        25 => "The coordinator is not aware of this member.",
        29 => "Topic authorization failed.",
        30 => "Group authorization failed.",
        31 => "Cluster authorization failed.",
        35 => "The version of API is not supported.",
        36 => "Topic with this name already exists.",
        37 => "Number of partitions is below 1.",
        38 => "Replication factor is below 1 or larger than the number of available brokers.",
        39 => "Replica assignment is invalid.",
        40 => "Configuration is invalid.",
        41 => "This is not the correct controller for this cluster.",
        42 => "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.",
        44 => "Request parameters do not satisfy the configured policy.",
        54 => "Security features are disabled.",
        68 => "The group is not empty.",
        69 => "The group id does not exist.",
        80 => "The preferred leader was not available.",
        83 => "Eligible topic partition leaders are not available.",
        84 => "Leader election not needed for topic partition.",
        86 => "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.",
        87 => "This record has failed the validation on broker and hence will be rejected.",
        _ => return None,
    })
}

/// The class of the exception Kafka's Java client raises for an error code, fully
/// qualified, as its tools print it (`org.apache.kafka.common.errors.…Exception`).
pub(crate) fn java_exception_class(code: i16) -> String {
    let class = match code {
        -1 => "UnknownServerException",
        1 => "OffsetOutOfRangeException",
        3 => "UnknownTopicOrPartitionException",
        5 => "LeaderNotAvailableException",
        6 => "NotLeaderOrFollowerException",
        7 => "TimeoutException",
        15 => "CoordinatorNotAvailableException",
        16 => "NotCoordinatorException",
        25 => "UnknownMemberIdException",
        29 => "TopicAuthorizationException",
        31 => "ClusterAuthorizationException",
        35 => "UnsupportedVersionException",
        41 => "NotControllerException",
        42 => "InvalidRequestException",
        54 => "SecurityDisabledException",
        68 => "GroupNotEmptyException",
        69 => "GroupIdNotFoundException",
        80 => "PreferredLeaderNotAvailableException",
        83 => "EligibleLeadersNotAvailableException",
        84 => "ElectionNotNeededException",
        86 => "GroupSubscribedToTopicException",
        _ => "KafkaException",
    };
    format!("org.apache.kafka.common.errors.{class}")
}

/// `Throwable.toString()` of the exception Kafka's client raises for `e`.
pub(crate) fn java_exception(e: &ToolError) -> String {
    match e {
        ToolError::Kafka { code, message } => {
            format!("{}: {message}", java_exception_class(*code))
        }
        other => other.to_string(),
    }
}
