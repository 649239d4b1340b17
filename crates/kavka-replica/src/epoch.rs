//! Leader epochs: the epoch history of a log, Kafka's end-offset-for-epoch rule, the
//! `current_leader_epoch` check of KIP-320, and the diverging-epoch check a leader runs
//! on a follower's fetch (Fetch v12+).

use crate::error::ReplicaError;

/// The epoch Kafka sends when none is known (`UNDEFINED_EPOCH`).
pub const UNDEFINED_EPOCH: i32 = -1;
/// The offset Kafka sends when none is known (`UNDEFINED_EPOCH_OFFSET`).
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One entry of a leader-epoch cache: batches from `start_offset` on were written by the
/// leader of `epoch` (until the next entry's start offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpochEntry {
    /// The leader epoch.
    pub epoch: i32,
    /// The first offset written in that epoch.
    pub start_offset: i64,
}

/// An epoch and the offset where it ends, as OffsetForLeaderEpoch answers and as the
/// `diverging_epoch` of a Fetch response carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpochEndOffset {
    /// The largest epoch the answering log knows that is ≤ the one asked about.
    pub epoch: i32,
    /// The first offset *after* that epoch (the next epoch's start, or the log end).
    pub end_offset: i64,
}

impl EpochEndOffset {
    /// The "nothing known" answer: undefined epoch and offset.
    pub const UNDEFINED: EpochEndOffset = EpochEndOffset {
        epoch: UNDEFINED_EPOCH,
        end_offset: UNDEFINED_EPOCH_OFFSET,
    };

    /// True when the end offset is undefined.
    pub fn has_undefined_offset(&self) -> bool {
        self.end_offset == UNDEFINED_EPOCH_OFFSET
    }
}

/// A read-only view of a log's leader-epoch cache, so the decisions here stay pure.
/// Implemented for slices of [`EpochEntry`] sorted by epoch (and start offset).
pub trait EpochHistory {
    /// The latest epoch in the log, if any batch carries one.
    fn latest_epoch(&self) -> Option<i32>;

    /// Kafka's `endOffsetFor`: the largest known epoch ≤ `requested_epoch` and the offset
    /// where it ends (`log_end_offset` for the latest epoch). See [`end_offset_for_epoch`].
    fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> EpochEndOffset;
}

impl EpochHistory for [EpochEntry] {
    fn latest_epoch(&self) -> Option<i32> {
        self.last().map(|e| e.epoch)
    }

    fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> EpochEndOffset {
        end_offset_for_epoch(self, requested_epoch, log_end_offset)
    }
}

impl EpochHistory for Vec<EpochEntry> {
    fn latest_epoch(&self) -> Option<i32> {
        self.as_slice().latest_epoch()
    }

    fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> EpochEndOffset {
        end_offset_for_epoch(self, requested_epoch, log_end_offset)
    }
}

/// The end offset of `requested_epoch` in a log with these epoch entries (ascending):
///
/// - undefined epoch asked → undefined answer;
/// - the latest epoch asked → (that epoch, `log_end_offset`);
/// - an epoch above every entry (cannot happen on a leader, whose own epoch is latest)
///   → undefined;
/// - an epoch below every entry → (the asked epoch, start of the first entry): the data
///   before it is gone, so the asker can at least cut there;
/// - otherwise → (largest epoch ≤ asked, start offset of the next larger epoch).
pub fn end_offset_for_epoch(
    entries: &[EpochEntry],
    requested_epoch: i32,
    log_end_offset: i64,
) -> EpochEndOffset {
    if requested_epoch == UNDEFINED_EPOCH {
        return EpochEndOffset::UNDEFINED;
    }
    if entries.last().map(|e| e.epoch) == Some(requested_epoch) {
        return EpochEndOffset {
            epoch: requested_epoch,
            end_offset: log_end_offset,
        };
    }
    let Some(higher) = entries.iter().find(|e| e.epoch > requested_epoch) else {
        return EpochEndOffset::UNDEFINED;
    };
    match entries.iter().rev().find(|e| e.epoch <= requested_epoch) {
        None => EpochEndOffset {
            epoch: requested_epoch,
            end_offset: higher.start_offset,
        },
        Some(floor) => EpochEndOffset {
            epoch: floor.epoch,
            end_offset: higher.start_offset,
        },
    }
}

/// KIP-320's check of a request's `current_leader_epoch` against the partition's:
/// older → FENCED_LEADER_EPOCH, newer → UNKNOWN_LEADER_EPOCH, absent or equal → fine.
pub fn check_current_leader_epoch(
    local_leader_epoch: i32,
    request_leader_epoch: Option<i32>,
) -> Result<(), ReplicaError> {
    match request_leader_epoch {
        None => Ok(()),
        Some(e) if e < local_leader_epoch => Err(ReplicaError::FencedLeaderEpoch),
        Some(e) if e > local_leader_epoch => Err(ReplicaError::UnknownLeaderEpoch),
        Some(_) => Ok(()),
    }
}

/// The leader's check of a fetch carrying `last_fetched_epoch` (Fetch v12+, KIP-320):
/// `Some(diverging)` when the fetcher's log diverges from the leader's at or before
/// `fetch_offset` (the leader does not know that epoch, or it ended before the fetch
/// offset); the response then carries `diverging` and no records. An epoch whose end the
/// leader cannot determine is OFFSET_OUT_OF_RANGE.
pub fn diverging_epoch<H: EpochHistory + ?Sized>(
    leader_epochs: &H,
    leader_log_end_offset: i64,
    fetch_offset: i64,
    last_fetched_epoch: i32,
) -> Result<Option<EpochEndOffset>, ReplicaError> {
    let end = leader_epochs.end_offset_for(last_fetched_epoch, leader_log_end_offset);
    if end.has_undefined_offset() || end.epoch == UNDEFINED_EPOCH {
        return Err(ReplicaError::OffsetOutOfRange);
    }
    if end.epoch < last_fetched_epoch || end.end_offset < fetch_offset {
        Ok(Some(end))
    } else {
        Ok(None)
    }
}
