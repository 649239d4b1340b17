//! Property tests: random runs of a leader with followers and a controller, checking
//! the high-watermark and acks=all invariants after every step; random histories of
//! elections, checking that truncation by epoch leaves a follower a prefix of its leader.

#[path = "common/logs.rs"]
mod logs;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kavka_replica::*;
use logs::ToyLog;
use proptest::prelude::*;

const LEADER: i32 = 1;
const LAG_MS: i64 = 30_000;

/// How the controller answers an AlterPartition it processes.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// Validate and, if valid, apply; deliver the answer.
    Deliver,
    /// Validate and apply if valid, but the answer is lost: the leader sees a transient
    /// error and retries (the controller refuses the retry as stale if it applied).
    Lost,
    /// Refuse without applying (OPERATION_NOT_ATTEMPTED).
    NotAttempted,
}

#[derive(Debug, Clone)]
enum Event {
    /// acks=1 append of n records.
    Append(i64),
    /// acks=all produce of n records.
    Produce(i64),
    /// A follower copies up to n more records, then fetches from its log end.
    Replicate(usize, i64),
    /// Time passes; the leader checks for lagging followers.
    Tick(i64),
    /// The controller processes the oldest AlterPartition in flight.
    Controller(Answer),
    /// The controller's current partition state reaches the leader.
    Publish,
    /// The controller fences a follower (and drops it from its ISR).
    Fence(usize),
    /// The follower's broker registers again, with a new broker epoch or not.
    Unfence(usize, bool),
    /// The controller bumps the leader epoch, same leader (e.g. a reassignment step).
    BumpLeaderEpoch,
    /// Deadlines pass.
    Expire,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (1..4i64).prop_map(Event::Append),
        3 => (1..4i64).prop_map(Event::Produce),
        6 => (0..3usize, 0..6i64).prop_map(|(f, n)| Event::Replicate(f, n)),
        3 => (0..20_000i64).prop_map(Event::Tick),
        2 => Just(Event::Controller(Answer::Deliver)),
        1 => Just(Event::Controller(Answer::Lost)),
        1 => Just(Event::Controller(Answer::NotAttempted)),
        2 => Just(Event::Publish),
        1 => (0..3usize).prop_map(Event::Fence),
        1 => (0..3usize, any::<bool>()).prop_map(|(f, b)| Event::Unfence(f, b)),
        1 => Just(Event::BumpLeaderEpoch),
        1 => Just(Event::Expire),
    ]
}

struct Controller {
    leader_epoch: i32,
    partition_epoch: i32,
    isr: BTreeSet<i32>,
    brokers: BTreeMap<i32, BrokerStatus>,
}

struct Sim {
    leader: LeaderState,
    followers: Vec<i32>,
    now: i64,
    /// What each follower really has (its log end), whatever the leader knows.
    actual: BTreeMap<i32, i64>,
    controller: Controller,
    in_flight: VecDeque<AlterPartitionRequest>,
    last_hw: i64,
    waiting: BTreeMap<ProduceId, i64>,
    next_produce: u64,
}

impl Sim {
    fn new(
        n_followers: usize,
        isr_mask: u8,
        min_isr: usize,
        log_end: i64,
        hw: i64,
        lags: Vec<i64>,
    ) -> Sim {
        let followers: Vec<i32> = (2..2 + n_followers as i32).collect();
        let mut replicas = vec![LEADER];
        replicas.extend(&followers);
        let mut isr = BTreeSet::from([LEADER]);
        for (i, &f) in followers.iter().enumerate() {
            if isr_mask & (1 << i) != 0 {
                isr.insert(f);
            }
        }
        // A follower's log: at least the HW if it is in the ISR (that is what being in
        // the ISR promised), anything up to the leader's end otherwise.
        let actual: BTreeMap<i32, i64> = followers
            .iter()
            .zip(lags)
            .map(|(&f, lag)| {
                let floor = if isr.contains(&f) { hw } else { 0 };
                (f, (log_end - lag).clamp(floor, log_end))
            })
            .collect();
        let brokers: BTreeMap<i32, BrokerStatus> = replicas
            .iter()
            .map(|&r| (r, BrokerStatus::alive(100)))
            .collect();
        let init = LeaderInit {
            local_broker_id: LEADER,
            local_broker_epoch: 100,
            leader_epoch: 1,
            partition_epoch: 1,
            replicas,
            isr: isr.iter().copied().collect(),
            log_end_offset: log_end,
            high_watermark: hw,
            config: ReplicaConfig {
                replica_lag_time_max_ms: LAG_MS,
                min_insync_replicas: min_isr,
            },
            brokers: brokers.clone(),
        };
        let (leader, effects) = LeaderState::new(init, 0);
        let mut sim = Sim {
            last_hw: leader.high_watermark(),
            leader,
            followers,
            now: 0,
            actual,
            controller: Controller {
                leader_epoch: 1,
                partition_epoch: 1,
                isr,
                brokers,
            },
            in_flight: VecDeque::new(),
            waiting: BTreeMap::new(),
            next_produce: 0,
        };
        sim.apply(effects);
        sim
    }

    fn step(&mut self, event: &Event) {
        match *event {
            Event::Append(n) => {
                let leo = self.leader.log_end_offset() + n;
                let e = self.leader.on_leader_append(leo, self.now);
                self.apply(e);
            }
            Event::Produce(n) => {
                if self.leader.check_append(Acks::All).is_ok() {
                    let leo = self.leader.log_end_offset() + n;
                    let e = self.leader.on_leader_append(leo, self.now);
                    self.apply(e);
                    self.next_produce += 1;
                    let id = ProduceId(self.next_produce);
                    self.waiting.insert(id, leo);
                    if let Some(c) = self.leader.wait_for_acks(id, leo, self.now + 30_000) {
                        self.complete(c);
                    }
                } else {
                    assert!(self.leader.isr().len() < self.leader.effective_min_isr());
                }
            }
            Event::Replicate(i, n) => {
                let Some(&f) = self.followers.get(i % self.followers.len().max(1)) else {
                    return;
                };
                let leader_end = self.leader.log_end_offset();
                let have = self.actual[&f];
                let now_has = (have + n).min(leader_end);
                self.actual.insert(f, now_has);
                let fetch = FollowerFetch {
                    replica_id: f,
                    fetch_offset: now_has,
                    last_fetched_epoch: None,
                    current_leader_epoch: Some(self.leader.leader_epoch()),
                    broker_epoch: self.controller.brokers[&f].broker_epoch,
                };
                let epochs = vec![EpochEntry {
                    epoch: self.leader.leader_epoch(),
                    start_offset: 0,
                }];
                match self
                    .leader
                    .on_follower_fetch(fetch, epochs.as_slice(), self.now)
                {
                    Ok(FollowerFetchOutcome::Read(e)) => self.apply(e),
                    other => panic!("fetch {fetch:?}: {other:?}"),
                }
            }
            Event::Tick(ms) => {
                self.now += ms;
                if let Some(req) = self.leader.maybe_shrink_isr(self.now) {
                    self.in_flight.push_back(req);
                }
            }
            Event::Controller(answer) => {
                let Some(req) = self.in_flight.pop_front() else {
                    return;
                };
                let result = match answer {
                    // Only a request the controller would accept can be "not
                    // attempted": the answer promises the partition epoch was right.
                    Answer::NotAttempted => self
                        .controller_validate(&req)
                        .and(Err(AlterPartitionError::OperationNotAttempted)),
                    Answer::Deliver | Answer::Lost => self.controller_alter(&req),
                };
                let result = match answer {
                    Answer::Lost => Err(AlterPartitionError::Other(7)),
                    _ => result,
                };
                let (outcome, e) = self
                    .leader
                    .on_alter_partition_response(req.id, result, self.now);
                if let AlterPartitionOutcome::Retry(again) = outcome {
                    self.in_flight.push_back(again);
                }
                self.apply(e);
            }
            Event::Publish => self.publish(),
            Event::Fence(i) => {
                let f = self.followers[i % self.followers.len()];
                let status = self.controller.brokers.get_mut(&f).expect("registered");
                status.fenced = true;
                let status = *status;
                if self.controller.isr.remove(&f) {
                    self.controller.partition_epoch += 1;
                }
                let e = self.leader.on_broker_status(f, Some(status), self.now);
                self.apply(e);
            }
            Event::Unfence(i, new_epoch) => {
                let f = self.followers[i % self.followers.len()];
                let status = self.controller.brokers.get_mut(&f).expect("registered");
                status.fenced = false;
                if new_epoch {
                    status.broker_epoch += 1;
                }
                let status = *status;
                let e = self.leader.on_broker_status(f, Some(status), self.now);
                self.apply(e);
            }
            Event::BumpLeaderEpoch => {
                self.controller.leader_epoch += 1;
                self.controller.partition_epoch += 1;
                self.publish();
            }
            Event::Expire => {
                for c in self.leader.expire(self.now + 30_000) {
                    self.complete(c);
                }
            }
        }
        self.check_hw();
    }

    /// The controller's AlterPartition handling: validate, then apply.
    fn controller_alter(
        &mut self,
        req: &AlterPartitionRequest,
    ) -> Result<CommittedIsr, AlterPartitionError> {
        self.controller_validate(req)?;
        let c = &mut self.controller;
        c.isr = req.new_isr.iter().map(|m| m.broker_id).collect();
        c.partition_epoch += 1;
        Ok(CommittedIsr {
            isr: c.isr.iter().copied().collect(),
            leader_epoch: c.leader_epoch,
            partition_epoch: c.partition_epoch,
        })
    }

    /// The controller's AlterPartition validation (KRaft's, simplified).
    fn controller_validate(&self, req: &AlterPartitionRequest) -> Result<(), AlterPartitionError> {
        let c = &self.controller;
        if req.leader_epoch != c.leader_epoch {
            return Err(AlterPartitionError::FencedLeaderEpoch);
        }
        if req.partition_epoch != c.partition_epoch {
            return Err(AlterPartitionError::InvalidUpdateVersion);
        }
        for m in &req.new_isr {
            let status = c.brokers[&m.broker_id];
            let added = !c.isr.contains(&m.broker_id);
            let stale = m.broker_epoch != -1 && m.broker_epoch != status.broker_epoch;
            if added && (status.fenced || status.in_controlled_shutdown || stale) {
                return Err(AlterPartitionError::IneligibleReplica);
            }
        }
        Ok(())
    }

    fn publish(&mut self) {
        let mut replicas = vec![LEADER];
        replicas.extend(&self.followers);
        let update = PartitionUpdate {
            leader: LEADER,
            leader_epoch: self.controller.leader_epoch,
            partition_epoch: self.controller.partition_epoch,
            replicas,
            isr: self.controller.isr.iter().copied().collect(),
        };
        match self.leader.on_metadata(update, self.now) {
            MetadataOutcome::Applied(e) => self.apply(e),
            MetadataOutcome::Stale => {}
            MetadataOutcome::Resigned(_) => panic!("the leader stays leader here"),
        }
    }

    fn apply(&mut self, effects: Effects) {
        if let Some(hw) = effects.high_watermark {
            assert_eq!(hw, self.leader.high_watermark());
        }
        if let Some(req) = effects.alter_partition {
            self.in_flight.push_back(req);
        }
        for c in effects.completed {
            self.complete(c);
        }
    }

    /// Members of either ISR: the leader's committed one and the controller's.
    fn isr_members(&self) -> BTreeSet<i32> {
        self.leader
            .isr()
            .union(&self.controller.isr)
            .copied()
            .collect()
    }

    fn log_end_of(&self, r: i32) -> i64 {
        if r == LEADER {
            self.leader.log_end_offset()
        } else {
            self.actual[&r]
        }
    }

    fn complete(&mut self, c: ProduceCompletion) {
        let required = self
            .waiting
            .remove(&c.id)
            .expect("completed once, and only if registered");
        if c.result.is_ok() {
            for r in self.isr_members() {
                assert!(
                    self.log_end_of(r) >= required,
                    "acknowledged up to {required} but ISR member {r} has only {}",
                    self.log_end_of(r)
                );
            }
            let holders = self
                .leader
                .replicas()
                .iter()
                .filter(|&&r| self.log_end_of(r) >= required)
                .count();
            assert!(
                holders >= self.leader.effective_min_isr(),
                "acknowledged with {holders} copies < min ISR {}",
                self.leader.effective_min_isr()
            );
        }
    }

    fn check_hw(&mut self) {
        let hw = self.leader.high_watermark();
        assert!(
            hw >= self.last_hw,
            "HW went back from {} to {hw}",
            self.last_hw
        );
        assert!(
            hw <= self.leader.log_end_offset(),
            "HW {hw} above the leader's log end"
        );
        for r in self.isr_members() {
            assert!(
                self.log_end_of(r) >= hw,
                "HW {hw} above ISR member {r}'s log end {}",
                self.log_end_of(r)
            );
        }
        for r in self.leader.isr() {
            if let Some(p) = self.leader.follower(*r) {
                if let Some(leo) = p.log_end_offset {
                    assert!(
                        leo >= hw,
                        "HW {hw} above what the leader knows of ISR member {r} ({leo})"
                    );
                }
            }
        }
        self.last_hw = hw;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn leader_hw_and_acks_all_invariants_hold_over_random_runs(
        n_followers in 1..4usize,
        isr_mask in 0..8u8,
        min_isr in 1..4usize,
        log_end in 0..20i64,
        hw_below in 0..20i64,
        lags in proptest::collection::vec(0..20i64, 3),
        events in proptest::collection::vec(event(), 0..80),
    ) {
        let hw = (log_end - hw_below).max(0);
        let mut sim = Sim::new(n_followers, isr_mask, min_isr, log_end, hw, lags);
        sim.check_hw();
        for e in &events {
            sim.step(e);
        }
        // Drain: everything still waiting completes by its deadline.
        for c in sim.leader.expire(i64::MAX) {
            sim.complete(c);
        }
        prop_assert!(sim.waiting.is_empty(), "every acks=all request answered exactly once");
    }

    #[test]
    fn next_high_watermark_never_decreases_nor_passes_leader_or_members(
        current in 0..50i64,
        leader_end in 0..50i64,
        isr_size in 0..4usize,
        min_isr in 1..4usize,
        followers in proptest::collection::vec((proptest::option::of(0..50i64), any::<bool>(), any::<bool>()), 0..4),
    ) {
        let current = current.min(leader_end);
        let fs: Vec<HwFollower> = followers
            .iter()
            .map(|&(log_end_offset, in_maximal_isr, caught_up_and_eligible)| HwFollower { log_end_offset, in_maximal_isr, caught_up_and_eligible })
            .collect();
        let hw = next_high_watermark(current, leader_end, isr_size, min_isr, fs.iter().copied());
        prop_assert!(hw >= current);
        prop_assert!(hw <= leader_end);
        if hw > current {
            prop_assert!(isr_size >= min_isr);
            for f in fs.iter().filter(|f| f.in_maximal_isr) {
                prop_assert!(f.log_end_offset.unwrap_or(-1) >= hw);
            }
        }
    }
}

/// One step of a random replication history among three replicas.
#[derive(Debug, Clone)]
enum HistoryStep {
    /// Replica r becomes leader of the next epoch (clean or not).
    Elect(usize),
    /// The leader appends n records.
    Write(usize),
    /// Replica r truncates against the leader and copies up to n records.
    Follow(usize, usize, bool),
}

fn history_step() -> impl Strategy<Value = HistoryStep> {
    prop_oneof![
        1 => (0..3usize).prop_map(HistoryStep::Elect),
        2 => (1..4usize).prop_map(HistoryStep::Write),
        3 => (0..3usize, 0..5usize, any::<bool>()).prop_map(|(r, n, by_fetch)| HistoryStep::Follow(r, n, by_fetch)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// KIP-101/279: whatever the elections, a follower that truncates by leader epoch
    /// (OffsetForLeaderEpoch or Fetch diverging_epoch) ends as a prefix of its leader's
    /// log, so replicas never keep two different records at one offset.
    #[test]
    fn truncation_by_epoch_leaves_follower_a_prefix_of_its_leader(
        steps in proptest::collection::vec(history_step(), 0..60),
    ) {
        let mut logs = [ToyLog::default(), ToyLog::default(), ToyLog::default()];
        let mut hws = [0i64; 3];
        let mut leader = 0usize;
        let mut epoch = 0i32;
        logs[0].assign_epoch(0);
        for s in &steps {
            match *s {
                HistoryStep::Elect(r) => {
                    epoch += 1;
                    leader = r;
                    logs[r].assign_epoch(epoch);
                }
                HistoryStep::Write(n) => {
                    for _ in 0..n {
                        logs[leader].append(epoch);
                    }
                }
                HistoryStep::Follow(r, n, by_fetch) => {
                    if r == leader {
                        continue;
                    }
                    let lead = logs[leader].clone();
                    let f = &mut logs[r];
                    if by_fetch {
                        logs::truncate_by_diverging_epoch(f, hws[r], &lead, epoch);
                    } else {
                        logs::truncate_by_offset_for_leader_epoch(f, hws[r], &lead, epoch);
                    }
                    prop_assert!(f.is_prefix_of(&lead), "follower {r} {:?} vs leader {:?}", f.records, lead.records);
                    let from = f.records.len();
                    let to = (from + n).min(lead.records.len());
                    for &e in &lead.records[from..to] {
                        f.append(e);
                    }
                    hws[r] = hws[r].min(f.log_end());
                }
            }
        }
    }
}
