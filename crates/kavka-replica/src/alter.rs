//! AlterPartition (KIP-497): the ISR change a leader proposes to the controller, and
//! what the controller answers.

use std::collections::BTreeSet;

use crate::BrokerId;

/// Identifies one proposal, so a late answer to a superseded one is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProposalId(pub u64);

/// An ISR member as sent to the controller: with the broker epoch the leader saw in its
/// fetches (KIP-903), or -1 when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsrMember {
    /// The broker.
    pub broker_id: BrokerId,
    /// Its broker epoch, or -1.
    pub broker_epoch: i64,
}

/// An AlterPartition request for this partition, to send to the controller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlterPartitionRequest {
    /// Which proposal this is; pass it back with the answer.
    pub id: ProposalId,
    /// The leader proposing it.
    pub leader_id: BrokerId,
    /// The leader epoch it is based on.
    pub leader_epoch: i32,
    /// The partition epoch it is based on; the controller refuses it if stale.
    pub partition_epoch: i32,
    /// The proposed ISR, ascending by broker id.
    pub new_isr: Vec<IsrMember>,
}

/// The ISR change in flight.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IsrChange {
    /// Adding one caught-up follower.
    Expand(BrokerId),
    /// Removing followers that fell behind.
    Shrink(BTreeSet<BrokerId>),
}

/// The partition state the controller committed, as an AlterPartition answer or a
/// metadata record carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommittedIsr {
    /// The ISR.
    pub isr: Vec<BrokerId>,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// The partition epoch.
    pub partition_epoch: i32,
}

/// A partition-level error in an AlterPartition answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlterPartitionError {
    /// OPERATION_NOT_ATTEMPTED (55): not applied; the partition epoch was right.
    OperationNotAttempted,
    /// INELIGIBLE_REPLICA (107): a proposed member is fenced, shutting down or stale.
    IneligibleReplica,
    /// UNKNOWN_TOPIC_OR_PARTITION (3).
    UnknownTopicOrPartition,
    /// UNKNOWN_TOPIC_ID (100).
    UnknownTopicId,
    /// FENCED_LEADER_EPOCH (74): our leader epoch is old.
    FencedLeaderEpoch,
    /// INVALID_UPDATE_VERSION (95): our partition epoch is old.
    InvalidUpdateVersion,
    /// INVALID_REQUEST (42).
    InvalidRequest,
    /// NEW_LEADER_ELECTED (108): applied, but this replica no longer leads.
    NewLeaderElected,
    /// Any other code (e.g. the controller moved, a timeout): retried.
    Other(i16),
}

impl AlterPartitionError {
    /// The error for a wire code.
    pub fn from_code(code: i16) -> AlterPartitionError {
        match code {
            55 => AlterPartitionError::OperationNotAttempted,
            107 => AlterPartitionError::IneligibleReplica,
            3 => AlterPartitionError::UnknownTopicOrPartition,
            100 => AlterPartitionError::UnknownTopicId,
            74 => AlterPartitionError::FencedLeaderEpoch,
            95 => AlterPartitionError::InvalidUpdateVersion,
            42 => AlterPartitionError::InvalidRequest,
            108 => AlterPartitionError::NewLeaderElected,
            other => AlterPartitionError::Other(other),
        }
    }
}

/// What an AlterPartition answer did to the leader's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AlterPartitionOutcome {
    /// The controller's ISR and partition epoch are now the committed state.
    Committed,
    /// The controller said the change was not applied (OPERATION_NOT_ATTEMPTED,
    /// INELIGIBLE_REPLICA): back to the committed ISR; a new change may be proposed.
    Reverted,
    /// Our view is stale (old leader or partition epoch, unknown partition, invalid
    /// request, new leader): no ISR change until the next metadata update.
    AwaitingMetadata,
    /// A transient failure: send this request again.
    Retry(AlterPartitionRequest),
    /// The answer is for a proposal that is no longer in flight: nothing changed.
    Ignored,
}
