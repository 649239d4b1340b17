//! The consumer group protocol (KIP-848, `group.protocol=consumer`) through
//! librdkafka: the broker assigns, members split partitions without sharing, and
//! committed offsets carry over a restart.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;

/// A short heartbeat interval, so reassignments (one heartbeat per step) are quick.
fn consumer_protocol_broker() -> TestBroker {
    TestBroker::start_with(&["group.consumer.heartbeat.interval.ms=500"])
}

fn member(bs: &str, group: &str) -> BaseConsumer {
    let mut c = client_config(bs);
    c.set("group.id", group)
        .set("group.protocol", "consumer")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    c.create().expect("consumer")
}

fn partitions_of(c: &BaseConsumer) -> Vec<i32> {
    let mut ps: Vec<i32> = c
        .assignment()
        .map(|a| a.elements().iter().map(|e| e.partition()).collect())
        .unwrap_or_default();
    ps.sort();
    ps
}

/// Polls until the members together own `partitions` partitions, unchanged for a
/// while; fails if a partition is ever owned by two members at once.
fn settle(members: &[BaseConsumer], partitions: usize, timeout: Duration) -> Vec<Vec<i32>> {
    let deadline = Instant::now() + timeout;
    let mut stable_since = Instant::now();
    let mut last: Vec<Vec<i32>> = vec![];
    loop {
        for c in members {
            let _ = c.poll(Duration::from_millis(50));
        }
        let now: Vec<Vec<i32>> = members.iter().map(partitions_of).collect();
        let owned: Vec<i32> = now.iter().flatten().copied().collect();
        let distinct: HashSet<i32> = owned.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            owned.len(),
            "a partition is owned twice: {now:?}"
        );
        if now != last {
            last = now.clone();
            stable_since = Instant::now();
        }
        if owned.len() == partitions && stable_since.elapsed() > Duration::from_millis(2000) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "assignments never settled: {now:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_split_three_partitions_with_the_consumer_protocol() {
    let broker = consumer_protocol_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "kip848", 3).await;
    let mut members: Vec<BaseConsumer> = Vec::new();
    for (n, expected) in [(1, vec![3]), (2, vec![1, 2]), (3, vec![1, 1, 1])] {
        let c = member(&bs, "kip848-split");
        c.subscribe(&["kip848"]).expect("subscribe");
        members.push(c);
        let split = settle(&members, 3, Duration::from_secs(40));
        let mut sizes: Vec<usize> = split.iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, expected, "{n} members got {split:?}");
    }
    // A member leaving hands its partitions to the others.
    drop(members.remove(0));
    let split = settle(&members, 3, Duration::from_secs(40));
    let mut sizes: Vec<usize> = split.iter().map(Vec::len).collect();
    sizes.sort();
    assert_eq!(sizes, vec![1, 2], "{split:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_of_a_consumer_protocol_member_survive_a_restart() {
    let mut broker = consumer_protocol_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "kip848-commits", 1).await;
    let p = producer(&bs, &[]);
    let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    send_all(
        &p,
        "kip848-commits",
        values.iter().map(|v| (None, v.as_bytes())),
    )
    .await;
    drop(p);
    {
        let c = member(&bs, "kip848-resume");
        c.subscribe(&["kip848-commits"]).expect("subscribe");
        let mut read = 0;
        let deadline = Instant::now() + Duration::from_secs(40);
        while read < 4 && Instant::now() < deadline {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                read += 1;
                if read == 4 {
                    c.commit_message(&m, CommitMode::Sync).expect("commit");
                }
            }
        }
        assert_eq!(read, 4);
    }
    broker.stop();
    broker.restart();
    let bs = broker.bootstrap();
    let c = member(&bs, "kip848-resume");
    c.subscribe(&["kip848-commits"]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(40);
    let first = loop {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            break String::from_utf8(m.payload().unwrap_or_default().to_vec()).unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "nothing consumed after the restart"
        );
    };
    assert_eq!(first, "v4");
}
