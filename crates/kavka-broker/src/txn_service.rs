//! The transaction coordinator's runtime: drives the pure [`TxnCoordinator`] for
//! the transactional ids whose `__transaction_state` partition this broker leads,
//! persists what it decides there, and keeps the markers of decided transactions
//! going out until they are written (`txn_markers.rs` sends them).
//!
//! It mirrors [`crate::group_service::GroupService`]'s runtime rather than sharing
//! one with it (a shared `CoordinatorRuntime` is the next step): ownership follows
//! leadership after every metadata image (a partition newly led is replayed from
//! its log before its ids are served, COORDINATOR_LOAD_IN_PROGRESS meanwhile; one
//! no longer led, or led in a new epoch, is dropped, NOT_COORDINATOR from then on);
//! every change is appended as acks=all under the service lock and answered only
//! once the high watermark passes it; an append that fails puts the id back as it
//! was. The batch format and the replication wait are the group coordinator's.
//!
//! Markers go out only after the Prepare record is replicated, so a coordinator that
//! fails over never leaves markers in partitions for a decision its successor does
//! not know; a successor that loads a Prepare* state sends its markers again (the
//! partitions take a marker twice without harm).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use kafka_protocol::ResponseError;
use kavka_metadata::controller::{create_topic, NewTopic};
use kavka_replica::Acks;
use kavka_txn::{
    partition_for_transactional_id, MarkerJob, TopicPartition, TxnConfig, TxnCoordinator, TxnError,
    TxnRecord,
};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::BrokerConfig;
use crate::group_service::{coordinator_batch, wait_replicated, PersistError};
use crate::partition::{AckWait, Partition, PartitionError};
use crate::state::{now_ms, BrokerState};

/// The internal topic holding the transaction coordinators' state.
pub(crate) const TXN_TOPIC: &str = "__transaction_state";

/// Why a transactional request was not served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TxnServiceError {
    #[error("this broker is not the transaction coordinator of the id")]
    NotCoordinator,
    #[error("the transaction coordinator is loading")]
    LoadInProgress,
    #[error("the transaction coordinator is not available: {0}")]
    NotAvailable(String),
    #[error(transparent)]
    Txn(#[from] TxnError),
}

impl TxnServiceError {
    /// The Kafka error code; `fenced_known` is false for request versions from
    /// before PRODUCER_FENCED (they get INVALID_PRODUCER_EPOCH).
    pub(crate) fn code(&self, fenced_known: bool) -> i16 {
        match self {
            TxnServiceError::NotCoordinator => ResponseError::NotCoordinator.code(),
            TxnServiceError::LoadInProgress => ResponseError::CoordinatorLoadInProgress.code(),
            TxnServiceError::NotAvailable(_) => ResponseError::CoordinatorNotAvailable.code(),
            TxnServiceError::Txn(e) => e.code_for(fenced_known),
        }
    }
}

fn persist_error(e: &PersistError) -> TxnServiceError {
    match e.group_error() {
        kavka_group::GroupError::NotCoordinator => TxnServiceError::NotCoordinator,
        _ => TxnServiceError::NotAvailable(e.to_string()),
    }
}

/// What one step decided: the answer, the record to write, the markers to send.
pub(crate) struct Step<T> {
    pub(crate) out: T,
    pub(crate) record: Option<TxnRecord>,
    pub(crate) markers: Option<MarkerJob>,
}

impl<T> Step<T> {
    pub(crate) fn answer(out: T, record: Option<TxnRecord>) -> Self {
        Step {
            out,
            record,
            markers: None,
        }
    }
}

/// A led `__transaction_state` partition.
#[derive(Debug, Clone)]
enum Shard {
    Loading {
        epoch: i32,
        load: u64,
    },
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
}

/// A partition to replay, from [`TxnService::follow_leadership`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxnLoadJob {
    partition: i32,
    epoch: i32,
    load: u64,
}

/// Markers still to be written for one decided transaction.
#[derive(Debug, Clone)]
pub(crate) struct PendingMarkers {
    pub(crate) job: MarkerJob,
    /// The leader epoch of the id's `__transaction_state` partition: the
    /// coordinator epoch the markers carry.
    pub(crate) coordinator_epoch: i32,
    pub(crate) remaining: BTreeSet<TopicPartition>,
    /// The Prepare record's partition and offset: markers go out only once the
    /// high watermark has passed it. None after a load (the log is the truth).
    gate: Option<(Arc<Partition>, i64)>,
}

impl PendingMarkers {
    fn ready(&self) -> bool {
        self.gate
            .as_ref()
            .is_none_or(|(p, offset)| p.high_watermark() > *offset)
    }
}

struct Inner {
    coordinator: TxnCoordinator,
    shards: BTreeMap<i32, Shard>,
    next_load: u64,
    /// By transactional id.
    markers: BTreeMap<String, PendingMarkers>,
    last_abort_check: i64,
    last_expire_check: i64,
}

/// One per broker; every transactional change goes through its lock.
pub(crate) struct TxnService {
    inner: Mutex<Inner>,
    partitions: i32,
    write_timeout: Duration,
    abort_interval_ms: i64,
    expire_interval_ms: i64,
    /// Wakes the marker channel when markers are waiting.
    pub(crate) markers_waiting: Notify,
}

impl std::fmt::Debug for TxnService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnService").finish_non_exhaustive()
    }
}

/// A change appended, not yet known replicated.
#[must_use]
pub(crate) struct Written {
    wait: Option<(Arc<Partition>, AckWait)>,
    deadline: tokio::time::Instant,
}

impl Written {
    fn none() -> Self {
        Written {
            wait: None,
            deadline: tokio::time::Instant::now(),
        }
    }

    /// Waits until the high watermark passes the record.
    pub(crate) async fn replicated(self) -> Result<(), TxnServiceError> {
        match self.wait {
            None => Ok(()),
            Some(w) => wait_replicated(vec![w], self.deadline)
                .await
                .map_err(|e| persist_error(&e)),
        }
    }
}

impl TxnService {
    pub(crate) fn new(config: &BrokerConfig) -> Self {
        let now = now_ms();
        TxnService {
            inner: Mutex::new(Inner {
                coordinator: TxnCoordinator::new(TxnConfig {
                    max_timeout_ms: config.txn.max_timeout_ms,
                    id_expiration_ms: config.txn.id_expiration_ms,
                }),
                shards: BTreeMap::new(),
                next_load: 0,
                markers: BTreeMap::new(),
                last_abort_check: now,
                last_expire_check: now,
            }),
            partitions: config.txn.state_log_num_partitions,
            write_timeout: Duration::from_millis(
                u64::try_from(config.offsets_commit_timeout_ms).unwrap_or(5000),
            ),
            abort_interval_ms: config.txn.abort_timed_out_interval_ms,
            expire_interval_ms: config.txn.remove_expired_interval_ms,
            markers_waiting: Notify::new(),
        }
    }

    /// `transaction.state.log.num.partitions`
    pub(crate) fn partitions(&self) -> i32 {
        self.partitions
    }

    fn check_owned(&self, inner: &Inner, transactional_id: &str) -> Result<(), TxnServiceError> {
        match inner.shards.get(&partition_for_transactional_id(
            transactional_id,
            self.partitions,
        )) {
            Some(Shard::Active { epoch, partition }) if partition.leadership() == Some(*epoch) => {
                Ok(())
            }
            Some(Shard::Loading { .. }) => Err(TxnServiceError::LoadInProgress),
            _ => Err(TxnServiceError::NotCoordinator),
        }
    }

    /// Ok when this broker coordinates `transactional_id` now.
    pub(crate) fn owns(&self, transactional_id: &str) -> Result<(), TxnServiceError> {
        self.check_owned(&self.inner.lock(), transactional_id)
    }

    /// Read access to the coordinator (holding only owned ids), and whether some
    /// led partition is still loading.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&TxnCoordinator, bool) -> T) -> T {
        let inner = self.inner.lock();
        let loading = inner
            .shards
            .values()
            .any(|s| matches!(s, Shard::Loading { .. }));
        f(&inner.coordinator, loading)
    }

    /// Steps the coordinator for one id: checks ownership, applies `call`, and
    /// appends the record it returns (acks=all); markers it returns go out once
    /// that record is replicated. An append that fails puts the id back and is the
    /// error. The caller awaits [`Written::replicated`] before answering.
    pub(crate) fn step<T>(
        &self,
        state: &BrokerState,
        transactional_id: &str,
        call: impl FnOnce(&mut TxnCoordinator, i64) -> Result<Step<T>, TxnError>,
    ) -> Result<(T, Written), TxnServiceError> {
        let mut inner = self.inner.lock();
        self.check_owned(&inner, transactional_id)?;
        let saved = inner.coordinator.save(transactional_id);
        let step = call(&mut inner.coordinator, now_ms())?;
        let Some(record) = step.record else {
            return Ok((step.out, Written::none()));
        };
        match self.append(state, &record, Acks::All) {
            Ok((p, offset, wait)) => {
                if let Some(job) = step.markers {
                    self.queue_markers(&mut inner, job, Some((p.clone(), offset)));
                }
                Ok((step.out, self.written((p, wait))))
            }
            Err(e) => {
                tracing::warn!(transactional_id, error = %e, "transaction state not persisted; undone");
                inner.coordinator.restore(saved);
                Err(persist_error(&e))
            }
        }
    }

    fn written(&self, wait: (Arc<Partition>, AckWait)) -> Written {
        Written {
            wait: Some(wait),
            deadline: tokio::time::Instant::now() + self.write_timeout,
        }
    }

    /// Hands a decided transaction's markers to the marker channel.
    fn queue_markers(
        &self,
        inner: &mut Inner,
        job: MarkerJob,
        gate: Option<(Arc<Partition>, i64)>,
    ) {
        let partition = partition_for_transactional_id(&job.transactional_id, self.partitions);
        let Some(Shard::Active { epoch, .. }) = inner.shards.get(&partition) else {
            return;
        };
        let coordinator_epoch = *epoch;
        inner.markers.insert(
            job.transactional_id.clone(),
            PendingMarkers {
                remaining: job.partitions.clone(),
                job,
                coordinator_epoch,
                gate,
            },
        );
        self.markers_waiting.notify_one();
    }

    /// Every transaction with markers (or its completion) still to write.
    pub(crate) fn pending_markers(&self) -> (Vec<PendingMarkers>, bool) {
        let inner = self.inner.lock();
        let ready = inner
            .markers
            .values()
            .filter(|m| m.ready())
            .cloned()
            .collect();
        (ready, !inner.markers.is_empty())
    }

    /// Records markers written (or partitions gone); once a transaction has none
    /// left, writes its Complete state (not awaited: a failed write is retried by
    /// the next round, which finds the job with nothing remaining).
    pub(crate) fn markers_written(
        &self,
        state: &BrokerState,
        transactional_id: &str,
        producer_epoch: i16,
        done: &[TopicPartition],
    ) {
        let mut inner = self.inner.lock();
        let Some(pending) = inner.markers.get_mut(transactional_id) else {
            return;
        };
        if pending.job.producer_epoch != producer_epoch {
            return;
        }
        for tp in done {
            pending.remaining.remove(tp);
        }
        if !pending.remaining.is_empty() {
            return;
        }
        let job = pending.job.clone();
        if self.check_owned(&inner, transactional_id).is_err() {
            inner.markers.remove(transactional_id);
            return;
        }
        let saved = inner.coordinator.save(transactional_id);
        let Some(record) = inner.coordinator.complete(
            transactional_id,
            job.producer_id,
            job.producer_epoch,
            now_ms(),
        ) else {
            inner.markers.remove(transactional_id);
            return;
        };
        match self.append(state, &record, Acks::All) {
            Ok(_) => {
                inner.markers.remove(transactional_id);
                tracing::debug!(
                    transactional_id,
                    commit = job.commit,
                    "transaction complete"
                );
            }
            Err(e) => {
                tracing::warn!(transactional_id, error = %e, "transaction completion not persisted; retrying");
                inner.coordinator.restore(saved);
            }
        }
    }

    /// Timers: aborts transactions past their timeout every
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`, removes ids
    /// idle for `transactional.id.expiration.ms` every
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    pub(crate) fn tick(&self, state: &BrokerState) {
        let now = now_ms();
        {
            let mut inner = self.inner.lock();
            if now - inner.last_abort_check >= self.abort_interval_ms {
                inner.last_abort_check = now;
                for id in inner.coordinator.timed_out(now) {
                    if self.check_owned(&inner, &id).is_err() {
                        continue;
                    }
                    let saved = inner.coordinator.save(&id);
                    let Some((record, job)) = inner.coordinator.abort_timed_out(&id, now) else {
                        continue;
                    };
                    match self.append(state, &record, Acks::All) {
                        Ok((p, offset, _)) => {
                            tracing::info!(transactional_id = %id, "aborting a transaction past its timeout; its producer is fenced");
                            self.queue_markers(&mut inner, job, Some((p, offset)));
                        }
                        Err(e) => {
                            tracing::warn!(transactional_id = %id, error = %e, "cannot abort timed-out transaction now");
                            inner.coordinator.restore(saved);
                        }
                    }
                }
            }
            if now - inner.last_expire_check >= self.expire_interval_ms {
                inner.last_expire_check = now;
                let before = inner.coordinator.clone();
                for record in inner.coordinator.expire_ids(now) {
                    if self.check_owned(&inner, &record.transactional_id).is_err() {
                        continue;
                    }
                    if let Err(e) = self.append(state, &record, Acks::All) {
                        tracing::warn!(transactional_id = %record.transactional_id, error = %e, "cannot remove expired transactional id now");
                        let saved = before.save(&record.transactional_id);
                        inner.coordinator.restore(saved);
                    }
                }
            }
        }
    }

    /// Appends one record to its id's partition of `__transaction_state`.
    fn append(
        &self,
        state: &BrokerState,
        record: &TxnRecord,
        acks: Acks,
    ) -> Result<(Arc<Partition>, i64, AckWait), PersistError> {
        let partition = partition_for_transactional_id(&record.transactional_id, self.partitions);
        let (key, value) = record.encode();
        let now = now_ms();
        let batch = coordinator_batch(vec![(Bytes::from(key), value.map(Bytes::from))], now, None)
            .map_err(PersistError::Encode)?;
        let p = state
            .replicas
            .get(TXN_TOPIC, partition)
            .ok_or(PersistError::NotHosted(partition))?;
        let timeout_ms = i64::try_from(self.write_timeout.as_millis()).unwrap_or(i64::MAX);
        let (info, wait) = p
            .append_records(batch, acks, now, now.saturating_add(timeout_ms))
            .map_err(PersistError::Append)?;
        Ok((p, info.last_offset, wait))
    }

    /// Brings ownership in line with the `__transaction_state` partitions led now;
    /// returns the newly led ones, marked loading, for [`Self::load`].
    pub(crate) fn follow_leadership(&self, state: &BrokerState) -> Vec<TxnLoadJob> {
        let mut inner = self.inner.lock();
        let led: BTreeMap<i32, i32> = (0..self.partitions)
            .filter_map(|i| Some((i, state.replicas.get(TXN_TOPIC, i)?.leadership()?)))
            .collect();
        let stale: Vec<i32> = inner
            .shards
            .iter()
            .filter(|(i, shard)| led.get(i) != Some(&shard.epoch()))
            .map(|(i, _)| *i)
            .collect();
        for partition in stale {
            inner.shards.remove(&partition);
            let partitions = self.partitions;
            let of_partition =
                |id: &str| partition_for_transactional_id(id, partitions) == partition;
            inner.coordinator.unload(of_partition);
            inner.markers.retain(|id, _| !of_partition(id));
            tracing::info!(
                partition,
                "{TXN_TOPIC} partition no longer led here in that epoch: its transactional ids unloaded"
            );
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
            jobs.push(TxnLoadJob {
                partition,
                epoch,
                load,
            });
        }
        jobs
    }

    /// Replays a newly led partition (blocking) and serves its ids; transactions
    /// it finds decided but not complete get their markers sent again.
    pub(crate) fn load(&self, state: &BrokerState, job: TxnLoadJob) {
        let mut loader = self.inner.lock().coordinator.loader();
        let partition = state.replicas.get(TXN_TOPIC, job.partition);
        let replayed = match &partition {
            Some(p) => replay(p, &mut loader),
            None => Err(PartitionError::Offline),
        };
        let mut inner = self.inner.lock();
        let current = matches!(inner.shards.get(&job.partition),
            Some(Shard::Loading { epoch, load }) if *epoch == job.epoch && *load == job.load);
        if !current {
            return;
        }
        let (records, partition) = match (replayed, partition) {
            (Ok(n), Some(p)) if p.leadership() == Some(job.epoch) => (n, p),
            (Ok(_), _) => {
                inner.shards.remove(&job.partition);
                return;
            }
            (Err(e), _) => {
                inner.shards.remove(&job.partition);
                tracing::error!(partition = job.partition, error = %e, "cannot load {TXN_TOPIC} partition; its transactional ids are not served here");
                return;
            }
        };
        let pending = loader.pending_markers();
        inner.coordinator.adopt(loader);
        inner.shards.insert(
            job.partition,
            Shard::Active {
                epoch: job.epoch,
                partition,
            },
        );
        for markers in &pending {
            self.queue_markers(&mut inner, markers.clone(), None);
        }
        tracing::info!(
            partition = job.partition,
            leader_epoch = job.epoch,
            records,
            unfinished = pending.len(),
            "loaded transaction state of {TXN_TOPIC} partition"
        );
    }

    /// Creates `__transaction_state` on first use, as Kafka does.
    pub(crate) async fn ensure_topic(&self, state: &BrokerState) -> Result<(), TxnServiceError> {
        if state.metadata.image().topic(TXN_TOPIC).is_some() {
            return Ok(());
        }
        let rf = self.replication_factor(state)?;
        let topic = NewTopic {
            name: TXN_TOPIC.to_string(),
            num_partitions: self.partitions,
            replication_factor: rf,
            assignments: None,
            // Kafka's TransactionStateManager sets these as topic configs.
            configs: [
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("compression.type".to_string(), "uncompressed".to_string()),
                (
                    "min.insync.replicas".to_string(),
                    state
                        .config
                        .txn
                        .state_log_min_isr
                        .min(i32::from(rf))
                        .to_string(),
                ),
                (
                    "unclean.leader.election.enable".to_string(),
                    "false".to_string(),
                ),
                (
                    "segment.bytes".to_string(),
                    state.config.txn.state_log_segment_bytes.to_string(),
                ),
            ]
            .into_iter()
            .collect(),
        };
        let brokers = state.live_brokers();
        state
            .commit(|image| {
                if image.topic(TXN_TOPIC).is_some() {
                    return Ok((vec![], ()));
                }
                Ok((create_topic(image, &topic, &brokers)?, ()))
            })
            .await
            .map_err(|e| TxnServiceError::NotAvailable(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.read(|_, loading| loading) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// `transaction.state.log.replication.factor`: as configured, refused with
    /// Kafka's words while fewer brokers are alive; when not configured, Kafka's 3
    /// but no more than the brokers there are, as for `__consumer_offsets`.
    fn replication_factor(&self, state: &BrokerState) -> Result<i16, TxnServiceError> {
        let configured = state.config.txn.state_log_replication_factor;
        let live = i16::try_from(state.live_brokers().len()).unwrap_or(i16::MAX);
        if !state
            .config
            .raw
            .contains_key("transaction.state.log.replication.factor")
        {
            return Ok(configured.min(live.max(1)));
        }
        if live < configured {
            return Err(TxnServiceError::NotAvailable(format!(
                "Number of alive brokers '{live}' does not meet the required replication factor \
                 '{configured}' for the transactions state topic (configured via \
                 'transaction.state.log.replication.factor'). This error can be ignored if the \
                 cluster is starting up and not all brokers are up yet."
            )));
        }
        Ok(configured)
    }
}

/// Replays one `__transaction_state` partition from its log start to its log end.
fn replay(p: &Partition, into: &mut TxnCoordinator) -> Result<usize, PartitionError> {
    let mut records = 0;
    let mut offset = p.log_start_offset();
    loop {
        let data = p.read_for_follower(offset, 1 << 20)?;
        if data.records.is_empty() {
            break;
        }
        let mut buf = data.records;
        let mut next = offset;
        while !buf.is_empty() {
            if let Ok(header) = kavka_storage::BatchHeader::parse(&buf) {
                next = next.max(header.last_offset().saturating_add(1));
            }
            let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
                break;
            };
            for r in set.records {
                next = next.max(r.offset + 1);
                if r.offset < offset || r.control {
                    continue;
                }
                let Some(key) = r.key else { continue };
                match TxnRecord::decode(&key, r.value.as_deref()) {
                    Ok(record) => {
                        into.replay(record);
                        records += 1;
                    }
                    Err(e) => {
                        tracing::warn!(partition = p.index, offset = r.offset, error = %e, "skipping unreadable transaction record")
                    }
                }
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok(records)
}
