//! The transaction coordinator's service: drives the pure [`TxnCoordinator`] on
//! the coordinator runtime (`coordinator_runtime`), which serves the transactional
//! ids whose `__transaction_state` partition this broker leads (replayed before
//! they are served, dropped when leadership moves), appends every change as
//! acks=all under its lock and answers only once the high watermark passes it; an
//! append that fails puts the id back as it was. What is the transaction
//! coordinator's own lives here: the markers of decided transactions, kept going
//! out until they are written (`txn_markers.rs` sends them), and its timers.
//!
//! Markers go out only after the Prepare record is replicated, so a coordinator that
//! fails over never leaves markers in partitions for a decision its successor does
//! not know; a successor that loads a Prepare* state sends its markers again (the
//! partitions take a marker twice without harm).

mod shard;

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kavka_metadata::controller::{create_topic, NewTopic};
use kavka_replica::Acks;
use kavka_txn::{
    partition_for_transactional_id, MarkerJob, TopicPartition, TxnConfig, TxnCoordinator, TxnError,
    TxnRecord,
};
use tokio::sync::Notify;

use crate::config::BrokerConfig;
use crate::coordinator_runtime::{
    Appended, CoordinatorRuntime, HostedLogs, LoadJob, OwnershipError, Replication, Session,
    WriteError,
};
use crate::partition::Partition;
use crate::state::{now_ms, BrokerState};
pub(crate) use shard::PendingMarkers;
use shard::TxnShard;

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

impl From<OwnershipError> for TxnServiceError {
    fn from(e: OwnershipError) -> Self {
        match e {
            OwnershipError::NotCoordinator => TxnServiceError::NotCoordinator,
            OwnershipError::LoadInProgress => TxnServiceError::LoadInProgress,
        }
    }
}

impl From<WriteError> for TxnServiceError {
    fn from(e: WriteError) -> Self {
        if e.lost_leadership() {
            TxnServiceError::NotCoordinator
        } else {
            TxnServiceError::NotAvailable(e.to_string())
        }
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

type TxnSession<'a> = Session<'a, TxnShard, Partition>;

/// One per broker; every transactional change goes through its runtime's lock.
pub(crate) struct TxnService {
    runtime: CoordinatorRuntime<TxnShard, Partition>,
    abort_interval_ms: i64,
    expire_interval_ms: i64,
    /// Wakes the marker channel when markers are waiting.
    pub(crate) markers_waiting: Arc<Notify>,
}

impl std::fmt::Debug for TxnService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnService").finish_non_exhaustive()
    }
}

fn logs(state: &BrokerState) -> HostedLogs<'_> {
    HostedLogs::new(&state.replicas, TXN_TOPIC)
}

/// A change appended, not yet known replicated.
#[must_use]
pub(crate) struct Written(Replication);

impl Written {
    /// Waits until the high watermark passes the record.
    pub(crate) async fn replicated(self) -> Result<(), TxnServiceError> {
        Ok(self.0.wait().await?)
    }
}

impl TxnService {
    pub(crate) fn new(config: &BrokerConfig) -> Self {
        let partitions = config.txn.state_log_num_partitions;
        let markers_waiting = Arc::new(Notify::new());
        let coordinator = TxnCoordinator::new(TxnConfig {
            max_timeout_ms: config.txn.max_timeout_ms,
            id_expiration_ms: config.txn.id_expiration_ms,
        });
        TxnService {
            runtime: CoordinatorRuntime::new(
                TxnShard::new(
                    coordinator,
                    partitions,
                    now_ms(),
                    Arc::clone(&markers_waiting),
                ),
                TXN_TOPIC,
                partitions,
                Duration::from_millis(
                    u64::try_from(config.offsets_commit_timeout_ms).unwrap_or(5000),
                ),
            ),
            abort_interval_ms: config.txn.abort_timed_out_interval_ms,
            expire_interval_ms: config.txn.remove_expired_interval_ms,
            markers_waiting,
        }
    }

    /// `transaction.state.log.num.partitions`
    pub(crate) fn partitions(&self) -> i32 {
        self.runtime.partitions()
    }

    fn partition_of(&self, transactional_id: &str) -> i32 {
        partition_for_transactional_id(transactional_id, self.runtime.partitions())
    }

    /// Ok when this broker coordinates `transactional_id` now.
    pub(crate) fn owns(&self, transactional_id: &str) -> Result<(), TxnServiceError> {
        let partition = self.partition_of(transactional_id);
        Ok(self
            .runtime
            .read(|_, ownership| ownership.check(partition))?)
    }

    /// Read access to the coordinator (holding only owned ids), and whether some
    /// led partition is still loading.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&TxnCoordinator, bool) -> T) -> T {
        self.runtime
            .read(|shard, ownership| f(&shard.coordinator, ownership.any_loading()))
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
        let mut session = self.runtime.lock();
        session.check(self.partition_of(transactional_id))?;
        let coordinator = &mut session.shard_mut().coordinator;
        let saved = coordinator.save(transactional_id);
        let step = call(coordinator, now_ms())?;
        let Some(record) = step.record else {
            return Ok((step.out, Written(Replication::none())));
        };
        match self.append(state, &session, &record) {
            Ok(appended) => {
                if let Some(job) = step.markers {
                    self.queue_markers(&mut session, job, (appended.log, appended.last_offset));
                }
                Ok((step.out, Written(session.replication(vec![appended.wait]))))
            }
            Err(e) => {
                tracing::warn!(transactional_id, error = %e, "transaction state not persisted; undone");
                session.shard_mut().coordinator.restore(saved);
                Err(e.into())
            }
        }
    }

    /// Hands a decided transaction's markers to the marker channel, to go out once
    /// the Prepare record at `gate` is replicated.
    fn queue_markers(
        &self,
        session: &mut TxnSession<'_>,
        job: MarkerJob,
        gate: (Arc<Partition>, i64),
    ) {
        let partition = self.partition_of(&job.transactional_id);
        let Some(epoch) = session.ownership().active_epoch(partition) else {
            return;
        };
        session.shard_mut().queue_markers(job, epoch, Some(gate));
    }

    /// Every transaction with markers (or its completion) still to write.
    pub(crate) fn pending_markers(&self) -> (Vec<PendingMarkers>, bool) {
        self.runtime.read(|shard, _| {
            let ready = shard
                .markers
                .values()
                .filter(|m| m.ready())
                .cloned()
                .collect();
            (ready, !shard.markers.is_empty())
        })
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
        let mut session = self.runtime.lock();
        let Some(pending) = session.shard_mut().markers.get_mut(transactional_id) else {
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
        if session.check(self.partition_of(transactional_id)).is_err() {
            session.shard_mut().markers.remove(transactional_id);
            return;
        }
        let shard = session.shard_mut();
        let saved = shard.coordinator.save(transactional_id);
        let Some(record) = shard.coordinator.complete(
            transactional_id,
            job.producer_id,
            job.producer_epoch,
            now_ms(),
        ) else {
            shard.markers.remove(transactional_id);
            return;
        };
        match self.append(state, &session, &record) {
            Ok(_) => {
                session.shard_mut().markers.remove(transactional_id);
                tracing::debug!(
                    transactional_id,
                    commit = job.commit,
                    "transaction complete"
                );
            }
            Err(e) => {
                tracing::warn!(transactional_id, error = %e, "transaction completion not persisted; retrying");
                session.shard_mut().coordinator.restore(saved);
            }
        }
    }

    /// Timers: aborts transactions past their timeout every
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`, removes ids
    /// idle for `transactional.id.expiration.ms` every
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    pub(crate) fn tick(&self, state: &BrokerState) {
        let now = now_ms();
        let mut session = self.runtime.lock();
        if now - session.shard().last_abort_check >= self.abort_interval_ms {
            session.shard_mut().last_abort_check = now;
            for id in session.shard().coordinator.timed_out(now) {
                if session.check(self.partition_of(&id)).is_err() {
                    continue;
                }
                let coordinator = &mut session.shard_mut().coordinator;
                let saved = coordinator.save(&id);
                let Some((record, job)) = coordinator.abort_timed_out(&id, now) else {
                    continue;
                };
                match self.append(state, &session, &record) {
                    Ok(appended) => {
                        tracing::info!(transactional_id = %id, "aborting a transaction past its timeout; its producer is fenced");
                        self.queue_markers(&mut session, job, (appended.log, appended.last_offset));
                    }
                    Err(e) => {
                        tracing::warn!(transactional_id = %id, error = %e, "cannot abort timed-out transaction now");
                        session.shard_mut().coordinator.restore(saved);
                    }
                }
            }
        }
        if now - session.shard().last_expire_check >= self.expire_interval_ms {
            session.shard_mut().last_expire_check = now;
            let before = session.shard().coordinator.clone();
            for record in session.shard_mut().coordinator.expire_ids(now) {
                if session
                    .check(self.partition_of(&record.transactional_id))
                    .is_err()
                {
                    continue;
                }
                if let Err(e) = self.append(state, &session, &record) {
                    tracing::warn!(transactional_id = %record.transactional_id, error = %e, "cannot remove expired transactional id now");
                    let saved = before.save(&record.transactional_id);
                    session.shard_mut().coordinator.restore(saved);
                }
            }
        }
    }

    /// Appends one record to its id's partition of `__transaction_state`, acks=all.
    fn append(
        &self,
        state: &BrokerState,
        session: &TxnSession<'_>,
        record: &TxnRecord,
    ) -> Result<Appended<Partition>, WriteError> {
        let (key, value) = record.encode();
        session.append(
            &logs(state),
            self.partition_of(&record.transactional_id),
            vec![(key.into(), value.map(Into::into))],
            Acks::All,
            None,
        )
    }

    /// Brings ownership in line with the `__transaction_state` partitions led now;
    /// returns the newly led ones, marked loading, for [`Self::load`].
    pub(crate) fn follow_leadership(&self, state: &BrokerState) -> Vec<LoadJob> {
        self.runtime.follow_leadership(&logs(state))
    }

    /// Replays a newly led partition (blocking) and serves its ids; transactions
    /// it finds decided but not complete get their markers sent again.
    pub(crate) fn load(&self, state: &BrokerState, job: LoadJob) {
        self.runtime.load(&logs(state), job);
    }

    /// Creates `__transaction_state` on first use, as Kafka does.
    pub(crate) async fn ensure_topic(&self, state: &BrokerState) -> Result<(), TxnServiceError> {
        if state.metadata.image().topic(TXN_TOPIC).is_some() {
            return Ok(());
        }
        let rf = self.replication_factor(state)?;
        let topic = NewTopic {
            name: TXN_TOPIC.to_string(),
            num_partitions: self.runtime.partitions(),
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
        self.runtime.settle_loads(Duration::from_secs(5)).await;
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
