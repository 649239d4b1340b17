//! The coordinator runtime shared by the group coordinator (`__consumer_offsets`)
//! and the transaction coordinator (`__transaction_state`), after Kafka's
//! `CoordinatorRuntime`. A coordinator brings its state ([`CoordinatorShard`]);
//! the runtime brings the rest:
//!
//! **Ownership follows leadership.** After every metadata image is applied,
//! [`CoordinatorRuntime::follow_leadership`] unloads the partitions no longer led
//! here, or led in a new leader epoch (leadership went away and came back, and the
//! log may have been truncated meanwhile), and marks newly led ones loading;
//! [`CoordinatorRuntime::load`] replays such a partition's log, up to its log end
//! as Kafka's loader does, into a separate loader (so the other partitions keep
//! being served) that the coordinator then adopts. A key of a partition not served
//! here is NOT_COORDINATOR; of one loading, COORDINATOR_LOAD_IN_PROGRESS
//! ([`OwnershipError`]).
//!
//! **Writes wait for replication.** Steps run under the runtime's lock
//! ([`Session`]); their records are appended there as one coordinator batch
//! (Kafka's format, [`batch::coordinator_batch`]) with acks=all, refused before anything
//! is written when the ISR is below `min.insync.replicas` (Kafka appends with
//! acks=1 and would only time out later, with the same COORDINATOR_NOT_AVAILABLE).
//! The answers that depend on them are held back, without the lock, until the
//! partition's high watermark passes them or the write timeout runs out
//! ([`Replication::wait`]).
//!
//! **Reads see replicated state.** [`CoordinatorRuntime::read_replicated`] takes
//! the read and the log ends under the lock and answers once the high watermark
//! reaches them.
//!
//! All I/O goes through one seam, [`CoordinatorLog`] (Kafka's `PartitionWriter`),
//! so the runtime is tested with an in-memory log.

mod batch;
mod log;
mod ownership;
mod replay;
mod runtime;
mod shard;
#[cfg(test)]
mod tests;

pub(crate) use batch::Entry;
pub(crate) use log::{HostedLogs, Replication, ReplicationWait, WriteError};
pub(crate) use ownership::{LoadJob, Ownership, OwnershipError};
pub(crate) use runtime::{Appended, CoordinatorRuntime, ReadError, Session};
pub(crate) use shard::CoordinatorShard;
