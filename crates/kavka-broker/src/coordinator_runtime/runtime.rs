//! The runtime itself: one lock over a coordinator's state and the partitions it
//! serves, and the load, write and read paths around it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kavka_replica::Acks;
use parking_lot::{Mutex, MutexGuard};

use super::batch::{coordinator_batch, Entry};
use super::log::{CoordinatorLog, CoordinatorLogs, Replication, ReplicationWait, WriteError};
use super::ownership::{LoadJob, Ownership, OwnershipError};
use super::replay::replay;
use super::shard::CoordinatorShard;
use crate::partition::PartitionError;
use crate::partition_watch::Waiter;
use crate::state::now_ms;

/// Why a read of replicated state was not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReadError {
    /// Leadership moved before the high watermark reached the read.
    #[error("the coordinator partition is no longer led here")]
    NotCoordinator,
    /// The high watermark did not reach the read within the write timeout.
    #[error("the coordinator's state was not replicated in time")]
    NotAvailable,
}

struct Inner<S, L> {
    shard: S,
    ownership: Ownership<L>,
}

/// Drives one coordinator (`S`) over the partitions (`L`) of its topic: one per
/// broker per coordinator, every step of it under one lock, so the state machine
/// sees requests one at a time and records are written in that order.
pub(crate) struct CoordinatorRuntime<S, L> {
    inner: Mutex<Inner<S, L>>,
    topic: &'static str,
    partitions: i32,
    write_timeout: Duration,
}

impl<S, L> std::fmt::Debug for CoordinatorRuntime<S, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordinatorRuntime")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// Records appended to one partition, not yet known replicated.
pub(crate) struct Appended<L> {
    pub(crate) log: Arc<L>,
    pub(crate) last_offset: i64,
    pub(crate) wait: ReplicationWait,
}

/// The runtime's lock, held: the coordinator's state, who owns what, and the
/// write path. Appends made through it land in the order of the steps.
pub(crate) struct Session<'a, S, L> {
    inner: MutexGuard<'a, Inner<S, L>>,
    runtime: &'a CoordinatorRuntime<S, L>,
}

impl<S: CoordinatorShard, L: CoordinatorLog> Session<'_, S, L> {
    pub(crate) fn shard(&self) -> &S {
        &self.inner.shard
    }

    pub(crate) fn shard_mut(&mut self) -> &mut S {
        &mut self.inner.shard
    }

    pub(crate) fn ownership(&self) -> &Ownership<L> {
        &self.inner.ownership
    }

    /// The state and, beside it, who owns what.
    pub(crate) fn parts(&mut self) -> (&mut S, &Ownership<L>) {
        let inner = &mut *self.inner;
        (&mut inner.shard, &inner.ownership)
    }

    /// Ok when `partition` is served here now.
    pub(crate) fn check(&self, partition: i32) -> Result<(), OwnershipError> {
        self.inner.ownership.check(partition)
    }

    /// Appends `entries` to `partition` as one coordinator batch (a transactional
    /// one of `producer` (id, epoch) when given). With acks=all it is refused
    /// before anything is written when the ISR is below `min.insync.replicas`.
    pub(crate) fn append(
        &self,
        logs: &impl CoordinatorLogs<Log = L>,
        partition: i32,
        entries: Vec<Entry>,
        acks: Acks,
        producer: Option<(i64, i16)>,
    ) -> Result<Appended<L>, WriteError> {
        let now = now_ms();
        let batch = coordinator_batch(entries, now, producer).map_err(WriteError::Encode)?;
        let log = logs
            .log(partition)
            .ok_or(WriteError::NotHosted(partition))?;
        let timeout_ms = i64::try_from(self.runtime.write_timeout.as_millis()).unwrap_or(i64::MAX);
        let (last_offset, wait) = log
            .append(batch, acks, now, now.saturating_add(timeout_ms))
            .map_err(WriteError::Append)?;
        Ok(Appended {
            log,
            last_offset,
            wait,
        })
    }

    /// The waits of appends, to be awaited without the lock until the write
    /// timeout from now.
    pub(crate) fn replication(&self, waits: Vec<ReplicationWait>) -> Replication {
        Replication {
            waits,
            deadline: tokio::time::Instant::now() + self.runtime.write_timeout,
        }
    }
}

impl<S: CoordinatorShard, L: CoordinatorLog> CoordinatorRuntime<S, L> {
    /// A runtime over `partitions` partitions of `topic`; writes not replicated
    /// within `write_timeout` fail (`offsets.commit.timeout.ms` in Kafka).
    pub(crate) fn new(
        shard: S,
        topic: &'static str,
        partitions: i32,
        write_timeout: Duration,
    ) -> Self {
        CoordinatorRuntime {
            inner: Mutex::new(Inner {
                shard,
                ownership: Ownership::new(),
            }),
            topic,
            partitions,
            write_timeout,
        }
    }

    /// How many partitions the coordinator's topic has.
    pub(crate) fn partitions(&self) -> i32 {
        self.partitions
    }

    /// Takes the lock, for a step.
    pub(crate) fn lock(&self) -> Session<'_, S, L> {
        Session {
            inner: self.inner.lock(),
            runtime: self,
        }
    }

    /// Reads the latest state, under the lock.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&S, &Ownership<L>) -> T) -> T {
        let inner = self.inner.lock();
        f(&inner.shard, &inner.ownership)
    }

    /// Brings ownership in line with the partitions this broker leads now (call
    /// after each metadata image is applied to the partitions): unloads those no
    /// longer led (or led in another epoch) at once, and returns the newly led
    /// ones, marked loading, for [`Self::load`].
    pub(crate) fn follow_leadership(&self, logs: &impl CoordinatorLogs<Log = L>) -> Vec<LoadJob> {
        let mut inner = self.inner.lock();
        // Read under the lock, so two callers cannot apply views of the roles in
        // the opposite order from the one they saw them in.
        let led: BTreeMap<i32, i32> = (0..self.partitions)
            .filter_map(|i| Some((i, logs.log(i)?.leadership()?)))
            .collect();
        let (unloaded, loads) = inner.ownership.follow(&led);
        for u in unloaded {
            inner.shard.unload(u.partition);
            tracing::info!(
                partition = u.partition,
                leader_epoch = u.epoch,
                loaded = u.was_active,
                "{} partition no longer led here in that epoch: unloaded",
                self.topic
            );
        }
        for job in &loads {
            inner.shard.begin_load(job.partition);
        }
        loads
    }

    /// Replays a newly led partition (blocking: reads its whole log) without the
    /// lock, then serves it, unless it was unloaded or reloaded meanwhile or
    /// leadership moved. Records the coordinator wants restated are appended
    /// with acks=1: they only restate what the log says.
    pub(crate) fn load(&self, logs: &impl CoordinatorLogs<Log = L>, job: LoadJob) {
        let started = std::time::Instant::now();
        let mut loader = self.inner.lock().shard.loader();
        let log = logs.log(job.partition);
        let replayed = match &log {
            Some(l) => replay::<S>(l.as_ref(), job.partition, &mut loader, now_ms()),
            None => Err(PartitionError::Offline),
        };
        let mut session = self.lock();
        if !session.inner.ownership.is_current(&job) {
            // Unloaded or reloaded meanwhile; the newer decision stands.
            return;
        }
        let (records, log) = match (replayed, log) {
            (Ok(n), Some(l)) if l.leadership() == Some(job.epoch) => (n, l),
            // Leadership moved while replaying: the unload that follows it finds
            // nothing to drop, and the next load starts afresh.
            (Ok(_), _) => {
                session.inner.ownership.abandon(&job);
                return;
            }
            (Err(e), _) => {
                session.inner.ownership.abandon(&job);
                tracing::error!(partition = job.partition, error = %e, "cannot load {} partition; its keys are not served here", self.topic);
                return;
            }
        };
        let restate = session.inner.shard.adopt(job.partition, job.epoch, loader);
        session.inner.ownership.activate(&job, log);
        tracing::info!(
            partition = job.partition,
            leader_epoch = job.epoch,
            records,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded {} partition",
            self.topic
        );
        if restate.is_empty() {
            return;
        }
        let count = restate.len();
        match session.append(logs, job.partition, restate, Acks::Leader, None) {
            Ok(_) => {
                tracing::info!(
                    partition = job.partition,
                    records = count,
                    "restated {} partition",
                    self.topic
                )
            }
            Err(e) => {
                tracing::error!(partition = job.partition, error = %e, "{} partition not restated", self.topic)
            }
        }
    }

    /// Waits (a little) until no led partition is loading: a request that just
    /// created the topic should not be told to come back.
    pub(crate) async fn settle_loads(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.read(|_, o| o.any_loading()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Like [`Self::read`], but answered only once every record appended to
    /// `partitions` before the read is replicated: the read is taken under the
    /// lock appends happen under, together with the log ends, and returned once
    /// the high watermarks reach them, so a client never sees a change a
    /// failover would take back (Kafka reads at the high watermark to the same
    /// effect). With a single replica there is nothing to wait for.
    pub(crate) async fn read_replicated<T, G>(
        &self,
        logs: &G,
        partitions: impl IntoIterator<Item = i32>,
        f: impl FnOnce(&S, &Ownership<L>) -> T,
    ) -> Result<T, ReadError>
    where
        G: CoordinatorLogs<Log = L> + Sync,
    {
        let hosted: Vec<Arc<L>> = partitions.into_iter().filter_map(|p| logs.log(p)).collect();
        let (out, targets) = {
            let inner = self.inner.lock();
            let targets: Vec<i64> = hosted.iter().map(|l| l.log_end_offset()).collect();
            (f(&inner.shard, &inner.ownership), targets)
        };
        let deadline = tokio::time::Instant::now() + self.write_timeout;
        for (log, target) in hosted.iter().zip(targets) {
            // Registered before the check, so a move in between is not missed.
            let waiter = Waiter::new();
            log.watch_high_watermark(&waiter);
            loop {
                if log.high_watermark() >= target {
                    break;
                }
                if log.leadership().is_none() {
                    return Err(ReadError::NotCoordinator);
                }
                if tokio::time::timeout_at(deadline, waiter.woken())
                    .await
                    .is_err()
                {
                    return Err(ReadError::NotAvailable);
                }
            }
        }
        Ok(out)
    }
}
