/// Why a metadata change was refused; each maps to a Kafka error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetadataError {
    #[error("Topic '{0}' already exists.")]
    TopicAlreadyExists(String),
    #[error("{0}")]
    InvalidTopic(String),
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("{0}")]
    InvalidReplicationFactor(String),
    #[error("This server does not host this topic-partition.")]
    UnknownTopic(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("metadata log: {0}")]
    Log(String),
}

impl MetadataError {
    /// The Kafka error code clients expect for this refusal.
    pub fn code(&self) -> i16 {
        match self {
            Self::TopicAlreadyExists(_) => 36,
            Self::InvalidTopic(_) => 17,
            Self::InvalidPartitions(_) => 37,
            Self::InvalidReplicationFactor(_) => 38,
            Self::UnknownTopic(_) => 3,
            Self::InvalidConfig(_) => 40,
            Self::InvalidRequest(_) => 42,
            Self::Log(_) => 56,
        }
    }
}
