//! Errors of the metadata quorum.

use std::path::PathBuf;

use crate::types::NodeId;

/// Why the on-disk state of a node cannot be opened. The node refuses to start: a
/// guessed vote or a dropped committed entry would break Raft's guarantees.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    /// A file or directory could not be read or written.
    #[error("metadata quorum storage {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The log file is damaged beyond a torn tail.
    #[error(transparent)]
    Log(#[from] crate::log_file::LogFileError),
    /// A vote, committed, purged or snapshot file is unreadable or corrupt.
    #[error(transparent)]
    StateFile(#[from] kavka_storage::durable::StateFileError),
}

/// A bad quorum configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `controller.quorum.voters` does not parse.
    #[error("invalid controller.quorum.voters entry '{entry}': {reason}")]
    Voters { entry: String, reason: String },
    /// Something else is inconsistent.
    #[error("invalid metadata quorum config: {0}")]
    Invalid(String),
}

/// Why `MetadataQuorum::start` failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreOpenError),
    /// The controller listener could not be bound.
    #[error("cannot listen on {addr} for the metadata quorum: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    /// openraft refused the configuration or could not start.
    #[error("cannot start the metadata quorum: {0}")]
    Raft(String),
}

/// Why a quorum request failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuorumError {
    /// This node is not the leader; forward to `leader` (Kafka's NOT_CONTROLLER).
    /// `None` while no leader is known (an election is going on).
    #[error("not the metadata quorum leader; the leader is {}", leader_text(.leader, .leader_addr))]
    NotLeader {
        leader: Option<NodeId>,
        leader_addr: Option<String>,
    },
    /// The entry committed at `index`, but the image refused its records (say, a
    /// partition of an unknown topic), so it changed nothing.
    #[error("metadata entry {index} committed but refused by the image: {reason}")]
    Refused {
        index: u64,
        /// The Kafka error code of the image's refusal (`MetadataError::code`).
        code: i16,
        reason: String,
    },
    /// The entry committed at `index` but was decided on an older image, so it
    /// changed nothing; decide again on the current image.
    #[error("metadata entry {index} was decided on an older image; decide again")]
    Stale { index: u64 },
    /// The metadata log cannot be written for lack of disk space.
    #[error("{0}")]
    DiskFull(String),
    /// The records would not fit one replication frame.
    #[error("metadata batch of {size} bytes exceeds the limit of {limit}")]
    BatchTooLarge { size: usize, limit: usize },
    /// The node is shutting down or stopped on a fatal error.
    #[error("the metadata quorum is shut down: {0}")]
    Shutdown(String),
    /// A membership change was refused.
    #[error("membership change refused: {0}")]
    Membership(String),
    /// The request did not complete in time; a proposal may still commit.
    #[error("metadata quorum request timed out: {0}")]
    Timeout(String),
    /// Anything else openraft reported.
    #[error("metadata quorum error: {0}")]
    Raft(String),
}

impl QuorumError {
    /// The Kafka error code a controller answers with.
    pub fn code(&self) -> i16 {
        match self {
            // NOT_CONTROLLER: the client looks for the active controller again.
            Self::NotLeader { .. } | Self::Shutdown(_) => 41,
            Self::Refused { code, .. } => *code,
            // MESSAGE_TOO_LARGE
            Self::BatchTooLarge { .. } => 10,
            // INVALID_REQUEST
            Self::Membership(_) => 42,
            // REQUEST_TIMED_OUT
            Self::Timeout(_) => 7,
            // NOT_CONTROLLER makes a client retry, which is what a stale entry needs.
            Self::Stale { .. } => 41,
            // KAFKA_STORAGE_ERROR
            Self::DiskFull(_) => 56,
            // UNKNOWN_SERVER_ERROR
            Self::Raft(_) => -1,
        }
    }
}

fn leader_text(leader: &Option<NodeId>, addr: &Option<String>) -> String {
    match (leader, addr) {
        (Some(id), Some(addr)) => format!("node {id} at {addr}"),
        (Some(id), None) => format!("node {id}"),
        _ => "unknown (an election is in progress)".to_string(),
    }
}
