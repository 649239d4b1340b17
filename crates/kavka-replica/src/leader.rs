//! The leader side of a partition: follower progress, ISR changes, the high watermark
//! and acks=all completion.

use std::collections::{BTreeMap, BTreeSet};

use crate::alter::{
    AlterPartitionError, AlterPartitionOutcome, AlterPartitionRequest, CommittedIsr, IsrChange,
    IsrMember, ProposalId,
};
use crate::epoch::{check_current_leader_epoch, diverging_epoch, EpochEndOffset, EpochHistory};
use crate::error::ReplicaError;
use crate::hw::{next_high_watermark, HwFollower};
use crate::produce::{AckView, DelayedProduces, ProduceCompletion, ProduceId};
use crate::progress::FollowerProgress;
use crate::BrokerId;

/// The topic configs the leader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplicaConfig {
    /// `replica.lag.time.max.ms`: how long a follower may go without catching up.
    pub replica_lag_time_max_ms: i64,
    /// `min.insync.replicas`.
    pub min_insync_replicas: usize,
}

impl Default for ReplicaConfig {
    fn default() -> ReplicaConfig {
        ReplicaConfig {
            replica_lag_time_max_ms: 30_000,
            min_insync_replicas: 1,
        }
    }
}

/// A registered broker as the metadata image shows it (KIP-841: only unfenced brokers
/// that are not shutting down may join an ISR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BrokerStatus {
    /// Its current broker epoch (registration).
    pub broker_epoch: i64,
    /// Fenced: missed heartbeats.
    pub fenced: bool,
    /// In controlled shutdown.
    pub in_controlled_shutdown: bool,
}

impl BrokerStatus {
    /// A live, unfenced broker.
    pub fn alive(broker_epoch: i64) -> BrokerStatus {
        BrokerStatus {
            broker_epoch,
            fenced: false,
            in_controlled_shutdown: false,
        }
    }
}

/// What the controller decided when it made this broker leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInit {
    /// This broker.
    pub local_broker_id: BrokerId,
    /// This broker's epoch (sent with itself in proposed ISRs).
    pub local_broker_epoch: i64,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// The partition epoch.
    pub partition_epoch: i32,
    /// All replicas, leader included.
    pub replicas: Vec<BrokerId>,
    /// The ISR, leader included.
    pub isr: Vec<BrokerId>,
    /// The local log end offset (where this epoch starts).
    pub log_end_offset: i64,
    /// The local log's high watermark (as follower, or from its checkpoint).
    pub high_watermark: i64,
    /// Topic configs.
    pub config: ReplicaConfig,
    /// Registered brokers; one missing here is not registered and cannot join the ISR.
    pub brokers: BTreeMap<BrokerId, BrokerStatus>,
}

/// A metadata update for the partition (a `PartitionChange` applied to the image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionUpdate {
    /// The leader, or -1 for none.
    pub leader: BrokerId,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// The partition epoch.
    pub partition_epoch: i32,
    /// All replicas.
    pub replicas: Vec<BrokerId>,
    /// The ISR.
    pub isr: Vec<BrokerId>,
}

/// acks of a produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Acks {
    /// acks=0.
    None,
    /// acks=1.
    Leader,
    /// acks=all (-1).
    All,
}

/// A fetch from a follower, as the Fetch request carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FollowerFetch {
    /// The follower (`replica_id`, or the replica state's id in Fetch v15+).
    pub replica_id: BrokerId,
    /// Where it fetches from: its log end offset.
    pub fetch_offset: i64,
    /// The epoch of its last batch (Fetch v12+), to detect divergence.
    pub last_fetched_epoch: Option<i32>,
    /// Its view of the leader epoch (Fetch v9+).
    pub current_leader_epoch: Option<i32>,
    /// Its broker epoch (Fetch v15+), or -1.
    pub broker_epoch: i64,
}

/// What the host must do after a step. Apply all of it before the next step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Effects {
    /// The new high watermark, when it advanced: checkpoint it and wake fetches waiting
    /// on this partition.
    pub high_watermark: Option<i64>,
    /// An ISR change to send to the controller.
    pub alter_partition: Option<AlterPartitionRequest>,
    /// acks=all requests answered by this step.
    pub completed: Vec<ProduceCompletion>,
}

/// The answer to a follower's fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowerFetchOutcome {
    /// Serve records from `fetch_offset`; the follower's progress was recorded.
    Read(Effects),
    /// Its log diverges: answer with this `diverging_epoch` and no records; its progress
    /// is not recorded.
    Diverging(EpochEndOffset),
}

/// What a metadata update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataOutcome {
    /// Applied (a pending ISR change based on an older partition epoch is superseded).
    Applied(Effects),
    /// Older than what this leader knows: ignored.
    Stale,
    /// Another broker leads now: waiting produces failed with NOT_LEADER_OR_FOLLOWER.
    /// Drop this state and follow.
    Resigned(Vec<ProduceCompletion>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    change: IsrChange,
    request: AlterPartitionRequest,
    awaiting_metadata: bool,
}

/// The leader's replica state for one partition.
///
/// Invariants (checked by the property tests): the high watermark never decreases,
/// never exceeds the leader's log end, and never exceeds the log end of a committed ISR
/// member that has fetched; at most one AlterPartition is in flight; a completed acks=all
/// request's records are below the log end of every ISR member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderState {
    local_id: BrokerId,
    local_broker_epoch: i64,
    leader_epoch: i32,
    partition_epoch: i32,
    leader_epoch_start_offset: i64,
    replicas: Vec<BrokerId>,
    isr: BTreeSet<BrokerId>,
    pending: Option<Pending>,
    followers: BTreeMap<BrokerId, FollowerProgress>,
    brokers: BTreeMap<BrokerId, BrokerStatus>,
    log_end_offset: i64,
    high_watermark: i64,
    config: ReplicaConfig,
    produces: DelayedProduces,
    next_proposal: u64,
    resigned: bool,
}

impl LeaderState {
    /// Become leader as the controller decided, at `now_ms`. The HW starts at the local
    /// log's HW (capped at its end) and may rise at once if the ISR is only the leader.
    pub fn new(init: LeaderInit, now_ms: i64) -> (LeaderState, Effects) {
        let isr: BTreeSet<BrokerId> = init.isr.iter().copied().collect();
        let followers = init
            .replicas
            .iter()
            .filter(|&&r| r != init.local_broker_id)
            .map(|&r| (r, FollowerProgress::new_leader(now_ms, isr.contains(&r))))
            .collect();
        let mut state = LeaderState {
            local_id: init.local_broker_id,
            local_broker_epoch: init.local_broker_epoch,
            leader_epoch: init.leader_epoch,
            partition_epoch: init.partition_epoch,
            leader_epoch_start_offset: init.log_end_offset,
            replicas: init.replicas,
            isr,
            pending: None,
            followers,
            brokers: init.brokers,
            log_end_offset: init.log_end_offset,
            high_watermark: init.high_watermark.min(init.log_end_offset),
            config: init.config,
            produces: DelayedProduces::new(),
            next_proposal: 0,
            resigned: false,
        };
        let effects = state.after_change(now_ms, true);
        (state, effects)
    }

    /// This broker's id.
    pub fn local_broker_id(&self) -> BrokerId {
        self.local_id
    }

    /// The leader epoch.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The partition epoch.
    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }

    /// The offset where the current leader epoch started (the log end at election).
    pub fn leader_epoch_start_offset(&self) -> i64 {
        self.leader_epoch_start_offset
    }

    /// The high watermark: consumers read below it.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// The leader's log end offset.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// All replicas.
    pub fn replicas(&self) -> &[BrokerId] {
        &self.replicas
    }

    /// The committed ISR.
    pub fn isr(&self) -> &BTreeSet<BrokerId> {
        &self.isr
    }

    /// The committed ISR plus a pending addition: the replicas the HW waits for.
    pub fn maximal_isr(&self) -> BTreeSet<BrokerId> {
        let mut isr = self.isr.clone();
        isr.extend(self.pending_addition());
        isr
    }

    fn pending_addition(&self) -> Option<BrokerId> {
        match &self.pending {
            Some(Pending {
                change: IsrChange::Expand(r),
                ..
            }) => Some(*r),
            _ => None,
        }
    }

    /// The ISR change in flight (or awaiting metadata), if any.
    pub fn pending_isr_change(&self) -> Option<(&IsrChange, &AlterPartitionRequest)> {
        self.pending.as_ref().map(|p| (&p.change, &p.request))
    }

    /// What the leader knows about follower `id`.
    pub fn follower(&self, id: BrokerId) -> Option<&FollowerProgress> {
        self.followers.get(&id)
    }

    /// The topic configs in force.
    pub fn config(&self) -> ReplicaConfig {
        self.config
    }

    /// `min.insync.replicas` capped at the number of replicas.
    pub fn effective_min_isr(&self) -> usize {
        self.config.min_insync_replicas.min(self.replicas.len())
    }

    /// True when the committed ISR is smaller than the effective min ISR: the HW is
    /// frozen and acks=all produce is refused.
    pub fn is_under_min_isr(&self) -> bool {
        self.isr.len() < self.effective_min_isr()
    }

    /// False once a metadata update handed leadership to another broker.
    pub fn is_leader(&self) -> bool {
        !self.resigned
    }

    /// Number of acks=all requests waiting.
    pub fn waiting_produces(&self) -> usize {
        self.produces.len()
    }

    /// The earliest produce deadline, to schedule [`LeaderState::expire`].
    pub fn next_deadline(&self) -> Option<i64> {
        self.produces.next_deadline()
    }

    /// KIP-320's check of a request's `current_leader_epoch` (and that this replica
    /// still leads).
    pub fn check_leader_epoch(
        &self,
        current_leader_epoch: Option<i32>,
    ) -> Result<(), ReplicaError> {
        check_current_leader_epoch(self.leader_epoch, current_leader_epoch)?;
        if self.resigned {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        Ok(())
    }

    /// May a produce with `acks` be appended now? acks=all needs an ISR of at least the
    /// effective `min.insync.replicas` (NOT_ENOUGH_REPLICAS, before anything is written).
    pub fn check_append(&self, acks: Acks) -> Result<(), ReplicaError> {
        if self.resigned {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        if acks == Acks::All && self.is_under_min_isr() {
            return Err(ReplicaError::NotEnoughReplicas);
        }
        Ok(())
    }

    /// The local log now ends at `new_log_end` (after an append). The HW may advance if
    /// the ISR is only the leader.
    pub fn on_leader_append(&mut self, new_log_end: i64, now_ms: i64) -> Effects {
        if self.resigned || new_log_end <= self.log_end_offset {
            return Effects::default();
        }
        self.log_end_offset = new_log_end;
        self.after_change(now_ms, true)
    }

    /// Wait for the HW to reach `required_offset` (last appended offset + 1) for an
    /// acks=all request, until `deadline_ms`. Completes at once if it already has.
    pub fn wait_for_acks(
        &mut self,
        id: ProduceId,
        required_offset: i64,
        deadline_ms: i64,
    ) -> Option<ProduceCompletion> {
        if self.resigned {
            return Some(ProduceCompletion {
                id,
                result: Err(ReplicaError::NotLeaderOrFollower),
            });
        }
        let view = self.ack_view();
        self.produces
            .register(id, required_offset, deadline_ms, view)
    }

    /// Fail waiting acks=all requests whose deadline passed (REQUEST_TIMED_OUT).
    pub fn expire(&mut self, now_ms: i64) -> Vec<ProduceCompletion> {
        self.produces.expire(now_ms)
    }

    /// Record a follower's fetch at `now_ms`, after checking its leader epoch, its
    /// replica id, its broker epoch and (with `last_fetched_epoch`) that its log does not
    /// diverge from `leader_epochs`, the leader's epoch cache. Then: the follower may be
    /// proposed for the ISR; the HW may advance.
    ///
    /// The host refuses a fetch offset below the log start offset (OFFSET_OUT_OF_RANGE)
    /// before calling, as Kafka's read does; offsets past the log end are refused here.
    /// The response may carry the HW read before this call (as Kafka does) or after it;
    /// the follower caps it at its own log end either way.
    pub fn on_follower_fetch<H: EpochHistory + ?Sized>(
        &mut self,
        fetch: FollowerFetch,
        leader_epochs: &H,
        now_ms: i64,
    ) -> Result<FollowerFetchOutcome, ReplicaError> {
        check_current_leader_epoch(self.leader_epoch, fetch.current_leader_epoch)?;
        if self.resigned {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        if !self.followers.contains_key(&fetch.replica_id) {
            // The epoch matched but the replica is not (yet) ours: with an epoch in the
            // request that means "retry", without one it is the generic refusal.
            return Err(if fetch.current_leader_epoch.is_some() {
                ReplicaError::UnknownLeaderEpoch
            } else {
                ReplicaError::NotLeaderOrFollower
            });
        }
        if let Some(epoch) = fetch.last_fetched_epoch {
            if let Some(diverging) = diverging_epoch(
                leader_epochs,
                self.log_end_offset,
                fetch.fetch_offset,
                epoch,
            )? {
                return Ok(FollowerFetchOutcome::Diverging(diverging));
            }
        }
        if fetch.fetch_offset < 0 || fetch.fetch_offset > self.log_end_offset {
            return Err(ReplicaError::OffsetOutOfRange);
        }
        if fetch.broker_epoch != -1 {
            if let Some(status) = self.brokers.get(&fetch.replica_id) {
                if status.broker_epoch > fetch.broker_epoch {
                    return Err(ReplicaError::NotLeaderOrFollower);
                }
            }
        }
        let leader_log_end = self.log_end_offset;
        let Some(progress) = self.followers.get_mut(&fetch.replica_id) else {
            return Err(ReplicaError::NotLeaderOrFollower);
        };
        let previous_log_end = progress.log_end_offset;
        progress.record_fetch(
            fetch.fetch_offset,
            now_ms,
            leader_log_end,
            fetch.broker_epoch,
        );
        let log_end_changed = previous_log_end != Some(fetch.fetch_offset);

        let alter_partition = self.maybe_expand_isr(fetch.replica_id);
        let mut effects = if log_end_changed {
            self.after_change(now_ms, false)
        } else {
            Effects::default()
        };
        effects.alter_partition = alter_partition;
        Ok(FollowerFetchOutcome::Read(effects))
    }

    /// Propose removing ISR members that have not caught up within
    /// `replica.lag.time.max.ms` (none while another change is in flight).
    pub fn maybe_shrink_isr(&mut self, now_ms: i64) -> Option<AlterPartitionRequest> {
        if self.resigned || self.pending.is_some() {
            return None;
        }
        let out: BTreeSet<BrokerId> = self
            .isr
            .iter()
            .copied()
            .filter(|&r| r != self.local_id)
            .filter(|r| {
                self.followers.get(r).is_none_or(|p| {
                    !p.is_caught_up(
                        self.log_end_offset,
                        now_ms,
                        self.config.replica_lag_time_max_ms,
                    )
                })
            })
            .collect();
        if out.is_empty() {
            return None;
        }
        let new_isr: BTreeSet<BrokerId> = self.isr.difference(&out).copied().collect();
        Some(self.propose(IsrChange::Shrink(out), &new_isr))
    }

    /// Apply the controller's answer to proposal `id`.
    pub fn on_alter_partition_response(
        &mut self,
        id: ProposalId,
        response: Result<CommittedIsr, AlterPartitionError>,
        now_ms: i64,
    ) -> (AlterPartitionOutcome, Effects) {
        let Some(pending) = self.pending.as_mut() else {
            return (AlterPartitionOutcome::Ignored, Effects::default());
        };
        if self.resigned || pending.request.id != id || pending.awaiting_metadata {
            return (AlterPartitionOutcome::Ignored, Effects::default());
        }
        match response {
            Ok(committed) => {
                if committed.leader_epoch != self.leader_epoch
                    || committed.partition_epoch < self.partition_epoch
                {
                    pending.awaiting_metadata = true;
                    return (AlterPartitionOutcome::AwaitingMetadata, Effects::default());
                }
                self.isr = committed.isr.iter().copied().collect();
                self.partition_epoch = committed.partition_epoch;
                self.pending = None;
                (
                    AlterPartitionOutcome::Committed,
                    self.after_change(now_ms, true),
                )
            }
            Err(
                AlterPartitionError::OperationNotAttempted | AlterPartitionError::IneligibleReplica,
            ) => {
                self.pending = None;
                (AlterPartitionOutcome::Reverted, Effects::default())
            }
            Err(AlterPartitionError::Other(_)) => {
                let request = pending.request.clone();
                (AlterPartitionOutcome::Retry(request), Effects::default())
            }
            Err(_) => {
                pending.awaiting_metadata = true;
                (AlterPartitionOutcome::AwaitingMetadata, Effects::default())
            }
        }
    }

    /// Apply a metadata update for the partition. It supersedes a pending ISR change
    /// based on an older partition epoch; a new leader epoch restarts the followers'
    /// catch-up clocks and the leader epoch's start offset.
    pub fn on_metadata(&mut self, update: PartitionUpdate, now_ms: i64) -> MetadataOutcome {
        if self.resigned
            || update.partition_epoch < self.partition_epoch
            || update.leader_epoch < self.leader_epoch
        {
            return MetadataOutcome::Stale;
        }
        if update.leader != self.local_id {
            self.resigned = true;
            self.pending = None;
            self.leader_epoch = update.leader_epoch;
            self.partition_epoch = update.partition_epoch;
            return MetadataOutcome::Resigned(
                self.produces.fail_all(ReplicaError::NotLeaderOrFollower),
            );
        }
        let isr: BTreeSet<BrokerId> = update.isr.iter().copied().collect();
        let new_epoch = update.leader_epoch > self.leader_epoch;
        self.followers
            .retain(|r, _| update.replicas.contains(r) && *r != update.leader);
        for &r in &update.replicas {
            if r != self.local_id {
                self.followers
                    .entry(r)
                    .or_insert_with(|| FollowerProgress::new_leader(now_ms, isr.contains(&r)));
            }
        }
        if new_epoch {
            // Skipped epochs were led by another broker, to which the followers may have
            // truncated: what they fetched from us before proves nothing now, so they
            // start unknown, as under a new leader. (Kafka keeps their log ends whenever
            // it stays leader; a cluster run found the HW then passing a follower that
            // had truncated under the other leader.)
            let missed_epochs = update.leader_epoch > self.leader_epoch.saturating_add(1);
            self.leader_epoch_start_offset = self.log_end_offset;
            for (r, p) in self.followers.iter_mut() {
                if missed_epochs {
                    *p = FollowerProgress::new_leader(now_ms, isr.contains(r));
                } else {
                    p.reset_for_new_epoch(now_ms, self.log_end_offset, isr.contains(r));
                }
            }
            self.leader_epoch = update.leader_epoch;
        }
        // A proposal survives an update at the partition epoch it is based on: that
        // update cannot be the controller's decision on it (which bumps the epoch), and
        // the controller may still accept it, so its member must keep holding the HW.
        // Kafka drops it here and relies on the caught-up rule to hold the HW instead.
        let keep_pending = !new_epoch
            && self
                .pending
                .as_ref()
                .is_some_and(|p| p.request.partition_epoch == update.partition_epoch);
        if !keep_pending {
            self.pending = None;
        }
        self.partition_epoch = update.partition_epoch;
        self.replicas = update.replicas;
        self.isr = isr;
        MetadataOutcome::Applied(self.after_change(now_ms, true))
    }

    /// The broker registrations changed (fenced, shutting down, re-registered). A
    /// replica that may no longer join the ISR stops holding the HW back.
    pub fn on_broker_status(
        &mut self,
        broker_id: BrokerId,
        status: Option<BrokerStatus>,
        now_ms: i64,
    ) -> Effects {
        match status {
            Some(s) => self.brokers.insert(broker_id, s),
            None => self.brokers.remove(&broker_id),
        };
        if self.resigned {
            return Effects::default();
        }
        self.after_change(now_ms, false)
    }

    /// New topic configs (min ISR, lag time).
    pub fn set_config(&mut self, config: ReplicaConfig, now_ms: i64) -> Effects {
        self.config = config;
        if self.resigned {
            return Effects::default();
        }
        self.after_change(now_ms, true)
    }

    fn maybe_expand_isr(&mut self, replica: BrokerId) -> Option<AlterPartitionRequest> {
        if self.pending.is_some() || self.isr.contains(&replica) || !self.is_isr_eligible(replica) {
            return None;
        }
        let log_end = self.followers.get(&replica)?.log_end_offset?;
        if log_end < self.high_watermark || log_end < self.leader_epoch_start_offset {
            return None;
        }
        let mut new_isr = self.isr.clone();
        new_isr.insert(replica);
        Some(self.propose(IsrChange::Expand(replica), &new_isr))
    }

    fn propose(
        &mut self,
        change: IsrChange,
        new_isr: &BTreeSet<BrokerId>,
    ) -> AlterPartitionRequest {
        self.next_proposal += 1;
        let request = AlterPartitionRequest {
            id: ProposalId(self.next_proposal),
            leader_id: self.local_id,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            new_isr: new_isr
                .iter()
                .map(|&broker_id| IsrMember {
                    broker_id,
                    broker_epoch: if broker_id == self.local_id {
                        self.local_broker_epoch
                    } else {
                        self.followers
                            .get(&broker_id)
                            .and_then(|p| p.broker_epoch)
                            .unwrap_or(-1)
                    },
                })
                .collect(),
        };
        self.pending = Some(Pending {
            change,
            request: request.clone(),
            awaiting_metadata: false,
        });
        request
    }

    /// KIP-841/KIP-903: registered, unfenced, not shutting down, and the broker epoch of
    /// its fetches is the registered one (or it sent none).
    fn is_isr_eligible(&self, replica: BrokerId) -> bool {
        let Some(status) = self.brokers.get(&replica) else {
            return false;
        };
        let Some(seen) = self.followers.get(&replica).and_then(|p| p.broker_epoch) else {
            return false;
        };
        !status.fenced
            && !status.in_controlled_shutdown
            && (seen == -1 || seen == status.broker_epoch)
    }

    fn ack_view(&self) -> AckView {
        AckView {
            high_watermark: self.high_watermark,
            committed_isr_size: self.isr.len(),
            maximal_isr_size: self.isr.len()
                + usize::from(
                    self.pending_addition()
                        .is_some_and(|r| !self.isr.contains(&r)),
                ),
            min_isr: self.effective_min_isr(),
        }
    }

    /// Recompute the HW; re-check waiting produces if it moved or `isr_changed`.
    fn after_change(&mut self, now_ms: i64, isr_changed: bool) -> Effects {
        // On every follower fetch that moved: no allocation.
        let adding = self.pending_addition();
        let hw_followers = self.followers.iter().map(|(&r, p)| HwFollower {
            log_end_offset: p.log_end_offset,
            in_maximal_isr: self.isr.contains(&r) || adding == Some(r),
            caught_up_and_eligible: p.is_caught_up(
                self.log_end_offset,
                now_ms,
                self.config.replica_lag_time_max_ms,
            ) && self.is_isr_eligible(r),
        });
        let new_hw = next_high_watermark(
            self.high_watermark,
            self.log_end_offset,
            self.isr.len(),
            self.effective_min_isr(),
            hw_followers,
        );
        let mut effects = Effects::default();
        if new_hw > self.high_watermark {
            self.high_watermark = new_hw;
            effects.high_watermark = Some(new_hw);
        }
        if effects.high_watermark.is_some() || isr_changed {
            let view = self.ack_view();
            effects.completed = self.produces.on_change(view);
        }
        effects
    }
}
