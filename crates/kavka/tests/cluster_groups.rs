//! Consumer groups on a 3-node cluster from `kavka cluster`: the coordinator of a
//! group is the leader of its `__consumer_offsets` partition, other nodes answer
//! NOT_COORDINATOR, and killing the coordinator with -9 moves the group, with its
//! committed offsets, to the partition's new leader.

mod common;

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{client_config, raw_call};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, GroupId, HeartbeatRequest,
    HeartbeatResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};

const NOT_COORDINATOR: i16 = 16;
const OFFSETS_PARTITIONS: i32 = 50;

/// A 3-node cluster in a temporary directory, on ports this suite may use
/// (29300-29399), taken down and purged when dropped.
struct Cluster {
    dir: PathBuf,
    base: u16,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    /// `ports`: the range to take 6 free ports from, distinct per test so tests
    /// running at once never pick the same block.
    fn up(ports: std::ops::Range<u16>) -> Cluster {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("cluster");
        let base = ports
            .step_by(6)
            .find(|&b| (b..b + 6).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()))
            .expect("6 free ports");
        let cluster = Cluster {
            dir,
            base,
            _tmp: tmp,
        };
        let base_arg = base.to_string();
        cluster.run(&[
            "up",
            "-n",
            "3",
            "--base-port",
            &base_arg,
            "--timeout",
            "40",
            // A killed node is fenced, and its partitions move, within 3 s.
            "--property",
            "broker.session.timeout.ms=3000",
            "--property",
            "broker.heartbeat.interval.ms=500",
            "--property",
            "group.initial.rebalance.delay.ms=0",
        ]);
        cluster
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_kavka"))
            .arg("cluster")
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("run kavka cluster");
        assert!(
            out.status.success(),
            "kavka cluster {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn port(&self, node: i32) -> u16 {
        self.base + u16::try_from(node - 1).expect("node id")
    }

    fn bootstrap(&self) -> String {
        (1..=3)
            .map(|n| format!("127.0.0.1:{}", self.port(n)))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn kill9(&self, node: i32) {
        self.run(&["kill", &node.to_string()]);
    }

    fn pause(&self, node: i32) {
        self.run(&["pause", &node.to_string()]);
    }

    fn resume(&self, node: i32) {
        self.run(&["resume", &node.to_string()]);
    }

    fn log_of(&self, node: i32) -> PathBuf {
        self.dir.join(format!("node-{node}")).join("broker.log")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for n in 1..=3 {
                eprintln!("--- {}", self.log_of(n).display());
                eprintln!("{}", tail(&self.log_of(n), 40));
            }
        }
        let _ = Command::new(env!("CARGO_BIN_EXE_kavka"))
            .args(["cluster", "down", "--purge", "--dir"])
            .arg(&self.dir)
            .output();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Kafka's `abs(javaStringHashCode(group)) % partitions`, as FindCoordinator uses.
fn offsets_partition(group: &str) -> i32 {
    kavka_group::partition_for_group(group, OFFSETS_PARTITIONS)
}

/// The leader of `group`'s `__consumer_offsets` partition per the cluster's
/// metadata (asking `via`), once it is a live node other than `not`.
fn coordinator(cluster: &Cluster, via: i32, group: &str, not: Option<i32>) -> i32 {
    let consumer: BaseConsumer = client_config(&format!("127.0.0.1:{}", cluster.port(via)))
        .create()
        .expect("metadata client");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let leader = consumer
            .fetch_metadata(Some("__consumer_offsets"), Duration::from_secs(5))
            .ok()
            .and_then(|m| {
                let topic = m.topics().first()?;
                let p = topic
                    .partitions()
                    .iter()
                    .find(|p| p.id() == offsets_partition(group))?;
                Some(p.leader())
            });
        if let Some(l) = leader.filter(|&l| l > 0 && Some(l) != not) {
            return l;
        }
        assert!(
            Instant::now() < deadline,
            "no new leader for {group}'s partition: {leader:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap).create().unwrap();
    for r in admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(3))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics")
    {
        r.expect("topic created");
    }
}

async fn produce(bootstrap: &str, topic: &str, values: impl Iterator<Item = u32>) {
    let producer: FutureProducer = client_config(bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "20000")
        .create()
        .expect("producer");
    let mut pending = Vec::new();
    for v in values {
        let payload = v.to_string();
        let fut = producer
            .send_result(FutureRecord::<(), String>::to(topic).payload(&payload))
            .map_err(|(e, _)| e)
            .expect("enqueue");
        pending.push(fut);
    }
    for f in pending {
        f.await
            .expect("delivery")
            .map_err(|(e, _)| e)
            .expect("acked");
    }
}

fn group_consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    client_config(bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("consumer")
}

/// Polls until `n` records arrived (or `timeout`), returning their values.
fn read(consumer: &BaseConsumer, n: usize, timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let v = m
                .payload()
                .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok())
                .expect("a record this test wrote");
            out.push(v);
        }
    }
    out
}

/// Polls every member until their assignments, together `partitions` partitions,
/// have not changed for 1.5 s; returns each member's partitions.
fn settle(members: &[&BaseConsumer], partitions: usize, timeout: Duration) -> Vec<Vec<i32>> {
    let deadline = Instant::now() + timeout;
    let mut stable_since = Instant::now();
    let mut last: Vec<Vec<i32>> = vec![];
    loop {
        for m in members {
            // Nothing is produced while settling; a record here would be a bug.
            if let Some(Ok(r)) = m.poll(Duration::from_millis(50)) {
                panic!("read a committed record again at offset {}", r.offset());
            }
        }
        let now: Vec<Vec<i32>> = members
            .iter()
            .map(|m| {
                let mut ps: Vec<i32> = m
                    .assignment()
                    .map(|a| a.elements().iter().map(|e| e.partition()).collect())
                    .unwrap_or_default();
                ps.sort();
                ps
            })
            .collect();
        if now != last {
            last = now.clone();
            stable_since = Instant::now();
        }
        let total: usize = now.iter().map(Vec::len).sum();
        if total == partitions && stable_since.elapsed() > Duration::from_millis(1500) {
            return now;
        }
        assert!(Instant::now() < deadline, "no stable assignment: {now:?}");
    }
}

/// Polls a while longer, to see that nothing more comes.
fn read_rest(consumer: &BaseConsumer, quiet: Duration) -> Vec<u32> {
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            if let Some(v) = m
                .payload()
                .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok())
            {
                out.push(v);
                last = Instant::now();
            }
        }
    }
    out
}

/// Commits a member's positions; one that was given no records has none to commit.
fn commit_what_was_read(m: &BaseConsumer) {
    match m.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        Err(rdkafka::error::KafkaError::ConsumerCommit(
            rdkafka::types::RDKafkaErrorCode::NoOffset,
        )) => {}
        Err(e) => panic!("commit: {e}"),
    }
}

fn heartbeat_code(port: u16, group: &str) -> i16 {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let r: HeartbeatResponse = raw_call(
        &mut conn,
        ApiKey::Heartbeat,
        4,
        &HeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
            .with_generation_id(1)
            .with_member_id(StrBytes::from_static_str("nobody")),
    );
    r.error_code
}

fn offset_fetch_code(port: u16, group: &str) -> i16 {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let r: OffsetFetchResponse = raw_call(
        &mut conn,
        ApiKey::OffsetFetch,
        7,
        &OffsetFetchRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_string()))),
    );
    r.error_code
}

/// Commits `offset` for partition 0 of `topic` as a standalone (simple) consumer
/// does; the partition-level error code.
fn commit_offset(port: u16, group: &str, topic: &str, offset: i64) -> i16 {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let r: OffsetCommitResponse = raw_call(
        &mut conn,
        ApiKey::OffsetCommit,
        8,
        &OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)])]),
    );
    r.topics[0].partitions[0].error_code
}

/// The coordinator FindCoordinator names (which creates `__consumer_offsets`).
fn find_coordinator(port: u16, group: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let r: FindCoordinatorResponse = raw_call(
            &mut conn,
            ApiKey::FindCoordinator,
            3,
            &FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_string())),
        );
        if r.error_code == 0 {
            return r.node_id.0;
        }
        assert!(
            Instant::now() < deadline,
            "no coordinator: {}",
            r.error_code
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// OffsetFetch of partition 0 of `topic`: (group error, committed offset).
fn fetch_offset(port: u16, group: &str, topic: &str) -> (i16, i64) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let r: OffsetFetchResponse = raw_call(
        &mut conn,
        ApiKey::OffsetFetch,
        7,
        &OffsetFetchRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_indexes(vec![0])])),
    );
    let offset = r
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .map_or(-1, |p| p.committed_offset);
    (r.error_code, offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_not_shown_before_it_is_replicated() {
    let cluster = Cluster::up(29300..29340);
    let bs = cluster.bootstrap();
    let group = "unreplicated-commit";
    create_topic(&bs, "ledger", 1).await;
    let leader = find_coordinator(cluster.port(1), group);
    let port = cluster.port(leader);
    // The coordinator may still be applying the new `__consumer_offsets`
    // (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS): retry as clients do.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut code = commit_offset(port, group, "ledger", 7);
    while (code == NOT_COORDINATOR || code == 14) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        code = commit_offset(port, group, "ledger", 7);
    }
    assert_eq!(code, 0, "a replicated commit");
    assert_eq!(fetch_offset(port, group, "ledger"), (0, 7));

    // With both followers stopped, the next commit reaches only the coordinator's
    // log: it is not acknowledged, and must not be shown either, since a failover
    // now would lose it.
    let followers: Vec<i32> = (1..=3).filter(|&n| n != leader).collect();
    for &n in &followers {
        cluster.pause(n);
    }
    let code = commit_offset(port, group, "ledger", 42);
    let (error, shown) = fetch_offset(port, group, "ledger");
    for &n in &followers {
        cluster.resume(n);
    }
    assert_ne!(code, 0, "a commit no follower has is not acknowledged");
    assert_ne!(
        shown, 42,
        "an unreplicated commit is not shown (error {error})"
    );

    // Once the followers are back the record is replicated, and shown.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let leader = find_coordinator(cluster.port(1), group);
        match fetch_offset(cluster.port(leader), group, "ledger") {
            (0, 42) => break,
            other => assert!(
                Instant::now() < deadline,
                "the commit became visible once replicated: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_consumer_resumes_at_the_committed_offsets_after_the_coordinator_is_killed() {
    let started = Instant::now();
    let cluster = Cluster::up(29340..29370);
    let bs = cluster.bootstrap();
    let group = "failover-resume";
    create_topic(&bs, "orders", 3).await;
    produce(&bs, "orders", 0..60).await;

    let first = group_consumer(&bs, group);
    first.subscribe(&["orders"]).expect("subscribe");
    let committed: Vec<u32> = read(&first, 30, Duration::from_secs(20));
    assert_eq!(committed.len(), 30, "first consumer read 30");
    first
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit acknowledged (so replicated)");
    // Read past the commit: these may be read again, nothing else may.
    let uncommitted = read(&first, 5, Duration::from_secs(10));
    assert_eq!(uncommitted.len(), 5);

    let leader = coordinator(&cluster, 1, group, None);
    // Only the coordinator serves the group; the others send clients to look again.
    for node in (1..=3).filter(|&n| n != leader) {
        assert_eq!(
            offset_fetch_code(cluster.port(node), group),
            NOT_COORDINATOR
        );
        assert_eq!(heartbeat_code(cluster.port(node), group), NOT_COORDINATOR);
    }
    assert_eq!(offset_fetch_code(cluster.port(leader), group), 0);
    drop(first);

    cluster.kill9(leader);
    let survivor = (1..=3).find(|&n| n != leader).expect("a survivor");
    let new_leader = coordinator(&cluster, survivor, group, Some(leader));

    let second = group_consumer(&bs, group);
    second.subscribe(&["orders"]).expect("subscribe");
    let mut resumed = read(&second, 30, Duration::from_secs(30));
    resumed.extend(read_rest(&second, Duration::from_secs(2)));

    let committed: BTreeSet<u32> = committed.into_iter().collect();
    let expected: BTreeSet<u32> = (0..60).filter(|v| !committed.contains(v)).collect();
    let got: BTreeSet<u32> = resumed.iter().copied().collect();
    assert_eq!(
        got.len(),
        resumed.len(),
        "no record read twice: {resumed:?}"
    );
    assert_eq!(
        got, expected,
        "resumed exactly after the committed records (node {new_leader} coordinating)"
    );
    for v in &uncommitted {
        assert!(got.contains(v), "uncommitted {v} read again");
    }
    // The new coordinator takes commits too.
    second
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit on the new coordinator");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_rebalance_onto_the_new_coordinator_and_read_everything() {
    let started = Instant::now();
    let cluster = Cluster::up(29370..29400);
    let bs = cluster.bootstrap();
    let group = "failover-members";
    create_topic(&bs, "events", 4).await;

    let a = group_consumer(&bs, group);
    let b = group_consumer(&bs, group);
    a.subscribe(&["events"]).expect("subscribe");
    b.subscribe(&["events"]).expect("subscribe");
    settle(&[&a, &b], 4, Duration::from_secs(20));
    produce(&bs, "events", 0..40).await;
    let mut seen: Vec<u32> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 40 && Instant::now() < deadline {
        seen.extend(read(&a, 40, Duration::from_millis(200)));
        seen.extend(read(&b, 40, Duration::from_millis(200)));
    }
    assert_eq!(seen.len(), 40, "both members together read everything once");
    for m in [&a, &b] {
        commit_what_was_read(m);
    }

    let leader = coordinator(&cluster, 1, group, None);
    cluster.kill9(leader);
    let survivor = (1..=3).find(|&n| n != leader).expect("a survivor");
    coordinator(&cluster, survivor, group, Some(leader));

    // A third member joins through the new coordinator: the group rebalances
    // across all three from the committed offsets.
    let c = group_consumer(&bs, group);
    c.subscribe(&["events"]).expect("subscribe");
    let members = [&a, &b, &c];
    let shares = settle(&members, 4, Duration::from_secs(30));
    assert!(
        shares.iter().all(|s| !s.is_empty()),
        "each member got a share: {shares:?}"
    );
    let stray: Vec<u32> = members
        .iter()
        .flat_map(|m| read_rest(m, Duration::from_millis(300)))
        .collect();
    assert!(stray.is_empty(), "nothing committed read again: {stray:?}");

    // Records written after the failover are each read by exactly one member.
    produce(&bs, "events", 40..100).await;
    let mut after: Vec<u32> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while after.len() < 60 && Instant::now() < deadline {
        for m in members {
            after.extend(read(m, 60, Duration::from_millis(100)));
        }
    }
    let distinct: BTreeSet<u32> = after.iter().copied().collect();
    assert_eq!(distinct.len(), after.len(), "none read twice: {after:?}");
    assert_eq!(
        distinct,
        (40..100).collect::<BTreeSet<u32>>(),
        "every record after the failover read"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}
