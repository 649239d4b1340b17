//! The one seam between a coordinator and the partition it writes (Kafka's
//! `PartitionWriter`): leadership, append, the high watermark, reads. The broker's
//! [`Partition`] is the real one; the runtime's tests use an in-memory one.

use std::sync::Arc;

use bytes::Bytes;
use kavka_replica::{Acks, ReplicaError};
use tokio::sync::oneshot;

use crate::partition::{AckWait, Partition, PartitionError};
use crate::partition_watch::Waiter;
use crate::replica_manager::ReplicaManager;

/// A coordinator partition's log as the runtime uses it.
pub(crate) trait CoordinatorLog: Send + Sync + 'static {
    /// The leader epoch while this broker leads the partition, else None (read
    /// with the role under one lock).
    fn leadership(&self) -> Option<i32>;
    fn log_start_offset(&self) -> i64;
    fn log_end_offset(&self) -> i64;
    fn high_watermark(&self) -> i64;
    /// Batches from `offset` up to the log end (not only the high watermark).
    fn read(&self, offset: i64, max_bytes: usize) -> Result<Bytes, PartitionError>;
    /// Appends one batch as leader; returns its last offset and the wait for the
    /// high watermark to pass it (acks=all) or done at once (acks=1).
    fn append(
        self: &Arc<Self>,
        batch: Bytes,
        acks: Acks,
        now_ms: i64,
        deadline_ms: i64,
    ) -> Result<(i64, ReplicationWait), PartitionError>;
    /// Registers `waiter` to be woken when the high watermark moves or the
    /// partition's role changes.
    fn watch_high_watermark(&self, waiter: &Arc<Waiter>);
}

/// Where a runtime finds its topic's partitions hosted on this broker.
pub(crate) trait CoordinatorLogs {
    type Log: CoordinatorLog;
    fn log(&self, partition: i32) -> Option<Arc<Self::Log>>;
}

/// The partitions of one coordinator topic as this broker hosts them.
pub(crate) struct HostedLogs<'a> {
    replicas: &'a ReplicaManager,
    topic: &'static str,
}

impl<'a> HostedLogs<'a> {
    pub(crate) fn new(replicas: &'a ReplicaManager, topic: &'static str) -> Self {
        HostedLogs { replicas, topic }
    }
}

impl CoordinatorLogs for HostedLogs<'_> {
    type Log = Partition;

    fn log(&self, partition: i32) -> Option<Arc<Partition>> {
        self.replicas.get(self.topic, partition)
    }
}

impl CoordinatorLog for Partition {
    fn leadership(&self) -> Option<i32> {
        Partition::leadership(self)
    }

    fn log_start_offset(&self) -> i64 {
        Partition::log_start_offset(self)
    }

    fn log_end_offset(&self) -> i64 {
        Partition::log_end_offset(self)
    }

    fn high_watermark(&self) -> i64 {
        Partition::high_watermark(self)
    }

    fn read(&self, offset: i64, max_bytes: usize) -> Result<Bytes, PartitionError> {
        Ok(self.read_for_follower(offset, max_bytes)?.records)
    }

    fn watch_high_watermark(&self, waiter: &Arc<Waiter>) {
        Partition::watch_high_watermark(self, waiter)
    }

    fn append(
        self: &Arc<Self>,
        batch: Bytes,
        acks: Acks,
        now_ms: i64,
        deadline_ms: i64,
    ) -> Result<(i64, ReplicationWait), PartitionError> {
        let (info, wait) = self.append_records(batch, acks, now_ms, deadline_ms)?;
        let wait = match wait {
            AckWait::Done(done) => ReplicationWait::Done(done),
            AckWait::Pending(id, rx) => {
                let p = Arc::clone(self);
                ReplicationWait::Pending {
                    rx,
                    abandon: Box::new(move || p.abandon_produce(id, crate::state::now_ms())),
                }
            }
        };
        Ok((info.last_offset, wait))
    }
}

/// An append's wait for the high watermark.
pub(crate) enum ReplicationWait {
    /// acks=1, or already replicated (or failed) at append time.
    Done(Result<(), ReplicaError>),
    /// Completed by the partition when the high watermark passes the records;
    /// `abandon` tells it nobody waits any more.
    Pending {
        rx: oneshot::Receiver<Result<(), ReplicaError>>,
        abandon: Box<dyn FnOnce() + Send>,
    },
}

/// Why a coordinator's records could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("coordinator partition {0} is not hosted here")]
    NotHosted(i32),
    #[error("cannot encode coordinator records: {0}")]
    Encode(String),
    #[error("cannot append coordinator records: {0}")]
    Append(#[source] PartitionError),
    #[error("coordinator records not replicated: {0}")]
    NotReplicated(#[source] ReplicaError),
}

impl WriteError {
    /// True when the write failed because this broker does not lead the partition
    /// (any more): the client should look the coordinator up again. Anything else
    /// is retriable where it is.
    pub(crate) fn lost_leadership(&self) -> bool {
        matches!(
            self,
            WriteError::NotHosted(_)
                | WriteError::Append(PartitionError::Offline)
                | WriteError::Append(PartitionError::Replica(ReplicaError::NotLeaderOrFollower))
                | WriteError::NotReplicated(ReplicaError::NotLeaderOrFollower)
        )
    }
}

/// Appended records not yet known replicated.
#[must_use]
pub(crate) struct Replication {
    pub(crate) waits: Vec<ReplicationWait>,
    pub(crate) deadline: tokio::time::Instant,
}

impl Replication {
    /// Nothing to wait for.
    pub(crate) fn none() -> Self {
        Replication {
            waits: Vec::new(),
            deadline: tokio::time::Instant::now(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waits.is_empty()
    }

    /// Waits until the high watermark passes every append (or the deadline); the
    /// first failure ends the wait and gives up the rest.
    pub(crate) async fn wait(self) -> Result<(), WriteError> {
        let mut result = Ok(());
        for wait in self.waits {
            match wait {
                ReplicationWait::Done(done) => {
                    if let (Ok(()), Err(e)) = (&result, done) {
                        result = Err(WriteError::NotReplicated(e));
                    }
                }
                ReplicationWait::Pending { rx, abandon } => {
                    if result.is_err() {
                        abandon();
                        continue;
                    }
                    result = match tokio::time::timeout_at(self.deadline, rx).await {
                        Ok(Ok(done)) => done.map_err(WriteError::NotReplicated),
                        // The partition dropped the wait: its log closed under it.
                        Ok(Err(_)) => {
                            Err(WriteError::NotReplicated(ReplicaError::NotLeaderOrFollower))
                        }
                        Err(_) => {
                            abandon();
                            Err(WriteError::NotReplicated(ReplicaError::RequestTimedOut))
                        }
                    };
                }
            }
        }
        result
    }
}
