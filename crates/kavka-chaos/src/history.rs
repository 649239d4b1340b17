//! What a fault run observed, as plain data: the input of the checker.
//!
//! Times are logical: one counter the workload bumps at every invocation and
//! every completion it observes, so "A completed before B was invoked" is exact
//! for the order the test saw, without trusting wall clocks.

use std::collections::BTreeMap;

/// A partition of the workload's one topic.
pub type Partition = i32;
/// An offset in a partition.
pub type Offset = i64;
/// A node id (`node.id`).
pub type NodeId = i32;

/// One attempted send and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOp {
    /// Unique per run; the record's value carries it, so a read names its send.
    pub id: u64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// Logical time the send was handed to the producer.
    pub invoked_at: u64,
    /// Logical time the outcome was observed (`None` while still pending).
    pub completed_at: Option<u64>,
    pub outcome: SendOutcome,
}

/// The producer's answer to one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Acknowledged (acks=all) at this place.
    Acked {
        partition: Partition,
        offset: Offset,
    },
    /// Refused before anything was written (e.g. a non-retriable error on the
    /// first attempt with nothing in flight): it must never be read.
    Failed,
    /// Timed out, connection lost with the request in flight, ...: it may or may
    /// not be in the log, but at most once if the producer is idempotent.
    Indeterminate,
}

/// One record found by the final read after the faults healed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub partition: Partition,
    pub offset: Offset,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

/// A committed group offset as read back from the broker (OffsetFetch),
/// in the order the test observed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitObservation {
    pub group: String,
    pub partition: Partition,
    pub offset: Offset,
    pub observed_at: u64,
}

/// One replica's copy of a partition's log as whole batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaDump {
    pub node: NodeId,
    pub partition: Partition,
    pub batches: Vec<BatchBytes>,
}

/// A record batch exactly as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchBytes {
    pub base_offset: Offset,
    pub last_offset: Offset,
    pub bytes: Vec<u8>,
}

/// Everything the checker needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub sends: Vec<SendOp>,
    /// The final read: every partition from its start to the high watermark. May
    /// hold several reads of the same offset (several readers): they must agree.
    pub final_read: Vec<ReadRecord>,
    pub commits: Vec<CommitObservation>,
    pub replicas: Vec<ReplicaDump>,
    /// High watermark per partition when the replicas were dumped.
    pub high_watermarks: BTreeMap<Partition, Offset>,
    /// The producer ran with `enable.idempotence=true`: no duplicates, and one
    /// producer's sends to a partition land in send order.
    pub idempotent: bool,
}
