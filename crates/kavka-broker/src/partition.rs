//! A partition this broker hosts: its log plus the replica state above it — the
//! role (leader, follower or neither, from `kavka-replica`), the high watermark, the
//! leader epoch, and the acks=all requests waiting for the high watermark. The log
//! itself knows nothing of these.
//!
//! Locks: `replica` before `log`, never the other way, and neither across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use kavka_replica::{
    Acks, AlterPartitionError, AlterPartitionOutcome, AlterPartitionRequest, BrokerId,
    BrokerStatus, CommittedIsr, Effects, EpochEndOffset, EpochEntry, FetchAnswer, FollowerAction,
    FollowerFetch, FollowerFetchOutcome, FollowerInit, FollowerState, FollowerStep, LeaderInit,
    LeaderState, MetadataOutcome, PartitionUpdate, ProduceCompletion, ProduceId, ProposalId,
    ReplicaConfig, ReplicaError, Truncate, TruncationMode,
};
use kavka_storage::{
    AbortedTxn, AppendInfo, BatchHeader, FetchData, LogConfig, PartitionLog, StorageError,
    TxnMarker,
};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, Notify};
use uuid::Uuid;

use crate::metrics::TopicTraffic;
use crate::partition_timers::PartitionTimers;
use crate::partition_watch::{PartitionWatchers, Waiter};

/// Why a partition could not serve a request right now.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The log was closed for shutdown or deletion.
    #[error("partition is offline")]
    Offline,
    /// The replica state refused (not leader, fenced epoch, not enough replicas...).
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

/// An ISR change a leader wants the controller to make, for the task that sends it.
#[derive(Debug, Clone)]
pub(crate) struct AlterJob {
    pub(crate) topic: String,
    pub(crate) topic_id: Uuid,
    pub(crate) partition: i32,
    pub(crate) request: AlterPartitionRequest,
}

/// What the hosted partitions share with the tasks around them: one wake-up for
/// role changes, and the queue of ISR changes. Data changes wake per partition
/// (`Partition::watchers`), never broker-wide.
#[derive(Debug)]
pub(crate) struct ReplicaSignals {
    /// Some partition started or stopped following a leader (or its leader
    /// moved): fetchers re-plan.
    pub(crate) roles_changed: Notify,
    alter_tx: mpsc::UnboundedSender<AlterJob>,
    /// What the timer tasks must look at; idle partitions are not in it.
    pub(crate) timers: PartitionTimers,
}

impl ReplicaSignals {
    /// Signals plus the receiving end of the ISR-change queue.
    pub(crate) fn new() -> (ReplicaSignals, mpsc::UnboundedReceiver<AlterJob>) {
        let (alter_tx, rx) = mpsc::unbounded_channel();
        (
            ReplicaSignals {
                roles_changed: Notify::new(),
                alter_tx,
                timers: PartitionTimers::default(),
            },
            rx,
        )
    }
}

/// What the metadata image says about one partition, as this broker applies it.
#[derive(Debug, Clone)]
pub(crate) struct Assignment {
    pub(crate) local_id: BrokerId,
    pub(crate) local_broker_epoch: i64,
    pub(crate) leader: BrokerId,
    pub(crate) leader_epoch: i32,
    pub(crate) partition_epoch: i32,
    pub(crate) replicas: Vec<BrokerId>,
    pub(crate) isr: Vec<BrokerId>,
    /// Registered brokers (KIP-841 eligibility for the ISR).
    pub(crate) brokers: BTreeMap<BrokerId, BrokerStatus>,
    pub(crate) config: ReplicaConfig,
    /// Where the leader serves, when this broker follows it.
    pub(crate) leader_endpoint: Option<(String, u16)>,
}

/// The follower role: the pure state and where its leader is.
#[derive(Debug)]
pub(crate) struct FollowerRole {
    pub(crate) state: FollowerState,
    pub(crate) leader_endpoint: Option<(String, u16)>,
}

#[derive(Debug)]
enum Role {
    /// No leader (or not yet told): serves nothing.
    None,
    Leader(Box<LeaderState>),
    Follower(FollowerRole),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleKind {
    None,
    Leader,
    Follower,
}

#[derive(Debug)]
struct Replica {
    role: Role,
    waiters: HashMap<ProduceId, oneshot::Sender<Result<(), ReplicaError>>>,
    next_produce_id: u64,
}

/// How an acks=all produce learns that its records are replicated.
#[derive(Debug)]
pub(crate) enum AckWait {
    /// acks=0/1, or already replicated (or failed) at append time.
    Done(Result<(), ReplicaError>),
    /// Waiting for the high watermark; `id` to give up on it.
    Pending(ProduceId, oneshot::Receiver<Result<(), ReplicaError>>),
}

/// What a partition tells the fetcher about its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FollowerView {
    pub(crate) leader_id: BrokerId,
    pub(crate) leader_epoch: i32,
    pub(crate) leader_endpoint: Option<(String, u16)>,
}

/// A partition's answer from the leader, as the fetcher hands it over.
#[derive(Debug, Clone)]
pub(crate) struct LeaderAnswer {
    pub(crate) error_code: i16,
    pub(crate) high_watermark: i64,
    pub(crate) log_start_offset: i64,
    pub(crate) diverging: Option<EpochEndOffset>,
    pub(crate) records: Option<Bytes>,
}

/// One hosted partition. Invariant: high watermark <= log end offset; with a
/// single replica every append is fully replicated at once, so the two move together.
#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub topic_id: Uuid,
    pub index: i32,
    log: Mutex<Option<PartitionLog>>,
    high_watermark: AtomicI64,
    log_start_offset: AtomicI64,
    leader_epoch: AtomicI32,
    disk_errors: DiskErrorLog,
    replica: Mutex<Replica>,
    signals: Arc<ReplicaSignals>,
    /// Requests long-polling this partition alone.
    watchers: PartitionWatchers,
    /// The topic settings requests consult, resolved when the metadata changes.
    settings: Mutex<TopicSettings>,
    /// The topic's byte and record counters, shared with its other partitions.
    traffic: Arc<TopicTraffic>,
    /// Set when the log is used, cleared by the upkeep task before it looks at
    /// the log: while set, the partition is queued in `signals.timers`.
    log_touched: AtomicBool,
}

/// What the produce path needs of a topic's configs, typed and resolved once
/// per metadata change (the log keeps the rest of its [`LogConfig`] itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopicSettings {
    /// `cleanup.policy` includes `compact`: every record needs a key.
    pub(crate) compacted: bool,
    /// `flush.messages` is set: an append may fsync before it returns.
    pub(crate) flushes_on_append: bool,
}

impl TopicSettings {
    fn of(config: &LogConfig) -> TopicSettings {
        TopicSettings {
            compacted: config.cleanup_policy.compact,
            flushes_on_append: config.flush_messages.is_some(),
        }
    }
}

/// Says in the broker's log what is wrong with the disk, at most once every
/// 10 s per partition (a full disk fails every produce), with how many were
/// not shown in between.
#[derive(Debug, Default)]
struct DiskErrorLog {
    last_logged_ms: AtomicI64,
    suppressed: AtomicI64,
}

impl DiskErrorLog {
    fn report(&self, topic: &str, partition: i32, e: &StorageError, now_ms: i64) {
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if last != 0 && now_ms - last < 10_000 {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.last_logged_ms.store(now_ms, Ordering::Relaxed);
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        tracing::error!(
            topic,
            partition,
            error = %e,
            similar_errors_not_shown = suppressed,
            "cannot write to the partition log; producers get KAFKA_STORAGE_ERROR and \
             nothing is lost of what was acknowledged. Free disk space (or fix the disk); \
             appends resume by themselves"
        );
    }
}

/// The log's epoch cache in `kavka-replica`'s terms.
fn epoch_entries(log: &PartitionLog) -> Vec<EpochEntry> {
    log.leader_epochs()
        .iter()
        .map(|&(epoch, start_offset)| EpochEntry {
            epoch,
            start_offset,
        })
        .collect()
}

impl Partition {
    /// Wraps an opened log. It serves nothing until [`Partition::apply_assignment`]
    /// makes it leader or follower. The high watermark starts at the checkpointed
    /// one (`stored_hw`, kept within the log), else at the log start: a leader with
    /// followers then exposes nothing more until they have fetched, and a lone
    /// leader moves it to its log end at once.
    pub(crate) fn new(
        topic: String,
        topic_id: Uuid,
        index: i32,
        log: PartitionLog,
        stored_hw: Option<i64>,
        signals: Arc<ReplicaSignals>,
    ) -> Self {
        let start = log.log_start_offset();
        let hw = stored_hw.map_or(start, |hw| hw.clamp(start, log.log_end_offset()));
        let settings = TopicSettings::of(log.config());
        Self {
            topic,
            topic_id,
            index,
            log: Mutex::new(Some(log)),
            high_watermark: AtomicI64::new(hw),
            log_start_offset: AtomicI64::new(start),
            leader_epoch: AtomicI32::new(-1),
            disk_errors: DiskErrorLog::default(),
            replica: Mutex::new(Replica {
                role: Role::None,
                waiters: HashMap::new(),
                next_produce_id: 0,
            }),
            signals,
            watchers: PartitionWatchers::default(),
            settings: Mutex::new(settings),
            traffic: Arc::default(),
            log_touched: AtomicBool::new(false),
        }
    }

    /// Counts this partition's traffic in its topic's shared counters.
    pub(crate) fn with_traffic(mut self, traffic: Arc<TopicTraffic>) -> Self {
        self.traffic = traffic;
        self
    }

    /// The topic's traffic counters.
    pub(crate) fn traffic(&self) -> &TopicTraffic {
        &self.traffic
    }

    /// Registers `waiter` to be woken when this partition's high watermark moves
    /// (consumers, coordinators waiting for replication), or its role or leader
    /// epoch changes, or its log goes offline.
    pub(crate) fn watch_high_watermark(&self, waiter: &Arc<Waiter>) {
        self.watchers.high_watermark.watch(waiter);
    }

    /// Registers `waiter` to be woken when this partition's log end moves
    /// (followers' fetches), or its role or leader epoch changes, or its log goes
    /// offline.
    pub(crate) fn watch_log_end(&self, waiter: &Arc<Waiter>) {
        self.watchers.log_end.watch(waiter);
    }

    /// Runs `f` on the log (appends, offset lookups, retention, deletion of
    /// records) and keeps the cached log start offset current.
    pub fn log<T>(
        &self,
        f: impl FnOnce(&mut PartitionLog) -> Result<T, StorageError>,
    ) -> Result<T, PartitionError> {
        let mut guard = self.log.lock();
        let log = guard.as_mut().ok_or(PartitionError::Offline)?;
        let out = f(log);
        // Also after an error: a failed write may have left records behind.
        self.mark_log_touched();
        let out = out?;
        self.log_start_offset
            .store(log.log_start_offset(), Ordering::Release);
        Ok(out)
    }

    /// Queues this partition for the next upkeep pass (rolls, flushes, idle
    /// files) unless it is queued already; called with the log locked, after
    /// the use, so the pass sees what the use left.
    fn mark_log_touched(&self) {
        if !self.log_touched.load(Ordering::Acquire)
            && !self.log_touched.swap(true, Ordering::AcqRel)
        {
            self.signals
                .timers
                .log_touched((self.topic.clone(), self.index));
        }
    }

    /// Runs the upkeep task's `f` on the log without queuing the partition
    /// again. The flag is cleared before the lock is taken: a use after that
    /// queues it anew, a use before it is seen by `f`.
    pub(crate) fn log_for_upkeep<T>(
        &self,
        f: impl FnOnce(&mut PartitionLog) -> Result<T, StorageError>,
    ) -> Result<T, PartitionError> {
        self.log_touched.store(false, Ordering::Release);
        let mut guard = self.log.lock();
        let log = guard.as_mut().ok_or(PartitionError::Offline)?;
        let out = f(log)?;
        self.log_start_offset
            .store(log.log_start_offset(), Ordering::Release);
        Ok(out)
    }

    /// Appends a record set as leader with acks=1 semantics (the group coordinator's
    /// writes and tests).
    pub fn append(&self, records: Bytes, now_ms: i64) -> Result<AppendInfo, PartitionError> {
        self.append_records(records, Acks::Leader, now_ms, now_ms)
            .map(|(info, _)| info)
    }

    /// Appends a producer's record set as leader. acks=all is refused before writing
    /// when the ISR is below `min.insync.replicas`; otherwise it returns a wait that
    /// completes when the high watermark passes the records, or fails at
    /// `deadline_ms` (REQUEST_TIMED_OUT), or when leadership is lost.
    pub(crate) fn append_records(
        &self,
        records: Bytes,
        acks: Acks,
        now_ms: i64,
        deadline_ms: i64,
    ) -> Result<(AppendInfo, AckWait), PartitionError> {
        self.append_with(acks, now_ms, deadline_ms, |log, epoch| {
            log.append(records, epoch, now_ms)
        })
    }

    /// [`Partition::append_records`] for a request handler. When the topic's
    /// `flush.messages` may fsync inside the append, it runs on the blocking pool,
    /// so a slow disk holds up this request only, not every connection on the
    /// async worker thread.
    pub(crate) async fn append_records_for_request(
        self: &Arc<Self>,
        records: Bytes,
        acks: Acks,
        now_ms: i64,
        deadline_ms: i64,
    ) -> Result<(AppendInfo, AckWait), PartitionError> {
        if !self.settings().flushes_on_append {
            return self.append_records(records, acks, now_ms, deadline_ms);
        }
        let p = Arc::clone(self);
        let appended = tokio::task::spawn_blocking(move || {
            p.append_records(records, acks, now_ms, deadline_ms)
        })
        .await;
        match appended {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(PartitionError::Offline),
        }
    }

    /// Writes a transaction marker as leader with acks=all (WriteTxnMarkers): the
    /// wait completes when the high watermark passes the marker.
    pub(crate) fn append_marker(
        &self,
        marker: &TxnMarker,
        now_ms: i64,
        deadline_ms: i64,
    ) -> Result<(AppendInfo, AckWait), PartitionError> {
        self.append_with(Acks::All, now_ms, deadline_ms, |log, epoch| {
            log.append_marker(marker, epoch, now_ms)
        })
    }

    /// The leader's append path around `write` (given the log and the leader epoch).
    fn append_with(
        &self,
        acks: Acks,
        now_ms: i64,
        deadline_ms: i64,
        write: impl FnOnce(&mut PartitionLog, i32) -> Result<AppendInfo, StorageError>,
    ) -> Result<(AppendInfo, AckWait), PartitionError> {
        let mut guard = self.replica.lock();
        let Replica {
            role,
            waiters,
            next_produce_id,
        } = &mut *guard;
        let Role::Leader(leader) = role else {
            return Err(ReplicaError::NotLeaderOrFollower.into());
        };
        leader.check_append(acks)?;
        let epoch = leader.leader_epoch();
        let (result, log_end) = self.log(|log| {
            let result = write(log, epoch);
            Ok((result, log.log_end_offset()))
        })?;
        // Also after a failed append: whatever whole batches it did write are in the
        // log, and the HW must be able to pass them.
        let effects = leader.on_leader_append(log_end, now_ms);
        self.apply_leader_effects(waiters, effects);
        self.watchers.log_end.wake();
        let info = match result {
            Ok(info) => info,
            Err(e) => {
                if e.is_disk_failure() {
                    self.traffic.storage_error();
                    self.disk_errors.report(&self.topic, self.index, &e, now_ms);
                }
                return Err(e.into());
            }
        };
        if acks != Acks::All {
            return Ok((info, AckWait::Done(Ok(()))));
        }
        *next_produce_id += 1;
        let id = ProduceId(*next_produce_id);
        let wait = match leader.wait_for_acks(id, info.last_offset + 1, deadline_ms) {
            Some(done) => AckWait::Done(done.result),
            None => {
                let (tx, rx) = oneshot::channel();
                waiters.insert(id, tx);
                self.schedule_produce_expiry(deadline_ms);
                AckWait::Pending(id, rx)
            }
        };
        Ok((info, wait))
    }

    /// Has the ISR task expire this partition's waiting produces at `at_ms`
    /// (or earlier, if already due sooner).
    fn schedule_produce_expiry(&self, at_ms: i64) {
        self.signals
            .timers
            .produce_deadlines
            .lock()
            .schedule_earlier((self.topic.clone(), self.index), at_ms);
    }

    /// Fails waiting acks=all requests whose deadline passed (REQUEST_TIMED_OUT),
    /// and schedules the next expiry if others still wait.
    pub(crate) fn expire_produces(&self, now_ms: i64) {
        let mut guard = self.replica.lock();
        let Replica { role, waiters, .. } = &mut *guard;
        if let Role::Leader(leader) = role {
            let done = leader.expire(now_ms);
            deliver(waiters, done);
            if let Some(next) = leader.next_deadline() {
                self.schedule_produce_expiry(next);
            }
        }
    }

    /// Gives up waiting for `id` (its request timed out on its own clock).
    pub(crate) fn abandon_produce(&self, id: ProduceId, now_ms: i64) {
        self.expire_produces(now_ms);
        self.replica.lock().waiters.remove(&id);
    }

    /// Reads committed batches (below the high watermark) from `offset`.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<FetchData, PartitionError> {
        let hw = self.high_watermark();
        let guard = self.log.lock();
        let log = guard.as_ref().ok_or(PartitionError::Offline)?;
        // A read may open a segment file, which the idle-file sweep must see.
        self.mark_log_touched();
        Ok(log.read(offset, max_bytes, hw)?)
    }

    /// Reads for a read_committed consumer: batches below the last stable offset,
    /// the LSO itself, and the aborted transactions overlapping what was read.
    pub(crate) fn read_committed(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<(FetchData, i64, Vec<AbortedTxn>), PartitionError> {
        let hw = self.high_watermark();
        let mut guard = self.log.lock();
        let log = guard.as_mut().ok_or(PartitionError::Offline)?;
        self.mark_log_touched();
        let lso = log.last_stable_offset(hw);
        let data = log.read(offset, max_bytes, lso)?;
        let aborted = match last_offset_of(&data.records) {
            Some(last) => log.aborted_transactions(offset, last + 1),
            None => Vec::new(),
        };
        Ok((data, lso, aborted))
    }

    /// The last stable offset: the high watermark, held back by the oldest open
    /// transaction (-1 when the log is closed).
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.log
            .lock()
            .as_mut()
            .map_or(-1, |l| l.last_stable_offset(hw))
    }

    /// Reads batches up to the log end, for a follower's fetch.
    pub(crate) fn read_for_follower(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<FetchData, PartitionError> {
        let guard = self.log.lock();
        let log = guard.as_ref().ok_or(PartitionError::Offline)?;
        self.mark_log_touched();
        Ok(log.read(offset, max_bytes, i64::MAX)?)
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::Acquire)
    }

    /// The log end offset (-1 when the log is closed).
    pub fn log_end_offset(&self) -> i64 {
        self.log.lock().as_ref().map_or(-1, |l| l.log_end_offset())
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    /// True while this broker leads the partition.
    pub fn is_leader(&self) -> bool {
        matches!(self.replica.lock().role, Role::Leader(_))
    }

    /// The leader epoch while this broker leads the partition, read with the role
    /// under one lock (the group coordinator follows leadership by it).
    pub(crate) fn leadership(&self) -> Option<i32> {
        match self.replica.lock().role {
            Role::Leader(_) => Some(self.leader_epoch()),
            _ => None,
        }
    }

    /// The leader followed, while follower.
    pub(crate) fn follower_view(&self) -> Option<FollowerView> {
        match &self.replica.lock().role {
            Role::Follower(f) => Some(FollowerView {
                leader_id: f.state.leader_id(),
                leader_epoch: f.state.leader_epoch(),
                leader_endpoint: f.leader_endpoint.clone(),
            }),
            _ => None,
        }
    }

    /// Applies a changed topic config to the log and to the settings requests read.
    pub fn set_config(&self, config: LogConfig) {
        *self.settings.lock() = TopicSettings::of(&config);
        if let Some(log) = self.log.lock().as_mut() {
            // `segment.ms` or `flush.ms` may move the next upkeep (every image
            // sets the config again: only a change queues the partition).
            let timers_moved = log.config().segment_ms != config.segment_ms
                || log.config().flush_ms != config.flush_ms;
            log.set_config(config);
            if timers_moved {
                self.mark_log_touched();
            }
        }
    }

    /// The topic settings as of the last metadata change applied.
    pub(crate) fn settings(&self) -> TopicSettings {
        *self.settings.lock()
    }

    /// Takes the log out for a clean close or deletion; later calls see Offline.
    /// Waiting produces fail: nothing will replicate them here any more.
    pub fn take_log(&self) -> Option<PartitionLog> {
        {
            let mut guard = self.replica.lock();
            let waiters = std::mem::take(&mut guard.waiters);
            for (_, tx) in waiters {
                let _ = tx.send(Err(ReplicaError::NotLeaderOrFollower));
            }
            guard.role = Role::None;
        }
        self.signals
            .timers
            .set_replicated_leader((&self.topic, self.index), false);
        let log = self.log.lock().take();
        // Waiting requests answer now (the partition is gone or offline), not at
        // their max wait.
        self.watchers.wake_all();
        log
    }

    /// Makes this broker leader, follower or neither as the metadata says
    /// (Kafka's makeLeader / makeFollower). Becoming leader records the new epoch
    /// at the log end; giving up leadership fails the waiting acks=all requests
    /// with NOT_LEADER_OR_FOLLOWER. Returns true when the role or leader changed.
    pub(crate) fn apply_assignment(
        &self,
        a: &Assignment,
        now_ms: i64,
    ) -> Result<bool, PartitionError> {
        let before = (self.role_kind(), self.leader_epoch());
        let result = self.take_assignment(a, now_ms);
        if (self.role_kind(), self.leader_epoch()) != before {
            // Requests waiting here answer at once with what the new role or
            // epoch means for them (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH...).
            self.watchers.wake_all();
        }
        result
    }

    /// Which role this broker has, without its state.
    fn role_kind(&self) -> RoleKind {
        match self.replica.lock().role {
            Role::None => RoleKind::None,
            Role::Leader(_) => RoleKind::Leader,
            Role::Follower(_) => RoleKind::Follower,
        }
    }

    /// [`Partition::apply_assignment`] without the wake-up.
    fn take_assignment(&self, a: &Assignment, now_ms: i64) -> Result<bool, PartitionError> {
        let result = self.take_assignment_inner(a, now_ms);
        // Only a leader with other replicas has an ISR that can shrink. Read from
        // the role as it now stands (a stale image changed nothing).
        let replicated = match &self.replica.lock().role {
            Role::Leader(l) => l.replicas().len() > 1,
            _ => false,
        };
        self.signals
            .timers
            .set_replicated_leader((&self.topic, self.index), replicated);
        result
    }

    fn take_assignment_inner(&self, a: &Assignment, now_ms: i64) -> Result<bool, PartitionError> {
        let mut guard = self.replica.lock();
        let Replica { role, waiters, .. } = &mut *guard;
        let update = PartitionUpdate {
            leader: a.leader,
            leader_epoch: a.leader_epoch,
            partition_epoch: a.partition_epoch,
            replicas: a.replicas.clone(),
            isr: a.isr.clone(),
        };
        // A leader hears of every change first through its own state.
        if let Role::Leader(leader) = role {
            match leader.on_metadata(update, now_ms) {
                MetadataOutcome::Stale => return Ok(false),
                MetadataOutcome::Applied(effects) => {
                    if a.leader == a.local_id {
                        self.log(|log| {
                            log.assign_leader_epoch(a.leader_epoch);
                            Ok(())
                        })?;
                        for &r in &a.replicas {
                            let e = leader.on_broker_status(r, a.brokers.get(&r).copied(), now_ms);
                            self.apply_leader_effects(waiters, e);
                        }
                        if leader.config() != a.config {
                            let e = leader.set_config(a.config, now_ms);
                            self.apply_leader_effects(waiters, e);
                        }
                        self.apply_leader_effects(waiters, effects);
                        self.leader_epoch.store(a.leader_epoch, Ordering::Release);
                        return Ok(false);
                    }
                }
                MetadataOutcome::Resigned(failed) => deliver(waiters, failed),
            }
            // Whatever did not complete is no leader's any more.
            for (_, tx) in waiters.drain() {
                let _ = tx.send(Err(ReplicaError::NotLeaderOrFollower));
            }
            *role = Role::None;
        }
        if a.leader == a.local_id {
            let (log_end, hw) = self
                .log(|log| {
                    log.assign_leader_epoch(a.leader_epoch);
                    Ok(log.log_end_offset())
                })
                .map(|leo| (leo, self.high_watermark().min(leo)))?;
            let (leader, effects) = LeaderState::new(
                LeaderInit {
                    local_broker_id: a.local_id,
                    local_broker_epoch: a.local_broker_epoch,
                    leader_epoch: a.leader_epoch,
                    partition_epoch: a.partition_epoch,
                    replicas: a.replicas.clone(),
                    isr: a.isr.clone(),
                    log_end_offset: log_end,
                    high_watermark: hw,
                    config: a.config,
                    brokers: a.brokers.clone(),
                },
                now_ms,
            );
            if self.high_watermark.swap(hw, Ordering::AcqRel) != hw {
                self.signals.timers.hw_changed();
            }
            self.leader_epoch.store(a.leader_epoch, Ordering::Release);
            let was_following = matches!(role, Role::Follower(_));
            *role = Role::Leader(Box::new(leader));
            self.apply_leader_effects(waiters, effects);
            // Only fetchers listen: a new partition led here (thousands at a
            // start or in a bulk creation) must not make them rescan every one.
            if was_following {
                self.signals.roles_changed.notify_waiters();
            }
            return Ok(true);
        }
        if a.leader < 0 || !a.replicas.contains(&a.local_id) {
            let changed = !matches!(role, Role::None);
            let was_following = matches!(role, Role::Follower(_));
            *role = Role::None;
            self.leader_epoch.store(a.leader_epoch, Ordering::Release);
            if was_following {
                self.signals.roles_changed.notify_waiters();
            }
            return Ok(changed);
        }
        let (epochs, log_end) = self.log(|log| Ok((epoch_entries(log), log.log_end_offset())))?;
        let init = FollowerInit {
            leader_id: a.leader,
            leader_epoch: a.leader_epoch,
            partition_epoch: a.partition_epoch,
            log_end_offset: log_end,
            high_watermark: self.high_watermark().min(log_end),
        };
        let restarted = match role {
            Role::Follower(f) => f.state.on_new_leader(init, epochs.as_slice()),
            _ => {
                *role = Role::Follower(FollowerRole {
                    state: FollowerState::new(init, TruncationMode::OnFetch, epochs.as_slice()),
                    leader_endpoint: a.leader_endpoint.clone(),
                });
                true
            }
        };
        let mut moved = false;
        if let Role::Follower(f) = role {
            // The leader may have re-registered elsewhere: the fetcher follows it.
            if a.leader_endpoint.is_some() && f.leader_endpoint != a.leader_endpoint {
                f.leader_endpoint = a.leader_endpoint.clone();
                moved = true;
            }
            self.store_hw(f.state.high_watermark());
        }
        self.leader_epoch.store(a.leader_epoch, Ordering::Release);
        if restarted || moved {
            self.signals.roles_changed.notify_waiters();
        }
        Ok(restarted)
    }

    /// A follower's fetch, on the leader, before reading: checks its leader epoch
    /// and divergence, records its progress (which may move the high watermark,
    /// complete acks=all requests and propose an ISR expansion).
    pub(crate) fn on_follower_fetch(
        &self,
        fetch: FollowerFetch,
        now_ms: i64,
    ) -> Result<FollowerFetchOutcome, PartitionError> {
        let mut guard = self.replica.lock();
        let Replica { role, waiters, .. } = &mut *guard;
        let Role::Leader(leader) = role else {
            return Err(ReplicaError::NotLeaderOrFollower.into());
        };
        // The epoch check comes first: a fenced follower must learn that, not an offset.
        leader.check_leader_epoch(fetch.current_leader_epoch)?;
        let (epochs, log_start) =
            self.log(|log| Ok((epoch_entries(log), log.log_start_offset())))?;
        if fetch.fetch_offset < log_start {
            return Err(ReplicaError::OffsetOutOfRange.into());
        }
        let outcome = leader.on_follower_fetch(fetch, epochs.as_slice(), now_ms)?;
        if let FollowerFetchOutcome::Read(effects) = &outcome {
            self.apply_leader_effects(waiters, effects.clone());
        }
        Ok(outcome)
    }

    /// Periodic leader upkeep: propose dropping lagging followers from the ISR
    /// and time out acks=all requests past their deadline.
    pub(crate) fn leader_tick(&self, now_ms: i64) {
        let mut guard = self.replica.lock();
        let Replica { role, waiters, .. } = &mut *guard;
        let Role::Leader(leader) = role else {
            return;
        };
        if let Some(request) = leader.maybe_shrink_isr(now_ms) {
            self.send_alter(request);
        }
        let done = leader.expire(now_ms);
        deliver(waiters, done);
    }

    /// True while proposal `id` still waits for the controller's answer.
    pub(crate) fn is_proposal_pending(&self, id: ProposalId) -> bool {
        match &self.replica.lock().role {
            Role::Leader(l) => l.pending_isr_change().is_some_and(|(_, r)| r.id == id),
            _ => false,
        }
    }

    /// The controller's answer to ISR proposal `id`.
    pub(crate) fn on_alter_partition_response(
        &self,
        id: ProposalId,
        response: Result<CommittedIsr, AlterPartitionError>,
        now_ms: i64,
    ) -> AlterPartitionOutcome {
        let mut guard = self.replica.lock();
        let Replica { role, waiters, .. } = &mut *guard;
        let Role::Leader(leader) = role else {
            return AlterPartitionOutcome::Ignored;
        };
        let (outcome, effects) = leader.on_alter_partition_response(id, response, now_ms);
        self.apply_leader_effects(waiters, effects);
        outcome
    }

    /// The follower's next step. Truncations it decides are applied here (under
    /// the locks), so what comes back is something to send, or nothing to do.
    pub(crate) fn follower_next(&self) -> Result<Option<(FollowerAction, i64)>, PartitionError> {
        let mut guard = self.replica.lock();
        let Role::Follower(f) = &mut guard.role else {
            return Ok(None);
        };
        // A truncation is followed by another decision; a few rounds at most.
        for _ in 0..8 {
            let epochs = self.log(|log| Ok(epoch_entries(log)))?;
            match f.state.next_action(epochs.as_slice()) {
                FollowerAction::Truncate(t) => self.truncate(t)?,
                action => return Ok(Some((action, self.log_start_offset()))),
            }
        }
        Ok(None)
    }

    /// The leader's answer to our fetch from `request_offset` in `request_epoch`:
    /// appends its records (only if this is still the fetch the follower waits for),
    /// then lets the follower state decide truncation and the high watermark.
    /// Returns true when the fetcher should back off.
    pub(crate) fn on_leader_answer(
        &self,
        request_offset: i64,
        request_epoch: i32,
        answer: LeaderAnswer,
        now_ms: i64,
    ) -> Result<bool, PartitionError> {
        let mut guard = self.replica.lock();
        let Role::Follower(f) = &mut guard.role else {
            return Ok(false);
        };
        if f.state.leader_epoch() != request_epoch || f.state.fetch_offset() != request_offset {
            return Ok(false);
        }
        let fetch_answer = if answer.error_code != 0 {
            match ReplicaError::from_code(answer.error_code) {
                Some(e) => FetchAnswer::Error(e),
                None => {
                    tracing::debug!(topic = %self.topic, partition = self.index, code = answer.error_code, "fetch from leader failed");
                    return Ok(true);
                }
            }
        } else if let Some(diverging) = answer.diverging {
            FetchAnswer::Diverging(diverging)
        } else {
            if let Some(records) = answer.records.filter(|r| !r.is_empty()) {
                let appended = self.log(|log| {
                    if log.log_end_offset() != request_offset {
                        return Ok(false);
                    }
                    log.append_as_follower(records, now_ms)?;
                    Ok(true)
                });
                match appended {
                    Ok(true) => self.watchers.log_end.wake(),
                    Ok(false) => return Ok(true),
                    Err(e) => {
                        if let PartitionError::Storage(s) = &e {
                            if s.is_disk_failure() {
                                self.traffic.storage_error();
                                self.disk_errors.report(&self.topic, self.index, s, now_ms);
                            }
                        }
                        tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "cannot append what the leader sent");
                        return Ok(true);
                    }
                }
            }
            FetchAnswer::Records {
                high_watermark: answer.high_watermark,
            }
        };
        let (epochs, log_end) = self.log(|log| Ok((epoch_entries(log), log.log_end_offset())))?;
        let step = f.state.on_fetch_response(
            request_offset,
            request_epoch,
            fetch_answer,
            epochs.as_slice(),
            log_end,
        );
        let backoff = self.apply_follower_step(step)?;
        // The leader's log start moved (retention, DeleteRecords): follow it, but
        // only over what we know is committed.
        if answer.error_code == 0 && answer.log_start_offset > self.log_start_offset() {
            let hw = self.high_watermark();
            if answer.log_start_offset <= hw {
                self.log(|log| log.delete_records_before(answer.log_start_offset))?;
            }
        }
        Ok(backoff)
    }

    /// The leader's log start and end, after OFFSET_OUT_OF_RANGE.
    pub(crate) fn on_leader_offsets(
        &self,
        request_epoch: i32,
        leader_log_start: i64,
        leader_log_end: i64,
    ) -> Result<(), PartitionError> {
        let mut guard = self.replica.lock();
        let Role::Follower(f) = &mut guard.role else {
            return Ok(());
        };
        if f.state.leader_epoch() != request_epoch {
            return Ok(());
        }
        let log_end = self.log(|log| Ok(log.log_end_offset()))?;
        let step = f
            .state
            .on_leader_offsets(leader_log_start, leader_log_end, log_end);
        self.apply_follower_step(step)?;
        Ok(())
    }

    fn apply_follower_step(&self, step: FollowerStep) -> Result<bool, PartitionError> {
        if let Some(t) = step.truncate {
            self.truncate(t)?;
        }
        if let Some(hw) = step.high_watermark {
            self.store_hw(hw);
        }
        Ok(step.backoff)
    }

    fn truncate(&self, t: Truncate) -> Result<(), PartitionError> {
        match t {
            Truncate::To(offset) => self.log(|log| log.truncate_to(offset))?,
            Truncate::FullyAndStartAt(offset) => {
                self.log(|log| log.truncate_fully_and_start_at(offset))?
            }
        }
        let log_end = self.log(|log| Ok(log.log_end_offset()))?;
        if self.high_watermark() > log_end {
            self.high_watermark.store(log_end, Ordering::Release);
            self.signals.timers.hw_changed();
        }
        tracing::info!(topic = %self.topic, partition = self.index, truncation = ?t, "follower truncated its log");
        Ok(())
    }

    fn store_hw(&self, hw: i64) {
        if self.high_watermark.swap(hw, Ordering::AcqRel) != hw {
            self.signals.timers.hw_changed();
            // Transactions decided below the new HW stop holding the LSO back;
            // forgetting them here keeps that list short even when nobody reads
            // the LSO (a follower). Opportunistic: a busy log is pruned next time.
            if let Some(log) = self.log.try_lock().as_mut().and_then(|l| l.as_mut()) {
                log.last_stable_offset(hw);
            }
            self.watchers.high_watermark.wake();
        }
    }

    fn apply_leader_effects(
        &self,
        waiters: &mut HashMap<ProduceId, oneshot::Sender<Result<(), ReplicaError>>>,
        effects: Effects,
    ) {
        if let Some(hw) = effects.high_watermark {
            self.store_hw(hw);
        }
        if let Some(request) = effects.alter_partition {
            self.send_alter(request);
        }
        deliver(waiters, effects.completed);
    }

    fn send_alter(&self, request: AlterPartitionRequest) {
        let job = AlterJob {
            topic: self.topic.clone(),
            topic_id: self.topic_id,
            partition: self.index,
            request,
        };
        // No receiver means no ISR task (a broker not running, or a test): the
        // proposal stays pending in the leader state, which is the safe side.
        let _ = self.signals.alter_tx.send(job);
    }
}

fn deliver(
    waiters: &mut HashMap<ProduceId, oneshot::Sender<Result<(), ReplicaError>>>,
    completions: Vec<ProduceCompletion>,
) {
    for c in completions {
        if let Some(tx) = waiters.remove(&c.id) {
            // The request may have given up already; nothing to tell then.
            let _ = tx.send(c.result);
        }
    }
}

/// The last offset of the last whole batch in `records`, if any.
fn last_offset_of(records: &[u8]) -> Option<i64> {
    let mut pos = 0;
    let mut last = None;
    while let Ok(header) = BatchHeader::parse(&records[pos..]) {
        if pos + header.size() > records.len() {
            break;
        }
        last = Some(header.last_offset());
        pos += header.size();
    }
    last
}
