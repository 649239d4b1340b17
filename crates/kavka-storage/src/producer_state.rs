//! Producer state: per producer id the current epoch and the last few batches, to
//! reject sequence gaps and to answer retries with the original offsets; and the
//! transaction each producer has open (from its first transactional batch to the
//! COMMIT/ABORT marker), which bounds the last stable offset (LSO).
//! Pure logic; the log persists it as a JSON snapshot.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::batch::BatchHeader;
use crate::StorageError;

/// Batches remembered per producer, as in Kafka (max.in.flight.requests = 5).
pub(crate) const CACHED_BATCHES: usize = 5;

/// Where one producer batch landed in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BatchMetadata {
    pub(crate) first_seq: i32,
    pub(crate) last_seq: i32,
    pub(crate) first_offset: i64,
    pub(crate) last_offset: i64,
}

/// What the log knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProducerEntry {
    pub(crate) producer_id: i64,
    pub(crate) epoch: i16,
    pub(crate) batches: VecDeque<BatchMetadata>,
    /// Epoch of the transaction coordinator that wrote this producer's last marker.
    #[serde(default = "no_epoch")]
    pub(crate) coordinator_epoch: i32,
    /// First offset of the transaction this producer has open, if any.
    #[serde(default)]
    pub(crate) current_txn_first_offset: Option<i64>,
    /// Max timestamp of the producer's last batch (DescribeProducers).
    #[serde(default = "no_timestamp")]
    pub(crate) last_timestamp: i64,
}

fn no_epoch() -> i32 {
    -1
}

fn no_timestamp() -> i64 {
    -1
}

/// A transaction that a marker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompletedTxn {
    pub(crate) producer_id: i64,
    pub(crate) first_offset: i64,
    /// The marker's offset.
    pub(crate) last_offset: i64,
    pub(crate) aborted: bool,
}

/// One producer as DescribeProducers shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerInfo {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Sequence of the last record written, -1 when none is remembered.
    pub last_sequence: i32,
    pub last_timestamp: i64,
    pub coordinator_epoch: i32,
    /// First offset of the open transaction, -1 when none.
    pub current_txn_start_offset: i64,
}

impl ProducerEntry {
    /// A producer with no batches yet.
    pub(crate) fn new(producer_id: i64, epoch: i16) -> Self {
        Self {
            producer_id,
            epoch,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
            current_txn_first_offset: None,
            last_timestamp: -1,
        }
    }

    /// Applies a data batch now in the log: its sequence, and the transaction it
    /// opens when it is the producer's first transactional batch since a marker.
    pub(crate) fn apply_data(&mut self, header: &BatchHeader) {
        if header.is_idempotent() {
            self.record(header.producer_epoch, batch_metadata(header));
        } else if header.producer_epoch != self.epoch {
            self.epoch = header.producer_epoch;
            self.batches.clear();
        }
        self.last_timestamp = header.max_timestamp;
        if header.is_transactional() && self.current_txn_first_offset.is_none() {
            self.current_txn_first_offset = Some(header.base_offset);
        }
    }

    /// Applies a marker now in the log at `offset`; returns the transaction it ends
    /// (a marker without an open transaction ends an empty one at its own offset,
    /// as in Kafka).
    pub(crate) fn apply_marker(
        &mut self,
        header: &BatchHeader,
        commit: bool,
        coordinator_epoch: i32,
    ) -> CompletedTxn {
        if header.producer_epoch != self.epoch {
            self.epoch = header.producer_epoch;
            self.batches.clear();
        }
        self.coordinator_epoch = coordinator_epoch;
        self.last_timestamp = header.max_timestamp;
        let first = self
            .current_txn_first_offset
            .take()
            .unwrap_or(header.base_offset);
        CompletedTxn {
            producer_id: self.producer_id,
            first_offset: first,
            last_offset: header.base_offset,
            aborted: !commit,
        }
    }

    /// Records a batch written to the log, forgetting older batches of an older epoch.
    pub(crate) fn record(&mut self, epoch: i16, batch: BatchMetadata) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() == CACHED_BATCHES {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
    }
}

/// The verdict on one incoming idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// New batch in sequence: append it.
    Accept,
    /// A retry of a batch already in the log.
    Duplicate(BatchMetadata),
}

fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

/// Checks an incoming batch against what is known of its producer (`entry`).
pub(crate) fn check_sequence(
    entry: Option<&ProducerEntry>,
    producer_id: i64,
    epoch: i16,
    first_seq: i32,
    last_seq: i32,
) -> Result<SequenceCheck, StorageError> {
    // An unknown producer (new, or its history removed by retention) may start anywhere.
    let Some(entry) = entry else {
        return Ok(SequenceCheck::Accept);
    };
    if epoch < entry.epoch {
        return Err(StorageError::InvalidProducerEpoch {
            producer_id,
            current: entry.epoch,
            got: epoch,
        });
    }
    if epoch > entry.epoch {
        return if first_seq == 0 {
            Ok(SequenceCheck::Accept)
        } else {
            Err(StorageError::OutOfOrderSequence {
                producer_id,
                expected: 0,
                got: first_seq,
            })
        };
    }
    if let Some(original) = entry
        .batches
        .iter()
        .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
    {
        return Ok(SequenceCheck::Duplicate(*original));
    }
    let Some(last) = entry.batches.back() else {
        return Ok(SequenceCheck::Accept);
    };
    let expected = next_sequence(last.last_seq);
    if first_seq != expected {
        return Err(StorageError::OutOfOrderSequence {
            producer_id,
            expected,
            got: first_seq,
        });
    }
    Ok(SequenceCheck::Accept)
}

/// Checks a data batch against the producer's transaction: a producer with a
/// transaction open may only write transactional batches (Kafka's INVALID_TXN_STATE).
pub(crate) fn check_txn_data(
    entry: Option<&ProducerEntry>,
    header: &BatchHeader,
) -> Result<(), StorageError> {
    if let Some(e) = entry.filter(|e| header.producer_epoch < e.epoch) {
        // Batches without sequences (a coordinator's TxnOffsetCommit) are fenced
        // by epoch alone.
        return Err(StorageError::InvalidProducerEpoch {
            producer_id: header.producer_id,
            current: e.epoch,
            got: header.producer_epoch,
        });
    }
    match entry {
        Some(e)
            if !header.is_transactional()
                && e.current_txn_first_offset.is_some()
                && header.producer_epoch >= e.epoch =>
        {
            Err(StorageError::InvalidTxnState(format!(
                "expected a transactional write from producer {}",
                header.producer_id
            )))
        }
        _ => Ok(()),
    }
}

/// Checks a marker the coordinator asks to write: an older producer epoch is
/// INVALID_PRODUCER_EPOCH, an older coordinator epoch TRANSACTION_COORDINATOR_FENCED.
pub(crate) fn check_marker(
    entry: Option<&ProducerEntry>,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
) -> Result<(), StorageError> {
    let Some(e) = entry else {
        return Ok(());
    };
    if producer_epoch < e.epoch {
        return Err(StorageError::InvalidProducerEpoch {
            producer_id,
            current: e.epoch,
            got: producer_epoch,
        });
    }
    if coordinator_epoch < e.coordinator_epoch {
        return Err(StorageError::TransactionCoordinatorFenced {
            producer_id,
            current: e.coordinator_epoch,
            got: coordinator_epoch,
        });
    }
    Ok(())
}

/// Where a batch's sequences landed in the log.
pub(crate) fn batch_metadata(header: &BatchHeader) -> BatchMetadata {
    BatchMetadata {
        first_seq: header.base_sequence,
        last_seq: header.last_sequence(),
        first_offset: header.base_offset,
        last_offset: header.last_offset(),
    }
}

/// All producers of one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// (first offset, producer id) of every open transaction: the first is the
    /// oldest, which holds the LSO back.
    ongoing: BTreeSet<(i64, i64)>,
    /// Transactions ended by a marker that may not be replicated yet: until the
    /// high watermark passes the marker they still hold the LSO at their start, so
    /// no consumer reads them as decided before the decision is durable.
    unreplicated: Vec<CompletedTxn>,
}

/// Snapshot file contents: the state as of log offset `offset` (exclusive).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ProducerSnapshot {
    pub(crate) offset: i64,
    pub(crate) producers: Vec<ProducerEntry>,
}

impl ProducerStateManager {
    /// Checks an incoming batch against the current state without changing it.
    #[cfg(test)]
    pub(crate) fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Result<SequenceCheck, StorageError> {
        check_sequence(
            self.get(producer_id),
            producer_id,
            epoch,
            first_seq,
            last_seq,
        )
    }

    /// The state of one producer, if known.
    /// Producer id → last offset of its latest batch, for the cleaner, which must
    /// keep that batch so the producer's sequence survives compaction.
    pub(crate) fn last_offsets(&self) -> HashMap<i64, i64> {
        self.producers
            .iter()
            .filter_map(|(&pid, e)| e.batches.back().map(|b| (pid, b.last_offset)))
            .collect()
    }

    pub(crate) fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Records a batch that is now in the log (append, replication or replay after
    /// restart). `marker` is what a transaction marker says (commit?, coordinator
    /// epoch); returns the transaction it ended.
    pub(crate) fn apply(
        &mut self,
        header: &BatchHeader,
        marker: Option<(bool, i32)>,
    ) -> Option<CompletedTxn> {
        let pid = header.producer_id;
        if pid < 0 {
            return None;
        }
        let entry = self
            .producers
            .entry(pid)
            .or_insert_with(|| ProducerEntry::new(pid, header.producer_epoch));
        match marker {
            Some((commit, coordinator_epoch)) => {
                let done = entry.apply_marker(header, commit, coordinator_epoch);
                self.ongoing.remove(&(done.first_offset, pid));
                self.unreplicated.push(done);
                Some(done)
            }
            None if header.is_control() => None,
            None => {
                entry.apply_data(header);
                if let Some(first) = entry.current_txn_first_offset {
                    self.ongoing.insert((first, pid));
                }
                None
            }
        }
    }

    /// The LSO given the high watermark: the first offset of the oldest transaction
    /// still open or not yet replicated as decided, else the high watermark.
    pub(crate) fn last_stable_offset(&mut self, high_watermark: i64) -> i64 {
        self.unreplicated
            .retain(|t| t.last_offset >= high_watermark);
        let oldest_open = self.ongoing.first().map(|&(first, _)| first);
        let oldest_unreplicated = self.unreplicated.iter().map(|t| t.first_offset).min();
        [oldest_open, oldest_unreplicated]
            .into_iter()
            .flatten()
            .fold(high_watermark, i64::min)
    }

    /// The LSO right after `done` ended, for its aborted-index entry: the start of
    /// the oldest transaction still open, else just past the marker.
    pub(crate) fn lso_after(&self, done: &CompletedTxn) -> i64 {
        self.ongoing
            .first()
            .map_or(done.last_offset + 1, |&(first, _)| first)
    }

    /// Every producer, as DescribeProducers lists them.
    pub(crate) fn producer_infos(&self) -> Vec<ProducerInfo> {
        let mut out: Vec<ProducerInfo> = self
            .producers
            .values()
            .map(|e| ProducerInfo {
                producer_id: e.producer_id,
                producer_epoch: e.epoch,
                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.current_txn_first_offset.unwrap_or(-1),
            })
            .collect();
        out.sort_by_key(|p| p.producer_id);
        out
    }

    /// Forgets every producer (the log was emptied, or is about to be replayed).
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// The state as a snapshot covering offsets below `offset`.
    pub(crate) fn snapshot(&self, offset: i64) -> ProducerSnapshot {
        let mut producers: Vec<ProducerEntry> = self.producers.values().cloned().collect();
        producers.sort_by_key(|e| e.producer_id);
        ProducerSnapshot { offset, producers }
    }

    /// Rebuilds the state from a snapshot, open transactions included.
    pub(crate) fn from_snapshot(snapshot: ProducerSnapshot) -> Self {
        let ongoing = snapshot
            .producers
            .iter()
            .filter_map(|e| e.current_txn_first_offset.map(|f| (f, e.producer_id)))
            .collect();
        let producers = snapshot
            .producers
            .into_iter()
            .map(|e| (e.producer_id, e))
            .collect();
        Self {
            producers,
            ongoing,
            unreplicated: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ProducerStateManager {
        fn record(&mut self, pid: i64, epoch: i16, batch: BatchMetadata) {
            self.producers
                .entry(pid)
                .or_insert_with(|| ProducerEntry::new(pid, epoch))
                .record(epoch, batch);
        }
    }

    fn meta(first_seq: i32, last_seq: i32, first_offset: i64) -> BatchMetadata {
        BatchMetadata {
            first_seq,
            last_seq,
            first_offset,
            last_offset: first_offset + (last_seq - first_seq) as i64,
        }
    }

    #[test]
    fn sequences_must_be_contiguous_within_an_epoch() {
        let mut s = ProducerStateManager::default();
        assert_eq!(s.check(7, 0, 0, 2).unwrap(), SequenceCheck::Accept);
        s.record(7, 0, meta(0, 2, 0));
        assert_eq!(s.check(7, 0, 3, 3).unwrap(), SequenceCheck::Accept);
        assert!(matches!(
            s.check(7, 0, 5, 5),
            Err(StorageError::OutOfOrderSequence { expected: 3, .. })
        ));
        assert_eq!(
            s.check(7, 0, 0, 2).unwrap(),
            SequenceCheck::Duplicate(meta(0, 2, 0))
        );
    }

    #[test]
    fn epochs_fence_and_restart_sequences() {
        let mut s = ProducerStateManager::default();
        s.record(7, 3, meta(0, 0, 0));
        assert!(matches!(
            s.check(7, 2, 1, 1),
            Err(StorageError::InvalidProducerEpoch { current: 3, .. })
        ));
        assert!(matches!(
            s.check(7, 4, 1, 1),
            Err(StorageError::OutOfOrderSequence { expected: 0, .. })
        ));
        assert_eq!(s.check(7, 4, 0, 0).unwrap(), SequenceCheck::Accept);
    }

    #[test]
    fn only_last_five_batches_are_remembered_and_sequence_wraps() {
        let mut s = ProducerStateManager::default();
        for i in 0..6 {
            s.record(1, 0, meta(i, i, i as i64));
        }
        assert!(s.check(1, 0, 0, 0).is_err());
        assert!(matches!(
            s.check(1, 0, 1, 1),
            Ok(SequenceCheck::Duplicate(_))
        ));
        s.record(2, 0, meta(i32::MAX, i32::MAX, 100));
        assert_eq!(s.check(2, 0, 0, 0).unwrap(), SequenceCheck::Accept);
    }

    /// A v2 batch header of producer `pid` at `offset`.
    fn header(pid: i64, offset: i64, transactional: bool, control: bool) -> BatchHeader {
        let mut attributes = 0;
        if transactional {
            attributes |= crate::txn_marker::TRANSACTIONAL_FLAG;
        }
        if control {
            attributes |= crate::txn_marker::CONTROL_FLAG;
        }
        BatchHeader {
            base_offset: offset,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes,
            last_offset_delta: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: if control { -1 } else { 0 },
            record_count: 1,
        }
    }

    #[test]
    fn the_lso_is_the_oldest_open_or_unreplicated_transaction() {
        let mut s = ProducerStateManager::default();
        s.apply(&header(1, 0, true, false), None);
        s.apply(&header(2, 1, true, false), None);
        assert_eq!(s.last_stable_offset(2), 0);
        let done = s
            .apply(&header(1, 2, true, true), Some((false, 0)))
            .unwrap();
        assert_eq!(
            (done.first_offset, done.last_offset, done.aborted),
            (0, 2, true)
        );
        // Producer 2 is still open at 1: the abort's LSO entry says so.
        assert_eq!(s.lso_after(&done), 1);
        // The marker is not below the HW yet, so producer 1 still counts.
        assert_eq!(s.last_stable_offset(2), 0);
        assert_eq!(s.last_stable_offset(3), 1);
        s.apply(&header(2, 3, true, true), Some((true, 0)));
        assert_eq!(s.last_stable_offset(4), 4);
        // A marker with nothing open ends an empty transaction at itself.
        let empty = s.apply(&header(3, 4, true, true), Some((true, 0))).unwrap();
        assert_eq!((empty.first_offset, empty.last_offset), (4, 4));
    }

    #[test]
    fn open_transactions_survive_a_snapshot() {
        let mut s = ProducerStateManager::default();
        s.apply(&header(1, 5, true, false), None);
        let json = serde_json::to_string(&s.snapshot(6)).unwrap();
        let mut back = ProducerStateManager::from_snapshot(serde_json::from_str(&json).unwrap());
        assert_eq!(back.last_stable_offset(6), 5);
        // Snapshots written before transactions existed still load.
        let old = r#"{"offset":3,"producers":[{"producer_id":1,"epoch":0,"batches":[]}]}"#;
        let mut old = ProducerStateManager::from_snapshot(serde_json::from_str(old).unwrap());
        assert_eq!(old.last_stable_offset(3), 3);
    }

    #[test]
    fn snapshot_round_trips_through_json() {
        let mut s = ProducerStateManager::default();
        s.record(1, 2, meta(0, 4, 10));
        let json = serde_json::to_string(&s.snapshot(15)).unwrap();
        let snap: ProducerSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(snap.offset, 15);
        assert_eq!(ProducerStateManager::from_snapshot(snap), s);
    }
}
