//! `__consumer_offsets` on disk: Kafka's record format, and data dirs written by an
//! older Kavka (records as JSON) still resume where their groups left off.

mod common;

use std::time::Duration;

use common::*;
use kavka_group::{partition_for_group, CoordinatorRecord};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::Offset;

const OFFSETS: &str = "__consumer_offsets";
const PARTITIONS: i32 = 3;

fn broker() -> TestBroker {
    TestBroker::start_with(&[
        "group.initial.rebalance.delay.ms=0",
        "offsets.topic.num.partitions=3",
    ])
}

fn group_consumer(bs: &str, group: &str) -> BaseConsumer {
    client_config(bs)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("consumer")
}

/// Every record of the group's `__consumer_offsets` partition, in log order.
fn offsets_partition(bs: &str, group: &str) -> Vec<OwnedMessage> {
    let p = partition_for_group(group, PARTITIONS);
    let c = assigned_consumer(bs, OFFSETS, &[p], Offset::Beginning);
    let mut out = Vec::new();
    loop {
        let got = consume_n(&c, 1000, Duration::from_secs(3));
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}

/// Consumes `n` records in `group` and returns their offsets.
fn consume_offsets(bs: &str, group: &str, topic: &str, n: usize) -> (BaseConsumer, Vec<i64>) {
    let c = group_consumer(bs, group);
    c.subscribe(&[topic]).expect("subscribe");
    let got = consume_n(&c, n, Duration::from_secs(30));
    let offsets = got.iter().map(|m| m.offset()).collect();
    (c, offsets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_kafka_records_and_survive_clean_and_kill_nine_restarts() {
    let mut b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "fmt", 1).await;
    let p = producer(&bs, &[]);
    let values: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    send_all(&p, "fmt", values.iter().map(|v| (None, v.as_bytes()))).await;

    let (c, got) = consume_offsets(&bs, "fmt-group", "fmt", 5);
    assert_eq!(got, (0..5).collect::<Vec<i64>>());
    c.commit_consumer_state(CommitMode::Sync).expect("commit");
    drop(c);

    // Every record the coordinator wrote is one of Kafka's: a Kafka key, and it decodes.
    let records = offsets_partition(&bs, "fmt-group");
    assert!(!records.is_empty());
    let mut committed = None;
    for m in &records {
        let key = m.key().expect("key");
        assert!(!CoordinatorRecord::is_legacy_key(key));
        match CoordinatorRecord::decode(key, m.payload()).expect("Kafka's format") {
            CoordinatorRecord::OffsetCommit {
                key,
                value: Some(v),
            } if key.group == "fmt-group" => committed = Some(v.offset),
            _ => {}
        }
    }
    assert_eq!(committed, Some(5));

    b.stop();
    b.restart();
    let (c, got) = consume_offsets(&bs, "fmt-group", "fmt", 5);
    assert_eq!(got, (5..10).collect::<Vec<i64>>());
    c.commit_consumer_state(CommitMode::Sync).expect("commit");
    drop(c);

    b.kill9();
    b.restart();
    let (_c, got) = consume_offsets(&bs, "fmt-group", "fmt", 10);
    assert_eq!(got, (10..20).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_committed_by_the_json_era_kavka_resumes_and_is_rewritten() {
    let mut b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "legacy", 1).await;
    let p = producer(&bs, &[]);
    let values: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    send_all(&p, "legacy", values.iter().map(|v| (None, v.as_bytes()))).await;
    // Another group's commit creates __consumer_offsets, as it existed in an old dir.
    let (c, _) = consume_offsets(&bs, "other", "legacy", 1);
    c.commit_consumer_state(CommitMode::Sync).expect("commit");
    drop(c);

    // What the JSON-era Kavka wrote for a commit of offset 12 by "old-group" (committed
    // just now: an old commit of an empty group would expire under offsets retention).
    let key = br#"{"OffsetCommit":{"group":"old-group","topic":"legacy","partition":0}}"#;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let value =
        format!(r#"{{"offset":12,"leader_epoch":0,"metadata":"","commit_timestamp_ms":{now_ms}}}"#);
    let value = value.as_bytes();
    let partition = partition_for_group("old-group", PARTITIONS);
    let record = rdkafka::producer::FutureRecord::to(OFFSETS)
        .partition(partition)
        .key(&key[..])
        .payload(value);
    p.send(record, Duration::from_secs(20))
        .await
        .map_err(|(e, _)| e)
        .expect("json record written");

    b.stop();
    b.restart();
    let (c, got) = consume_offsets(&bs, "old-group", "legacy", 8);
    assert_eq!(got, (12..20).collect::<Vec<i64>>());
    // Leave the group (nothing committed), so the next member takes over at once.
    c.unsubscribe();
    drop(c);

    // Loading rewrote the partition: a tombstone under the JSON key, then the offset
    // in Kafka's format.
    let records = offsets_partition(&bs, "old-group");
    let json_at = records
        .iter()
        .position(|m| m.key() == Some(&key[..]) && m.payload().is_some())
        .expect("the JSON record");
    let tombstone_at = records
        .iter()
        .position(|m| m.key() == Some(&key[..]) && m.payload().is_none())
        .expect("a tombstone under the JSON key");
    let kafka_at = records
        .iter()
        .position(|m| {
            let Some(k) = m.key() else { return false };
            matches!(
                CoordinatorRecord::decode(k, m.payload()),
                Ok(CoordinatorRecord::OffsetCommit { key, value: Some(v) })
                    if key.group == "old-group" && v.offset == 12
            )
        })
        .expect("the offset as a Kafka record");
    assert!(json_at < tombstone_at && tombstone_at < kafka_at);

    // A second start finds no live JSON record, so it does not rewrite again.
    b.kill9();
    b.restart();
    let (_c, got) = consume_offsets(&bs, "old-group", "legacy", 8);
    assert_eq!(got, (12..20).collect::<Vec<i64>>());
    let under_json_key = offsets_partition(&bs, "old-group")
        .iter()
        .filter(|m| m.key() == Some(&key[..]))
        .count();
    assert_eq!(under_json_key, 2, "the JSON record and one tombstone");
}
