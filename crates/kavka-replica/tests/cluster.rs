//! Three replicas of one partition, each driven by this crate's state machines, with a
//! model controller, elections from the ISR, clean restarts with a new broker epoch
//! (KIP-841/903), brokers that learn of changes late (a deposed leader keeps acting as
//! leader until it hears), and both truncation modes. Logs survive restarts: lost
//! unflushed data is out of this model.
//! After every step: every acknowledged acks=all record is on every ISR member, and no
//! replica holds, below its own high watermark, a record the current leader lacks.

#[path = "common/logs.rs"]
mod logs;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kavka_replica::*;
use logs::ToyLog;
use proptest::prelude::*;

const BROKERS: i32 = 3;

#[derive(Debug, Clone)]
enum Event {
    /// acks=all produce of n records to broker b, if it thinks it leads.
    Produce(i32, i64),
    /// acks=1 append of n records on broker b, if it thinks it leads.
    Append(i32, i64),
    /// Broker b takes its next follower step, copying at most n records on a fetch.
    Follow(i32, usize),
    /// Time passes: leaders look for lagging followers and expire produces.
    Tick(i64),
    /// The controller handles the oldest AlterPartition.
    Controller,
    /// Broker b learns the controller's current partition state.
    Learn(i32),
    /// The controller elects the i-th ISR member; `true`: the old leader shut down
    /// and left the ISR first.
    Elect(usize, bool),
    /// Broker b shuts down cleanly and comes back at once with a new broker epoch: it
    /// leaves the ISR (and leadership) first, loses its in-memory state, keeps its log.
    Restart(i32),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (0..BROKERS, 1..3i64).prop_map(|(b, n)| Event::Produce(b, n)),
        1 => (0..BROKERS, 1..3i64).prop_map(|(b, n)| Event::Append(b, n)),
        8 => (0..BROKERS, 0..4usize).prop_map(|(b, n)| Event::Follow(b, n)),
        2 => (0..20_000i64).prop_map(Event::Tick),
        2 => Just(Event::Controller),
        3 => (0..BROKERS).prop_map(Event::Learn),
        1 => (0..3usize, any::<bool>()).prop_map(|(i, s)| Event::Elect(i, s)),
        1 => (0..BROKERS).prop_map(Event::Restart),
    ]
}

enum Role {
    Leader(Box<LeaderState>),
    Follower(FollowerState),
}

struct Broker {
    log: ToyLog,
    role: Role,
    mode: TruncationMode,
}

impl Broker {
    fn high_watermark(&self) -> i64 {
        match &self.role {
            Role::Leader(l) => l.high_watermark(),
            Role::Follower(f) => f.high_watermark(),
        }
    }
}

struct Controller {
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    isr: BTreeSet<i32>,
    /// Each broker's current registration (broker epoch).
    registered: [i64; 3],
}

struct Cluster {
    brokers: Vec<Broker>,
    controller: Controller,
    alter_queue: VecDeque<(i32, AlterPartitionRequest)>,
    now: i64,
    next_produce: u64,
    waiting: BTreeMap<ProduceId, Vec<(usize, i32)>>,
    acked: Vec<(usize, i32)>,
    min_isr: usize,
}

fn brokers_alive(c: &Controller) -> BTreeMap<i32, BrokerStatus> {
    (0..BROKERS)
        .map(|b| (b, BrokerStatus::alive(c.registered[b as usize])))
        .collect()
}

impl Cluster {
    fn new(modes: [bool; 3], min_isr: usize) -> Cluster {
        let controller = Controller {
            leader: 0,
            leader_epoch: 1,
            partition_epoch: 1,
            isr: (0..BROKERS).collect(),
            registered: [1; 3],
        };
        let mut brokers = Vec::new();
        for b in 0..BROKERS {
            let mode = if modes[b as usize] {
                TruncationMode::OnFetch
            } else {
                TruncationMode::OffsetForLeaderEpoch
            };
            let mut log = ToyLog::default();
            let role = if b == 0 {
                log.assign_epoch(1);
                let init = Self::leader_init(&controller, b, &log, 0, min_isr);
                Role::Leader(Box::new(LeaderState::new(init, 0).0))
            } else {
                Role::Follower(FollowerState::new(
                    Self::follower_init(&controller, &log, 0),
                    mode,
                    log.cache.as_slice(),
                ))
            };
            brokers.push(Broker { log, role, mode });
        }
        Cluster {
            brokers,
            controller,
            alter_queue: VecDeque::new(),
            now: 0,
            next_produce: 0,
            waiting: BTreeMap::new(),
            acked: Vec::new(),
            min_isr,
        }
    }

    fn leader_init(c: &Controller, b: i32, log: &ToyLog, hw: i64, min_isr: usize) -> LeaderInit {
        LeaderInit {
            local_broker_id: b,
            local_broker_epoch: c.registered[b as usize],
            leader_epoch: c.leader_epoch,
            partition_epoch: c.partition_epoch,
            replicas: (0..BROKERS).collect(),
            isr: c.isr.iter().copied().collect(),
            log_end_offset: log.log_end(),
            high_watermark: hw,
            config: ReplicaConfig {
                replica_lag_time_max_ms: 30_000,
                min_insync_replicas: min_isr,
            },
            brokers: brokers_alive(c),
        }
    }

    fn follower_init(c: &Controller, log: &ToyLog, hw: i64) -> FollowerInit {
        FollowerInit {
            leader_id: c.leader,
            leader_epoch: c.leader_epoch,
            partition_epoch: c.partition_epoch,
            log_end_offset: log.log_end(),
            high_watermark: hw,
        }
    }

    fn update(&self) -> PartitionUpdate {
        PartitionUpdate {
            leader: self.controller.leader,
            leader_epoch: self.controller.leader_epoch,
            partition_epoch: self.controller.partition_epoch,
            replicas: (0..BROKERS).collect(),
            isr: self.controller.isr.iter().copied().collect(),
        }
    }

    fn step(&mut self, event: &Event) {
        match *event {
            Event::Produce(b, n) => self.produce(b, n, true),
            Event::Append(b, n) => self.produce(b, n, false),
            Event::Follow(b, n) => self.follow(b, n),
            Event::Tick(ms) => {
                self.now += ms;
                for b in 0..BROKERS {
                    let now = self.now;
                    if let Role::Leader(l) = &mut self.brokers[b as usize].role {
                        let shrink = l.maybe_shrink_isr(now);
                        let expired = l.expire(now);
                        if let Some(req) = shrink {
                            self.alter_queue.push_back((b, req));
                        }
                        for c in expired {
                            self.complete(c);
                        }
                    }
                }
            }
            Event::Controller => self.controller_step(),
            Event::Learn(b) => self.learn(b),
            Event::Restart(b) => self.restart(b),
            Event::Elect(i, shutdown) => {
                let c = &mut self.controller;
                if shutdown && c.isr.len() > 1 {
                    c.isr.remove(&c.leader);
                }
                let members: Vec<i32> = c.isr.iter().copied().collect();
                c.leader = members[i % members.len()];
                c.leader_epoch += 1;
                c.partition_epoch += 1;
            }
        }
        self.check();
    }

    fn produce(&mut self, b: i32, n: i64, acks_all: bool) {
        let now = self.now;
        let broker = &mut self.brokers[b as usize];
        let Role::Leader(l) = &mut broker.role else {
            return;
        };
        if !l.is_leader() {
            return;
        }
        let acks = if acks_all { Acks::All } else { Acks::Leader };
        if l.check_append(acks).is_err() {
            return;
        }
        let epoch = l.leader_epoch();
        let start = broker.log.records.len();
        for _ in 0..n {
            broker.log.append(epoch);
        }
        let leo = broker.log.log_end();
        let effects = l.on_leader_append(leo, now);
        let mut immediate = None;
        if acks_all {
            self.next_produce += 1;
            let id = ProduceId(self.next_produce);
            self.waiting
                .insert(id, (start..leo as usize).map(|o| (o, epoch)).collect());
            immediate = l.wait_for_acks(id, leo, now + 30_000);
        }
        self.leader_effects(b, effects);
        if let Some(c) = immediate {
            self.complete(c);
        }
    }

    fn follow(&mut self, b: i32, max_records: usize) {
        let now = self.now;
        let broker_epoch = self.controller.registered[b as usize];
        let (me, leader_idx) = {
            let Role::Follower(f) = &self.brokers[b as usize].role else {
                return;
            };
            (b as usize, f.leader_id() as usize)
        };
        if me == leader_idx {
            return;
        }
        // Split borrows: the follower and its leader are different brokers.
        let (follower, leader) = if me < leader_idx {
            let (a, z) = self.brokers.split_at_mut(leader_idx);
            (&mut a[me], &mut z[0])
        } else {
            let (a, z) = self.brokers.split_at_mut(me);
            (&mut z[0], &mut a[leader_idx])
        };
        let Role::Follower(f) = &mut follower.role else {
            return;
        };
        let action = f.next_action(follower.log.cache.as_slice());
        let mut leader_effects = None;
        match action {
            FollowerAction::Truncate(t) => follower.log.truncate(t),
            FollowerAction::AwaitMetadata => {}
            FollowerAction::OffsetForLeaderEpoch {
                current_leader_epoch,
                leader_epoch,
            } => {
                let answer = match &leader.role {
                    Role::Leader(l) => l.check_leader_epoch(Some(current_leader_epoch)).map(|()| {
                        leader
                            .log
                            .cache
                            .end_offset_for(leader_epoch, leader.log.log_end())
                    }),
                    Role::Follower(_) => Err(ReplicaError::NotLeaderOrFollower),
                };
                let step = f.on_offset_for_leader_epoch(
                    current_leader_epoch,
                    answer,
                    follower.log.cache.as_slice(),
                    follower.log.log_end(),
                );
                if let Some(t) = step.truncate {
                    follower.log.truncate(t);
                }
            }
            FollowerAction::ListLeaderOffsets { .. } => {
                let step = f.on_leader_offsets(0, leader.log.log_end(), follower.log.log_end());
                if let Some(t) = step.truncate {
                    follower.log.truncate(t);
                }
            }
            FollowerAction::Fetch {
                fetch_offset,
                last_fetched_epoch,
                current_leader_epoch,
            } => {
                let answer = match &mut leader.role {
                    Role::Follower(_) => FetchAnswer::Error(ReplicaError::NotLeaderOrFollower),
                    Role::Leader(l) => {
                        let hw_before = l.high_watermark();
                        let fetch = FollowerFetch {
                            replica_id: b,
                            fetch_offset,
                            last_fetched_epoch,
                            current_leader_epoch: Some(current_leader_epoch),
                            broker_epoch,
                        };
                        match l.on_follower_fetch(fetch, leader.log.cache.as_slice(), now) {
                            Err(e) => FetchAnswer::Error(e),
                            Ok(FollowerFetchOutcome::Diverging(d)) => FetchAnswer::Diverging(d),
                            Ok(FollowerFetchOutcome::Read(effects)) => {
                                leader_effects = Some(effects);
                                assert_eq!(
                                    fetch_offset,
                                    follower.log.log_end(),
                                    "fetch from the log end"
                                );
                                let from = fetch_offset as usize;
                                let to = (from + max_records).min(leader.log.records.len());
                                for &e in &leader.log.records[from..to] {
                                    follower.log.append(e);
                                }
                                FetchAnswer::Records {
                                    high_watermark: hw_before,
                                }
                            }
                        }
                    }
                };
                let step = f.on_fetch_response(
                    fetch_offset,
                    current_leader_epoch,
                    answer,
                    follower.log.cache.as_slice(),
                    follower.log.log_end(),
                );
                if let Some(t) = step.truncate {
                    follower.log.truncate(t);
                }
            }
        }
        if let Some(e) = leader_effects {
            self.leader_effects(leader_idx as i32, e);
        }
    }

    fn restart(&mut self, b: i32) {
        let now = self.now;
        let c = &mut self.controller;
        if c.isr == BTreeSet::from([b]) {
            return; // the last ISR member: its shutdown would take the partition offline
        }
        // Controlled shutdown: out of the ISR, leadership moved to another ISR member.
        if c.isr.remove(&b) {
            c.partition_epoch += 1;
        }
        if c.leader == b {
            c.leader = *c.isr.iter().next().expect("another ISR member");
            c.leader_epoch += 1;
            c.partition_epoch += 1;
        }
        c.registered[b as usize] += 1;
        let status = BrokerStatus::alive(c.registered[b as usize]);
        let broker = &mut self.brokers[b as usize];
        let hw = broker.high_watermark();
        let lost = match &mut broker.role {
            // Its waiting produces go with the process: their producers see a disconnect.
            Role::Leader(l) => l.expire(i64::MAX),
            Role::Follower(_) => Vec::new(),
        };
        broker.role = Role::Follower(FollowerState::new(
            Self::follower_init(&self.controller, &broker.log, hw),
            broker.mode,
            broker.log.cache.as_slice(),
        ));
        for done in lost {
            let _ = self.waiting.remove(&done.id);
        }
        // Brokers acting as leaders see the new registration.
        for other in 0..BROKERS {
            if let Role::Leader(l) = &mut self.brokers[other as usize].role {
                let effects = l.on_broker_status(b, Some(status), now);
                self.leader_effects(other, effects);
            }
        }
    }

    fn controller_step(&mut self) {
        let Some((from, req)) = self.alter_queue.pop_front() else {
            return;
        };
        let c = &mut self.controller;
        let result = if from != c.leader || req.leader_epoch != c.leader_epoch {
            Err(AlterPartitionError::FencedLeaderEpoch)
        } else if req.partition_epoch != c.partition_epoch {
            Err(AlterPartitionError::InvalidUpdateVersion)
        } else if req.new_isr.iter().any(|m| {
            // KIP-903: a member added with a broker epoch from before its restart.
            !c.isr.contains(&m.broker_id)
                && m.broker_epoch != -1
                && m.broker_epoch != c.registered[m.broker_id as usize]
        }) {
            Err(AlterPartitionError::IneligibleReplica)
        } else {
            c.isr = req.new_isr.iter().map(|m| m.broker_id).collect();
            c.partition_epoch += 1;
            Ok(CommittedIsr {
                isr: c.isr.iter().copied().collect(),
                leader_epoch: c.leader_epoch,
                partition_epoch: c.partition_epoch,
            })
        };
        let now = self.now;
        if let Role::Leader(l) = &mut self.brokers[from as usize].role {
            let (outcome, effects) = l.on_alter_partition_response(req.id, result, now);
            if let AlterPartitionOutcome::Retry(again) = outcome {
                self.alter_queue.push_back((from, again));
            }
            self.leader_effects(from, effects);
        }
    }

    fn learn(&mut self, b: i32) {
        let now = self.now;
        let update = self.update();
        let leads = self.controller.leader == b;
        let broker = &mut self.brokers[b as usize];
        let hw = broker.high_watermark();
        let mut completions = Vec::new();
        let mut effects = None;
        let new_role = match &mut broker.role {
            Role::Leader(l)
                if l.is_leader() && (leads || update.leader_epoch > l.leader_epoch()) =>
            {
                if update.leader_epoch > l.leader_epoch() && leads {
                    broker.log.assign_epoch(update.leader_epoch);
                }
                match l.on_metadata(update, now) {
                    MetadataOutcome::Applied(e) => {
                        effects = Some(e);
                        None
                    }
                    MetadataOutcome::Stale => None,
                    MetadataOutcome::Resigned(done) => {
                        completions = done;
                        Some(Role::Follower(FollowerState::new(
                            Self::follower_init(&self.controller, &broker.log, hw),
                            broker.mode,
                            broker.log.cache.as_slice(),
                        )))
                    }
                }
            }
            Role::Leader(_) => None,
            Role::Follower(f) => {
                if leads {
                    if update.leader_epoch > f.leader_epoch() {
                        broker.log.assign_epoch(update.leader_epoch);
                        let init =
                            Self::leader_init(&self.controller, b, &broker.log, hw, self.min_isr);
                        let (l, e) = LeaderState::new(init, now);
                        effects = Some(e);
                        Some(Role::Leader(Box::new(l)))
                    } else {
                        None
                    }
                } else {
                    let _ = f.on_new_leader(
                        Self::follower_init(&self.controller, &broker.log, hw),
                        broker.log.cache.as_slice(),
                    );
                    None
                }
            }
        };
        if let Some(role) = new_role {
            broker.role = role;
        }
        for c in completions {
            self.complete(c);
        }
        if let Some(e) = effects {
            self.leader_effects(b, e);
        }
    }

    fn leader_effects(&mut self, b: i32, effects: Effects) {
        if let Some(req) = effects.alter_partition {
            self.alter_queue.push_back((b, req));
        }
        for c in effects.completed {
            self.complete(c);
        }
    }

    fn complete(&mut self, c: ProduceCompletion) {
        let records = self
            .waiting
            .remove(&c.id)
            .expect("each produce completes once");
        if c.result.is_ok() {
            self.acked.extend(records);
        }
    }

    fn check(&self) {
        for &(offset, epoch) in &self.acked {
            for &m in &self.controller.isr {
                assert_eq!(
                    self.brokers[m as usize].log.records.get(offset),
                    Some(&epoch),
                    "acknowledged record {offset} (epoch {epoch}) missing on ISR member {m}"
                );
            }
        }
        let leader_log = &self.brokers[self.controller.leader as usize].log;
        for (b, broker) in self.brokers.iter().enumerate() {
            let hw = broker.high_watermark().max(0) as usize;
            assert!(
                hw <= broker.log.records.len(),
                "broker {b}: HW {hw} above its log end"
            );
            for o in 0..hw {
                assert_eq!(
                    leader_log.records.get(o),
                    Some(&broker.log.records[o]),
                    "broker {b} holds below its HW {hw} a record at {o} the leader does not"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn acknowledged_records_survive_clean_elections_and_replicas_agree_below_hw(
        modes in any::<[bool; 3]>(),
        min_isr in 1..3usize,
        events in proptest::collection::vec(event(), 0..200),
    ) {
        let mut cluster = Cluster::new(modes, min_isr);
        for e in &events {
            cluster.step(e);
        }
    }
}

/// Broker 0 leads epoch 1 and appends a record; broker 2 copies it. Broker 1 (with an
/// empty log) is elected for epoch 2; broker 2 learns it, broker 0 does not. Broker 1
/// is then shut down and broker 0 elected for epoch 3 with ISR {0, 2}. Meanwhile broker
/// 2, still following broker 1, truncates to broker 1's empty log. Broker 0 must not
/// count broker 2's log end from epoch 1, or it would acknowledge the record that
/// broker 2, an ISR member, no longer has.
#[test]
fn reelected_leader_that_missed_an_epoch_does_not_count_a_follower_that_truncated_meanwhile() {
    use Event::*;
    let events = [
        Produce(0, 1),
        Elect(1, false),
        Follow(2, 0),
        Follow(2, 1),
        Learn(1),
        Follow(2, 0),
        Learn(2),
        Elect(2, true),
        Learn(0),
        Follow(2, 0),
        Learn(2),
        Follow(2, 0),
        Follow(2, 1),
        // The leader learns that broker 2 has the record from its next fetch.
        Follow(2, 0),
    ];
    let mut cluster = Cluster::new([false; 3], 2);
    for e in &events {
        cluster.step(e);
    }
    assert_eq!(cluster.controller.isr, BTreeSet::from([0, 2]));
    assert_eq!(
        cluster.brokers[2].log.records,
        vec![1],
        "broker 2 copied the record again"
    );
    assert_eq!(
        cluster.acked,
        vec![(0, 1)],
        "acknowledged only after broker 2 had it again"
    );
}
