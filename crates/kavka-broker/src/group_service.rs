//! The group coordinator's service: drives the pure [`GroupCoordinator`] state
//! machine on the coordinator runtime (`coordinator_runtime`), which serves the
//! groups of the `__consumer_offsets` partitions this broker leads, persists what
//! the state machine decides and answers once it is replicated. What is the group
//! coordinator's own lives here: deferred JoinGroup/SyncGroup answers handed back
//! to the waiting connections, steps whose records span several partitions, and
//! what a failed write leaves in memory.
//!
//! **Errors** map as Kafka's `CoordinatorOperationExceptionHelper` maps them: a
//! timeout or too few replicas is COORDINATOR_NOT_AVAILABLE (OffsetCommit
//! included), lost leadership is NOT_COORDINATOR.
//!
//! **What a failed write leaves in memory.** An append that fails writes nothing, so
//! the change is undone (`save_groups`/`restore_groups`), as Kafka reverts to its last
//! written offset. A write that was appended but not replicated in time is *not*
//! undone, as in Kafka: the records are in the leader's log and are committed once
//! the followers catch up, and if they never are it is because leadership moved, which
//! unloads the partition and drops the state with it. Reads that must not show an
//! unreplicated change (OffsetFetch, DescribeGroups) go through
//! [`GroupService::read_replicated`].

mod shard;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kavka_group::{
    partition_for_group, CoordinatorRecord, Effects, GroupConfig, GroupCoordinator, GroupError,
    GroupResponse, JoinGroupResponse, PartitionResult, RequestId, SavedGroups, SyncGroupResponse,
    TopicId, TopicInfo, TopicLookup, TxnOffsetCommitRequest,
};
use kavka_metadata::controller::{create_topic, NewTopic};
use kavka_metadata::MetadataImage;
use kavka_replica::Acks;
use tokio::sync::oneshot;

use crate::config::BrokerConfig;
use crate::coordinator_runtime::{
    CoordinatorRuntime, Entry, HostedLogs, LoadJob, Ownership, OwnershipError, ReadError,
    Replication, ReplicationWait, Session, WriteError,
};
use crate::partition::Partition;
use crate::state::{now_ms, BrokerState};
use shard::GroupShard;

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

type GroupRuntime = CoordinatorRuntime<GroupShard, Partition>;
type GroupSession<'a> = Session<'a, GroupShard, Partition>;

/// One per broker; every group operation goes through its runtime's lock, so the
/// state machine sees requests one at a time and records are written in that order.
pub(crate) struct GroupService {
    runtime: GroupRuntime,
}

impl std::fmt::Debug for GroupService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupService").finish_non_exhaustive()
    }
}

fn logs(state: &BrokerState) -> HostedLogs<'_> {
    HostedLogs::new(&state.replicas, OFFSETS_TOPIC)
}

/// Why group state could not be persisted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    #[error("cannot create {OFFSETS_TOPIC}: {0}")]
    CreateTopic(String),
    #[error("{OFFSETS_TOPIC}: {0}")]
    Write(#[from] WriteError),
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
            PersistError::Write(e) if e.lost_leadership() => GroupError::NotCoordinator,
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

impl From<OwnershipError> for CoordinatorError {
    fn from(e: OwnershipError) -> Self {
        match e {
            OwnershipError::NotCoordinator => CoordinatorError::NotCoordinator,
            OwnershipError::LoadInProgress => CoordinatorError::LoadInProgress,
        }
    }
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
    shard: &'a GroupShard,
    ownership: &'a Ownership<Partition>,
    partitions: i32,
}

impl OwnedGroups<'_> {
    /// Ok when this broker serves `group` now.
    pub(crate) fn check(&self, group: &str) -> Result<(), CoordinatorError> {
        Ok(self
            .ownership
            .check(partition_for_group(group, self.partitions))?)
    }

    /// True while some led partition is still being loaded.
    pub(crate) fn loading(&self) -> bool {
        self.ownership.any_loading()
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
        &self.shard.coordinator
    }
}

/// Appended records not yet known replicated, and the answers that wait for them.
#[must_use]
struct Delivery {
    replication: Replication,
    answers: Vec<(oneshot::Sender<GroupResponse>, GroupResponse)>,
}

/// `response` as the answer to a request whose records failed with `e`.
fn failed_answer(e: GroupError, response: &GroupResponse) -> GroupResponse {
    match response {
        GroupResponse::Join(r) => GroupResponse::Join(JoinGroupResponse::error(e, &r.member_id)),
        GroupResponse::Sync(_) => GroupResponse::Sync(SyncGroupResponse::error(e)),
    }
}

impl Delivery {
    fn is_empty(&self) -> bool {
        self.replication.is_empty() && self.answers.is_empty()
    }

    /// Waits until every record is replicated (or the deadline), then answers:
    /// as decided when they are, else with the error, in each answer's own shape.
    async fn run(self) -> Result<(), PersistError> {
        let result = self.replication.wait().await.map_err(PersistError::from);
        let failed = result.as_ref().err().map(PersistError::group_error);
        for (tx, response) in self.answers {
            let response = match failed {
                None => response,
                Some(e) => failed_answer(e, &response),
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
        let partitions = config.offsets_topic_num_partitions;
        Self {
            runtime: CoordinatorRuntime::new(
                GroupShard::new(GroupCoordinator::new(group_config, seed), partitions),
                OFFSETS_TOPIC,
                partitions,
                Duration::from_millis(
                    u64::try_from(config.offsets_commit_timeout_ms).unwrap_or(5000),
                ),
            ),
        }
    }

    fn partition_of(&self, group: &str) -> i32 {
        partition_for_group(group, self.runtime.partitions())
    }

    /// Brings ownership in line with the `__consumer_offsets` partitions this
    /// broker leads now (see the runtime's `follow_leadership`); waiting joins and
    /// syncs in groups unloaded are answered NOT_COORDINATOR.
    pub(crate) fn follow_leadership(&self, state: &BrokerState) -> Vec<LoadJob> {
        self.runtime.follow_leadership(&logs(state))
    }

    /// Replays a newly led partition (blocking: reads its whole log) and starts
    /// serving its groups, unless leadership changed meanwhile. A partition that
    /// still holds live records in Kavka's former JSON form is then rewritten.
    pub(crate) fn load(&self, state: &BrokerState, job: LoadJob) {
        self.runtime.load(&logs(state), job);
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
            let mut session = self.runtime.lock();
            session.check(self.partition_of(group_id))?;
            let (id, rx) = session.shard_mut().register();
            let coordinator = &mut session.shard_mut().coordinator;
            let saved = coordinator.save_groups([group_id]);
            let effects = call(coordinator, id, now_ms());
            match self.persist(state, &session, &effects.records, None) {
                Ok(waits) => (rx, self.hold(&mut session, waits, effects)),
                Err(failure) => {
                    self.undo(&mut session, saved, &effects.records, &failure);
                    session.shard_mut().forget(id);
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
            let mut session = self.runtime.lock();
            for group in group_ids {
                session.check(self.partition_of(group))?;
            }
            let coordinator = &mut session.shard_mut().coordinator;
            let saved = coordinator.save_groups(group_ids.iter().copied());
            let (out, effects) = call(coordinator, now_ms());
            match self.persist(state, &session, &effects.records, None) {
                Ok(waits) => (out, self.hold(&mut session, waits, effects)),
                Err(failure) => {
                    self.undo(&mut session, saved, &effects.records, &failure);
                    return Err(failure.error.into());
                }
            }
        };
        Self::deliver(delivery).await?;
        Ok(out)
    }

    /// Waits for a delivery on its own task and returns its outcome.
    async fn deliver(delivery: Delivery) -> Result<(), CoordinatorError> {
        if let Some(task) = delivery.spawn() {
            match task.await {
                Ok(result) => result?,
                Err(_) => return Err(CoordinatorError::NotAvailable),
            }
        }
        Ok(())
    }

    /// Takes the senders of what `effects` completed out of the pending map, to
    /// answer once `waits` are replicated.
    fn hold(
        &self,
        session: &mut GroupSession<'_>,
        waits: Vec<ReplicationWait>,
        effects: Effects,
    ) -> Delivery {
        Delivery {
            replication: session.replication(waits),
            answers: session.shard_mut().take_answers(effects.completions),
        }
    }

    /// Puts back the groups whose records did not reach `__consumer_offsets`.
    fn undo(
        &self,
        session: &mut GroupSession<'_>,
        saved: SavedGroups,
        records: &[CoordinatorRecord],
        failure: &PersistFailure,
    ) {
        let lost = |group: &str| failure.unwritten.contains(&self.partition_of(group));
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
        session.shard_mut().coordinator.restore_groups(saved, lost);
    }

    /// A transaction marker for `producer_id` was replicated on `__consumer_offsets`
    /// partition `partition`: its pending transactional offset commits become
    /// committed offsets (COMMIT) or are dropped (ABORT).
    pub(crate) fn complete_txn_offsets(&self, partition: i32, producer_id: i64, commit: bool) {
        let partitions = self.runtime.partitions();
        let mut session = self.runtime.lock();
        let (shard, ownership) = session.parts();
        if ownership.is_loading(partition) {
            shard.marker_while_loading(partition, producer_id, commit);
            return;
        }
        shard
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
            let mut session = self.runtime.lock();
            session.check(self.partition_of(&group_id))?;
            let coordinator = &mut session.shard_mut().coordinator;
            let saved = coordinator.save_groups([group_id.as_str()]);
            let (results, records) = coordinator.txn_commit_offsets(request, now_ms());
            match self.persist(state, &session, &records, Some(producer)) {
                Ok(waits) => (results, self.hold(&mut session, waits, Effects::default())),
                Err(failure) => {
                    self.undo(&mut session, saved, &records, &failure);
                    return Err(failure.error.into());
                }
            }
        };
        Self::deliver(delivery).await?;
        Ok(out)
    }

    /// Read-only access for describe/list/fetch calls: the coordinator holds only
    /// owned groups; [`OwnedGroups::check`] says whether one group is served here.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&OwnedGroups<'_>) -> T) -> T {
        let partitions = self.runtime.partitions();
        self.runtime.read(|shard, ownership| {
            f(&OwnedGroups {
                shard,
                ownership,
                partitions,
            })
        })
    }

    /// Like [`Self::read`], but the answer waits until every record appended to
    /// the `__consumer_offsets` partitions of `groups` before the read is
    /// replicated: a committed offset or a member is shown only once it would
    /// survive a failover of the coordinator.
    pub(crate) async fn read_replicated<T>(
        &self,
        state: &BrokerState,
        groups: &[&str],
        f: impl FnOnce(&OwnedGroups<'_>) -> T,
    ) -> Result<T, CoordinatorError> {
        let partitions: BTreeSet<i32> = groups.iter().map(|g| self.partition_of(g)).collect();
        let count = self.runtime.partitions();
        self.runtime
            .read_replicated(&logs(state), partitions, |shard, ownership| {
                f(&OwnedGroups {
                    shard,
                    ownership,
                    partitions: count,
                })
            })
            .await
            .map_err(|e| match e {
                ReadError::NotCoordinator => CoordinatorError::NotCoordinator,
                ReadError::NotAvailable => CoordinatorError::NotAvailable,
            })
    }

    /// Advances timers: session expiry, join phase ends, offset expiry. Only owned
    /// groups are in memory, so only they are acted on.
    pub(crate) fn tick(&self, state: &BrokerState) {
        let delivery = {
            let mut session = self.runtime.lock();
            let effects = session.shard_mut().coordinator.tick(now_ms());
            // Timer effects are expirations and rebalances that time itself
            // decides. They are not undone on a failed append: the next tick decides
            // them again, and a restart replays the last persisted state, from which
            // the same expirations follow. What they completed is answered with the
            // error, so those members retry.
            let (waits, failed) = match self.persist(state, &session, &effects.records, None) {
                Ok(waits) => (waits, None),
                Err(failure) => {
                    tracing::error!(error = %failure.error, "group state not persisted");
                    (Vec::new(), Some(failure.error))
                }
            };
            let mut delivery = self.hold(&mut session, waits, effects);
            if let Some(e) = failed {
                let code = e.group_error();
                for (_, response) in &mut delivery.answers {
                    *response = failed_answer(code, response);
                }
            }
            delivery
        };
        // Not awaited: the timer goes on while these replicate.
        let _ = delivery.spawn();
    }

    /// Appends records to their groups' partitions of `__consumer_offsets`, one
    /// batch per partition, in partition order, as acks=all (in transactional
    /// batches of `producer` (id, epoch) when given); returns the waits for their
    /// replication. On failure says which partitions were not written (the failed
    /// one and every one after it).
    fn persist(
        &self,
        state: &BrokerState,
        session: &GroupSession<'_>,
        records: &[CoordinatorRecord],
        producer: Option<(i64, i16)>,
    ) -> Result<Vec<ReplicationWait>, PersistFailure> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_partition: BTreeMap<i32, Vec<Entry>> = BTreeMap::new();
        for r in records {
            let (key, value) = r.encode();
            by_partition
                .entry(self.partition_of(r.group_id()))
                .or_default()
                .push((Bytes::from(key), value.map(Bytes::from)));
        }
        let all = || by_partition.keys().copied().collect::<BTreeSet<i32>>();
        let unwritten_from = |partition: i32| all().split_off(&partition);
        let logs = logs(state);
        let mut waits = Vec::new();
        for (&partition, entries) in &by_partition {
            match session.append(&logs, partition, entries.clone(), Acks::All, producer) {
                Ok(appended) => waits.push(appended.wait),
                Err(error) => {
                    return Err(PersistFailure {
                        error: error.into(),
                        unwritten: unwritten_from(partition),
                    })
                }
            }
        }
        Ok(waits)
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
        self.runtime.settle_loads(Duration::from_secs(5)).await;
        Ok(())
    }

    async fn create_topic(&self, state: &BrokerState) -> Result<(), PersistError> {
        let topic = NewTopic {
            name: OFFSETS_TOPIC.to_string(),
            num_partitions: self.runtime.partitions(),
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
