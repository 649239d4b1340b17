//! Errors the replica state machine answers with, each mapping to one Kafka error code.

/// A Kafka error decided by the replica state; `code()` gives the wire value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ReplicaError {
    /// OFFSET_OUT_OF_RANGE (1): a follower fetched past the leader's log end, or its last
    /// fetched epoch has no end offset on the leader.
    #[error("offset out of range")]
    OffsetOutOfRange,
    /// NOT_LEADER_OR_FOLLOWER (6): this replica no longer leads, or a fetch came from an
    /// unknown replica without a leader epoch, or with a stale broker epoch.
    #[error("not leader or follower")]
    NotLeaderOrFollower,
    /// REQUEST_TIMED_OUT (7): an acks=all produce waited past its deadline.
    #[error("request timed out")]
    RequestTimedOut,
    /// NOT_ENOUGH_REPLICAS (19): acks=all refused before the append, the ISR being
    /// smaller than `min.insync.replicas`.
    #[error("not enough replicas")]
    NotEnoughReplicas,
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND (20): appended, but the ISR fell below
    /// `min.insync.replicas` while the request waited.
    #[error("not enough replicas after append")]
    NotEnoughReplicasAfterAppend,
    /// FENCED_LEADER_EPOCH (74): the request carries an older leader epoch than ours.
    #[error("fenced leader epoch")]
    FencedLeaderEpoch,
    /// UNKNOWN_LEADER_EPOCH (75): the request carries a newer leader epoch than ours.
    #[error("unknown leader epoch")]
    UnknownLeaderEpoch,
}

impl ReplicaError {
    /// The Kafka error code on the wire.
    pub fn code(self) -> i16 {
        match self {
            ReplicaError::OffsetOutOfRange => 1,
            ReplicaError::NotLeaderOrFollower => 6,
            ReplicaError::RequestTimedOut => 7,
            ReplicaError::NotEnoughReplicas => 19,
            ReplicaError::NotEnoughReplicasAfterAppend => 20,
            ReplicaError::FencedLeaderEpoch => 74,
            ReplicaError::UnknownLeaderEpoch => 75,
        }
    }

    /// The error for a wire code, if it is one the follower acts on.
    pub fn from_code(code: i16) -> Option<ReplicaError> {
        Some(match code {
            1 => ReplicaError::OffsetOutOfRange,
            6 => ReplicaError::NotLeaderOrFollower,
            7 => ReplicaError::RequestTimedOut,
            19 => ReplicaError::NotEnoughReplicas,
            20 => ReplicaError::NotEnoughReplicasAfterAppend,
            74 => ReplicaError::FencedLeaderEpoch,
            75 => ReplicaError::UnknownLeaderEpoch,
            _ => return None,
        })
    }
}
