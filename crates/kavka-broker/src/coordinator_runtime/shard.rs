//! What a coordinator gives the runtime: its state, how a partition's log
//! rebuilds it, and how a partition's part of it is adopted and dropped.

use kafka_protocol::records::Record;

use super::batch::Entry;

/// The state a coordinator keeps for the partitions this broker serves (Kafka's
/// `CoordinatorShard`, here one value holding every served partition, so reads
/// and steps that span partitions see them under one lock). The runtime calls it
/// only under its lock, so it sees loads, unloads and requests one at a time.
pub(crate) trait CoordinatorShard: Send {
    /// State rebuilt from one partition's log, away from the served state so the
    /// other partitions keep being served while it replays.
    type Loader: Send;

    /// Fresh state to replay a partition into.
    fn loader(&self) -> Self::Loader;

    /// Replays one record of the partition's log, control records included;
    /// returns whether the record meant something (for the load's count).
    fn replay(loader: &mut Self::Loader, partition: i32, record: &Record, now_ms: i64) -> bool;

    /// A load of `partition` starts (what was kept for an earlier one is stale).
    fn begin_load(&mut self, _partition: i32) {}

    /// Serves a replayed partition in `leader_epoch` from now; returns records to
    /// restate at once (acks=1), for a coordinator that rewrites what it loaded.
    fn adopt(&mut self, partition: i32, leader_epoch: i32, loader: Self::Loader) -> Vec<Entry>;

    /// Drops a partition no longer led here (or led in another epoch).
    fn unload(&mut self, partition: i32);
}
