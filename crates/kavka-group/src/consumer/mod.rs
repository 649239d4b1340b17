//! The consumer group protocol (KIP-848, `group.protocol=consumer`): the coordinator
//! computes each group's target assignment and moves every member towards it through
//! ConsumerGroupHeartbeat, revoking before it assigns, without stop-the-world rebalances.
//!
//! - `member`: one member, its epoch and its reconciliation state.
//! - `group`: a group's epochs, members and target assignment.
//! - `assignor`: the server-side assignors (`uniform`, `range`).
//! - `reconcile`: Kafka's current-assignment builder: revoke first, then assign.
//! - `heartbeat`: ConsumerGroupHeartbeat, joins, leaves and fencing.
//! - `describe`: ConsumerGroupDescribe.
//! - `persist`: the records that keep a group across restarts, and their replay.

pub(crate) mod assignor;
pub(crate) mod describe;
pub(crate) mod group;
pub(crate) mod heartbeat;
pub(crate) mod member;
pub(crate) mod metadata_hash;
pub(crate) mod persist;
pub(crate) mod reconcile;
pub(crate) mod timers;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A topic's id (its UUID's 16 bytes): the consumer protocol names topics by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicId(pub [u8; 16]);

/// What the coordinator needs to know of a topic to assign it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// Topic id.
    pub id: TopicId,
    /// Number of partitions.
    pub partitions: i32,
}

/// The broker's view of topics, passed into each call so the state machine stays pure
/// (and need not know the metadata image type).
pub trait TopicLookup {
    /// The topic of this name, if it exists.
    fn topic(&self, name: &str) -> Option<TopicInfo>;
    /// The name of the topic with this id, if it exists.
    fn topic_name(&self, id: TopicId) -> Option<String>;
    /// Names a subscription regex may match (internal topics left out).
    fn topic_names(&self) -> Vec<String>;
}

impl TopicLookup for BTreeMap<String, TopicInfo> {
    fn topic(&self, name: &str) -> Option<TopicInfo> {
        self.get(name).copied()
    }

    fn topic_name(&self, id: TopicId) -> Option<String> {
        self.iter()
            .find(|(_, t)| t.id == id)
            .map(|(n, _)| n.clone())
    }

    fn topic_names(&self) -> Vec<String> {
        self.keys()
            .filter(|n| !n.starts_with("__"))
            .cloned()
            .collect()
    }
}

/// Partitions by topic id: a member's assignment.
pub type Assignment = BTreeMap<TopicId, BTreeSet<i32>>;

/// One topic's partitions, as requests, responses and records list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPartitions {
    /// Topic id.
    pub topic_id: TopicId,
    /// Partition indexes.
    pub partitions: Vec<i32>,
}

/// Flattens an assignment into a list, topics in id order.
pub(crate) fn to_list(assignment: &Assignment) -> Vec<TopicPartitions> {
    assignment
        .iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(id, ps)| TopicPartitions {
            topic_id: *id,
            partitions: ps.iter().copied().collect(),
        })
        .collect()
}

/// Builds an assignment from a list (duplicates merge, empty topics drop).
pub(crate) fn from_list(list: &[TopicPartitions]) -> Assignment {
    let mut out = Assignment::new();
    for tp in list {
        if !tp.partitions.is_empty() {
            out.entry(tp.topic_id)
                .or_default()
                .extend(tp.partitions.iter().copied());
        }
    }
    out
}
