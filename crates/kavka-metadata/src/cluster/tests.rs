//! Scenarios of the cluster logic, stepped with explicit time: the harness applies
//! every record a decision returns, as committing through the quorum would.

use uuid::Uuid;

use super::*;
use crate::controller::{create_topic, NewTopic};
use crate::{MetadataImage, MetadataRecord, PartitionImage};

const TIMEOUT: i64 = 9_000;

struct Cluster {
    image: MetadataImage,
    control: ClusterControl,
    epochs: BTreeMap<i32, i64>,
    now: i64,
}

impl Cluster {
    fn new(config: ControlConfig) -> Self {
        Self {
            image: MetadataImage::default(),
            control: ClusterControl::new(config),
            epochs: BTreeMap::new(),
            now: 1_000,
        }
    }

    /// Brokers 1..=n registered, caught up and unfenced.
    fn with_brokers(n: i32, config: ControlConfig) -> Self {
        let mut c = Self::new(config);
        for id in 1..=n {
            c.register(id).unwrap();
        }
        for id in 1..=n {
            let reply = c.heartbeat(id, false, false).unwrap();
            assert!(
                reply.is_caught_up && !reply.is_fenced,
                "broker {id}: {reply:?}"
            );
        }
        c
    }

    fn apply(&mut self, records: &[MetadataRecord]) {
        self.image.apply_all(records).expect("records apply");
    }

    fn register(&mut self, id: i32) -> Result<i64, ControlError> {
        self.register_incarnation(id, Uuid::new_v4())
    }

    fn register_incarnation(&mut self, id: i32, incarnation: Uuid) -> Result<i64, ControlError> {
        let req = Registration {
            broker_id: id,
            incarnation_id: incarnation,
            host: "127.0.0.1".into(),
            port: 9000 + id,
            rack: None,
        };
        let (epoch, records) = self.control.register(&self.image, &req, self.now)?;
        self.apply(&records);
        self.epochs.insert(id, epoch);
        Ok(epoch)
    }

    fn heartbeat(
        &mut self,
        id: i32,
        fence: bool,
        shutdown: bool,
    ) -> Result<HeartbeatReply, ControlError> {
        let req = Heartbeat {
            broker_id: id,
            broker_epoch: self.epochs[&id],
            current_metadata_offset: self.image.next_offset(),
            want_fence: fence,
            want_shutdown_now: shutdown,
        };
        let (reply, records) = self.control.heartbeat(&self.image, &req, self.now)?;
        self.apply(&records);
        Ok(reply)
    }

    /// Time passes by `ms` while `alive` brokers heartbeat every second.
    fn run(&mut self, ms: i64, alive: &[i32]) {
        let end = self.now + ms;
        while self.now < end {
            self.now += 1_000;
            for &id in alive {
                self.heartbeat(id, false, false).unwrap();
            }
            let records = self.control.tick(&self.image, self.now);
            self.apply(&records);
        }
    }

    fn topic(&mut self, name: &str, partitions: i32, rf: i16) -> Uuid {
        let brokers: Vec<i32> = self.image.brokers().map(|b| b.broker_id).collect();
        let t = NewTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: rf,
            assignments: None,
            configs: Default::default(),
        };
        let records = create_topic(&self.image, &t, &brokers).unwrap();
        self.apply(&records);
        self.image.topic(name).unwrap().topic_id
    }

    fn partition(&self, topic: &str, index: i32) -> PartitionImage {
        self.image.topic(topic).unwrap().partitions[&index].clone()
    }

    /// The leader proposes `new_isr`, knowing each member's current broker epoch.
    fn alter(&mut self, topic: &str, index: i32, new_isr: Vec<i32>) -> AlterPartitionResult {
        let members = new_isr
            .into_iter()
            .map(|broker_id| IsrMember {
                broker_id,
                broker_epoch: self.epochs[&broker_id],
            })
            .collect();
        self.alter_members(topic, index, members)
    }

    fn alter_members(
        &mut self,
        topic: &str,
        index: i32,
        new_isr: Vec<IsrMember>,
    ) -> AlterPartitionResult {
        let p = self.partition(topic, index);
        let req = AlterPartition {
            broker_id: p.leader,
            broker_epoch: self.epochs[&p.leader],
            topic_id: self.image.topic(topic).unwrap().topic_id,
            partition: index,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            new_isr,
        };
        let (result, record) = self.control.alter_partition(&self.image, &req);
        self.apply(&record.into_iter().collect::<Vec<_>>());
        result
    }
}

#[test]
fn a_new_broker_is_fenced_until_it_has_applied_its_registration() {
    let mut c = Cluster::new(ControlConfig::default());
    let epoch = c.register(1).unwrap();
    assert!(c.image.broker(1).unwrap().fenced);
    let behind = Heartbeat {
        broker_id: 1,
        broker_epoch: epoch,
        current_metadata_offset: epoch as u64,
        want_fence: false,
        want_shutdown_now: false,
    };
    let (reply, records) = c.control.heartbeat(&c.image, &behind, c.now).unwrap();
    assert!(records.is_empty() && reply.is_fenced && !reply.is_caught_up);
    let reply = c.heartbeat(1, false, false).unwrap();
    assert!(reply.is_caught_up && !reply.is_fenced);
    assert!(!c.image.broker(1).unwrap().fenced);
}

#[test]
fn a_second_live_process_with_the_same_id_is_refused_until_the_first_is_fenced() {
    let mut c = Cluster::with_brokers(2, ControlConfig::default());
    assert_eq!(
        c.register(1),
        Err(ControlError::DuplicateBrokerRegistration)
    );
    c.run(TIMEOUT + 2_000, &[2]);
    assert!(c.image.broker(1).unwrap().fenced);
    assert!(c.register(1).is_ok());
}

#[test]
fn a_restarted_broker_gets_a_new_epoch_and_old_heartbeats_are_stale() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.topic("t", 3, 3);
    let old = c.epochs[&2];
    let incarnation = Uuid::new_v4();
    // Broker 2 went silent, was fenced, and comes back as a new process.
    c.run(TIMEOUT + 2_000, &[1, 3]);
    let new = c.register_incarnation(2, incarnation).unwrap();
    assert!(new > old);
    let stale = Heartbeat {
        broker_id: 2,
        broker_epoch: old,
        current_metadata_offset: c.image.next_offset(),
        want_fence: false,
        want_shutdown_now: false,
    };
    assert_eq!(
        c.control.heartbeat(&c.image, &stale, c.now).map(|r| r.0),
        Err(ControlError::StaleBrokerEpoch)
    );
}

#[test]
fn a_crashed_broker_is_fenced_at_once_but_one_heard_from_recently_is_not() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.topic("t", 3, 3);
    // Heard from within the grace: a probe that failed proves nothing.
    assert!(c
        .control
        .fence_gone(&c.image, 1, 2_500, c.now + 1_000)
        .is_empty());
    c.run(3_000, &[2, 3]);
    assert_eq!(c.control.silent_for(1, c.now), Some(3_000));
    let records = c.control.fence_gone(&c.image, 1, 2_500, c.now);
    c.apply(&records);
    assert!(
        c.image.broker(1).unwrap().fenced,
        "well before the session timeout"
    );
    for i in 0..3 {
        let p = c.partition("t", i);
        assert_ne!(p.leader, 1, "partition {i}");
        assert!(!p.isr.contains(&1), "partition {i} ISR {:?}", p.isr);
    }
    // Already fenced: nothing more to do.
    assert!(c.control.fence_gone(&c.image, 1, 2_500, c.now).is_empty());
    assert!(c.control.fence_gone(&c.image, 9, 2_500, c.now).is_empty());
}

#[test]
fn a_silent_leader_is_fenced_and_its_partitions_move_to_isr_members() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.topic("t", 3, 3);
    let before: Vec<PartitionImage> = (0..3).map(|i| c.partition("t", i)).collect();
    c.run(TIMEOUT - 1_000, &[2, 3]);
    assert!(
        !c.image.broker(1).unwrap().fenced,
        "fenced before the timeout"
    );
    c.run(2_000, &[2, 3]);
    assert!(c.image.broker(1).unwrap().fenced);
    for i in 0..3 {
        let p = c.partition("t", i);
        assert_ne!(p.leader, 1, "partition {i}");
        assert!(!p.isr.contains(&1), "partition {i} ISR {:?}", p.isr);
        let moved = before[i as usize].leader == 1;
        assert_eq!(
            p.leader_epoch,
            before[i as usize].leader_epoch + i32::from(moved)
        );
        assert!(p.partition_epoch > before[i as usize].partition_epoch);
    }
}

#[test]
fn the_last_isr_member_keeps_its_place_and_leads_again_when_it_returns() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.topic("t", 1, 3);
    let leader = c.partition("t", 0).leader;
    assert_eq!(c.alter("t", 0, vec![leader]).error, None);
    let others: Vec<i32> = (1..=3).filter(|&b| b != leader).collect();
    c.run(TIMEOUT + 2_000, &others);
    let p = c.partition("t", 0);
    assert_eq!(
        (p.leader, p.isr.clone()),
        (-1, vec![leader]),
        "no unclean leader"
    );
    // The broker comes back: a new incarnation, caught up, leads again.
    c.register(leader).unwrap();
    c.heartbeat(leader, false, false).unwrap();
    let p = c.partition("t", 0);
    assert_eq!((p.leader, p.isr), (leader, vec![leader]));
}

#[test]
fn unclean_election_picks_a_live_replica_outside_the_isr_when_enabled() {
    let config = ControlConfig {
        unclean_leader_election: true,
        ..ControlConfig::default()
    };
    let mut c = Cluster::with_brokers(3, config);
    c.topic("t", 1, 3);
    let leader = c.partition("t", 0).leader;
    c.alter("t", 0, vec![leader]);
    let others: Vec<i32> = (1..=3).filter(|&b| b != leader).collect();
    c.run(TIMEOUT + 2_000, &others);
    let p = c.partition("t", 0);
    assert!(others.contains(&p.leader));
    assert_eq!(p.isr, vec![p.leader]);
}

/// Sets `key=value` on a config resource, as IncrementalAlterConfigs commits it.
fn set_config(c: &mut Cluster, resource: crate::ConfigResource, key: &str, value: &str) {
    c.apply(&[MetadataRecord::Config {
        resource,
        name: key.into(),
        value: Some(value.into()),
    }]);
}

#[test]
fn the_topic_setting_decides_unclean_election_over_the_controllers_default() {
    // Off by default, on for topic `lossy`: it elects outside the ISR.
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.topic("lossy", 1, 3);
    let topic = crate::ConfigResource::Topic("lossy".into());
    set_config(&mut c, topic, "unclean.leader.election.enable", "true");
    let leader = c.partition("lossy", 0).leader;
    c.alter("lossy", 0, vec![leader]);
    let others: Vec<i32> = (1..=3).filter(|&b| b != leader).collect();
    c.run(TIMEOUT + 2_000, &others);
    let lossy = c.partition("lossy", 0);
    assert!(others.contains(&lossy.leader), "{lossy:?}");
    assert_eq!(lossy.isr, vec![lossy.leader]);

    // And the other way round: on for the cluster, off for one topic.
    let config = ControlConfig {
        unclean_leader_election: true,
        ..ControlConfig::default()
    };
    let mut c = Cluster::with_brokers(3, config);
    c.topic("safe", 1, 3);
    let topic = crate::ConfigResource::Topic("safe".into());
    set_config(&mut c, topic, "unclean.leader.election.enable", "false");
    let leader = c.partition("safe", 0).leader;
    c.alter("safe", 0, vec![leader]);
    let others: Vec<i32> = (1..=3).filter(|&b| b != leader).collect();
    c.run(TIMEOUT + 2_000, &others);
    assert_eq!(c.partition("safe", 0).leader, -1);
}

#[test]
fn enabling_unclean_election_on_a_topic_brings_its_offline_partition_back() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.topic("t", 1, 3);
    let leader = c.partition("t", 0).leader;
    c.alter("t", 0, vec![leader]);
    let others: Vec<i32> = (1..=3).filter(|&b| b != leader).collect();
    c.run(TIMEOUT + 2_000, &others);
    assert_eq!(c.partition("t", 0).leader, -1);
    // Nothing changes while the topic does not allow it.
    assert!(c.control.elect_unclean_where_allowed(&c.image).is_empty());
    // The cluster-wide dynamic default counts when the topic says nothing.
    set_config(
        &mut c,
        crate::ConfigResource::Broker(None),
        "unclean.leader.election.enable",
        "true",
    );
    let records = c.control.elect_unclean_where_allowed(&c.image);
    c.apply(&records);
    let p = c.partition("t", 0);
    assert!(others.contains(&p.leader), "{p:?}");
    assert_eq!(p.isr, vec![p.leader]);
    // A partition with a leader is left alone.
    assert!(c.control.elect_unclean_where_allowed(&c.image).is_empty());
}

#[test]
fn controlled_shutdown_moves_leadership_away_before_the_broker_may_exit() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.topic("t", 6, 3);
    let led_by_1 = (0..6).filter(|&i| c.partition("t", i).leader == 1).count();
    assert!(led_by_1 > 0);
    let reply = c.heartbeat(1, false, true).unwrap();
    assert!(reply.should_shut_down, "{reply:?}");
    for i in 0..6 {
        let p = c.partition("t", i);
        assert_ne!(p.leader, 1);
        assert!(!p.isr.contains(&1));
    }
    assert!(c.image.broker(1).unwrap().in_controlled_shutdown);
}

#[test]
fn alter_partition_is_checked_like_kafkas_controller() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    let id = c.topic("t", 1, 3);
    let p = c.partition("t", 0);
    let leader = p.leader;
    let follower = *p.replicas.iter().find(|&&r| r != leader).unwrap();
    let base = AlterPartition {
        broker_id: leader,
        broker_epoch: c.epochs[&leader],
        topic_id: id,
        partition: 0,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        new_isr: vec![IsrMember::without_epoch(leader)],
    };
    let check =
        |c: &Cluster, req: AlterPartition| c.control.alter_partition(&c.image, &req).0.error;
    assert_eq!(
        check(
            &c,
            AlterPartition {
                broker_epoch: -5,
                ..base.clone()
            }
        ),
        Some(ControlError::StaleBrokerEpoch)
    );
    assert_eq!(
        check(
            &c,
            AlterPartition {
                partition_epoch: 9,
                ..base.clone()
            }
        ),
        Some(ControlError::InvalidUpdateVersion)
    );
    assert_eq!(
        check(
            &c,
            AlterPartition {
                leader_epoch: p.leader_epoch - 1,
                ..base.clone()
            }
        ),
        Some(ControlError::FencedLeaderEpoch)
    );
    assert_eq!(
        check(
            &c,
            AlterPartition {
                broker_id: follower,
                broker_epoch: c.epochs[&follower],
                ..base.clone()
            }
        ),
        Some(ControlError::NotLeaderOrFollower)
    );
    assert_eq!(
        check(
            &c,
            AlterPartition {
                new_isr: vec![IsrMember::without_epoch(follower)],
                ..base.clone()
            }
        ),
        Some(ControlError::InvalidRequest(
            "the new ISR must contain the leader"
        ))
    );

    // Shrink, then try to add back a fenced follower, then add it back live.
    let shrunk = c.alter("t", 0, vec![leader]);
    assert_eq!(shrunk.error, None);
    assert_eq!(shrunk.partition_epoch, p.partition_epoch + 1);
    assert_eq!(
        shrunk.leader_epoch, p.leader_epoch,
        "an ISR change keeps the leader epoch"
    );
    c.heartbeat(follower, true, false).unwrap();
    assert_eq!(
        c.alter("t", 0, vec![leader, follower]).error,
        Some(ControlError::IneligibleReplica)
    );
    c.register(follower).unwrap();
    c.heartbeat(follower, false, false).unwrap();
    let grown = c.alter("t", 0, vec![leader, follower]);
    assert_eq!(grown.error, None);
    assert_eq!(c.partition("t", 0).isr, vec![leader, follower]);
}

#[test]
fn a_member_at_an_old_broker_epoch_is_an_ineligible_replica() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.topic("t", 1, 3);
    let p = c.partition("t", 0);
    let leader = p.leader;
    let follower = *p.replicas.iter().find(|&&r| r != leader).unwrap();
    assert_eq!(c.alter("t", 0, vec![leader]).error, None);
    // The follower restarts: the leader still holds the epoch of the fetches
    // from its earlier incarnation, which may have had records the new one lost.
    let old = c.epochs[&follower];
    let others: Vec<i32> = [1, 2, 3].into_iter().filter(|&b| b != follower).collect();
    c.run(TIMEOUT + 2_000, &others);
    let new = c.register(follower).unwrap();
    c.heartbeat(follower, false, false).unwrap();
    assert_ne!(old, new);
    let member = |broker_id, broker_epoch| IsrMember {
        broker_id,
        broker_epoch,
    };
    let leader_member = member(leader, c.epochs[&leader]);
    let before = c.partition("t", 0);
    assert_eq!(
        c.alter_members("t", 0, vec![leader_member, member(follower, old)])
            .error,
        Some(ControlError::IneligibleReplica)
    );
    assert_eq!(c.partition("t", 0), before, "a refusal changes nothing");
    // A leader that cannot tell the epoch (-1) is not checked, as in Kafka.
    let unknown = c.alter_members(
        "t",
        0,
        vec![leader_member, IsrMember::without_epoch(follower)],
    );
    assert_eq!(unknown.error, None);
    assert_eq!(c.alter("t", 0, vec![leader]).error, None);
    // Fetches from the new incarnation carry its current epoch.
    let grown = c.alter_members("t", 0, vec![leader_member, member(follower, new)]);
    assert_eq!(grown.error, None);
    assert!(c.partition("t", 0).isr.contains(&follower));
    // An epoch for a broker that is registered with another one is refused too,
    // also for the leader's own entry.
    assert_eq!(
        c.alter_members("t", 0, vec![member(leader, c.epochs[&leader] + 1)])
            .error,
        Some(ControlError::IneligibleReplica)
    );
}

#[test]
fn preferred_election_and_automatic_rebalance_bring_leaders_home() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    let id = c.topic("t", 3, 3);
    // Broker 1 restarts: its partitions move away while it is fenced.
    c.run(TIMEOUT + 2_000, &[2, 3]);
    c.register(1).unwrap();
    c.heartbeat(1, false, false).unwrap();
    let preferred_1: Vec<i32> = (0..3)
        .filter(|&i| c.partition("t", i).replicas[0] == 1)
        .collect();
    assert!(preferred_1.iter().all(|&i| c.partition("t", i).leader != 1));
    // Back in the ISR (the leader would propose it once caught up).
    for &i in &preferred_1 {
        let mut isr = c.partition("t", i).isr;
        isr.push(1);
        assert_eq!(c.alter("t", i, isr).error, None);
    }
    let first = preferred_1[0];
    assert!(c
        .control
        .elect_preferred(&c.image, id, first)
        .unwrap()
        .is_some());
    let records = c.control.rebalance_leaders(&c.image);
    c.apply(&records);
    for &i in &preferred_1 {
        assert_eq!(c.partition("t", i).leader, 1, "partition {i}");
    }
    assert_eq!(
        c.control.elect_preferred(&c.image, id, first),
        Err(ControlError::ElectionNotNeeded)
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        /// Time passes; these brokers (bit set over 1..=4) heartbeat.
        Run {
            alive: u8,
        },
        /// A broker restarts as a new process.
        Restart(i32),
        /// A broker asks for a controlled shutdown.
        Shutdown(i32),
        /// A partition's leader shrinks its ISR to itself, or grows it to all live replicas.
        Alter {
            partition: i32,
            grow: bool,
        },
        Rebalance,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => any::<u8>().prop_map(|alive| Step::Run { alive }),
            1 => (1..=4i32).prop_map(Step::Restart),
            1 => (1..=4i32).prop_map(Step::Shutdown),
            2 => (0..4i32, any::<bool>()).prop_map(|(partition, grow)| Step::Alter { partition, grow }),
            1 => Just(Step::Rebalance),
        ]
    }

    proptest! {
        #[test]
        fn leadership_stays_within_the_isr_and_epochs_never_go_back(steps in proptest::collection::vec(step(), 1..40)) {
            let mut c = Cluster::with_brokers(4, ControlConfig::default());
            c.topic("t", 4, 3);
            let mut last: Vec<(i32, i32)> = (0..4).map(|i| {
                let p = c.partition("t", i);
                (p.leader_epoch, p.partition_epoch)
            }).collect();
            for s in steps {
                match s {
                    Step::Run { alive } => {
                        let ids: Vec<i32> = (1..=4).filter(|b| alive & (1 << b) != 0).collect();
                        let ids: Vec<i32> = ids.into_iter().filter(|&b| !c.image.broker(b).is_some_and(|x| x.in_controlled_shutdown)).collect();
                        c.run(5_000, &ids);
                    }
                    Step::Restart(b) => {
                        if c.image.broker(b).is_some_and(|x| x.fenced || x.in_controlled_shutdown) {
                            c.register(b).unwrap();
                            c.heartbeat(b, false, false).unwrap();
                        }
                    }
                    Step::Shutdown(b) => {
                        if c.image.broker(b).is_some_and(|x| !x.fenced) {
                            let _ = c.heartbeat(b, false, true);
                        }
                    }
                    Step::Alter { partition, grow } => {
                        let p = c.partition("t", partition);
                        if p.leader >= 0 && c.image.broker(p.leader).is_some_and(|x| x.is_eligible()) {
                            let isr = if grow {
                                p.replicas.iter().copied().filter(|&r| r == p.leader || c.image.broker(r).is_some_and(|x| x.is_eligible())).collect()
                            } else {
                                vec![p.leader]
                            };
                            prop_assert_eq!(c.alter("t", partition, isr).error, None);
                        }
                    }
                    Step::Rebalance => {
                        let records = c.control.rebalance_leaders(&c.image);
                        c.apply(&records);
                    }
                }
                for i in 0..4 {
                    let p = c.partition("t", i);
                    prop_assert!(!p.isr.is_empty(), "partition {} has an empty ISR", i);
                    prop_assert!(p.isr.iter().all(|r| p.replicas.contains(r)));
                    if p.leader >= 0 {
                        prop_assert!(p.isr.contains(&p.leader), "leader {} outside ISR {:?}", p.leader, p.isr);
                        let b = c.image.broker(p.leader).unwrap();
                        prop_assert!(b.is_eligible(), "leader {} is fenced or shutting down", p.leader);
                    }
                    let (le, pe) = last[i as usize];
                    prop_assert!(p.leader_epoch >= le && p.partition_epoch >= pe);
                    last[i as usize] = (p.leader_epoch, p.partition_epoch);
                }
            }
        }
    }
}

impl Cluster {
    fn allocate(
        &mut self,
        id: i32,
        legacy_reserved: Option<i64>,
    ) -> Result<ProducerIdBlock, ControlError> {
        let req = AllocateProducerIds {
            broker_id: id,
            broker_epoch: self.epochs[&id],
            legacy_reserved,
        };
        let (block, record) = self.control.allocate_producer_ids(&self.image, &req)?;
        self.apply(&[record]);
        Ok(block)
    }
}

#[test]
fn producer_id_blocks_never_overlap_across_brokers() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    let mut blocks = Vec::new();
    for id in [1, 2, 3, 1, 2] {
        blocks.push(c.allocate(id, None).unwrap());
    }
    assert_eq!(blocks[0].first_id, 0);
    for pair in blocks.windows(2) {
        assert_eq!(pair[0].size, PRODUCER_ID_BLOCK_SIZE);
        assert_eq!(pair[1].first_id, pair[0].end(), "{pair:?}");
    }
    assert_eq!(c.image.next_producer_id(), 5 * PRODUCER_ID_BLOCK_SIZE);
}

#[test]
fn a_legacy_reservation_moves_every_later_block_above_it() {
    let mut c = Cluster::with_brokers(2, ControlConfig::default());
    assert_eq!(c.allocate(1, None).unwrap().first_id, 0);
    // Broker 2 handed out ids below 5000 itself before the upgrade.
    let upgraded = c.allocate(2, Some(5_000)).unwrap();
    assert_eq!(upgraded.first_id, 5_001);
    assert_eq!(c.allocate(1, None).unwrap().first_id, upgraded.end());
    // A reservation already passed changes nothing.
    let next = c.image.next_producer_id();
    assert_eq!(c.allocate(2, Some(10)).unwrap().first_id, next);
}

#[test]
fn producer_ids_go_only_to_a_registered_broker_at_its_epoch() {
    let c = Cluster::with_brokers(2, ControlConfig::default());
    let req = |broker_id, broker_epoch| AllocateProducerIds {
        broker_id,
        broker_epoch,
        legacy_reserved: None,
    };
    let stale = req(1, c.epochs[&1] + 1);
    assert_eq!(
        c.control
            .allocate_producer_ids(&c.image, &stale)
            .map(|r| r.0),
        Err(ControlError::StaleBrokerEpoch)
    );
    assert_eq!(
        c.control
            .allocate_producer_ids(&c.image, &req(9, 0))
            .map(|r| r.0),
        Err(ControlError::BrokerIdNotRegistered)
    );
    let negative = AllocateProducerIds {
        legacy_reserved: Some(-1),
        ..req(1, c.epochs[&1])
    };
    assert!(matches!(
        c.control.allocate_producer_ids(&c.image, &negative),
        Err(ControlError::InvalidRequest(_))
    ));
}

#[test]
fn an_exhausted_producer_id_space_is_refused() {
    let mut c = Cluster::with_brokers(1, ControlConfig::default());
    let near_end = c.allocate(1, Some(i64::MAX - PRODUCER_ID_BLOCK_SIZE - 1));
    assert_eq!(near_end.unwrap().end(), i64::MAX);
    assert_eq!(c.allocate(1, None), Err(ControlError::ProducerIdsExhausted));
    assert_eq!(
        c.allocate(1, Some(i64::MAX)),
        Err(ControlError::ProducerIdsExhausted)
    );
}

impl Cluster {
    /// A topic with one partition on exactly `replicas`, led by the first.
    fn placed(&mut self, name: &str, replicas: Vec<i32>) -> Uuid {
        let t = NewTopic {
            name: name.into(),
            num_partitions: 1,
            replication_factor: replicas.len() as i16,
            assignments: Some(vec![replicas]),
            configs: Default::default(),
        };
        let records = create_topic(&self.image, &t, &[]).unwrap();
        self.apply(&records);
        self.image.topic(name).unwrap().topic_id
    }

    fn reassign(&mut self, topic: &str, target: Option<Vec<i32>>) -> Result<(), ReassignmentError> {
        let request = Reassignment {
            topic: topic.into(),
            partition: 0,
            target,
        };
        let (mut results, records) = alter_partition_reassignments(&self.image, &[request], false);
        self.apply(&records);
        results.remove(0)
    }
}

fn replicas_of(p: &PartitionImage) -> (Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>) {
    (
        p.replicas.clone(),
        p.isr.clone(),
        p.adding_replicas.clone(),
        p.removing_replicas.clone(),
    )
}

#[test]
fn a_reassignment_adds_the_targets_first_and_completes_when_they_are_in_sync() {
    let mut c = Cluster::with_brokers(4, ControlConfig::default());
    c.placed("t", vec![1, 2, 3]);
    c.reassign("t", Some(vec![2, 3, 4])).unwrap();
    let p = c.partition("t", 0);
    assert_eq!(
        replicas_of(&p),
        (vec![2, 3, 4, 1], vec![1, 2, 3], vec![4], vec![1])
    );
    assert_eq!(
        (p.leader, p.leader_epoch),
        (1, 0),
        "adding replicas keeps the epoch"
    );

    // The new replica catches up: the leader's ISR expansion completes the move,
    // and the leader, being removed, hands over to the first target in the ISR.
    let result = c.alter("t", 0, vec![1, 2, 3, 4]);
    assert_eq!(result.error, None);
    let p = c.partition("t", 0);
    assert_eq!(
        replicas_of(&p),
        (vec![2, 3, 4], vec![2, 3, 4], vec![], vec![])
    );
    assert_eq!((p.leader, p.leader_epoch), (2, 1));
    assert_eq!(
        (result.leader, result.leader_epoch),
        (2, 1),
        "the old leader sees a new leader epoch and waits for metadata"
    );
    assert!(list_partition_reassignments(&c.image, None).is_empty());
}

#[test]
fn an_isr_change_short_of_the_target_keeps_the_reassignment_going() {
    let mut c = Cluster::with_brokers(5, ControlConfig::default());
    c.placed("t", vec![1, 2, 3]);
    c.reassign("t", Some(vec![1, 4, 5])).unwrap();
    c.alter("t", 0, vec![1, 2, 3, 4]);
    let p = c.partition("t", 0);
    assert!(p.is_reassigning());
    assert_eq!(p.isr, vec![1, 2, 3, 4]);
    c.alter("t", 0, vec![1, 2, 3, 4, 5]);
    let p = c.partition("t", 0);
    assert_eq!(
        replicas_of(&p),
        (vec![1, 4, 5], vec![1, 4, 5], vec![], vec![])
    );
    assert_eq!(p.leader, 1, "a leader that stays keeps leading");
    assert_eq!(
        p.leader_epoch, 1,
        "removed replicas are fenced by a new epoch"
    );
}

#[test]
fn reordering_or_shrinking_within_the_isr_completes_at_once() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.placed("t", vec![1, 2, 3]);
    c.reassign("t", Some(vec![3, 2, 1])).unwrap();
    let p = c.partition("t", 0);
    assert_eq!(
        replicas_of(&p),
        (vec![3, 2, 1], vec![1, 2, 3], vec![], vec![])
    );
    assert_eq!(p.leader, 1);
    c.reassign("t", Some(vec![3, 2])).unwrap();
    let p = c.partition("t", 0);
    assert_eq!(replicas_of(&p), (vec![3, 2], vec![2, 3], vec![], vec![]));
    assert_eq!(
        p.leader, 3,
        "the removed leader is replaced by the first target"
    );
    // The same assignment again changes nothing and is no error.
    let before = c.image.next_offset();
    c.reassign("t", Some(vec![3, 2])).unwrap();
    assert_eq!(c.image.next_offset(), before);
}

#[test]
fn cancelling_reverts_to_the_original_replicas() {
    let mut c = Cluster::with_brokers(6, ControlConfig::default());
    c.placed("t", vec![1, 2, 3]);
    c.reassign("t", Some(vec![4, 5, 6])).unwrap();
    c.alter("t", 0, vec![1, 2, 3, 4]);
    assert_eq!(
        list_partition_reassignments(&c.image, Some(&[("t".into(), vec![0, 7])])),
        vec![(
            "t".to_string(),
            vec![OngoingReassignment {
                partition: 0,
                replicas: vec![4, 5, 6, 1, 2, 3],
                adding_replicas: vec![4, 5, 6],
                removing_replicas: vec![1, 2, 3],
            }]
        )]
    );
    c.reassign("t", None).unwrap();
    let p = c.partition("t", 0);
    assert_eq!(
        replicas_of(&p),
        (vec![1, 2, 3], vec![1, 2, 3], vec![], vec![])
    );
    assert_eq!(p.leader, 1);
    assert_eq!(
        c.reassign("t", None).unwrap_err(),
        ReassignmentError::NoReassignmentInProgress
    );
    assert_eq!(ReassignmentError::NoReassignmentInProgress.code(), 85);
}

#[test]
fn reassignments_are_refused_with_kafkas_codes_and_messages() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.placed("t", vec![1, 2]);
    let refused = |c: &mut Cluster, topic: &str, partition: i32, target: Vec<i32>| {
        let request = Reassignment {
            topic: topic.into(),
            partition,
            target: Some(target),
        };
        let (results, records) = alter_partition_reassignments(&c.image, &[request], false);
        assert!(records.is_empty());
        let e = results[0].clone().unwrap_err();
        (e.code(), e.to_string())
    };
    assert_eq!(
        refused(&mut c, "nope", 0, vec![1]),
        (3, "Unable to find a topic named nope.".into())
    );
    assert_eq!(
        refused(&mut c, "t", 5, vec![1]),
        (3, "Unable to find partition t:5.".into())
    );
    assert_eq!(
        refused(&mut c, "t", 0, vec![1, 9]),
        (
            39,
            "The manual partition assignment includes broker 9, but no such broker is registered."
                .into()
        )
    );
    assert_eq!(
        refused(&mut c, "t", 0, vec![2, 2]),
        (
            39,
            "The manual partition assignment includes the broker 2 more than once.".into()
        )
    );
    assert_eq!(
        refused(&mut c, "t", 0, vec![]),
        (
            39,
            "The manual partition assignment includes an empty replica list.".into()
        )
    );
}

#[test]
fn one_refused_partition_does_not_stop_the_others() {
    let mut c = Cluster::with_brokers(3, ControlConfig::default());
    c.placed("a", vec![1]);
    c.placed("b", vec![2]);
    let requests = [
        Reassignment {
            topic: "a".into(),
            partition: 0,
            target: Some(vec![3]),
        },
        Reassignment {
            topic: "b".into(),
            partition: 0,
            target: None,
        },
    ];
    let (results, records) = alter_partition_reassignments(&c.image, &requests, false);
    assert_eq!(results[0], Ok(()));
    assert_eq!(results[1], Err(ReassignmentError::NoReassignmentInProgress));
    c.apply(&records);
    assert_eq!(c.partition("a", 0).replicas, vec![3, 1]);
}

#[test]
fn a_cancel_that_needs_an_unclean_election_is_refused_unless_enabled() {
    let mut c = Cluster::with_brokers(2, ControlConfig::default());
    let id = c.placed("t", vec![1]);
    c.reassign("t", Some(vec![2])).unwrap();
    // Only the adding replica is left in the ISR (as if 1 had been dropped).
    c.apply(&[MetadataRecord::PartitionChange {
        topic_id: id,
        partition: 0,
        leader: 2,
        isr: vec![2],
        replicas: None,
        adding_replicas: None,
        removing_replicas: None,
    }]);
    assert_eq!(
        c.reassign("t", None).unwrap_err().to_string(),
        "Unable to revert partition assignment for t:0 because it would require an unclean leader election."
    );
    c.apply(&[MetadataRecord::Config {
        resource: crate::ConfigResource::Topic("t".into()),
        name: "unclean.leader.election.enable".into(),
        value: Some("true".into()),
    }]);
    c.reassign("t", None).unwrap();
    let p = c.partition("t", 0);
    assert_eq!(replicas_of(&p), (vec![1], vec![1], vec![], vec![]));
    assert_eq!(p.leader, 1);
}
