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
    InvalidReplicaAssignment(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// A change the broker's own limits forbid (Kavka: partitions past what the
    /// open-file limit allows): POLICY_VIOLATION.
    #[error("{0}")]
    PolicyViolation(String),
    /// The principal may not change this topic: TOPIC_AUTHORIZATION_FAILED.
    #[error("{0}")]
    TopicAuthorizationFailed(String),
    #[error("metadata log: {0}")]
    Log(String),
    /// No active controller could take the change now (an election, a lost
    /// quorum); the client retries.
    #[error("no active controller: {0}")]
    NotController(String),
    /// The change was sent but not known to be committed in time; it may still be.
    #[error("{0}")]
    Timeout(String),
    /// RESOURCE_NOT_FOUND (a SCRAM credential that does not exist).
    #[error("{0}")]
    ResourceNotFound(String),
    /// Over the client's `controller_mutation_rate` (KIP-599).
    #[error("{0}")]
    ThrottlingQuotaExceeded(String),
}

impl MetadataError {
    /// The refusal a Kafka error code stands for, as it came back from the
    /// controller.
    pub fn from_code(code: i16, message: String) -> Self {
        match code {
            36 => Self::TopicAlreadyExists(message),
            17 => Self::InvalidTopic(message),
            37 => Self::InvalidPartitions(message),
            38 => Self::InvalidReplicationFactor(message),
            3 => Self::UnknownTopic(message),
            40 => Self::InvalidConfig(message),
            39 => Self::InvalidReplicaAssignment(message),
            41 => Self::NotController(message),
            7 => Self::Timeout(message),
            56 => Self::Log(message),
            44 => Self::PolicyViolation(message),
            91 => Self::ResourceNotFound(message),
            29 => Self::TopicAuthorizationFailed(message),
            89 => Self::ThrottlingQuotaExceeded(message),
            _ => Self::InvalidRequest(message),
        }
    }

    /// The Kafka error code clients expect for this refusal.
    pub fn code(&self) -> i16 {
        match self {
            Self::TopicAlreadyExists(_) => 36,
            Self::InvalidTopic(_) => 17,
            Self::InvalidPartitions(_) => 37,
            Self::InvalidReplicationFactor(_) => 38,
            Self::UnknownTopic(_) => 3,
            Self::InvalidConfig(_) => 40,
            Self::InvalidReplicaAssignment(_) => 39,
            Self::InvalidRequest(_) => 42,
            Self::PolicyViolation(_) => 44,
            Self::TopicAuthorizationFailed(_) => 29,
            Self::Log(_) => 56,
            Self::NotController(_) => 41,
            Self::Timeout(_) => 7,
            Self::ResourceNotFound(_) => 91,
            Self::ThrottlingQuotaExceeded(_) => 89,
        }
    }
}
