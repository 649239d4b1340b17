//! The coordinator runtime: drives the pure [`GroupCoordinator`] state machine,
//! persists what it decides to `__consumer_offsets`, and hands deferred
//! JoinGroup/SyncGroup answers back to the waiting connections. It follows Kafka's
//! `CoordinatorRuntime` in three ways:
//!
//! **Ownership follows leadership.** This broker coordinates exactly the groups whose
//! `__consumer_offsets` partition it leads. After every metadata image is applied
//! ([`GroupService::follow_leadership`]), a partition newly led is *loaded*: its log is
//! replayed, up to its log end as Kafka's loader does, into a separate coordinator
//! (so the other partitions keep being served) whose groups are then adopted; until
//! then its groups answer COORDINATOR_LOAD_IN_PROGRESS. A partition no longer led, or
//! led in a new leader epoch (leadership went away and came back, and the log may
//! have been truncated meanwhile), is *unloaded*: its groups leave memory and a
//! JoinGroup/SyncGroup waiting in one is answered NOT_COORDINATOR. Any request for a
//! group not owned gets NOT_COORDINATOR, so the client looks the coordinator up
//! again. Timers act only on groups in memory, which are the owned ones.
//!
//! **Writes wait for replication.** The state machine steps and its records are
//! appended under the service lock, as acks=all (refused before anything is written
//! when the ISR is below `min.insync.replicas`; Kafka appends with acks=1 and would
//! only time out later, with the same COORDINATOR_NOT_AVAILABLE). The answers that
//! depend on those records are held back, without the lock, until the partition's
//! high watermark passes them or `offsets.commit.timeout.ms` runs out. Errors map as
//! Kafka's `CoordinatorOperationExceptionHelper` maps them: a timeout or too few
//! replicas is COORDINATOR_NOT_AVAILABLE (OffsetCommit included), lost leadership is
//! NOT_COORDINATOR.
//!
//! **What a failed write leaves in memory.** An append that fails writes nothing, so
//! the change is undone (`save_groups`/`restore_groups`), as Kafka reverts to its last
//! written offset. A write that was appended but not replicated in time is *not*
//! undone, as in Kafka: the records are in the leader's log and are committed once
//! the followers catch up, and if they never are it is because leadership moved, which
//! unloads the partition and drops the state with it. The difference from Kafka: its
//! reads (OffsetFetch, DescribeGroups) see only the state at the high watermark, held
//! in timeline snapshots; here they see the latest state, so a commit waiting for
//! replication can be read before it is acknowledged.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;
use kavka_group::{
    partition_for_group, Completion, CoordinatorRecord, Effects, GroupConfig, GroupCoordinator,
    GroupError, GroupResponse, JoinGroupResponse, PartitionResult, RequestId, SavedGroups,
    SyncGroupResponse, TopicId, TopicInfo, TopicLookup, TxnOffsetCommitRequest,
};
use kavka_metadata::controller::{create_topic, NewTopic};
use kavka_metadata::MetadataImage;
use kavka_replica::{Acks, ReplicaError};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::config::BrokerConfig;
use crate::partition::{AckWait, Partition, PartitionError};
use crate::partition_watch::Waiter;
use crate::state::{now_ms, BrokerState};

/// The internal topic holding committed offsets and group metadata.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The metadata image as the group coordinator sees topics: name, id, partitions.
pub(crate) struct ImageTopics<'a>(pub(crate) &'a MetadataImage);

impl TopicLookup for ImageTopics<'_> {
    fn topic(&self, name: &str) -> Option<TopicInfo> {
        self.0.topic(name).map(|t| TopicInfo {
            id: TopicId(*t.topic_id.as_bytes()),
            partitions: i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
        })
    }

    fn topic_name(&self, id: TopicId) -> Option<String> {
        self.0
            .topic_by_id(&uuid::Uuid::from_bytes(id.0))
            .map(|t| t.name.clone())
    }

    fn topic_names(&self) -> Vec<String> {
        // Internal topics never match a subscription regex, as in Kafka.
        self.0
            .topics()
            .filter(|t| !t.name.starts_with("__"))
            .map(|t| t.name.clone())
            .collect()
    }
}

struct Inner {
    coordinator: GroupCoordinator,
    pending: HashMap<RequestId, oneshot::Sender<GroupResponse>>,
    next_request: u64,
    /// The `__consumer_offsets` partitions this broker leads, by index.
    shards: BTreeMap<i32, Shard>,
    next_load: u64,
    /// Transaction markers (producer id, commit?) replicated on a partition while
    /// it loads: the replay may have read its log before them, so they are
    /// applied again once its groups are adopted (no offsets can be committed in
    /// between, so a second application changes nothing the first did not).
    markers_while_loading: BTreeMap<i32, Vec<(i64, bool)>>,
}

/// A led `__consumer_offsets` partition (Kafka's coordinator shard).
#[derive(Debug, Clone)]
enum Shard {
    /// Being replayed; `load` tells this load from a later one.
    Loading { epoch: i32, load: u64 },
    /// Loaded: its groups are in the coordinator and served while `partition`
    /// is still led here in `epoch`.
    Active {
        epoch: i32,
        partition: Arc<Partition>,
    },
}

impl Shard {
    fn epoch(&self) -> i32 {
        match self {
            Shard::Loading { epoch, .. } | Shard::Active { epoch, .. } => *epoch,
        }
    }

    fn is_load(&self, job: &LoadJob) -> bool {
        matches!(self, Shard::Loading { epoch, load } if *epoch == job.epoch && *load == job.load)
    }
}

/// A partition to replay, from [`GroupService::follow_leadership`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadJob {
    partition: i32,
    epoch: i32,
    load: u64,
}

/// One per broker; every group operation goes through its lock, so the state
/// machine sees requests one at a time and records are written in that order.
pub(crate) struct GroupService {
    inner: Mutex<Inner>,
    partitions: i32,
    write_timeout: Duration,
}

impl std::fmt::Debug for GroupService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupService").finish_non_exhaustive()
    }
}

/// Why group state could not be persisted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    #[error("cannot create {OFFSETS_TOPIC}: {0}")]
    CreateTopic(String),
    #[error("{OFFSETS_TOPIC} partition {0} is not hosted here")]
    NotHosted(i32),
    #[error("cannot encode group records: {0}")]
    Encode(String),
    #[error("cannot append to {OFFSETS_TOPIC}: {0}")]
    Append(#[source] PartitionError),
    #[error("group records not replicated: {0}")]
    NotReplicated(#[source] ReplicaError),
}

/// A failed persist: why, and which partitions got nothing.
#[derive(Debug)]
pub(crate) struct PersistFailure {
    pub(crate) error: PersistError,
    pub(crate) unwritten: BTreeSet<i32>,
}

impl PersistError {
    /// What the client sees: lost leadership sends it to look the coordinator up
    /// again; anything else is retriable where it is.
    pub(crate) fn group_error(&self) -> GroupError {
        match self {
            PersistError::NotHosted(_)
            | PersistError::Append(PartitionError::Offline)
            | PersistError::Append(PartitionError::Replica(ReplicaError::NotLeaderOrFollower))
            | PersistError::NotReplicated(ReplicaError::NotLeaderOrFollower) => {
                GroupError::NotCoordinator
            }
            _ => GroupError::CoordinatorNotAvailable,
        }
    }

    pub(crate) fn code(&self) -> i16 {
        self.group_error().code()
    }
}

/// Why a group request was not served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CoordinatorError {
    /// NOT_COORDINATOR: this broker does not lead the group's partition.
    #[error("this broker is not the group's coordinator")]
    NotCoordinator,
    /// COORDINATOR_LOAD_IN_PROGRESS: the group's partition is being replayed.
    #[error("the group's coordinator is loading")]
    LoadInProgress,
    /// COORDINATOR_NOT_AVAILABLE: the answer never came (the service dropped it).
    #[error("the group's coordinator is not available")]
    NotAvailable,
    #[error(transparent)]
    Persist(#[from] PersistError),
}

impl CoordinatorError {
    /// The Kafka error code.
    pub(crate) fn code(&self) -> i16 {
        match self {
            CoordinatorError::NotCoordinator => ResponseError::NotCoordinator.code(),
            CoordinatorError::LoadInProgress => ResponseError::CoordinatorLoadInProgress.code(),
            CoordinatorError::NotAvailable => ResponseError::CoordinatorNotAvailable.code(),
            CoordinatorError::Persist(e) => e.code(),
        }
    }
}

/// The groups as a read sees them: the coordinator plus who owns what.
pub(crate) struct OwnedGroups<'a> {
    inner: &'a Inner,
    partitions: i32,
}

impl OwnedGroups<'_> {
    /// Ok when this broker serves `group` now.
    pub(crate) fn check(&self, group: &str) -> Result<(), CoordinatorError> {
        check_owned(&self.inner.shards, self.partitions, group)
    }

    /// True while some led partition is still being loaded.
    pub(crate) fn loading(&self) -> bool {
        self.inner
            .shards
            .values()
            .any(|s| matches!(s, Shard::Loading { .. }))
    }

    /// `ids` split into those served here and those refused, with why.
    pub(crate) fn split(&self, ids: &[String]) -> (Vec<String>, Vec<(String, CoordinatorError)>) {
        let mut served = Vec::new();
        let mut refused = Vec::new();
        for id in ids {
            match self.check(id) {
                Ok(()) => served.push(id.clone()),
                Err(e) => refused.push((id.clone(), e)),
            }
        }
        (served, refused)
    }

    /// The coordinator, holding only owned groups.
    pub(crate) fn coordinator(&self) -> &GroupCoordinator {
        &self.inner.coordinator
    }
}

fn check_owned(
    shards: &BTreeMap<i32, Shard>,
    partitions: i32,
    group: &str,
) -> Result<(), CoordinatorError> {
    match shards.get(&partition_for_group(group, partitions)) {
        // The role itself is asked too: between a metadata image taking the
        // leadership away and the unload that follows it, nothing is served.
        Some(Shard::Active { epoch, partition }) if partition.leadership() == Some(*epoch) => {
            Ok(())
        }
        Some(Shard::Active { .. }) => Err(CoordinatorError::NotCoordinator),
        Some(Shard::Loading { .. }) => Err(CoordinatorError::LoadInProgress),
        None => Err(CoordinatorError::NotCoordinator),
    }
}

/// Appended records not yet known replicated, and the answers that wait for them.
#[must_use]
pub(crate) struct Delivery {
    waits: Vec<(Arc<Partition>, AckWait)>,
    deadline: tokio::time::Instant,
    answers: Vec<(oneshot::Sender<GroupResponse>, GroupResponse)>,
}

impl Delivery {
    fn is_empty(&self) -> bool {
        self.waits.is_empty() && self.answers.is_empty()
    }

    /// Waits until every record is replicated (or the deadline), then answers:
    /// as decided when they are, else with the error, in each answer's own shape.
    async fn run(self) -> Result<(), PersistError> {
        let result = wait_replicated(self.waits, self.deadline).await;
        let failed = result.as_ref().err().map(PersistError::group_error);
        for (tx, response) in self.answers {
            let response = match (failed, response) {
                (None, r) => r,
                (Some(e), GroupResponse::Join(r)) => {
                    GroupResponse::Join(JoinGroupResponse::error(e, &r.member_id))
                }
                (Some(e), GroupResponse::Sync(_)) => {
                    GroupResponse::Sync(SyncGroupResponse::error(e))
                }
            };
            // The connection may have gone away; nothing to do then.
            let _ = tx.send(response);
        }
        result
    }

    /// Runs on its own task, so a waiting client that disconnects does not take
    /// the other members' answers with it; the caller may await the outcome.
    fn spawn(self) -> Option<tokio::task::JoinHandle<Result<(), PersistError>>> {
        if self.is_empty() {
            return None;
        }
        Some(tokio::spawn(self.run()))
    }
}

/// Waits for each append's high-watermark wait; the first failure ends the wait
/// and gives up the rest.
pub(crate) async fn wait_replicated(
    waits: Vec<(Arc<Partition>, AckWait)>,
    deadline: tokio::time::Instant,
) -> Result<(), PersistError> {
    let mut result = Ok(());
    for (p, wait) in waits {
        match wait {
            AckWait::Done(done) => {
                if let (Ok(()), Err(e)) = (&result, done) {
                    result = Err(PersistError::NotReplicated(e));
                }
            }
            AckWait::Pending(id, rx) => {
                if result.is_err() {
                    p.abandon_produce(id, now_ms());
                    continue;
                }
                result = match tokio::time::timeout_at(deadline, rx).await {
                    Ok(Ok(done)) => done.map_err(PersistError::NotReplicated),
                    // The partition dropped the wait: its log closed under it.
                    Ok(Err(_)) => Err(PersistError::NotReplicated(
                        ReplicaError::NotLeaderOrFollower,
                    )),
                    Err(_) => {
                        p.abandon_produce(id, now_ms());
                        Err(PersistError::NotReplicated(ReplicaError::RequestTimedOut))
                    }
                };
            }
        }
    }
    result
}

/// How a partition replay ended.
struct Replayed {
    records: usize,
    /// Each JSON-form key seen, and whether its latest record is live.
    legacy: BTreeMap<Bytes, bool>,
}

/// Replays one `__consumer_offsets` partition into `into`, from its log start to its
/// log end (not only the high watermark: as in Kafka's loader, a new leader's log is
/// the truth its followers converge to).
fn replay_partition(
    p: &Partition,
    into: &mut GroupCoordinator,
    now: i64,
) -> Result<Replayed, PartitionError> {
    let mut replayed = Replayed {
        records: 0,
        legacy: BTreeMap::new(),
    };
    let mut offset = p.log_start_offset();
    loop {
        let data = p.read_for_follower(offset, 1 << 20)?;
        if data.records.is_empty() {
            break;
        }
        let mut buf = data.records;
        let mut next = offset;
        while !buf.is_empty() {
            // The batch's last offset, not its last record's: compaction leaves
            // batches whose last records (or all records) are gone.
            if let Ok(header) = kavka_storage::BatchHeader::parse(&buf) {
                next = next.max(header.last_offset().saturating_add(1));
            }
            let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
                break;
            };
            for r in set.records {
                next = next.max(r.offset + 1);
                if r.offset < offset {
                    continue;
                }
                if r.control {
                    // A transaction marker: the producer's pending offsets apply
                    // (COMMIT) or go (ABORT). Other control records mean nothing here.
                    if let Some(commit) = r.key.as_deref().and_then(marker_commits) {
                        into.complete_txn(r.producer_id, commit, |_| true);
                    }
                    continue;
                }
                let Some(key) = r.key else { continue };
                if r.transactional {
                    match CoordinatorRecord::decode_stored(&key, r.value.as_deref()) {
                        Ok(records) => {
                            for record in records {
                                into.replay_txn_offset(r.producer_id, record, now);
                            }
                            replayed.records += 1;
                        }
                        Err(e) => {
                            tracing::warn!(partition = p.index, offset = r.offset, error = %e, "skipping unreadable transactional group record")
                        }
                    }
                    continue;
                }
                if CoordinatorRecord::is_legacy_key(&key) {
                    replayed.legacy.insert(key.clone(), r.value.is_some());
                }
                match CoordinatorRecord::decode_stored(&key, r.value.as_deref()) {
                    Ok(records) => {
                        for record in records {
                            into.replay(record, now);
                        }
                        replayed.records += 1;
                    }
                    Err(e) => {
                        tracing::warn!(partition = p.index, offset = r.offset, error = %e, "skipping unreadable group record")
                    }
                }
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok(replayed)
}

/// What a control record's key says of a transaction marker: Some(true) for
/// COMMIT, Some(false) for ABORT (key version 0, then the type).
fn marker_commits(key: &[u8]) -> Option<bool> {
    match key {
        [0, 0, 0, 0] => Some(false),
        [0, 0, 0, 1] => Some(true),
        _ => None,
    }
}

impl GroupService {
    pub(crate) fn new(config: &BrokerConfig) -> Self {
        let group_config = GroupConfig {
            initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
            min_session_timeout_ms: config.group_min_session_timeout_ms,
            max_session_timeout_ms: config.group_max_session_timeout_ms,
            offsets_retention_ms: config.offsets_retention_minutes * 60_000,
            consumer_heartbeat_interval_ms: config.group_consumer_heartbeat_interval_ms,
            consumer_session_timeout_ms: config.group_consumer_session_timeout_ms,
            ..GroupConfig::default()
        };
        // Member ids must not repeat across restarts, so the seed changes each start.
        let seed = now_ms() as u64 ^ u64::from(std::process::id()).rotate_left(32);
        Self {
            inner: Mutex::new(Inner {
                coordinator: GroupCoordinator::new(group_config, seed),
                pending: HashMap::new(),
                next_request: 0,
                shards: BTreeMap::new(),
                next_load: 0,
                markers_while_loading: BTreeMap::new(),
            }),
            partitions: config.offsets_topic_num_partitions,
            write_timeout: Duration::from_millis(
                u64::try_from(config.offsets_commit_timeout_ms).unwrap_or(5000),
            ),
        }
    }

    /// Brings ownership in line with the `__consumer_offsets` partitions this
    /// broker leads now (call after each metadata image is applied to the
    /// partitions): unloads those no longer led (or led in another epoch) at once,
    /// and returns the newly led ones, marked loading, for [`Self::load`].
    pub(crate) fn follow_leadership(&self, state: &BrokerState) -> Vec<LoadJob> {
        let mut inner = self.inner.lock();
        // Read under the service lock, so two callers cannot apply views of the
        // roles in the opposite order from the one they saw them in.
        let led: BTreeMap<i32, i32> = (0..self.partitions)
            .filter_map(|i| {
                let epoch = state.replicas.get(OFFSETS_TOPIC, i)?.leadership()?;
                Some((i, epoch))
            })
            .collect();
        let stale: Vec<i32> = inner
            .shards
            .iter()
            .filter(|(i, shard)| led.get(i) != Some(&shard.epoch()))
            .map(|(i, _)| *i)
            .collect();
        for partition in stale {
            self.unload(&mut inner, partition);
        }
        let mut jobs = Vec::new();
        for (partition, epoch) in led {
            if inner.shards.contains_key(&partition) {
                continue;
            }
            inner.next_load += 1;
            let load = inner.next_load;
            inner
                .shards
                .insert(partition, Shard::Loading { epoch, load });
            // Markers seen during an earlier, abandoned load are in the log this
            // load replays.
            inner.markers_while_loading.remove(&partition);
            jobs.push(LoadJob {
                partition,
                epoch,
                load,
            });
        }
        jobs
    }

    /// Drops the groups of a partition no longer led; waiting joins and syncs
    /// in them are answered NOT_COORDINATOR.
    fn unload(&self, inner: &mut Inner, partition: i32) {
        let was = inner.shards.remove(&partition);
        let partitions = self.partitions;
        let effects = inner
            .coordinator
            .unload_groups(|group| partition_for_group(group, partitions) == partition);
        let answers = self.take_answers(inner, effects.completions);
        for (tx, response) in answers {
            let _ = tx.send(response);
        }
        let (epoch, loaded) = match was {
            Some(Shard::Active { epoch, .. }) => (epoch, true),
            Some(Shard::Loading { epoch, .. }) => (epoch, false),
            None => (-1, false),
        };
        tracing::info!(
            partition,
            leader_epoch = epoch,
            loaded,
            "{OFFSETS_TOPIC} partition no longer led here in that epoch: its groups unloaded"
        );
    }

    /// Replays a newly led partition (blocking: reads its whole log) and starts
    /// serving its groups, unless leadership changed meanwhile. A partition that
    /// still holds live records in Kavka's former JSON form is then rewritten
    /// (see [`Self::migrate`]).
    pub(crate) fn load(&self, state: &BrokerState, job: LoadJob) {
        let started = std::time::Instant::now();
        let mut loader = self.inner.lock().coordinator.loader();
        let partition = state.replicas.get(OFFSETS_TOPIC, job.partition);
        let replayed = match &partition {
            Some(p) => replay_partition(p, &mut loader, now_ms()),
            None => Err(PartitionError::Offline),
        };
        let mut inner = self.inner.lock();
        let late_markers = inner
            .markers_while_loading
            .remove(&job.partition)
            .unwrap_or_default();
        if !inner
            .shards
            .get(&job.partition)
            .is_some_and(|s| s.is_load(&job))
        {
            // Unloaded or reloaded meanwhile; the newer decision stands.
            return;
        }
        let replayed = match (replayed, partition) {
            (Ok(r), Some(p)) if p.leadership() == Some(job.epoch) => (r, p),
            // Leadership moved while replaying: the unload that follows it finds
            // nothing to drop, and the next load starts afresh.
            (Ok(_), _) => {
                inner.shards.remove(&job.partition);
                return;
            }
            (Err(e), _) => {
                // Like Kafka's FAILED shard: nothing served from a partial replay;
                // the next leadership change tries again.
                inner.shards.remove(&job.partition);
                tracing::error!(partition = job.partition, error = %e, "cannot load {OFFSETS_TOPIC} partition; its groups are not served here");
                return;
            }
        };
        let (replayed, partition) = replayed;
        for (producer_id, commit) in late_markers {
            loader.complete_txn(producer_id, commit, |_| true);
        }
        inner.coordinator.adopt_groups(loader);
        inner.shards.insert(
            job.partition,
            Shard::Active {
                epoch: job.epoch,
                partition,
            },
        );
        tracing::info!(
            partition = job.partition,
            leader_epoch = job.epoch,
            records = replayed.records,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded consumer groups and offsets of {OFFSETS_TOPIC} partition"
        );
        if replayed.legacy.values().any(|live| *live) {
            if let Err(e) = self.migrate(&inner.coordinator, state, job.partition, replayed.legacy)
            {
                tracing::error!(partition = job.partition, error = %e, "{OFFSETS_TOPIC} partition not rewritten in Kafka's format; its JSON-form records are still read");
            }
        }
    }

    /// Rewrites a partition loaded from JSON-form records in Kafka's format: a
    /// tombstone under every JSON key (so compaction drops them, and a later Kafka-form
    /// tombstone cannot leave an old JSON record behind to resurrect), then the
    /// current state of the partition's groups as Kafka records. Replaying the log
    /// again gives the same state, and no JSON key is live any more, so this runs
    /// once per partition. Written with acks=1: it only restates what the log says,
    /// so if it is lost with a leader change the next leader rewrites again.
    fn migrate(
        &self,
        coordinator: &GroupCoordinator,
        state: &BrokerState,
        partition: i32,
        legacy_keys: BTreeMap<Bytes, bool>,
    ) -> Result<(), PersistError> {
        let mut entries: Vec<(Bytes, Option<Bytes>)> =
            legacy_keys.into_keys().map(|k| (k, None)).collect();
        let snapshot = coordinator
            .snapshot_records(|group| partition_for_group(group, self.partitions) == partition);
        let groups = snapshot.len();
        entries.extend(snapshot.iter().map(|r| {
            let (k, v) = r.encode();
            (Bytes::from(k), v.map(Bytes::from))
        }));
        self.append(state, partition, entries, Acks::Leader)?;
        tracing::info!(
            partition,
            records = groups,
            "rewrote {OFFSETS_TOPIC} partition from Kavka's former JSON records into Kafka's format"
        );
        Ok(())
    }

    /// Runs a deferred call (join or sync) on `group_id`: registers a waiter, applies
    /// the call, persists whatever it decided, and once that is replicated answers
    /// whatever it completed; then waits for our own answer. If the records cannot
    /// be written the group is put back as it was and our waiter is dropped, which
    /// comes back as the write's error; the other requests the call would have
    /// completed stay waiting, as they do in the restored state.
    pub(crate) async fn deferred(
        &self,
        state: &BrokerState,
        group_id: &str,
        call: impl FnOnce(&mut GroupCoordinator, RequestId, i64) -> Effects,
    ) -> Result<GroupResponse, CoordinatorError> {
        let (rx, delivery) = {
            let mut inner = self.inner.lock();
            check_owned(&inner.shards, self.partitions, group_id)?;
            inner.next_request += 1;
            let id = RequestId(inner.next_request);
            let (tx, rx) = oneshot::channel();
            inner.pending.insert(id, tx);
            let saved = inner.coordinator.save_groups([group_id]);
            let effects = call(&mut inner.coordinator, id, now_ms());
            match self.persist(state, &effects.records) {
                Ok(waits) => (rx, self.hold(&mut inner, waits, effects.completions)),
                Err(failure) => {
                    self.undo(&mut inner, saved, &effects.records, &failure);
                    inner.pending.remove(&id);
                    return Err(failure.error.into());
                }
            }
        };
        // Our own answer is among those delivered, or comes with a later step.
        let _ = delivery.spawn();
        rx.await.map_err(|_| CoordinatorError::NotAvailable)
    }

    /// Runs a call on `group_ids` that answers directly; its records are persisted
    /// and replicated before the answer is returned. A failed append undoes the
    /// change to the groups whose records were not written; either failure turns
    /// into the error the caller maps.
    pub(crate) async fn direct<T>(
        &self,
        state: &BrokerState,
        group_ids: &[&str],
        call: impl FnOnce(&mut GroupCoordinator, i64) -> (T, Effects),
    ) -> Result<T, CoordinatorError> {
        let (out, delivery) = {
            let mut inner = self.inner.lock();
            for group in group_ids {
                check_owned(&inner.shards, self.partitions, group)?;
            }
            let saved = inner.coordinator.save_groups(group_ids.iter().copied());
            let (out, effects) = call(&mut inner.coordinator, now_ms());
            match self.persist(state, &effects.records) {
                Ok(waits) => (out, self.hold(&mut inner, waits, effects.completions)),
                Err(failure) => {
                    self.undo(&mut inner, saved, &effects.records, &failure);
                    return Err(failure.error.into());
                }
            }
        };
        if let Some(task) = delivery.spawn() {
            match task.await {
                Ok(result) => result?,
                Err(_) => return Err(CoordinatorError::NotAvailable),
            }
        }
        Ok(out)
    }

    /// Takes the senders of `completions` out of the pending map, to answer once
    /// `waits` are replicated.
    fn hold(
        &self,
        inner: &mut Inner,
        waits: Vec<(Arc<Partition>, AckWait)>,
        completions: Vec<Completion>,
    ) -> Delivery {
        Delivery {
            waits,
            deadline: tokio::time::Instant::now() + self.write_timeout,
            answers: self.take_answers(inner, completions),
        }
    }

    fn take_answers(
        &self,
        inner: &mut Inner,
        completions: Vec<Completion>,
    ) -> Vec<(oneshot::Sender<GroupResponse>, GroupResponse)> {
        completions
            .into_iter()
            .filter_map(|c| Some((inner.pending.remove(&c.request)?, c.response)))
            .collect()
    }

    /// Puts back the groups whose records did not reach `__consumer_offsets`.
    fn undo(
        &self,
        inner: &mut Inner,
        saved: SavedGroups,
        records: &[CoordinatorRecord],
        failure: &PersistFailure,
    ) {
        let lost = |group: &str| {
            failure
                .unwritten
                .contains(&partition_for_group(group, self.partitions))
        };
        for r in records.iter().filter(|r| lost(r.group_id())) {
            if !saved.covers(r.group_id()) {
                // A call touched a group its caller did not name: a bug, and the
                // in-memory state of that group is now ahead of the log.
                tracing::error!(
                    group = r.group_id(),
                    "group change not persisted and not undone"
                );
            }
        }
        tracing::warn!(error = %failure.error, "group change not persisted; undone");
        inner.coordinator.restore_groups(saved, lost);
    }

    /// A transaction marker for `producer_id` was replicated on `__consumer_offsets`
    /// partition `partition`: its pending transactional offset commits become
    /// committed offsets (COMMIT) or are dropped (ABORT).
    pub(crate) fn complete_txn_offsets(&self, partition: i32, producer_id: i64, commit: bool) {
        let partitions = self.partitions;
        let mut inner = self.inner.lock();
        if matches!(inner.shards.get(&partition), Some(Shard::Loading { .. })) {
            inner
                .markers_while_loading
                .entry(partition)
                .or_default()
                .push((producer_id, commit));
            return;
        }
        inner
            .coordinator
            .complete_txn(producer_id, commit, |group| {
                partition_for_group(group, partitions) == partition
            });
    }

    /// TxnOffsetCommit: checks the member as OffsetCommit does, writes the offsets
    /// as OffsetCommit records in a transactional batch of `producer_id` (the log
    /// fences an older `producer_epoch`), and answers once they are replicated.
    /// The offsets stay pending until the transaction's marker reaches the group's
    /// `__consumer_offsets` partition. For the transaction coordinator too.
    pub(crate) async fn txn_offset_commit(
        &self,
        state: &BrokerState,
        request: TxnOffsetCommitRequest,
    ) -> Result<Vec<PartitionResult>, CoordinatorError> {
        let group_id = request.group_id.clone();
        let producer = (request.producer_id, request.producer_epoch);
        let (out, delivery) = {
            let mut inner = self.inner.lock();
            check_owned(&inner.shards, self.partitions, &group_id)?;
            let saved = inner.coordinator.save_groups([group_id.as_str()]);
            let (results, records) = inner.coordinator.txn_commit_offsets(request, now_ms());
            match self.persist_as(state, &records, Some(producer)) {
                Ok(waits) => (results, self.hold(&mut inner, waits, Vec::new())),
                Err(failure) => {
                    self.undo(&mut inner, saved, &records, &failure);
                    return Err(failure.error.into());
                }
            }
        };
        if let Some(task) = delivery.spawn() {
            match task.await {
                Ok(result) => result?,
                Err(_) => return Err(CoordinatorError::NotAvailable),
            }
        }
        Ok(out)
    }

    /// Read-only access for describe/list/fetch calls: the coordinator holds only
    /// owned groups; [`OwnedGroups::check`] says whether one group is served here.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&OwnedGroups<'_>) -> T) -> T {
        let inner = self.inner.lock();
        f(&OwnedGroups {
            inner: &inner,
            partitions: self.partitions,
        })
    }

    /// Like [`Self::read`], but the answer waits until every record appended to
    /// the `__consumer_offsets` partitions of `groups` before the read is
    /// replicated: a committed offset or a member is shown only once it would
    /// survive a failover of the coordinator, as Kafka's coordinators read at the
    /// last committed offset. With a single replica there is nothing to wait for.
    pub(crate) async fn read_replicated<T>(
        &self,
        state: &BrokerState,
        groups: &[&str],
        f: impl FnOnce(&OwnedGroups<'_>) -> T,
    ) -> Result<T, CoordinatorError> {
        let partitions: BTreeSet<i32> = groups
            .iter()
            .map(|g| partition_for_group(g, self.partitions))
            .collect();
        let hosted: Vec<Arc<Partition>> = partitions
            .into_iter()
            .filter_map(|p| state.replicas.get(OFFSETS_TOPIC, p))
            .collect();
        // The log ends are taken under the lock the writers append under, so the
        // read reflects no record beyond them.
        let (out, targets) = {
            let inner = self.inner.lock();
            let targets: Vec<i64> = hosted.iter().map(|p| p.log_end_offset()).collect();
            let out = f(&OwnedGroups {
                inner: &inner,
                partitions: self.partitions,
            });
            (out, targets)
        };
        let deadline = tokio::time::Instant::now() + self.write_timeout;
        for (p, target) in hosted.iter().zip(targets) {
            // Registered before the check, so a move in between is not missed.
            let waiter = Waiter::new();
            p.watch_high_watermark(&waiter);
            loop {
                if p.high_watermark() >= target {
                    break;
                }
                if !p.is_leader() {
                    return Err(CoordinatorError::NotCoordinator);
                }
                if tokio::time::timeout_at(deadline, waiter.woken())
                    .await
                    .is_err()
                {
                    return Err(CoordinatorError::NotAvailable);
                }
            }
        }
        Ok(out)
    }

    /// Advances timers: session expiry, join phase ends, offset expiry. Only owned
    /// groups are in memory, so only they are acted on.
    pub(crate) fn tick(&self, state: &BrokerState) {
        let delivery = {
            let mut inner = self.inner.lock();
            let effects = inner.coordinator.tick(now_ms());
            // Timer effects are expirations and rebalances that time itself
            // decides. They are not undone on a failed append: the next tick decides
            // them again, and a restart replays the last persisted state, from which
            // the same expirations follow. What they completed is answered with the
            // error, so those members retry.
            let (waits, failed) = match self.persist(state, &effects.records) {
                Ok(waits) => (waits, None),
                Err(failure) => {
                    tracing::error!(error = %failure.error, "group state not persisted");
                    (Vec::new(), Some(failure.error))
                }
            };
            let mut delivery = self.hold(&mut inner, waits, effects.completions);
            if let Some(e) = failed {
                let code = e.group_error();
                for (_, response) in &mut delivery.answers {
                    *response = match response {
                        GroupResponse::Join(r) => {
                            GroupResponse::Join(JoinGroupResponse::error(code, &r.member_id))
                        }
                        GroupResponse::Sync(_) => {
                            GroupResponse::Sync(SyncGroupResponse::error(code))
                        }
                    };
                }
            }
            delivery
        };
        // Not awaited: the timer goes on while these replicate.
        let _ = delivery.spawn();
    }

    /// Appends records to their groups' partitions of `__consumer_offsets`, one
    /// batch per partition, in partition order, as acks=all; returns the waits for
    /// their replication. On failure says which partitions were not written (the
    /// failed one and every one after it).
    fn persist(
        &self,
        state: &BrokerState,
        records: &[CoordinatorRecord],
    ) -> Result<Vec<(Arc<Partition>, AckWait)>, PersistFailure> {
        self.persist_as(state, records, None)
    }

    /// `persist`, in transactional batches of `producer` (id, epoch) when given.
    fn persist_as(
        &self,
        state: &BrokerState,
        records: &[CoordinatorRecord],
        producer: Option<(i64, i16)>,
    ) -> Result<Vec<(Arc<Partition>, AckWait)>, PersistFailure> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_partition: BTreeMap<i32, Vec<(Bytes, Option<Bytes>)>> = BTreeMap::new();
        for r in records {
            let (key, value) = r.encode();
            let partition = partition_for_group(r.group_id(), self.partitions);
            by_partition
                .entry(partition)
                .or_default()
                .push((Bytes::from(key), value.map(Bytes::from)));
        }
        let all = || by_partition.keys().copied().collect::<BTreeSet<i32>>();
        let unwritten_from = |partition: i32| all().split_off(&partition);
        let mut waits = Vec::new();
        for (&partition, entries) in &by_partition {
            match self.append_as(state, partition, entries.clone(), Acks::All, producer) {
                Ok(wait) => waits.push(wait),
                Err(error) => {
                    return Err(PersistFailure {
                        error,
                        unwritten: unwritten_from(partition),
                    })
                }
            }
        }
        Ok(waits)
    }

    /// Appends (key, value) records to one partition of `__consumer_offsets` as one
    /// batch, as Kafka's coordinator does (uncompressed, no producer id), so a step's
    /// records land together.
    fn append(
        &self,
        state: &BrokerState,
        partition: i32,
        entries: Vec<(Bytes, Option<Bytes>)>,
        acks: Acks,
    ) -> Result<(Arc<Partition>, AckWait), PersistError> {
        self.append_as(state, partition, entries, acks, None)
    }

    /// `append`; with `producer` (id, epoch) the batch is a transactional one of
    /// that producer, as Kafka writes a TxnOffsetCommit, without sequences.
    fn append_as(
        &self,
        state: &BrokerState,
        partition: i32,
        entries: Vec<(Bytes, Option<Bytes>)>,
        acks: Acks,
        producer: Option<(i64, i16)>,
    ) -> Result<(Arc<Partition>, AckWait), PersistError> {
        let buf = coordinator_batch(entries, now_ms(), producer).map_err(PersistError::Encode)?;
        let p = state
            .replicas
            .get(OFFSETS_TOPIC, partition)
            .ok_or(PersistError::NotHosted(partition))?;
        let now = now_ms();
        let timeout_ms = i64::try_from(self.write_timeout.as_millis()).unwrap_or(i64::MAX);
        let (_, wait) = p
            .append_records(buf, acks, now, now.saturating_add(timeout_ms))
            .map_err(PersistError::Append)?;
        Ok((p, wait))
    }

    /// Creates `__consumer_offsets` on first use, as Kafka does, and waits (a
    /// little) until the partitions this broker now leads are loaded: they are
    /// empty, but the metadata follower may be loading them on another task, and
    /// the request that created the topic should not be told to come back.
    pub(crate) async fn ensure_topic(&self, state: &BrokerState) -> Result<(), PersistError> {
        if state.metadata.image().topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        self.create_topic(state).await?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.read(|g| g.loading()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Ok(())
    }

    async fn create_topic(&self, state: &BrokerState) -> Result<(), PersistError> {
        let topic = NewTopic {
            name: OFFSETS_TOPIC.to_string(),
            num_partitions: self.partitions,
            replication_factor: offsets_replication_factor(state),
            assignments: None,
            // Kafka's GroupCoordinatorService sets these three as topic configs.
            configs: [
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("compression.type".to_string(), "producer".to_string()),
                ("segment.bytes".to_string(), "104857600".to_string()),
            ]
            .into_iter()
            .collect(),
        };
        let brokers = state.live_brokers();
        state
            .commit(|image| {
                if image.topic(OFFSETS_TOPIC).is_some() {
                    return Ok((vec![], ()));
                }
                Ok((create_topic(image, &topic, &brokers)?, ()))
            })
            .await
            .map_err(|e| PersistError::CreateTopic(e.to_string()))
    }
}

/// (key, value) records as one batch the way Kafka's coordinators write them
/// (uncompressed, records numbered from 0; a producer's only for TxnOffsetCommit), so a step's records
/// land together. Shared by the group and the transaction coordinator.
pub(crate) fn coordinator_batch(
    entries: Vec<(Bytes, Option<Bytes>)>,
    now: i64,
    producer: Option<(i64, i16)>,
) -> Result<Bytes, String> {
    let list: Vec<Record> = entries
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map_or(-1, |p| p.0),
            producer_epoch: producer.map_or(-1, |p| p.1),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Kafka numbers a coordinator batch's records from 0 (with no producer
            // id); the encoder also needs consecutive sequences to keep one batch.
            // A transactional batch carries none (-1), so the log checks its
            // epoch but no sequence.
            sequence: match producer {
                Some(_) => -1,
                None => i32::try_from(i).unwrap_or(i32::MAX),
            },
            timestamp: now,
            key: Some(key),
            value,
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        list.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}

/// `offsets.topic.replication.factor`: as configured; when not configured, Kafka's
/// 3, but no more than the brokers there are, so a node run alone with no
/// configuration works as it always has.
fn offsets_replication_factor(state: &BrokerState) -> i16 {
    let configured = state.config.cluster.offsets_topic_replication_factor;
    if state
        .config
        .raw
        .contains_key("offsets.topic.replication.factor")
    {
        return configured;
    }
    let live = i16::try_from(state.live_brokers().len()).unwrap_or(i16::MAX);
    configured.min(live.max(1))
}

#[cfg(test)]
mod tests;
