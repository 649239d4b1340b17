//! The follower side of a partition: what to send to the leader next, where to truncate,
//! and the follower's high watermark.

use crate::epoch::{EpochEndOffset, EpochHistory};
use crate::error::ReplicaError;
use crate::truncation::{out_of_range_reset, truncation_for, OutOfRangeReset};
use crate::BrokerId;

/// How a follower finds where its log diverges from a new leader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TruncationMode {
    /// Fetch at once with `last_fetched_epoch` and truncate when the leader answers a
    /// `diverging_epoch` (Fetch v12+, KIP-320; what Kafka does since 2.7).
    OnFetch,
    /// Ask OffsetForLeaderEpoch for the end of our latest epoch first and truncate
    /// before the first fetch (KIP-101, KIP-279).
    OffsetForLeaderEpoch,
}

/// What the controller decided when it made this broker a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FollowerInit {
    /// The leader.
    pub leader_id: BrokerId,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// The partition epoch.
    pub partition_epoch: i32,
    /// The local log end offset.
    pub log_end_offset: i64,
    /// The local high watermark.
    pub high_watermark: i64,
}

/// Where the follower is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowerPhase {
    /// Finding the divergence point with OffsetForLeaderEpoch.
    Truncating,
    /// Fetching from `fetch_offset`.
    Fetching,
    /// Fetched out of range; asking the leader for its log start and end offsets.
    ResettingOutOfRange,
    /// Fenced by a newer leader epoch: nothing to do until the next metadata update.
    AwaitingMetadata,
}

/// A truncation the host must apply to the local log (and its epoch cache) before the
/// next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truncate {
    /// Remove everything at and above this offset.
    To(i64),
    /// Remove the whole log and start empty at this offset.
    FullyAndStartAt(i64),
}

/// The next thing a follower sends or does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowerAction {
    /// Truncate the log; then ask again.
    Truncate(Truncate),
    /// Send OffsetForLeaderEpoch for `leader_epoch`.
    OffsetForLeaderEpoch {
        /// Our view of the leader epoch (fences a stale leader).
        current_leader_epoch: i32,
        /// Our latest epoch, whose end on the leader we want.
        leader_epoch: i32,
    },
    /// Send a Fetch.
    Fetch {
        /// Where to fetch from.
        fetch_offset: i64,
        /// Epoch of our last batch, for the leader's divergence check.
        last_fetched_epoch: Option<i32>,
        /// Our view of the leader epoch.
        current_leader_epoch: i32,
    },
    /// Ask the leader for its log start and end offsets (ListOffsets earliest/latest).
    ListLeaderOffsets {
        /// Our view of the leader epoch.
        current_leader_epoch: i32,
    },
    /// Wait for metadata.
    AwaitMetadata,
}

/// The leader's answer to a Fetch, for this partition, after the host appended any
/// records it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchAnswer {
    /// Records (possibly none) were appended; the local log now ends at `log_end_offset`.
    Records {
        /// The leader's high watermark.
        high_watermark: i64,
    },
    /// Our log diverges; nothing was appended.
    Diverging(EpochEndOffset),
    /// A partition error.
    Error(ReplicaError),
}

/// What the host must do after a follower step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[must_use]
pub struct FollowerStep {
    /// Truncate the local log (and its epoch cache) first, even when the offset is the
    /// log end.
    pub truncate: Option<Truncate>,
    /// The follower's new high watermark, when it changed.
    pub high_watermark: Option<i64>,
    /// A retriable error: back off before the next request.
    pub backoff: bool,
}

/// The follower's replica state for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerState {
    leader_id: BrokerId,
    leader_epoch: i32,
    partition_epoch: i32,
    mode: TruncationMode,
    phase: FollowerPhase,
    fetch_offset: i64,
    high_watermark: i64,
}

impl FollowerState {
    /// Become a follower of `init.leader_id` in `init.leader_epoch`. With epochs in the
    /// log it fetches from its log end (`OnFetch`) or first asks OffsetForLeaderEpoch;
    /// with none it truncates to its high watermark (the only safe point it knows).
    pub fn new<H: EpochHistory + ?Sized>(
        init: FollowerInit,
        mode: TruncationMode,
        epochs: &H,
    ) -> FollowerState {
        let high_watermark = init.high_watermark.min(init.log_end_offset);
        let has_epochs = epochs.latest_epoch().is_some();
        let (phase, fetch_offset) = match (mode, has_epochs) {
            (TruncationMode::OnFetch, true) => (FollowerPhase::Fetching, init.log_end_offset),
            (_, _) => (FollowerPhase::Truncating, high_watermark),
        };
        FollowerState {
            leader_id: init.leader_id,
            leader_epoch: init.leader_epoch,
            partition_epoch: init.partition_epoch,
            mode,
            phase,
            fetch_offset,
            high_watermark,
        }
    }

    /// The leader followed.
    pub fn leader_id(&self) -> BrokerId {
        self.leader_id
    }

    /// The leader epoch followed.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The partition epoch.
    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }

    /// Where the follower is.
    pub fn phase(&self) -> FollowerPhase {
        self.phase
    }

    /// The next fetch offset.
    pub fn fetch_offset(&self) -> i64 {
        self.fetch_offset
    }

    /// The follower's high watermark: min(leader's HW, own log end).
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// What to send or do next, given the local epoch cache.
    pub fn next_action<H: EpochHistory + ?Sized>(&mut self, epochs: &H) -> FollowerAction {
        let current_leader_epoch = self.leader_epoch;
        match self.phase {
            FollowerPhase::Truncating => match epochs.latest_epoch() {
                Some(leader_epoch) => FollowerAction::OffsetForLeaderEpoch {
                    current_leader_epoch,
                    leader_epoch,
                },
                None => {
                    // No epochs to ask about: the high watermark is the only point
                    // known to be below every replica's divergence.
                    self.phase = FollowerPhase::Fetching;
                    self.fetch_offset = self.high_watermark;
                    FollowerAction::Truncate(Truncate::To(self.high_watermark))
                }
            },
            FollowerPhase::Fetching => FollowerAction::Fetch {
                fetch_offset: self.fetch_offset,
                last_fetched_epoch: match self.mode {
                    TruncationMode::OnFetch => epochs.latest_epoch(),
                    TruncationMode::OffsetForLeaderEpoch => None,
                },
                current_leader_epoch,
            },
            FollowerPhase::ResettingOutOfRange => FollowerAction::ListLeaderOffsets {
                current_leader_epoch,
            },
            FollowerPhase::AwaitingMetadata => FollowerAction::AwaitMetadata,
        }
    }

    /// The leader answered our OffsetForLeaderEpoch (sent in `request_leader_epoch`).
    /// `log_end_offset` and `epochs` are the local log's.
    pub fn on_offset_for_leader_epoch<H: EpochHistory + ?Sized>(
        &mut self,
        request_leader_epoch: i32,
        answer: Result<EpochEndOffset, ReplicaError>,
        epochs: &H,
        log_end_offset: i64,
    ) -> FollowerStep {
        if self.phase != FollowerPhase::Truncating || request_leader_epoch != self.leader_epoch {
            return FollowerStep::default();
        }
        match answer {
            Ok(leader) => {
                let t = truncation_for(epochs, log_end_offset, self.fetch_offset, leader);
                if t.complete {
                    self.phase = FollowerPhase::Fetching;
                }
                self.truncate_to(t.offset, log_end_offset)
            }
            Err(e) => self.on_error(e),
        }
    }

    /// The leader answered our Fetch (sent from `request_fetch_offset` in
    /// `request_leader_epoch`). For records, the host appended them first and
    /// `log_end_offset` is the new local log end.
    pub fn on_fetch_response<H: EpochHistory + ?Sized>(
        &mut self,
        request_fetch_offset: i64,
        request_leader_epoch: i32,
        answer: FetchAnswer,
        epochs: &H,
        log_end_offset: i64,
    ) -> FollowerStep {
        if self.phase != FollowerPhase::Fetching
            || request_leader_epoch != self.leader_epoch
            || request_fetch_offset != self.fetch_offset
        {
            return FollowerStep::default();
        }
        match answer {
            FetchAnswer::Records { high_watermark } => {
                self.fetch_offset = log_end_offset;
                let hw = high_watermark.min(log_end_offset);
                let mut step = FollowerStep::default();
                if hw != self.high_watermark {
                    self.high_watermark = hw;
                    step.high_watermark = Some(hw);
                }
                step
            }
            FetchAnswer::Diverging(leader) => {
                let t = truncation_for(epochs, log_end_offset, self.fetch_offset, leader);
                // Not complete means another round: the next fetch carries our new last
                // epoch and the leader checks it again.
                self.truncate_to(t.offset, log_end_offset)
            }
            FetchAnswer::Error(ReplicaError::OffsetOutOfRange) => {
                self.phase = FollowerPhase::ResettingOutOfRange;
                FollowerStep::default()
            }
            FetchAnswer::Error(e) => self.on_error(e),
        }
    }

    /// The leader's log start and end offsets, after OFFSET_OUT_OF_RANGE.
    pub fn on_leader_offsets(
        &mut self,
        leader_log_start_offset: i64,
        leader_log_end_offset: i64,
        log_end_offset: i64,
    ) -> FollowerStep {
        if self.phase != FollowerPhase::ResettingOutOfRange {
            return FollowerStep::default();
        }
        self.phase = FollowerPhase::Fetching;
        match out_of_range_reset(
            log_end_offset,
            leader_log_end_offset,
            leader_log_start_offset,
        ) {
            OutOfRangeReset::TruncateTo(offset) => self.truncate_to(offset, log_end_offset),
            OutOfRangeReset::TruncateFullyAndStartAt(offset) => {
                self.fetch_offset = offset;
                let mut step = FollowerStep {
                    truncate: Some(Truncate::FullyAndStartAt(offset)),
                    ..FollowerStep::default()
                };
                if self.high_watermark != offset {
                    self.high_watermark = offset;
                    step.high_watermark = Some(offset);
                }
                step
            }
            OutOfRangeReset::FetchFrom(offset) => {
                self.fetch_offset = offset;
                FollowerStep::default()
            }
        }
    }

    /// A metadata update naming `leader_id` as leader in `leader_epoch`. Returns true
    /// when the follower restarted (new epoch, or it was fenced); older partition epochs
    /// are ignored.
    pub fn on_new_leader<H: EpochHistory + ?Sized>(
        &mut self,
        init: FollowerInit,
        epochs: &H,
    ) -> bool {
        if init.partition_epoch < self.partition_epoch || init.leader_epoch < self.leader_epoch {
            return false;
        }
        self.partition_epoch = init.partition_epoch;
        if init.leader_epoch == self.leader_epoch && self.phase != FollowerPhase::AwaitingMetadata {
            return false;
        }
        *self = FollowerState::new(init, self.mode, epochs);
        true
    }

    /// Even at the log end the truncation is passed on: it removes epoch-cache entries
    /// starting there (an epoch this replica led without writing anything), which would
    /// otherwise claim offsets the new leader wrote in another epoch.
    fn truncate_to(&mut self, offset: i64, log_end_offset: i64) -> FollowerStep {
        let offset = offset.min(log_end_offset);
        self.fetch_offset = offset;
        let mut step = FollowerStep {
            truncate: Some(Truncate::To(offset)),
            ..FollowerStep::default()
        };
        if self.high_watermark > offset {
            self.high_watermark = offset;
            step.high_watermark = Some(offset);
        }
        step
    }

    fn on_error(&mut self, error: ReplicaError) -> FollowerStep {
        if error == ReplicaError::FencedLeaderEpoch {
            self.phase = FollowerPhase::AwaitingMetadata;
            FollowerStep::default()
        } else {
            FollowerStep {
                backoff: true,
                ..FollowerStep::default()
            }
        }
    }
}
