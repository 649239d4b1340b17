//! The consumer group protocol (KIP-848) driven step by step: simulated members
//! heartbeat with what they own, and the coordinator's answers move them.

use std::collections::{BTreeMap, BTreeSet};

use kavka_group::{
    CommitPartition, ConsumerGroupState, ConsumerHeartbeatRequest, ConsumerHeartbeatResponse,
    CoordinatorRecord, GroupConfig, GroupCoordinator, GroupError, OffsetCommitRequest, TopicId,
    TopicInfo, TopicPartitions,
};

const GROUP: &str = "g";
const TOPIC: &str = "t";

fn topic_id() -> TopicId {
    TopicId([9; 16])
}

fn topics(partitions: i32) -> BTreeMap<String, TopicInfo> {
    [(
        TOPIC.to_string(),
        TopicInfo {
            id: topic_id(),
            partitions,
        },
    )]
    .into_iter()
    .collect()
}

/// A client as the Java consumer behaves: it owns what the last assignment said
/// (revoking at once) and reports it on every heartbeat.
struct Client {
    id: String,
    instance: Option<String>,
    epoch: i32,
    owned: BTreeSet<i32>,
}

impl Client {
    fn new(id: &str) -> Self {
        Client {
            id: id.to_string(),
            instance: None,
            epoch: 0,
            owned: BTreeSet::new(),
        }
    }

    fn request(&self) -> ConsumerHeartbeatRequest {
        let joining = self.epoch == 0;
        ConsumerHeartbeatRequest {
            group_id: GROUP.to_string(),
            member_id: self.id.clone(),
            member_epoch: self.epoch,
            instance_id: self.instance.clone(),
            rebalance_timeout_ms: if joining { 300_000 } else { -1 },
            subscribed_topic_names: joining.then(|| vec![TOPIC.to_string()]),
            owned_partitions: Some(if self.owned.is_empty() {
                vec![]
            } else {
                vec![TopicPartitions {
                    topic_id: topic_id(),
                    partitions: self.owned.iter().copied().collect(),
                }]
            }),
            client_id: self.id.clone(),
            client_host: "/127.0.0.1".to_string(),
            api_version: 1,
            ..Default::default()
        }
    }

    fn heartbeat(
        &mut self,
        c: &mut GroupCoordinator,
        ts: &BTreeMap<String, TopicInfo>,
        now: i64,
        log: &mut Vec<CoordinatorRecord>,
    ) -> ConsumerHeartbeatResponse {
        let (r, effects) = c.consumer_heartbeat(self.request(), ts, now);
        log.extend(effects.records);
        if r.error.is_none() {
            self.epoch = r.member_epoch;
            if let Some(a) = &r.assignment {
                self.owned = a
                    .iter()
                    .flat_map(|tp| tp.partitions.iter().copied())
                    .collect();
            }
        }
        r
    }
}

fn coordinator() -> GroupCoordinator {
    GroupCoordinator::new(GroupConfig::default(), 1)
}

/// No partition may be owned by two clients at any moment.
fn assert_disjoint(clients: &[Client]) {
    let mut seen = BTreeSet::new();
    for cl in clients {
        for p in &cl.owned {
            assert!(seen.insert(*p), "partition {p} owned twice");
        }
    }
}

/// Heartbeats every client in turn until the group is stable, checking after each step.
fn settle(
    c: &mut GroupCoordinator,
    clients: &mut [Client],
    ts: &BTreeMap<String, TopicInfo>,
    now: &mut i64,
    log: &mut Vec<CoordinatorRecord>,
) {
    for _ in 0..20 {
        for i in 0..clients.len() {
            *now += 1000;
            let r = clients[i].heartbeat(c, ts, *now, log);
            assert_eq!(r.error, None);
            assert_disjoint(clients);
        }
        if c.consumer_group(GROUP).map(|g| g.state()) == Some(ConsumerGroupState::Stable) {
            return;
        }
    }
    panic!("group did not settle");
}

fn sizes(clients: &[Client]) -> Vec<usize> {
    let mut v: Vec<usize> = clients.iter().map(|c| c.owned.len()).collect();
    v.sort();
    v
}

#[test]
fn a_joining_member_gets_every_partition_at_epoch_two() {
    let mut c = coordinator();
    let mut log = Vec::new();
    let mut m = Client::new("m0");
    let r = m.heartbeat(&mut c, &topics(3), 0, &mut log);
    assert_eq!(r.error, None);
    // A new group is at epoch 1 (as in Kafka 4.4); the first subscription bumps it.
    assert_eq!(r.member_epoch, 2);
    assert_eq!(r.heartbeat_interval_ms, 5000);
    assert_eq!(m.owned, [0, 1, 2].into_iter().collect());
    assert_eq!(
        c.consumer_group(GROUP).map(|g| g.state()),
        Some(ConsumerGroupState::Stable)
    );
}

#[test]
fn one_to_four_members_split_three_partitions_without_sharing() {
    let expected = [vec![3], vec![1, 2], vec![1, 1, 1], vec![0, 1, 1, 1]];
    for n in 1..=4 {
        let mut c = coordinator();
        let (ts, mut now, mut log) = (topics(3), 0, Vec::new());
        let mut clients: Vec<Client> = (0..n).map(|i| Client::new(&format!("m{i}"))).collect();
        settle(&mut c, &mut clients, &ts, &mut now, &mut log);
        assert_eq!(sizes(&clients), expected[n - 1], "{n} members");
    }
}

#[test]
fn a_new_member_waits_until_the_old_owner_revoked() {
    let mut c = coordinator();
    let (ts, mut log) = (topics(3), Vec::new());
    let mut a = Client::new("a");
    a.heartbeat(&mut c, &ts, 0, &mut log);
    assert_eq!(a.owned.len(), 3);
    let mut b = Client::new("b");
    let r = b.heartbeat(&mut c, &ts, 10, &mut log);
    // b is in the new epoch but gets nothing a still holds.
    assert_eq!(r.member_epoch, 3);
    assert!(b.owned.is_empty());
    // a is asked to revoke one partition and stays at epoch 2 until it does.
    let r = a.heartbeat(&mut c, &ts, 20, &mut log);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(a.owned.len(), 2);
    let gone: Vec<i32> = (0..3).filter(|p| !a.owned.contains(p)).collect();
    assert_disjoint(&[a, b]);
    let mut a2 = Client::new("a");
    a2.epoch = 2;
    a2.owned = (0..3).filter(|p| !gone.contains(p)).collect();
    let r = a2.heartbeat(&mut c, &ts, 30, &mut log);
    assert_eq!(r.member_epoch, 3);
    let mut b = Client {
        id: "b".into(),
        instance: None,
        epoch: 3,
        owned: BTreeSet::new(),
    };
    b.heartbeat(&mut c, &ts, 40, &mut log);
    assert_eq!(b.owned.iter().copied().collect::<Vec<_>>(), gone);
    assert_eq!(
        c.consumer_group(GROUP).map(|g| g.state()),
        Some(ConsumerGroupState::Stable)
    );
}

#[test]
fn a_member_that_leaves_has_its_partitions_reassigned() {
    let mut c = coordinator();
    let (ts, mut now, mut log) = (topics(3), 0, Vec::new());
    let mut clients: Vec<Client> = (0..3).map(|i| Client::new(&format!("m{i}"))).collect();
    settle(&mut c, &mut clients, &ts, &mut now, &mut log);
    let mut leaving = clients.remove(0);
    leaving.epoch = -1;
    let r = leaving.heartbeat(&mut c, &ts, now, &mut log);
    assert_eq!(r.error, None);
    assert_eq!(r.member_epoch, -1);
    settle(&mut c, &mut clients, &ts, &mut now, &mut log);
    assert_eq!(sizes(&clients), vec![1, 2]);
}

#[test]
fn a_silent_member_is_removed_after_the_session_timeout() {
    let mut c = coordinator();
    let (ts, mut now, mut log) = (topics(3), 0, Vec::new());
    let mut clients: Vec<Client> = (0..2).map(|i| Client::new(&format!("m{i}"))).collect();
    settle(&mut c, &mut clients, &ts, &mut now, &mut log);
    let mut survivor = clients.remove(1);
    // m1 keeps heartbeating; m0 falls silent.
    for _ in 0..50 {
        now += 1000;
        survivor.heartbeat(&mut c, &ts, now, &mut log);
        log.extend(c.tick(now).records);
    }
    let group = c.consumer_group(GROUP).expect("group");
    assert!(group.member("m0").is_none());
    assert_eq!(survivor.owned.len(), 3);
    assert_eq!(group.state(), ConsumerGroupState::Stable);
}

#[test]
fn stale_or_unknown_members_are_fenced() {
    let mut c = coordinator();
    let (ts, mut log) = (topics(3), Vec::new());
    let mut m = Client::new("m0");
    m.heartbeat(&mut c, &ts, 0, &mut log);
    let mut ahead = Client::new("m0");
    ahead.epoch = 7;
    let r = ahead.heartbeat(&mut c, &ts, 1, &mut log);
    assert_eq!(r.error, Some(GroupError::FencedMemberEpoch));
    let mut stranger = Client::new("nobody");
    stranger.epoch = 1;
    let r = stranger.heartbeat(&mut c, &ts, 2, &mut log);
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
    // Commits need the current epoch too.
    let commit = |epoch| OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id: epoch,
        member_id: "m0".into(),
        group_instance_id: None,
        offsets: vec![CommitPartition {
            topic: TOPIC.into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: None,
        }],
    };
    let (results, _) = c.commit_offsets(commit(1), 3);
    assert_eq!(results[0].error, Some(GroupError::StaleMemberEpoch));
    let (results, records) = c.commit_offsets(commit(2), 4);
    assert_eq!(results[0].error, None);
    assert_eq!(records.len(), 1);
    assert_eq!(
        c.validate_offset_fetch(GROUP, Some("m0"), 0),
        Err(GroupError::StaleMemberEpoch)
    );
    assert_eq!(c.validate_offset_fetch(GROUP, None, -1), Ok(()));
}

#[test]
fn a_static_member_rejoining_under_a_new_id_keeps_its_partitions() {
    let mut c = coordinator();
    let (ts, mut now, mut log) = (topics(3), 0, Vec::new());
    let mut clients: Vec<Client> = (0..2).map(|i| Client::new(&format!("m{i}"))).collect();
    for (i, cl) in clients.iter_mut().enumerate() {
        cl.instance = Some(format!("i{i}"));
    }
    settle(&mut c, &mut clients, &ts, &mut now, &mut log);
    let epoch = c.consumer_group(GROUP).map(|g| g.group_epoch());
    let mut old = clients.remove(0);
    let kept = old.owned.clone();
    old.epoch = -2;
    let r = old.heartbeat(&mut c, &ts, now, &mut log);
    assert_eq!(r.member_epoch, -2);
    // Recorded as Kafka records it: epoch -2, the kept partitions' epochs reset to 0.
    let Some(CoordinatorRecord::ConsumerGroupCurrentMemberAssignment { value: Some(v), .. }) =
        log.last()
    else {
        panic!("{:?}", log.last());
    };
    assert_eq!(v.member_epoch, -2);
    let epochs: Vec<i32> = v
        .assigned_partitions
        .iter()
        .flat_map(|tp| tp.assignment_epochs.clone().unwrap_or_default())
        .collect();
    assert_eq!(epochs, vec![0; kept.len()]);
    // Another id may not take the instance while it is held.
    let mut thief = Client::new("x");
    thief.instance = Some("i1".into());
    let r = thief.heartbeat(&mut c, &ts, now, &mut log);
    assert_eq!(r.error, Some(GroupError::UnreleasedInstanceId));
    let mut back = Client::new("m0-restarted");
    back.instance = Some("i0".into());
    let r = back.heartbeat(&mut c, &ts, now + 10, &mut log);
    assert_eq!(r.error, None);
    assert_eq!(back.owned, kept);
    assert_eq!(c.consumer_group(GROUP).map(|g| g.group_epoch()), epoch);
}

#[test]
fn replaying_the_records_restores_members_and_epochs() {
    let mut c = coordinator();
    let (ts, mut now, mut log) = (topics(3), 0, Vec::new());
    let mut clients: Vec<Client> = (0..2).map(|i| Client::new(&format!("m{i}"))).collect();
    settle(&mut c, &mut clients, &ts, &mut now, &mut log);
    let mut restarted = coordinator();
    for r in log {
        let (k, v) = r.encode();
        let decoded = CoordinatorRecord::decode(&k, v.as_deref()).expect("decodes");
        restarted.replay(decoded, now);
    }
    let before = c.consumer_group(GROUP).expect("group");
    let after = restarted.consumer_group(GROUP).expect("group");
    assert_eq!(after.group_epoch(), before.group_epoch());
    assert_eq!(after.assignment_epoch(), before.assignment_epoch());
    for m in before.members() {
        let r = after.member(m.member_id()).expect("member");
        assert_eq!(r.member_epoch(), m.member_epoch());
        assert_eq!(r.assigned(), m.assigned());
        assert_eq!(
            after.target_of(m.member_id()),
            before.target_of(m.member_id())
        );
    }
    // Right after the restart (no heartbeat yet) the group still counts as subscribed.
    let (deleted, _) = restarted.delete_offsets(GROUP, &[(TOPIC.to_string(), vec![0])]);
    assert_eq!(
        deleted.partitions[0].error,
        Some(GroupError::GroupSubscribedToTopic)
    );
    // Members carry on with their epochs after the restart, with no epoch bump.
    let epoch = restarted.consumer_group(GROUP).map(|g| g.group_epoch());
    for cl in clients.iter_mut() {
        let r = cl.heartbeat(&mut restarted, &ts, now + 1, &mut Vec::new());
        assert_eq!(r.error, None);
    }
    assert_eq!(
        restarted.consumer_group(GROUP).map(|g| g.group_epoch()),
        epoch
    );
}

#[test]
fn consumer_groups_are_listed_with_their_type() {
    let mut c = coordinator();
    let mut m = Client::new("m0");
    m.heartbeat(&mut c, &topics(1), 0, &mut Vec::new());
    let listed = c.list_groups(&[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].group_type, "consumer");
    assert_eq!(listed[0].state, "Stable");
    let described = c.describe_groups(&[GROUP.to_string()]);
    assert_eq!(described[0].error, Some(GroupError::GroupIdNotFound));
    let (deleted, _) = c.delete_groups(&[GROUP.to_string()]);
    assert_eq!(deleted[0].error, Some(GroupError::NonEmptyGroup));
}

#[test]
fn new_partitions_bump_the_group_epoch_and_are_assigned() {
    let mut c = coordinator();
    let (mut now, mut log) = (0, Vec::new());
    let mut clients: Vec<Client> = (0..2).map(|i| Client::new(&format!("m{i}"))).collect();
    settle(&mut c, &mut clients, &topics(2), &mut now, &mut log);
    let epoch = c
        .consumer_group(GROUP)
        .map(|g| g.group_epoch())
        .unwrap_or(0);
    settle(&mut c, &mut clients, &topics(4), &mut now, &mut log);
    assert!(
        c.consumer_group(GROUP)
            .map(|g| g.group_epoch())
            .unwrap_or(0)
            > epoch
    );
    assert_eq!(sizes(&clients), vec![2, 2]);
}

#[test]
fn a_regex_subscription_takes_every_matching_topic() {
    let mut c = coordinator();
    let mut ts = topics(1);
    for (name, b) in [("t-two", 2u8), ("other", 3u8)] {
        ts.insert(
            name.to_string(),
            TopicInfo {
                id: TopicId([b; 16]),
                partitions: 1,
            },
        );
    }
    let mut req = Client::new("m0").request();
    req.subscribed_topic_names = None;
    req.subscribed_topic_regex = Some("t.*".to_string());
    let (r, _) = c.consumer_heartbeat(req.clone(), &ts, 0);
    assert_eq!(r.error, None);
    let topics: BTreeSet<TopicId> = r
        .assignment
        .unwrap_or_default()
        .iter()
        .map(|tp| tp.topic_id)
        .collect();
    assert_eq!(topics, [topic_id(), TopicId([2; 16])].into_iter().collect());
    req.member_id = "m1".into();
    req.subscribed_topic_regex = Some("(".to_string());
    let (r, _) = c.consumer_heartbeat(req, &ts, 1);
    assert_eq!(r.error, Some(GroupError::InvalidRegularExpression));
}

#[test]
fn the_range_assignor_is_used_when_members_ask_for_it() {
    let mut c = coordinator();
    let ts = topics(3);
    let mut log = Vec::new();
    let mut unknown = Client::new("m0").request();
    unknown.server_assignor = Some("sticky".into());
    let (r, _) = c.consumer_heartbeat(unknown, &ts, 0);
    assert_eq!(r.error, Some(GroupError::UnsupportedAssignor));
    for (i, id) in ["a", "b"].iter().enumerate() {
        let mut req = Client::new(id).request();
        req.server_assignor = Some("range".into());
        let (r, effects) = c.consumer_heartbeat(req, &ts, i as i64);
        assert_eq!(r.error, None);
        log.extend(effects.records);
    }
    let described = c.describe_consumer_groups(&[GROUP.to_string()], &ts);
    assert_eq!(described[0].assignor_name, "range");
    let target = |m: &str| {
        c.consumer_group(GROUP)
            .and_then(|g| g.target_of(m).cloned())
            .unwrap_or_default()
    };
    assert_eq!(target("a")[&topic_id()], [0, 1].into_iter().collect());
    assert_eq!(target("b")[&topic_id()], [2].into_iter().collect());
}

#[test]
fn a_member_that_does_not_revoke_in_time_is_removed() {
    let mut c = coordinator();
    let (ts, mut log) = (topics(2), Vec::new());
    let mut a = Client::new("a");
    let mut join = a.request();
    join.rebalance_timeout_ms = 10_000;
    let (r, _) = c.consumer_heartbeat(join, &ts, 0);
    a.epoch = r.member_epoch;
    a.owned = [0, 1].into_iter().collect();
    let mut b = Client::new("b");
    b.heartbeat(&mut c, &ts, 100, &mut log);
    // a is asked to revoke but never reports it; it keeps heartbeating with the old set.
    for t in 1..=15 {
        let now = t * 1000;
        let (r, _) = c.consumer_heartbeat(a.request(), &ts, now);
        if r.error.is_some() {
            assert_eq!(r.error, Some(GroupError::UnknownMemberId));
            return;
        }
        b.heartbeat(&mut c, &ts, now, &mut log);
        c.tick(now);
    }
    panic!("the member was never removed");
}

#[test]
fn a_group_id_serves_one_protocol_while_it_has_members() {
    let mut c = coordinator();
    let mut m = Client::new("m0");
    m.heartbeat(&mut c, &topics(1), 0, &mut Vec::new());
    let join = kavka_group::JoinGroupRequest {
        group_id: GROUP.into(),
        member_id: String::new(),
        group_instance_id: None,
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![kavka_group::JoinProtocol {
            name: "range".into(),
            metadata: vec![],
        }],
        client_id: "classic".into(),
        client_host: "/127.0.0.1".into(),
        api_version: 9,
        reason: None,
    };
    let effects = c.join_group(kavka_group::RequestId(1), join, 1);
    let answered = effects.completions.iter().any(|done| {
        matches!(&done.response, kavka_group::GroupResponse::Join(r)
            if r.error == Some(GroupError::InconsistentGroupProtocol))
    });
    assert!(answered, "{effects:?}");
    // Offsets of subscribed topics stay while members consume them.
    let (r, _) = c.delete_offsets(GROUP, &[(TOPIC.to_string(), vec![0])]);
    assert_eq!(
        r.partitions[0].error,
        Some(GroupError::GroupSubscribedToTopic)
    );
}

#[test]
fn an_empty_group_without_offsets_is_swept_away() {
    let mut c = coordinator();
    let mut m = Client::new("m0");
    m.heartbeat(&mut c, &topics(1), 0, &mut Vec::new());
    m.epoch = -1;
    m.heartbeat(&mut c, &topics(1), 1, &mut Vec::new());
    assert_eq!(
        c.consumer_group(GROUP).map(|g| g.state()),
        Some(ConsumerGroupState::Empty)
    );
    let records = c.tick(2).records;
    assert!(c.consumer_group(GROUP).is_none());
    assert!(records.iter().any(|r| matches!(
        r,
        CoordinatorRecord::ConsumerGroupMetadata { value: None, .. }
    )));
}
