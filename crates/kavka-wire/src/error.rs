use kafka_protocol::messages::ApiKey;

/// Why a frame could not become a request. Every variant closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("frame size {0} is negative")]
    NegativeSize(i32),
    #[error("frame size {size} exceeds socket.request.max.bytes {max}")]
    FrameTooLarge { size: usize, max: usize },
    #[error("frame of {0} bytes is too short for a request header")]
    TruncatedHeader(usize),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("unsupported version {version} of {api:?}")]
    UnsupportedVersion { api: ApiKey, version: i16 },
    #[error("cannot parse {api:?} v{version}: {reason}")]
    Malformed {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("cannot encode response: {0}")]
    Encode(String),
}
