//! kavka-replica: the replica state of one partition as a pure state machine — the
//! leader's view of its followers, the in-sync replica set (ISR), the high watermark
//! (HW), acks=all completion, and the follower's truncation decisions. No I/O, no clock,
//! no threads: time comes in as `now_ms`, events as method calls, and decisions come
//! back as values ([`Effects`], [`FollowerAction`], [`FollowerStep`]) for the host to
//! carry out, in the manner of raft-rs.
//!
//! # Leader
//!
//! [`LeaderState`] is created from the controller's decision ([`LeaderInit`]: replicas,
//! ISR, leader and partition epochs, the local log end and high watermark). The host
//! then feeds it:
//!
//! - [`LeaderState::on_leader_append`] after every local append;
//! - [`LeaderState::on_follower_fetch`] for every follower Fetch, before reading (it
//!   checks the leader epoch, the replica, its broker epoch and divergence);
//! - [`LeaderState::maybe_shrink_isr`] periodically (Kafka: every
//!   `replica.lag.time.max.ms / 2`);
//! - [`LeaderState::on_alter_partition_response`] with the controller's answer;
//! - [`LeaderState::on_metadata`] and [`LeaderState::on_broker_status`] on metadata
//!   changes;
//! - [`LeaderState::check_append`] before, and [`LeaderState::wait_for_acks`] after, an
//!   acks=all append; [`LeaderState::expire`] at [`LeaderState::next_deadline`].
//!
//! ## The high watermark
//!
//! The HW is the smallest log end offset among the leader and the followers in the
//! *maximal* ISR — the committed ISR plus a follower whose addition is in flight — and
//! the followers outside the ISR that are caught up and eligible to join it
//! ([`next_high_watermark`]). While a shrink is in flight the old, larger ISR still
//! counts; a removal counts only once the controller committed it. Counting a pending
//! addition is what keeps the HW below the log end of every member of the ISR the
//! controller may commit. The HW never decreases, never exceeds the leader's log end,
//! and does not move while the committed ISR is smaller than the effective
//! `min.insync.replicas` (`min(min.insync.replicas, replicas)`, KIP-966 / KAFKA-15583).
//! A new leader starts from its own HW and exposes nothing above it until its followers
//! have fetched: a follower's log end is unknown (and holds the HW) until its first fetch.
//!
//! ## The ISR
//!
//! A follower is *caught up* if its last fetch reached the leader's log end, or if it
//! did so within `replica.lag.time.max.ms`: `last_caught_up_time_ms` is the time of the
//! latest fetch from at least the leader's log end, or of the fetch before one that
//! reaches the log end the leader had then ([`FollowerProgress::record_fetch`]). ISR
//! members not caught up are proposed for removal; a follower outside the ISR whose log
//! end is ≥ the HW and ≥ the start offset of the leader's epoch is proposed for addition,
//! if its broker is registered, unfenced, not shutting down (KIP-841) and fetched with
//! its current broker epoch (KIP-903). Changes go to the controller as one
//! [`AlterPartitionRequest`] at a time, carrying the partition epoch they are based on;
//! a metadata update supersedes whatever is pending.
//!
//! ## acks=all
//!
//! [`LeaderState::check_append`] refuses acks=all with NOT_ENOUGH_REPLICAS when the
//! committed ISR is below the effective min ISR. A waiting request ([`DelayedProduces`])
//! completes when the HW reaches its last offset + 1 (NOT_ENOUGH_REPLICAS_AFTER_APPEND if
//! the maximal ISR is then below the min ISR), and fails with REQUEST_TIMED_OUT at its
//! deadline. While the committed ISR is below the min ISR the HW is frozen and a waiting
//! request keeps waiting, as in Kafka 4. Completion is per partition: the
//! completions come back from the step that caused them.
//!
//! # Follower
//!
//! [`FollowerState`] decides what a follower sends next ([`FollowerState::next_action`])
//! and where it truncates after a leader change: by leader epoch (KIP-101), over several
//! rounds if the leader answers an epoch the follower lacks (KIP-279), from an
//! OffsetForLeaderEpoch answer or a Fetch `diverging_epoch` (KIP-320, Fetch v12+)
//! ([`truncation_for`]). Its HW is min(leader's HW, own log end). The local epoch cache
//! comes in as an [`EpochHistory`] (a slice of [`EpochEntry`] will do).
//!
//! # Changing roles
//!
//! - Follower → leader: record the new leader epoch at the log end in the epoch cache
//!   (Kafka's `maybeAssignEpochStartOffset`, so followers that ask about later epochs get
//!   a correct end), then [`LeaderState::new`] with the follower's
//!   [`FollowerState::high_watermark`].
//! - Leader → follower: [`LeaderState::on_metadata`] answers
//!   [`MetadataOutcome::Resigned`] with the failed waiting produces; then
//!   [`FollowerState::new`] with the leader's last HW.
//! - Leader of a new epoch: [`LeaderState::on_metadata`] (and the same epoch-cache entry).
//! - Follower of a new epoch or leader: [`FollowerState::on_new_leader`].
//!
//! # Where this differs from Kafka
//!
//! - A pending ISR proposal survives a metadata update at the partition epoch it is based
//!   on (such an update cannot be the controller's decision on it, and the controller may
//!   still accept it); Kafka discards it and relies on the caught-up rule to keep the HW
//!   below the proposed follower. Updates at a newer partition epoch supersede it.
//! - A leader that stays leader across a *skipped* leader epoch (it learns epoch e+2 while
//!   at e: another broker led e+1) forgets its followers' log ends, as a new leader does;
//!   they may have truncated to the other leader's log meanwhile. Kafka keeps them and can
//!   then count a record as replicated on a follower that has just dropped it (found by
//!   the cluster property test; pinned by a scenario test there).
//!
//! # Eligible leader replicas (KIP-966)
//!
//! Part 1 of KIP-966 needs one thing from the leader, and it is here: the HW does not
//! advance while the ISR is below the min ISR ("strict min ISR"), so every record below
//! the HW is on at least min-ISR replicas that were in the ISR when it was committed. The
//! rest is the controller's: when the ISR shrinks below the min ISR, the removed replicas
//! go to the partition's ELR (they hold everything below the HW); a replica leaves the
//! ELR when it re-registers after an unclean shutdown (another broker epoch than its last
//! session) or when the ISR is back at the min ISR; elections take an ISR member, then an
//! unfenced ELR member, then the last known leader. A leader elected from the ELR starts
//! like any other through [`LeaderState::new`]; [`PartitionUpdate`] would carry the ELR
//! only for DescribeTopicPartitions.
//!
//! What this crate cannot see: a replica that lost unflushed data in a power failure and
//! comes back with a shorter log. Its fetch offset then goes backwards; the state records
//! it, but the HW may already be above it. Kafka's answer is the broker epoch (KIP-903: a
//! re-registered broker must rejoin the ISR with its new epoch) and, for the ELR, clean
//! shutdown detection.

mod alter;
mod epoch;
mod error;
mod follower;
mod hw;
mod leader;
mod produce;
mod progress;
mod truncation;

/// A broker id.
pub type BrokerId = i32;

pub use alter::{
    AlterPartitionError, AlterPartitionOutcome, AlterPartitionRequest, CommittedIsr, IsrChange,
    IsrMember, ProposalId,
};
pub use epoch::{
    check_current_leader_epoch, diverging_epoch, end_offset_for_epoch, EpochEndOffset, EpochEntry,
    EpochHistory, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET,
};
pub use error::ReplicaError;
pub use follower::{
    FetchAnswer, FollowerAction, FollowerInit, FollowerPhase, FollowerState, FollowerStep,
    Truncate, TruncationMode,
};
pub use hw::{next_high_watermark, HwFollower};
pub use leader::{
    Acks, BrokerStatus, Effects, FollowerFetch, FollowerFetchOutcome, LeaderInit, LeaderState,
    MetadataOutcome, PartitionUpdate, ReplicaConfig,
};
pub use produce::{AckView, DelayedProduces, ProduceCompletion, ProduceId};
pub use progress::FollowerProgress;
pub use truncation::{out_of_range_reset, truncation_for, OutOfRangeReset, Truncation};
