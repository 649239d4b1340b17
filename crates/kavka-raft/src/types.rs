//! The Raft type configuration: what one entry of the metadata log carries.

use std::io::Cursor;

use kavka_metadata::MetadataRecord;
use serde::{Deserialize, Serialize};

/// A node of the quorum: a controller (voter) or a broker that only follows (observer).
/// Kafka's node ids are `i32`; openraft wants an unsigned id, and Kafka's are never
/// negative for real nodes.
pub type NodeId = u64;

/// One entry of the metadata log: records that land whole or not at all (a topic
/// and its partitions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataBatch {
    pub records: Vec<MetadataRecord>,
    /// The records were decided on the image that had applied exactly this many
    /// records; if the image has moved on when the entry is applied, the entry
    /// changes nothing (it is stale) and the proposer decides again. This is how a
    /// broker that is not the active controller writes admin changes without two
    /// of them deciding on the same image: a compare-and-set on the log.
    #[serde(default)]
    pub expect_next_offset: Option<u64>,
}

impl MetadataBatch {
    /// Records applied unconditionally.
    pub fn new(records: Vec<MetadataRecord>) -> Self {
        Self {
            records,
            expect_next_offset: None,
        }
    }
}

impl std::fmt::Display for MetadataBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MetadataBatch({} records)", self.records.len())
    }
}

/// What applying one entry did, returned to the proposer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryOutcome {
    /// Why the image refused the entry's records, which then changed nothing.
    pub refused: Option<Refusal>,
    /// The entry's `expect_next_offset` did not match the image: nothing applied.
    #[serde(default)]
    pub stale: bool,
}

/// A `MetadataError` as it travels in an entry's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The Kafka error code of the refusal.
    pub code: i16,
    /// Its message.
    pub reason: String,
}

openraft::declare_raft_types!(
    /// openraft's types for the metadata quorum.
    pub TypeConfig:
        D = MetadataBatch,
        R = EntryOutcome,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub(crate) type Entry = openraft::Entry<TypeConfig>;
pub(crate) type LogId = openraft::LogId<NodeId>;
pub(crate) type Vote = openraft::Vote<NodeId>;
pub(crate) type StorageError = openraft::StorageError<NodeId>;
pub(crate) type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
pub(crate) type Raft = openraft::Raft<TypeConfig>;
