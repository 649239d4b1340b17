//! The coordinator runtime: drives the pure [`GroupCoordinator`] state machine,
//! persists what it decides to `__consumer_offsets`, and hands deferred
//! JoinGroup/SyncGroup answers back to the waiting connections.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;
use kavka_group::{
    partition_for_group, Completion, CoordinatorRecord, Effects, GroupConfig, GroupCoordinator,
    GroupResponse, RequestId, SavedGroups, TopicId, TopicInfo, TopicLookup,
};
use kavka_metadata::controller::{create_topic, NewTopic};
use kavka_metadata::MetadataImage;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::config::BrokerConfig;
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
}

/// One per broker; every group operation goes through its lock, so the state
/// machine sees requests one at a time and records are written in that order.
pub(crate) struct GroupService {
    inner: Mutex<Inner>,
    partitions: i32,
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
    #[error("cannot append to {OFFSETS_TOPIC}: {0}")]
    Append(String),
}

/// A failed persist: why, and which partitions got nothing.
#[derive(Debug)]
pub(crate) struct PersistFailure {
    pub(crate) error: PersistError,
    pub(crate) unwritten: BTreeSet<i32>,
}

impl PersistError {
    /// What the client sees: retriable, so it tries again.
    pub(crate) fn code(&self) -> i16 {
        ResponseError::CoordinatorNotAvailable.code()
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
            }),
            partitions: config.offsets_topic_num_partitions,
        }
    }

    /// Replays `__consumer_offsets` so committed offsets and groups survive restarts.
    /// Records are in Kafka's format; a partition that still holds records in Kavka's
    /// former JSON form is read all the same and then rewritten (see [`Self::migrate`]).
    pub(crate) fn load(&self, state: &BrokerState) {
        let mut inner = self.inner.lock();
        let now = now_ms();
        let mut loaded = 0usize;
        // Per partition: each JSON-form key seen, and whether its latest record is live.
        let mut legacy: BTreeMap<i32, BTreeMap<Bytes, bool>> = BTreeMap::new();
        for index in 0..self.partitions {
            let Some(p) = state.replicas.get(OFFSETS_TOPIC, index) else {
                continue;
            };
            let mut offset = p.log_start_offset();
            let end = p.high_watermark();
            while offset < end {
                let data = match p.read(offset, 1 << 20) {
                    Ok(d) if !d.records.is_empty() => d,
                    _ => break,
                };
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
                        let Some(key) = r.key else { continue };
                        if CoordinatorRecord::is_legacy_key(&key) {
                            legacy
                                .entry(index)
                                .or_default()
                                .insert(key.clone(), r.value.is_some());
                        }
                        match CoordinatorRecord::decode_stored(&key, r.value.as_deref()) {
                            Ok(records) => {
                                for record in records {
                                    inner.coordinator.replay(record, now);
                                }
                                loaded += 1;
                            }
                            Err(e) => {
                                tracing::warn!(partition = index, offset = r.offset, error = %e, "skipping unreadable group record")
                            }
                        }
                    }
                }
                if next <= offset {
                    break;
                }
                offset = next;
            }
        }
        if loaded > 0 {
            tracing::info!(records = loaded, "loaded consumer groups and offsets");
        }
        for (partition, keys) in legacy {
            if keys.values().any(|live| *live) {
                if let Err(e) = self.migrate(&inner.coordinator, state, partition, keys) {
                    tracing::error!(partition, error = %e, "{OFFSETS_TOPIC} partition not rewritten in Kafka's format; its JSON-form records are still read");
                }
            }
        }
    }

    /// Rewrites a partition loaded from JSON-form records in Kafka's format: a
    /// tombstone under every JSON key (so compaction drops them, and a later Kafka-form
    /// tombstone cannot leave an old JSON record behind to resurrect), then the
    /// current state of the partition's groups as Kafka records. Replaying the log
    /// again gives the same state, and no JSON key is live any more, so this runs
    /// once per partition.
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
        self.append(state, partition, entries)?;
        tracing::info!(
            partition,
            records = groups,
            "rewrote {OFFSETS_TOPIC} partition from Kavka's former JSON records into Kafka's format"
        );
        Ok(())
    }

    /// Runs a deferred call (join or sync) on `group_id`: registers a waiter, applies
    /// the call, persists and answers whatever it completed, then waits for our own
    /// answer. If the records cannot be written the group is put back as it was and
    /// our waiter is dropped, which the handler answers COORDINATOR_NOT_AVAILABLE;
    /// the other requests the call would have completed stay waiting, as they do in
    /// the restored state.
    pub(crate) async fn deferred(
        &self,
        state: &BrokerState,
        group_id: &str,
        call: impl FnOnce(&mut GroupCoordinator, RequestId, i64) -> Effects,
    ) -> Option<GroupResponse> {
        let rx = {
            let mut inner = self.inner.lock();
            inner.next_request += 1;
            let id = RequestId(inner.next_request);
            let (tx, rx) = oneshot::channel();
            inner.pending.insert(id, tx);
            let saved = inner.coordinator.save_groups([group_id]);
            let effects = call(&mut inner.coordinator, id, now_ms());
            match self.persist(state, &effects.records) {
                Ok(()) => self.answer(&mut inner, effects.completions),
                Err(failure) => {
                    self.undo(&mut inner, saved, &effects.records, &failure);
                    inner.pending.remove(&id);
                }
            }
            rx
        };
        rx.await.ok()
    }

    /// Runs a call on `group_ids` that answers directly; its records are persisted
    /// before the answer is returned. A failed write undoes the change to the groups
    /// whose records were not written and turns into the error the caller maps.
    pub(crate) fn direct<T>(
        &self,
        state: &BrokerState,
        group_ids: &[&str],
        call: impl FnOnce(&mut GroupCoordinator, i64) -> (T, Effects),
    ) -> Result<T, PersistError> {
        let mut inner = self.inner.lock();
        let saved = inner.coordinator.save_groups(group_ids.iter().copied());
        let (out, effects) = call(&mut inner.coordinator, now_ms());
        match self.persist(state, &effects.records) {
            Ok(()) => {
                self.answer(&mut inner, effects.completions);
                Ok(out)
            }
            Err(failure) => {
                self.undo(&mut inner, saved, &effects.records, &failure);
                Err(failure.error)
            }
        }
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

    /// Read-only access for describe/list/fetch calls.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&GroupCoordinator) -> T) -> T {
        f(&self.inner.lock().coordinator)
    }

    /// Advances timers: session expiry, join phase ends, offset expiry.
    pub(crate) fn tick(&self, state: &BrokerState) {
        let mut inner = self.inner.lock();
        let effects = inner.coordinator.tick(now_ms());
        self.finish(&mut inner, state, effects);
    }

    /// Timer effects: expirations and rebalances that time itself decides. They are
    /// not undone on a failed write: the next tick decides them again, and a restart
    /// replays the last persisted state, from which the same expirations follow.
    fn finish(&self, inner: &mut Inner, state: &BrokerState, effects: Effects) {
        if let Err(failure) = self.persist(state, &effects.records) {
            tracing::error!(error = %failure.error, "group state not persisted");
        }
        self.answer(inner, effects.completions);
    }

    fn answer(&self, inner: &mut Inner, completions: Vec<Completion>) {
        for c in completions {
            if let Some(tx) = inner.pending.remove(&c.request) {
                // The connection may have gone away; nothing to do then.
                let _ = tx.send(c.response);
            }
        }
    }

    /// Appends records to their groups' partitions of `__consumer_offsets`, one
    /// batch per partition, in partition order; on failure says which partitions
    /// were not written (the failed one and every one after it).
    fn persist(
        &self,
        state: &BrokerState,
        records: &[CoordinatorRecord],
    ) -> Result<(), PersistFailure> {
        if records.is_empty() {
            return Ok(());
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
        // FindCoordinator creates the topic; a write before it has nowhere to go.
        if state.metadata.image().topic(OFFSETS_TOPIC).is_none() {
            return Err(PersistFailure {
                error: PersistError::CreateTopic(format!("{OFFSETS_TOPIC} does not exist yet")),
                unwritten: all(),
            });
        }
        let unwritten_from = |partition: i32| all().split_off(&partition);
        for (&partition, entries) in &by_partition {
            if let Err(error) = self.append(state, partition, entries.clone()) {
                return Err(PersistFailure {
                    error,
                    unwritten: unwritten_from(partition),
                });
            }
        }
        Ok(())
    }

    /// Appends (key, value) records to one partition of `__consumer_offsets` as one
    /// batch, as Kafka's coordinator does (uncompressed, no producer id), so a step's
    /// records land together.
    fn append(
        &self,
        state: &BrokerState,
        partition: i32,
        entries: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), PersistError> {
        let now = now_ms();
        let list: Vec<Record> = entries
            .into_iter()
            .enumerate()
            .map(|(i, (key, value))| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // Kafka numbers a coordinator batch's records from 0 (with no producer
                // id); the encoder also needs consecutive sequences to keep one batch.
                sequence: i32::try_from(i).unwrap_or(i32::MAX),
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
        .map_err(|e| PersistError::Append(e.to_string()))?;
        let p = state
            .replicas
            .get(OFFSETS_TOPIC, partition)
            .ok_or(PersistError::NotHosted(partition))?;
        p.append(buf.freeze(), now)
            .map_err(|e| PersistError::Append(e.to_string()))?;
        Ok(())
    }

    /// Creates `__consumer_offsets` on first use, as Kafka does.
    pub(crate) async fn ensure_topic(&self, state: &BrokerState) -> Result<(), PersistError> {
        if state.metadata.image().topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let topic = NewTopic {
            name: OFFSETS_TOPIC.to_string(),
            num_partitions: self.partitions,
            replication_factor: offsets_replication_factor(state),
            assignments: None,
            configs: [
                ("cleanup.policy".to_string(), "compact".to_string()),
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
