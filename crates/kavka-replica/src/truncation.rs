//! Where a follower cuts its log after a leader change: by leader epoch (KIP-101), over
//! as many rounds as needed when the leader answers an epoch the follower does not know
//! (KIP-279), from an OffsetForLeaderEpoch answer or a Fetch `diverging_epoch` (KIP-320);
//! and where it restarts after OFFSET_OUT_OF_RANGE.

use crate::epoch::{EpochEndOffset, EpochHistory, UNDEFINED_EPOCH};

/// A truncation decision: cut the log at `offset` (a no-op if it is the log end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Truncation {
    /// Offset to truncate to: everything at and above it is removed.
    pub offset: i64,
    /// False when the leader answered an epoch the follower does not have: the follower
    /// cut to the end of its largest smaller epoch and must ask again (KIP-279).
    pub complete: bool,
}

/// Kafka's truncation rule for the leader's answer `leader` (to OffsetForLeaderEpoch, or
/// a Fetch response's `diverging_epoch`), given the follower's own epoch cache, log end
/// and current fetch offset (its high watermark when it started without epochs):
///
/// 1. the leader knows no end offset → cut at `fetch_offset`;
/// 2. an end offset but no epoch (pre-KIP-279 leaders) → min(leader end, log end);
/// 3. the follower's largest epoch ≤ the answered one *is* the answered epoch
///    → min(leader end, follower's end of that epoch, log end): the logs agree below;
/// 4. the follower has only smaller epochs → cut to the end of the largest of them (and
///    log end) and ask again with the new latest epoch: not complete;
/// 5. the follower has no epoch ≤ the answered one → min(leader end, log end).
pub fn truncation_for<H: EpochHistory + ?Sized>(
    follower_epochs: &H,
    follower_log_end_offset: i64,
    fetch_offset: i64,
    leader: EpochEndOffset,
) -> Truncation {
    if leader.has_undefined_offset() {
        return Truncation {
            offset: fetch_offset,
            complete: true,
        };
    }
    if leader.epoch == UNDEFINED_EPOCH {
        return Truncation {
            offset: leader.end_offset.min(follower_log_end_offset),
            complete: true,
        };
    }
    let own = follower_epochs.end_offset_for(leader.epoch, follower_log_end_offset);
    if own.has_undefined_offset() {
        return Truncation {
            offset: leader.end_offset.min(follower_log_end_offset),
            complete: true,
        };
    }
    if own.epoch != leader.epoch {
        Truncation {
            offset: own.end_offset.min(follower_log_end_offset),
            complete: false,
        }
    } else {
        Truncation {
            offset: own
                .end_offset
                .min(leader.end_offset)
                .min(follower_log_end_offset),
            complete: true,
        }
    }
}

/// What a follower does after OFFSET_OUT_OF_RANGE, given the leader's log end and log
/// start offsets (from ListOffsets latest/earliest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutOfRangeReset {
    /// The leader's log ends below ours (an unclean election): truncate to its end and
    /// fetch from there.
    TruncateTo(i64),
    /// Our log ends below the leader's log start: drop everything and start at the
    /// leader's log start.
    TruncateFullyAndStartAt(i64),
    /// Keep our log and fetch from this offset again.
    FetchFrom(i64),
}

/// Kafka's reset after OFFSET_OUT_OF_RANGE (`fetchOffsetAndTruncate`).
pub fn out_of_range_reset(
    follower_log_end_offset: i64,
    leader_log_end_offset: i64,
    leader_log_start_offset: i64,
) -> OutOfRangeReset {
    if leader_log_end_offset < follower_log_end_offset {
        OutOfRangeReset::TruncateTo(leader_log_end_offset)
    } else if leader_log_start_offset > follower_log_end_offset {
        OutOfRangeReset::TruncateFullyAndStartAt(leader_log_start_offset)
    } else {
        OutOfRangeReset::FetchFrom(follower_log_end_offset.max(leader_log_start_offset))
    }
}
