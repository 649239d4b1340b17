//! The transitions of Kafka's transaction coordinator (transaction version 1:
//! the epoch is bumped by InitProducerId and by the coordinator's own aborts,
//! never per transaction). Every method checks, changes the id's state in memory
//! and returns the record that makes the change durable; the caller writes it, and
//! puts the state back with [`TxnCoordinator::restore`] if it could not.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::TxnError;
use crate::metadata::{
    epoch_exhausted, TopicPartition, TxnMetadata, TxnState, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
};
use crate::records::TxnRecord;

/// The coordinator's settings, Kafka's names.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`
    pub id_expiration_ms: i64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            max_timeout_ms: 900_000,
            id_expiration_ms: 604_800_000,
        }
    }
}

/// The `__transaction_state` partition of `transactional_id`:
/// `abs(hashCode) % partitions` with Java's String.hashCode, as Kafka.
pub fn partition_for_transactional_id(transactional_id: &str, partitions: i32) -> i32 {
    let hash = transactional_id
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    // Kafka's Utils.abs maps i32::MIN to 0.
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    if partitions <= 0 {
        0
    } else {
        abs % partitions
    }
}

/// The markers a decided transaction needs written before it is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerJob {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub partitions: BTreeSet<TopicPartition>,
}

/// One partition of a verify-only AddPartitionsToTxn, and whether it is in the
/// transaction.
pub type PartitionCheck = (TopicPartition, Result<(), TxnError>);

/// An InitProducerId with a transactional id.
#[derive(Debug, Clone)]
pub struct InitRequest<'a> {
    pub transactional_id: &'a str,
    pub timeout_ms: i32,
    /// KIP-360: the producer id and epoch the client has, to bump (-1 if none).
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// What an InitProducerId decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitDecision {
    /// Write `record`, then answer with this producer id and epoch.
    Ready {
        record: TxnRecord,
        producer_id: i64,
        producer_epoch: i16,
    },
    /// The previous epoch's transaction is being aborted (its epoch bumped, which
    /// fences its producer): write `record`, send `markers`, and answer
    /// CONCURRENT_TRANSACTIONS so the client asks again once it is complete.
    AbortingOngoing {
        record: TxnRecord,
        markers: MarkerJob,
    },
}

/// What an EndTxn decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndDecision {
    /// Write the Prepare record, answer, then send the markers.
    Prepared {
        record: TxnRecord,
        markers: MarkerJob,
    },
    /// A retry of an EndTxn already completed: success, nothing to write.
    AlreadyComplete,
}

/// An id's state before a step, to put back when its record was not written.
#[derive(Debug, Clone)]
pub struct SavedTxn {
    transactional_id: String,
    metadata: Option<TxnMetadata>,
}

/// Every transactional id this coordinator holds (those of the partitions it loaded).
#[derive(Debug, Clone, Default)]
pub struct TxnCoordinator {
    config: TxnConfig,
    txns: BTreeMap<String, TxnMetadata>,
}

impl TxnCoordinator {
    pub fn new(config: TxnConfig) -> Self {
        TxnCoordinator {
            config,
            txns: BTreeMap::new(),
        }
    }

    /// An empty coordinator with the same settings, to replay a partition into.
    pub fn loader(&self) -> Self {
        TxnCoordinator::new(self.config.clone())
    }

    pub fn get(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.txns.get(transactional_id)
    }

    /// Every id held, in id order.
    pub fn transactions(&self) -> impl Iterator<Item = &TxnMetadata> {
        self.txns.values()
    }

    /// Applies a record read back from `__transaction_state`.
    pub fn replay(&mut self, record: TxnRecord) {
        match record.value {
            Some(m) if m.state != TxnState::Dead => {
                self.txns.insert(record.transactional_id, m);
            }
            _ => {
                self.txns.remove(&record.transactional_id);
            }
        }
    }

    /// Takes over every id of `loaded` (a replayed partition).
    pub fn adopt(&mut self, loaded: TxnCoordinator) {
        self.txns.extend(loaded.txns);
    }

    /// Drops the ids `unloaded` says (their partition is no longer led here).
    pub fn unload(&mut self, unloaded: impl Fn(&str) -> bool) {
        self.txns.retain(|id, _| !unloaded(id));
    }

    pub fn save(&self, transactional_id: &str) -> SavedTxn {
        SavedTxn {
            transactional_id: transactional_id.to_string(),
            metadata: self.txns.get(transactional_id).cloned(),
        }
    }

    pub fn restore(&mut self, saved: SavedTxn) {
        match saved.metadata {
            Some(m) => self.txns.insert(saved.transactional_id, m),
            None => self.txns.remove(&saved.transactional_id),
        };
    }

    /// True when InitProducerId for this id would need a fresh producer id: the
    /// id is new, or its epoch is exhausted.
    pub fn needs_producer_id(&self, transactional_id: &str) -> bool {
        self.txns
            .get(transactional_id)
            .is_none_or(|m| m.epoch_exhausted())
    }

    /// InitProducerId with a transactional id. `fresh_producer_id` is used when
    /// the id is new or its epoch exhausted ([`Self::needs_producer_id`]).
    pub fn init_producer_id(
        &mut self,
        request: &InitRequest<'_>,
        fresh_producer_id: Option<i64>,
        now_ms: i64,
    ) -> Result<InitDecision, TxnError> {
        if request.timeout_ms <= 0 || request.timeout_ms > self.config.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout);
        }
        let expected = (request.producer_id != NO_PRODUCER_ID)
            .then_some((request.producer_id, request.producer_epoch));
        let id = request.transactional_id;
        let m = match self.txns.get(id) {
            Some(m) => m.clone(),
            None => TxnMetadata {
                transactional_id: id.to_string(),
                producer_id: fresh_producer_id.ok_or(TxnError::NoProducerId)?,
                last_producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
                last_producer_epoch: NO_PRODUCER_EPOCH,
                timeout_ms: request.timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now_ms,
            },
        };
        if let Some((pid, epoch)) = expected {
            // Kafka's isValidProducerId: a brand-new id, the current producer id,
            // or the one before a rotation retried with its exhausted epoch.
            let valid = m.producer_epoch == NO_PRODUCER_EPOCH
                || pid == m.producer_id
                || (pid == m.last_producer_id && epoch_exhausted(epoch));
            if !valid {
                return Err(TxnError::ProducerFenced);
            }
        }
        let next = match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                return Err(TxnError::ConcurrentTransactions)
            }
            TxnState::Dead | TxnState::PrepareEpochFence => {
                return Err(TxnError::ConcurrentTransactions)
            }
            TxnState::Ongoing => {
                // Abort the previous epoch's transaction under a bumped epoch; the
                // client is told to retry and then gets an epoch bumped once more.
                let mut next = m.clone();
                next.producer_epoch = next.producer_epoch.saturating_add(1);
                next.last_producer_epoch = NO_PRODUCER_EPOCH;
                next.state = TxnState::PrepareAbort;
                next.last_update_ms = now_ms;
                let markers = markers_of(&next, false);
                let record = TxnRecord::of(&next);
                self.txns.insert(id.to_string(), next);
                return Ok(InitDecision::AbortingOngoing { record, markers });
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let rotate = m.epoch_exhausted()
                    && expected.is_none_or(|(_, epoch)| epoch == m.producer_epoch);
                let mut next = m.clone();
                if rotate {
                    next.last_producer_id = m.producer_id;
                    next.producer_id = fresh_producer_id.ok_or(TxnError::NoProducerId)?;
                    next.producer_epoch = 0;
                    next.last_producer_epoch = if expected.is_some() {
                        m.producer_epoch
                    } else {
                        NO_PRODUCER_EPOCH
                    };
                } else {
                    let bumped = m.producer_epoch.saturating_add(1);
                    let (epoch, last) = match expected {
                        None => (bumped, NO_PRODUCER_EPOCH),
                        Some((_, e))
                            if m.producer_epoch == NO_PRODUCER_EPOCH || e == m.producer_epoch =>
                        {
                            (bumped, m.producer_epoch)
                        }
                        // A retry of a bump already made: same answer again.
                        Some((_, e)) if e == m.last_producer_epoch => {
                            (m.producer_epoch, m.last_producer_epoch)
                        }
                        Some(_) => return Err(TxnError::ProducerFenced),
                    };
                    next.producer_epoch = epoch;
                    next.last_producer_epoch = last;
                    // Kafka 4 records the id itself as the previous one on a bump.
                    next.last_producer_id = m.producer_id;
                }
                next.timeout_ms = request.timeout_ms;
                next.state = TxnState::Empty;
                next.partitions.clear();
                next.start_ms = -1;
                next.last_update_ms = now_ms;
                next
            }
        };
        let decision = InitDecision::Ready {
            record: TxnRecord::of(&next),
            producer_id: next.producer_id,
            producer_epoch: next.producer_epoch,
        };
        self.txns.insert(id.to_string(), next);
        Ok(decision)
    }

    /// The checks AddPartitionsToTxn and AddOffsetsToTxn share: the id, its producer
    /// and epoch, and a state that may take partitions.
    fn check_producer(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<&TxnMetadata, TxnError> {
        let m = self
            .txns
            .get(transactional_id)
            .ok_or(TxnError::InvalidProducerIdMapping)?;
        if m.producer_id != producer_id {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        if m.producer_epoch != producer_epoch {
            return Err(TxnError::ProducerFenced);
        }
        Ok(m)
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, with the group's offsets partition):
    /// starts the transaction if none is open. None when nothing changes.
    pub fn add_partitions(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
        now_ms: i64,
    ) -> Result<Option<TxnRecord>, TxnError> {
        let m = self.check_producer(transactional_id, producer_id, producer_epoch)?;
        match m.state {
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::Dead
            | TxnState::PrepareEpochFence => return Err(TxnError::ConcurrentTransactions),
            TxnState::Ongoing if partitions.iter().all(|p| m.partitions.contains(p)) => {
                return Ok(None)
            }
            _ => {}
        }
        let mut next = m.clone();
        if next.state.is_idle() {
            next.start_ms = now_ms;
            next.partitions.clear();
        }
        next.state = TxnState::Ongoing;
        next.partitions.extend(partitions.iter().cloned());
        next.last_update_ms = now_ms;
        let record = TxnRecord::of(&next);
        self.txns.insert(transactional_id.to_string(), next);
        Ok(Some(record))
    }

    /// AddPartitionsToTxn v4+ with verify_only: is each partition already in the
    /// producer's ongoing transaction? (KIP-890 part 1, asked by partition leaders.)
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
    ) -> Result<Vec<PartitionCheck>, TxnError> {
        let m = self.check_producer(transactional_id, producer_id, producer_epoch)?;
        if m.state.is_prepare() {
            return Err(TxnError::ConcurrentTransactions);
        }
        Ok(partitions
            .iter()
            .map(|p| {
                let ok = m.state == TxnState::Ongoing && m.partitions.contains(p);
                (
                    p.clone(),
                    if ok {
                        Ok(())
                    } else {
                        Err(TxnError::InvalidTxnState)
                    },
                )
            })
            .collect())
    }

    /// EndTxn from the client: commit or abort the ongoing transaction.
    pub fn end_txn(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> Result<EndDecision, TxnError> {
        let m = self
            .txns
            .get(transactional_id)
            .ok_or(TxnError::InvalidProducerIdMapping)?;
        if m.producer_id != producer_id {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        if m.producer_epoch != producer_epoch {
            return Err(TxnError::ProducerFenced);
        }
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {}
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                return Ok(EndDecision::AlreadyComplete)
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                return Err(TxnError::ConcurrentTransactions)
            }
            _ => return Err(TxnError::InvalidTxnState),
        }
        let mut next = m.clone();
        next.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        next.last_update_ms = now_ms;
        let markers = markers_of(&next, commit);
        let record = TxnRecord::of(&next);
        self.txns.insert(transactional_id.to_string(), next);
        Ok(EndDecision::Prepared { record, markers })
    }

    /// Every markers-written transaction's end: PrepareCommit → CompleteCommit,
    /// PrepareAbort → CompleteAbort, if the id is still at that producer and epoch.
    pub fn complete(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        now_ms: i64,
    ) -> Option<TxnRecord> {
        let m = self.txns.get_mut(transactional_id)?;
        if m.producer_id != producer_id || m.producer_epoch != producer_epoch {
            return None;
        }
        m.state = match m.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            _ => return None,
        };
        m.partitions.clear();
        m.last_update_ms = now_ms;
        Some(TxnRecord::of(m))
    }

    /// The markers of every decided transaction not yet complete (after a load).
    pub fn pending_markers(&self) -> Vec<MarkerJob> {
        self.txns
            .values()
            .filter(|m| m.state.is_prepare())
            .map(|m| markers_of(m, m.state == TxnState::PrepareCommit))
            .collect()
    }

    /// Ids whose ongoing transaction outlived its timeout (Kafka aborts them).
    pub fn timed_out(&self, now_ms: i64) -> Vec<String> {
        self.txns
            .values()
            .filter(|m| {
                m.state == TxnState::Ongoing
                    && m.start_ms.saturating_add(i64::from(m.timeout_ms)) < now_ms
            })
            .map(|m| m.transactional_id.clone())
            .collect()
    }

    /// Aborts a timed-out transaction under a bumped epoch, fencing its producer
    /// (a zombie): the record to write and the markers to send.
    pub fn abort_timed_out(
        &mut self,
        transactional_id: &str,
        now_ms: i64,
    ) -> Option<(TxnRecord, MarkerJob)> {
        let m = self.txns.get_mut(transactional_id)?;
        if m.state != TxnState::Ongoing
            || m.start_ms.saturating_add(i64::from(m.timeout_ms)) >= now_ms
        {
            return None;
        }
        m.producer_epoch = m.producer_epoch.saturating_add(1);
        m.last_producer_epoch = NO_PRODUCER_EPOCH;
        m.state = TxnState::PrepareAbort;
        m.last_update_ms = now_ms;
        Some((TxnRecord::of(m), markers_of(m, false)))
    }

    /// Removes ids idle for `transactional.id.expiration.ms`; their tombstones.
    pub fn expire_ids(&mut self, now_ms: i64) -> Vec<TxnRecord> {
        let horizon = now_ms.saturating_sub(self.config.id_expiration_ms);
        let expired: Vec<String> = self
            .txns
            .values()
            .filter(|m| m.state.is_idle() && m.last_update_ms <= horizon)
            .map(|m| m.transactional_id.clone())
            .collect();
        expired
            .into_iter()
            .map(|id| {
                self.txns.remove(&id);
                TxnRecord {
                    transactional_id: id,
                    value: None,
                }
            })
            .collect()
    }
}

fn markers_of(m: &TxnMetadata, commit: bool) -> MarkerJob {
    MarkerJob {
        transactional_id: m.transactional_id.clone(),
        producer_id: m.producer_id,
        producer_epoch: m.producer_epoch,
        commit,
        partitions: m.partitions.clone(),
    }
}
