//! A `__consumer_offsets` written by an older Kavka (records as serde JSON) still
//! loads: the records below are exactly what that code wrote for a classic group with
//! a committed offset and a consumer-protocol group with one member.

use std::collections::BTreeMap;

use kavka_group::*;

const TOPIC_ID: [u8; 16] = [9; 16];

fn id_json() -> String {
    format!("{TOPIC_ID:?}").replace(' ', "")
}

/// (key, value) as the old `CoordinatorRecord::encode` produced them.
fn old_log() -> Vec<(String, Option<String>)> {
    let id = id_json();
    vec![
        (
            r#"{"GroupMetadata":{"group":"classic"}}"#.into(),
            Some(
                r#"{"protocol_type":"consumer","generation":3,"protocol":"range","leader":"m-1","current_state_timestamp_ms":1000,"members":[{"member_id":"m-1","group_instance_id":null,"client_id":"c","client_host":"/127.0.0.1","rebalance_timeout_ms":300000,"session_timeout_ms":45000,"subscription":[0,1],"assignment":[2,3]}]}"#
                    .into(),
            ),
        ),
        (
            r#"{"OffsetCommit":{"group":"classic","topic":"t","partition":0}}"#.into(),
            Some(r#"{"offset":41,"leader_epoch":0,"metadata":"","commit_timestamp_ms":1100}"#.into()),
        ),
        (
            r#"{"OffsetCommit":{"group":"classic","topic":"t","partition":0}}"#.into(),
            Some(r#"{"offset":42,"leader_epoch":0,"metadata":"x","commit_timestamp_ms":1200}"#.into()),
        ),
        (
            r#"{"OffsetCommit":{"group":"classic","topic":"t","partition":1}}"#.into(),
            Some(r#"{"offset":7,"leader_epoch":0,"metadata":"","commit_timestamp_ms":1200}"#.into()),
        ),
        (
            r#"{"OffsetCommit":{"group":"classic","topic":"t","partition":1}}"#.into(),
            None,
        ),
        (
            r#"{"ConsumerGroup":{"group":"kip848"}}"#.into(),
            Some(format!(
                r#"{{"group_epoch":2,"assignment_epoch":2,"subscribed_topics":{{"t":{{"id":{id},"partitions":2}}}}}}"#
            )),
        ),
        (
            r#"{"ConsumerMember":{"group":"kip848","member_id":"A"}}"#.into(),
            Some(format!(
                r#"{{"instance_id":null,"rack_id":null,"client_id":"c","client_host":"/127.0.0.1","rebalance_timeout_ms":300000,"subscribed_topic_names":["t"],"subscribed_topic_regex":null,"server_assignor":null,"member_epoch":2,"previous_member_epoch":1,"state":"Stable","assigned":[{{"topic_id":{id},"partitions":[0,1]}}],"pending_revocation":[],"target":[{{"topic_id":{id},"partitions":[0,1]}}]}}"#
            )),
        ),
    ]
}

fn topics() -> BTreeMap<String, TopicInfo> {
    BTreeMap::from([(
        "t".to_string(),
        TopicInfo {
            id: TopicId(TOPIC_ID),
            partitions: 2,
        },
    )])
}

fn replay(log: &[(Vec<u8>, Option<Vec<u8>>)], now: i64) -> GroupCoordinator {
    let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
    for (k, v) in log {
        for record in CoordinatorRecord::decode_stored(k, v.as_deref()).expect("decodes") {
            c.replay(record, now);
        }
    }
    c
}

fn check_state(c: &mut GroupCoordinator, now: i64) {
    let classic = c.group("classic").expect("classic group");
    assert_eq!(classic.generation_id(), 3);
    assert_eq!(classic.state(), GroupState::Stable);
    assert_eq!(classic.protocol_name(), Some("range"));
    let offsets = c.fetch_offsets("classic", None).expect("offsets");
    let offsets: Vec<(i32, i64, &str)> = offsets
        .iter()
        .map(|o| (o.partition, o.offset, o.metadata.as_str()))
        .collect();
    assert_eq!(offsets, vec![(0, 42, "x")]);

    let group = c.consumer_group("kip848").expect("consumer group");
    assert_eq!((group.group_epoch(), group.assignment_epoch()), (2, 2));
    let m = group.member("A").expect("member");
    assert_eq!(m.member_epoch(), 2);
    assert_eq!(m.state(), MemberState::Stable);
    // The member carries on at its epoch: nothing changed, so no epoch bump.
    let (resp, _) = c.consumer_heartbeat(
        ConsumerHeartbeatRequest {
            group_id: "kip848".into(),
            member_id: "A".into(),
            member_epoch: 2,
            rebalance_timeout_ms: -1,
            owned_partitions: Some(vec![TopicPartitions {
                topic_id: TopicId(TOPIC_ID),
                partitions: vec![0, 1],
            }]),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            api_version: 1,
            ..Default::default()
        },
        &topics(),
        now,
    );
    assert_eq!(resp.error, None, "{:?}", resp.error_message);
    assert_eq!(resp.member_epoch, 2);
    assert_eq!(c.consumer_group("kip848").map(|g| g.group_epoch()), Some(2));
}

#[test]
fn a_log_written_in_the_old_json_form_loads() {
    let log: Vec<(Vec<u8>, Option<Vec<u8>>)> = old_log()
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), v.map(String::into_bytes)))
        .collect();
    let mut c = replay(&log, 5000);
    check_state(&mut c, 5000);
}

#[test]
fn the_rewritten_log_restores_the_same_state_in_kafkas_format() {
    let log: Vec<(Vec<u8>, Option<Vec<u8>>)> = old_log()
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), v.map(String::into_bytes)))
        .collect();
    let c = replay(&log, 5000);
    // What the broker appends after loading: a tombstone per JSON key, then the state.
    let mut rewritten = log.clone();
    for (k, _) in &log {
        rewritten.push((k.clone(), None));
    }
    for r in c.snapshot_records(|_| true) {
        let (k, v) = r.encode();
        assert!(!CoordinatorRecord::is_legacy_key(&k));
        rewritten.push((k, v));
    }
    // Before compaction (every record still there) ...
    let mut all = replay(&rewritten, 5000);
    check_state(&mut all, 5000);
    // ... and after it dropped the JSON records and their tombstones.
    let kafka_only: Vec<_> = rewritten
        .into_iter()
        .filter(|(k, _)| !CoordinatorRecord::is_legacy_key(k))
        .collect();
    let mut compacted = replay(&kafka_only, 5000);
    check_state(&mut compacted, 5000);
}
