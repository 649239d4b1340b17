//! The controller's cluster logic, with no I/O: broker registration, heartbeats and
//! fencing, leader election from the ISR, AlterPartition, controlled shutdown,
//! preferred and unclean leader election, and blocks of producer ids.
//!
//! Every decision reads the current [`MetadataImage`] and returns the records that
//! make it durable; the caller commits them through the metadata quorum and applies
//! them, so a decision counts only once it is in the log. The one piece of state
//! kept here is broker liveness (the last heartbeat of each broker), held in memory
//! as Kafka's controller does: a newly active controller gives every registered
//! broker a fresh session rather than trusting old times.
//!
//! Time comes in as `now_ms`, so every scenario runs step by step in tests.

mod alter_partition;
mod brokers;
mod election;
mod producer_ids;
mod reassignment;
#[cfg(test)]
mod tests;

pub use alter_partition::{AlterPartition, AlterPartitionResult, IsrMember};
pub use brokers::{Heartbeat, HeartbeatReply, Registration};
pub use election::{elect_leader, unclean_allowed, ElectionResult};
pub use producer_ids::{AllocateProducerIds, ProducerIdBlock, PRODUCER_ID_BLOCK_SIZE};
pub use reassignment::{
    alter_partition_reassignments, list_partition_reassignments, OngoingReassignment, Reassignment,
    ReassignmentError,
};

use std::collections::BTreeMap;

use crate::{MetadataImage, MetadataRecord};

/// Settings of the cluster logic, with Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlConfig {
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    pub session_timeout_ms: i64,
    /// `unclean.leader.election.enable` of the controller: elect a replica outside
    /// the ISR when the ISR has no live member (may lose acknowledged records).
    /// The default for topics that do not set it themselves.
    pub unclean_leader_election: bool,
    /// `leader.imbalance.per.broker.percentage`: how many of a broker's preferred
    /// partitions may be led elsewhere before automatic rebalancing moves them back.
    pub leader_imbalance_per_broker_percentage: u32,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            session_timeout_ms: 9_000,
            unclean_leader_election: false,
            leader_imbalance_per_broker_percentage: 10,
        }
    }
}

/// Why the controller refused a request; each maps to one Kafka error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("the broker epoch in the request is not the broker's current one")]
    StaleBrokerEpoch,
    #[error("another live broker is registered with this id")]
    DuplicateBrokerRegistration,
    #[error("the broker is not registered")]
    BrokerIdNotRegistered,
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("the leader epoch in the request is older than the partition's")]
    FencedLeaderEpoch,
    #[error("the sender does not lead this partition")]
    NotLeaderOrFollower,
    #[error("the partition epoch in the request is not the partition's current one")]
    InvalidUpdateVersion,
    #[error(
        "the new ISR names a fenced, shutting-down or unknown broker, or one at an old broker epoch"
    )]
    IneligibleReplica,
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    #[error("the partition is already led by its preferred replica")]
    ElectionNotNeeded,
    #[error("the preferred replica is not alive or not in the ISR")]
    PreferredLeaderNotAvailable,
    #[error("no eligible replica can lead the partition")]
    EligibleLeadersNotAvailable,
    #[error("every producer id has been handed out")]
    ProducerIdsExhausted,
}

impl ControlError {
    /// The refusal a Kafka error code stands for; `None` for 0 (no error). Codes
    /// that are not a `ControlError` come back as `InvalidRequest`.
    pub fn from_code(code: i16) -> Option<Self> {
        Some(match code {
            0 => return None,
            77 => Self::StaleBrokerEpoch,
            101 => Self::DuplicateBrokerRegistration,
            102 => Self::BrokerIdNotRegistered,
            3 => Self::UnknownTopicOrPartition,
            74 => Self::FencedLeaderEpoch,
            6 => Self::NotLeaderOrFollower,
            95 => Self::InvalidUpdateVersion,
            107 => Self::IneligibleReplica,
            84 => Self::ElectionNotNeeded,
            80 => Self::PreferredLeaderNotAvailable,
            83 => Self::EligibleLeadersNotAvailable,
            _ => Self::InvalidRequest("refused by the controller"),
        })
    }

    /// The Kafka error code for this refusal.
    pub fn code(&self) -> i16 {
        match self {
            Self::StaleBrokerEpoch => 77,
            Self::DuplicateBrokerRegistration => 101,
            Self::BrokerIdNotRegistered => 102,
            Self::UnknownTopicOrPartition => 3,
            Self::FencedLeaderEpoch => 74,
            Self::NotLeaderOrFollower => 6,
            Self::InvalidUpdateVersion => 95,
            Self::IneligibleReplica => 107,
            Self::InvalidRequest(_) => 42,
            Self::ElectionNotNeeded => 84,
            Self::PreferredLeaderNotAvailable => 80,
            Self::EligibleLeadersNotAvailable => 83,
            // Kafka answers an exhausted id space with UNKNOWN_SERVER_ERROR.
            Self::ProducerIdsExhausted => -1,
        }
    }
}

/// When a registered broker was last heard from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Session {
    broker_epoch: i64,
    last_contact_ms: i64,
}

/// The active controller's view of broker liveness, plus the decisions built on it.
#[derive(Debug, Clone, Default)]
pub struct ClusterControl {
    config: ControlConfig,
    sessions: BTreeMap<i32, Session>,
}

impl ClusterControl {
    /// A controller that has heard from no broker yet.
    pub fn new(config: ControlConfig) -> Self {
        Self {
            config,
            sessions: BTreeMap::new(),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &ControlConfig {
        &self.config
    }

    /// Unclean elections for leaderless partitions of topics that allow them (the
    /// controller's periodic `unclean.leader.election.interval.ms` task).
    pub fn elect_unclean_where_allowed(&self, image: &MetadataImage) -> Vec<MetadataRecord> {
        election::unclean_elections(image, self.config.unclean_leader_election)
    }
}
