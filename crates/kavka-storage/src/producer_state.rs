//! Idempotent-producer state: per producer id the current epoch and the last few
//! batches, to reject sequence gaps and to answer retries with the original offsets.
//! Pure logic; the log persists it as a JSON snapshot.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

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
}

impl ProducerEntry {
    /// A producer with no batches yet.
    pub(crate) fn new(producer_id: i64, epoch: i16) -> Self {
        Self {
            producer_id,
            epoch,
            batches: VecDeque::new(),
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

/// All producers of one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
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

    /// Records a batch that is now in the log (append or replay after restart).
    pub(crate) fn record(&mut self, producer_id: i64, epoch: i16, batch: BatchMetadata) {
        self.producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry::new(producer_id, epoch))
            .record(epoch, batch);
    }

    /// Forgets batches at or after `log_end` after a truncation; producers left with
    /// no batches are dropped so their next batch is accepted.
    pub(crate) fn truncate_from_end(&mut self, log_end: i64) {
        for entry in self.producers.values_mut() {
            entry.batches.retain(|b| b.last_offset < log_end);
        }
        self.producers.retain(|_, e| !e.batches.is_empty());
    }

    /// Forgets every producer (the log was emptied).
    pub(crate) fn clear(&mut self) {
        self.producers.clear();
    }

    /// The state as a snapshot covering offsets below `offset`.
    pub(crate) fn snapshot(&self, offset: i64) -> ProducerSnapshot {
        let mut producers: Vec<ProducerEntry> = self.producers.values().cloned().collect();
        producers.sort_by_key(|e| e.producer_id);
        ProducerSnapshot { offset, producers }
    }

    /// Rebuilds the state from a snapshot.
    pub(crate) fn from_snapshot(snapshot: ProducerSnapshot) -> Self {
        let producers = snapshot
            .producers
            .into_iter()
            .map(|e| (e.producer_id, e))
            .collect();
        Self { producers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
