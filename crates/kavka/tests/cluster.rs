//! Kafka's promises on a 3-node cluster, as a user would check them: local
//! clusters from the `kavka` binary (`kavka cluster up`, through `kavka-chaos`'s
//! `ChaosCluster`), driven by librdkafka (`rdkafka`), checked with the same
//! Jepsen-style checker the fault runs use.
//!
//! The nodes run with short timeouts (`FAST`) so a failover takes seconds, and the
//! tests run one at a time (`serial`): several 3-node clusters at once on a small
//! machine would make the timings, not the cluster, the thing under test.
//! `KAVKA_TEST_PORTS=LOW-HIGH` confines the clusters' ports.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kavka_chaos::checker::{check, Report};
use kavka_chaos::cluster::{ChaosCluster, ClusterSpec};
use kavka_chaos::history::{CommitObservation, History, NodeId, SendOp, SendOutcome};
use kavka_chaos::resolve::{active_controller, partition_state, PartitionState};
use kavka_chaos::segments;
use kavka_chaos::workload::{self, Recorder, Workload};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{Mutex, MutexGuard};

/// `broker.session.timeout.ms` of every test cluster (as in `FAST`).
const SESSION_TIMEOUT_MS: u64 = 3_000;

/// Short timeouts so that fencing, ISR shrink and elections happen in seconds.
const FAST: &[&str] = &[
    "broker.session.timeout.ms=3000",
    "broker.heartbeat.interval.ms=500",
    "replica.lag.time.max.ms=2000",
    // Kafka's periodic check for leaderless partitions whose topic allows an
    // unclean election (5 minutes by default).
    "unclean.leader.election.interval.ms=1000",
];

/// One cluster at a time (see the module doc). An async lock, held across the
/// test's awaits; each test has its own runtime, which this lock does not mind.
async fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

async fn three_nodes() -> ChaosCluster {
    let properties = FAST.iter().map(|p| p.to_string()).collect();
    ChaosCluster::up(ClusterSpec {
        binary: env!("CARGO_BIN_EXE_kavka").into(),
        nodes: 3,
        properties,
        proxied: false,
    })
    .await
    .expect("3-node cluster up")
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "2");
    c
}

/// Polls `f` every 200 ms until it gives a value; panics naming `what` after `limit`.
fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn state(c: &ChaosCluster, topic: &str, p: i32) -> Option<PartitionState> {
    partition_state(&c.bootstrap(), topic, p)
}

/// Waits until every partition of `topic` has a leader and all of `isr_size` replicas in sync.
fn wait_settled(c: &ChaosCluster, topic: &str, partitions: i32, isr_size: usize) {
    for p in 0..partitions {
        wait_for(
            Duration::from_secs(30),
            &format!("{topic}-{p} led with {isr_size} in sync"),
            || state(c, topic, p).filter(|s| s.leader >= 0 && s.isr.len() == isr_size),
        );
    }
}

async fn create(c: &ChaosCluster, topic: NewTopic<'_>) {
    let admin: AdminClient<DefaultClientContext> = client(&c.bootstrap()).create().unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let r = admin.create_topics([&topic], &opts).await.unwrap();
    assert!(
        matches!(r.as_slice(), [Ok(_)]),
        "create {}: {r:?}",
        topic.name
    );
}

fn producer(bootstrap: &str, acks: &str, timeout_ms: u64) -> FutureProducer {
    client(bootstrap)
        .set("acks", acks)
        .set("linger.ms", "0")
        .set("message.timeout.ms", timeout_ms.to_string())
        .set("request.timeout.ms", timeout_ms.min(5_000).to_string())
        .create()
        .unwrap()
}

/// Sends one record; its (partition, offset) or the error.
async fn send(p: &FutureProducer, topic: &str, value: &str) -> Result<(i32, i64), KafkaError> {
    let record = FutureRecord::to(topic).key("k").payload(value);
    p.send(record, Duration::from_secs(0))
        .await
        .map(|d| (d.partition, d.offset))
        .map_err(|(e, _)| e)
}

/// Every record of partition 0 of `topic` below the high watermark, as (offset, value).
fn read_all(bootstrap: &str, topic: &str) -> Vec<(i64, String)> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "cluster-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, hw) = wait_for(Duration::from_secs(20), "high watermark", || {
        consumer
            .fetch_watermarks(topic, 0, Duration::from_secs(5))
            .ok()
    });
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.last().map_or(hw > 0, |(o, _)| o + 1 < hw) {
        assert!(Instant::now() < deadline, "read {out:?} of {hw}");
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let value = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
            out.push((m.offset(), value));
        }
    }
    out
}

/// Runs the acks=all idempotent workload producer until the returned flag is set.
fn start_producer(
    bootstrap: String,
    w: Workload,
) -> (
    Arc<AtomicBool>,
    Arc<Recorder>,
    tokio::task::JoinHandle<Result<(), kavka_chaos::cluster::HarnessError>>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let rec = Arc::new(Recorder::default());
    let handle = {
        let (stop, rec) = (stop.clone(), rec.clone());
        tokio::spawn(async move { workload::produce(&bootstrap, &w, &stop, &rec).await })
    };
    (stop, rec, handle)
}

async fn wait_sends(rec: &Recorder, at_least: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while rec.send_count() < at_least {
        assert!(
            Instant::now() < deadline,
            "only {} of {at_least} sends completed within {limit:?}",
            rec.send_count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Final read, clean stop, replica dumps, and the checker over all of it.
async fn check_history(
    c: &ChaosCluster,
    w: &Workload,
    (sends, commits): (Vec<SendOp>, Vec<CommitObservation>),
) -> Report {
    let (bs, w2) = (c.bootstrap(), w.clone());
    let (final_read, high_watermarks) = tokio::task::spawn_blocking(move || {
        workload::final_read(&bs, &w2, Duration::from_secs(60))
    })
    .await
    .unwrap()
    .expect("final read");
    c.down().expect("clean stop");
    let mut replicas = Vec::new();
    for &node in c.node_ids() {
        for p in 0..w.partitions {
            replicas.extend(segments::dump(node, &c.data_dir(node), &w.topic, p).unwrap());
        }
    }
    let report = check(&History {
        sends,
        final_read,
        commits,
        replicas,
        high_watermarks,
        idempotent: true,
    });
    println!("{report}");
    report
}

/// (a) RF 3, min.insync.replicas 2, acks=all, idempotent: a kill -9 of a leader
/// mid-stream loses nothing acknowledged, duplicates nothing, keeps per-key order
/// and every record at the offset its acknowledgement gave; the dead node
/// catches up, rejoins the ISR, and the replicas end byte-identical below the HW.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill_nine_keeps_every_acknowledged_record_once_in_order() {
    let _serial = serial().await;
    let c = three_nodes().await;
    let w = Workload {
        topic: "orders".into(),
        ..Workload::new(3)
    };
    workload::create_topic(&c.bootstrap(), &w).await.unwrap();
    wait_settled(&c, &w.topic, w.partitions, 3);

    let (stop, rec, producer) = start_producer(c.bootstrap(), w.clone());
    wait_sends(&rec, 300, Duration::from_secs(30)).await;
    let victim = state(&c, &w.topic, 0).expect("orders-0").leader;
    let killed_at = rec.tick();
    let sent_before = rec.send_count();
    c.kill9(victim).unwrap();
    // The producer stalls on partition 0 until a new leader takes it; 400 more
    // completed sends mean it got through the failover.
    wait_sends(&rec, sent_before + 400, Duration::from_secs(40)).await;
    let new_leader = state(&c, &w.topic, 0).expect("orders-0").leader;
    assert!(
        new_leader >= 0 && new_leader != victim,
        "orders-0 led by {new_leader}"
    );

    c.start(victim).unwrap();
    for p in 0..w.partitions {
        wait_for(
            Duration::from_secs(30),
            &format!("node {victim} back in the ISR of orders-{p}"),
            || state(&c, &w.topic, p).filter(|s| s.isr.contains(&victim)),
        );
    }
    stop.store(true, Ordering::SeqCst);
    producer.await.unwrap().unwrap();

    let (sends, commits) = rec.take();
    let acked_after_kill = sends
        .iter()
        .filter(|s| s.invoked_at > killed_at)
        .filter(|s| matches!(s.outcome, SendOutcome::Acked { partition: 0, .. }))
        .count();
    assert!(
        acked_after_kill > 0,
        "nothing on orders-0 was acknowledged after the kill"
    );
    // Idempotence and retries hide the failover: every send is acknowledged.
    let not_acked: Vec<_> = sends
        .iter()
        .filter(|s| !matches!(s.outcome, SendOutcome::Acked { .. }))
        .map(|s| (s.id, s.outcome))
        .collect();
    assert!(
        not_acked.is_empty(),
        "sends not acknowledged across a failover: {not_acked:?}"
    );
    let report = check_history(&c, &w, (sends, commits)).await;
    assert!(report.is_valid(), "{report}");
    assert!(report.stats.acked >= 700, "{report}");
    assert_eq!(report.stats.replicas, 9, "{report}");
}

/// Whether an acks=all failure is what Kafka answers when the ISR cannot reach
/// min.insync.replicas: refused at append, or left waiting until it times out
/// (Kafka 4 keeps the request waiting when the ISR shrinks after the append).
fn under_min_isr(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotEnoughReplicas
                | RDKafkaErrorCode::NotEnoughReplicasAfterAppend
                | RDKafkaErrorCode::MessageTimedOut
                | RDKafkaErrorCode::RequestTimedOut
        )
    )
}

/// (b) Two of three nodes down (so the controller quorum is lost too): acks=all
/// fails with NOT_ENOUGH_REPLICAS or times out, acks=1 still works on the leader
/// that is left, committed records stay readable; once the nodes are back the
/// ISR is whole again and acks=all works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_down_refuse_acks_all_but_serve_acks_one_and_reads() {
    let _serial = serial().await;
    let c = three_nodes().await;
    let topic = "ledger";
    create(&c, NewTopic::new(topic, 1, TopicReplication::Fixed(3))).await;
    wait_settled(&c, topic, 1, 3);
    let all = producer(&c.bootstrap(), "all", 6_000);
    for i in 0..20 {
        send(&all, topic, &format!("committed-{i}")).await.unwrap();
    }
    let leader = state(&c, topic, 0).unwrap().leader;
    let followers: Vec<NodeId> = c
        .node_ids()
        .iter()
        .copied()
        .filter(|&n| n != leader)
        .collect();

    // One follower down: the ISR shrinks to two, still enough for acks=all.
    c.kill9(followers[0]).unwrap();
    wait_for(Duration::from_secs(20), "ISR shrunk to two", || {
        state(&c, topic, 0).filter(|s| s.isr.len() == 2 && !s.isr.contains(&followers[0]))
    });
    send(&all, topic, "committed-20").await.unwrap();

    // The second follower down: nothing can reach min.insync.replicas.
    c.kill9(followers[1]).unwrap();
    let started = Instant::now();
    let refused = send(&all, topic, "never-acked").await;
    match &refused {
        Err(e) if under_min_isr(e) => {}
        other => panic!("acks=all with one live replica: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let one = producer(&c.bootstrap(), "1", 10_000);
    let (_, acks1_offset) = send(&one, topic, "acks-1")
        .await
        .expect("acks=1 on the live leader");
    assert!(acks1_offset >= 21, "acks=1 record at {acks1_offset}");
    let read = read_all(&c.bootstrap(), topic);
    let values: Vec<&str> = read.iter().map(|(_, v)| v.as_str()).collect();
    for i in 0..=20 {
        assert!(
            values.contains(&format!("committed-{i}").as_str()),
            "{values:?}"
        );
    }

    // Both back: the ISR is whole again and acks=all works.
    c.start(followers[0]).unwrap();
    c.start(followers[1]).unwrap();
    wait_settled(&c, topic, 1, 3);
    let (_, offset) = wait_for(
        Duration::from_secs(30),
        "acks=all after the nodes returned",
        || block_on(send(&all, topic, "after-recovery")).ok(),
    );
    let read = read_all(&c.bootstrap(), topic);
    assert_eq!(
        read.iter().filter(|(_, v)| v == "after-recovery").count(),
        1,
        "{read:?}"
    );
    assert!(
        read.contains(&(offset, "after-recovery".to_string())),
        "{read:?}"
    );
    assert!(
        read.contains(&(acks1_offset, "acks-1".to_string())),
        "{read:?}"
    );
    for i in 0..=20 {
        assert!(
            read.iter().any(|(_, v)| *v == format!("committed-{i}")),
            "{read:?}"
        );
    }
}

/// Runs a future to completion from blocking code inside the test runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// The time from `since` until `topic`-0 is led by a node other than `old`.
fn time_to_new_leader(c: &ChaosCluster, topic: &str, old: NodeId, since: Instant) -> Duration {
    wait_for(Duration::from_secs(30), "a new leader", || {
        state(c, topic, 0).filter(|s| s.leader >= 0 && s.leader != old)
    });
    since.elapsed()
}

/// (c) A clean stop (SIGTERM) of a leader is a controlled shutdown: leadership
/// moves before the process exits, well inside the session timeout, and an
/// acks=all idempotent producer sees no failed send, across it or a kill -9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controlled_shutdown_moves_leadership_before_the_session_timeout() {
    let _serial = serial().await;
    let c = three_nodes().await;
    let w = Workload {
        topic: "payments".into(),
        partitions: 1,
        ..Workload::new(3)
    };
    workload::create_topic(&c.bootstrap(), &w).await.unwrap();
    wait_settled(&c, &w.topic, 1, 3);
    let (stop, rec, producer) = start_producer(c.bootstrap(), w.clone());
    wait_sends(&rec, 100, Duration::from_secs(30)).await;

    let leader = state(&c, &w.topic, 0).unwrap().leader;
    let stopped_at = Instant::now();
    c.stop(leader).unwrap();
    let controlled = time_to_new_leader(&c, &w.topic, leader, stopped_at);
    let sent = rec.send_count();
    wait_sends(&rec, sent + 100, Duration::from_secs(20)).await;
    c.start(leader).unwrap();
    wait_settled(&c, &w.topic, 1, 3);

    let leader = state(&c, &w.topic, 0).unwrap().leader;
    let killed_at = Instant::now();
    c.kill9(leader).unwrap();
    let uncontrolled = time_to_new_leader(&c, &w.topic, leader, killed_at);
    let sent = rec.send_count();
    wait_sends(&rec, sent + 100, Duration::from_secs(30)).await;
    stop.store(true, Ordering::SeqCst);
    producer.await.unwrap().unwrap();
    println!("new leader after SIGTERM: {controlled:?}; after kill -9: {uncontrolled:?}");

    // Controlled shutdown hands leadership over before the process exits. A
    // kill -9 waits for the controller to notice: Kafka waits out the session
    // timeout; Kavka also fences at once a silent broker whose listener refuses
    // connections, so that path has only an upper bound here.
    assert!(
        controlled < Duration::from_millis(SESSION_TIMEOUT_MS / 2),
        "controlled shutdown took {controlled:?}"
    );
    assert!(
        uncontrolled < Duration::from_millis(SESSION_TIMEOUT_MS + 5_000),
        "kill -9 failover took {uncontrolled:?}"
    );
    let (sends, commits) = rec.take();
    let not_acked: Vec<_> = sends
        .iter()
        .filter(|s| !matches!(s.outcome, SendOutcome::Acked { .. }))
        .map(|s| (s.id, s.outcome))
        .collect();
    assert!(not_acked.is_empty(), "sends that failed: {not_acked:?}");
    c.start(leader).unwrap();
    let report = check_history(&c, &w, (sends, commits)).await;
    assert!(report.is_valid(), "{report}");
}

/// AlterConfigs (the legacy, replacing kind that librdkafka sends): `configs`
/// become the topic's whole set of settings.
async fn set_topic_configs(c: &ChaosCluster, topic: &str, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = client(&c.bootstrap()).create().unwrap();
    let mut change = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (key, value) in configs {
        change = change.set(key, value);
    }
    let r = admin
        .alter_configs([&change], &AdminOptions::new())
        .await
        .unwrap();
    assert!(matches!(r.as_slice(), [Ok(_)]), "alter {topic}: {r:?}");
}

/// (d) With the only ISR member down and an out-of-sync replica up, the partition
/// stays offline (no leader) rather than lose acknowledged records: unclean
/// election is off by default. Turning `unclean.leader.election.enable` on for
/// the topic elects the out-of-sync replica (losing what it lacked, as Kafka
/// documents), and the old leader, back, truncates to the new leader's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclean_election_is_off_by_default_and_the_topic_setting_turns_it_on() {
    let _serial = serial().await;
    let c = three_nodes().await;
    let topic = "fragile";
    // Replicas on nodes 1 and 2 only, so that with both of them in trouble node
    // 3 still makes a controller majority with one of them.
    let assignment: &[&[i32]] = &[&[1, 2]];
    create(
        &c,
        NewTopic::new(topic, 1, TopicReplication::Variable(assignment))
            .set("min.insync.replicas", "1"),
    )
    .await;
    wait_settled(&c, topic, 1, 2);
    assert_eq!(state(&c, topic, 0).unwrap().leader, 1);
    let all = producer(&c.bootstrap(), "all", 10_000);
    for i in 0..10 {
        send(&all, topic, &format!("both-{i}")).await.unwrap();
    }

    // Node 2 falls out of the ISR; node 1 alone acknowledges what follows.
    c.kill9(2).unwrap();
    wait_for(Duration::from_secs(20), "ISR shrunk to node 1", || {
        state(&c, topic, 0).filter(|s| s.isr == [1])
    });
    let mut only_on_1 = Vec::new();
    for i in 0..10 {
        let value = format!("only-1-{i}");
        only_on_1.push((send(&all, topic, &value).await.unwrap().1, value));
    }

    // Node 1, the only ISR member, dies; node 2 comes back out of sync.
    c.kill9(1).unwrap();
    c.start(2).unwrap();
    let watch = Instant::now();
    let mut seen = BTreeMap::new();
    while watch.elapsed() < Duration::from_millis(3 * SESSION_TIMEOUT_MS) {
        if let Some(s) = state(&c, topic, 0) {
            *seen.entry(s.leader).or_insert(0) += 1;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        !seen.contains_key(&2),
        "out-of-sync node 2 was elected: {seen:?}"
    );
    let offline = state(&c, topic, 0).unwrap();
    assert_eq!(
        (offline.leader, offline.isr.clone()),
        (-1, vec![1]),
        "{seen:?}"
    );

    // The topic allows an unclean election: node 2 leads, without node 1's records.
    let unclean = [
        ("min.insync.replicas", "1"),
        ("unclean.leader.election.enable", "true"),
    ];
    set_topic_configs(&c, topic, &unclean).await;
    wait_for(Duration::from_secs(15), "node 2 elected uncleanly", || {
        state(&c, topic, 0).filter(|s| s.leader == 2)
    });
    let (_, offset) = send(&all, topic, "after-unclean").await.unwrap();
    let read = read_all(&c.bootstrap(), topic);
    assert_eq!(read.len(), 11, "{read:?}");
    assert!(
        read.contains(&(offset, "after-unclean".to_string())),
        "{read:?}"
    );

    // Node 1 returns and follows: its extra records are truncated away.
    c.start(1).unwrap();
    wait_settled(&c, topic, 1, 2);
    c.down().unwrap();
    let dumps: Vec<_> = [1, 2]
        .iter()
        .map(|&n| {
            segments::dump(n, &c.data_dir(n), topic, 0)
                .unwrap()
                .expect("both nodes host the partition")
        })
        .collect();
    let bytes = |d: &kavka_chaos::history::ReplicaDump| {
        d.batches
            .iter()
            .map(|b| b.bytes.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        bytes(&dumps[0]),
        bytes(&dumps[1]),
        "replicas differ after the unclean election"
    );
    assert!(
        offset >= 10 && offset <= only_on_1[0].0,
        "{offset} {only_on_1:?}"
    );
}

/// `kavka metadata-quorum --bootstrap-server B describe --status`, as text.
fn quorum_status(bootstrap: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args([
            "metadata-quorum",
            "--bootstrap-server",
            bootstrap,
            "describe",
            "--status",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn status_leader(status: &str) -> Option<NodeId> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("LeaderId:"))
        .and_then(|v| v.trim().parse().ok())
}

/// (e) kill -9 of the active controller: the quorum elects another within
/// seconds, creating a topic works again, and `kafka-metadata-quorum describe
/// --status` names the new leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_controller_kill_nine_elects_a_new_one_and_admin_works() {
    let _serial = serial().await;
    let c = three_nodes().await;
    let ports: Vec<u16> = c
        .bootstrap()
        .split(',')
        .filter_map(|a| a.rsplit(':').next()?.parse().ok())
        .collect();
    let old = wait_for(Duration::from_secs(20), "an active controller", || {
        active_controller(&ports)
    });
    assert_eq!(status_leader(&quorum_status(&c.bootstrap())), Some(old));

    let killed_at = Instant::now();
    c.kill9(old).unwrap();
    let live: Vec<u16> = c
        .node_ids()
        .iter()
        .zip(&ports)
        .filter(|(&n, _)| n != old)
        .map(|(_, &p)| p)
        .collect();
    let live_bs = live
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let new = wait_for(Duration::from_secs(15), "a new active controller", || {
        active_controller(&live).filter(|&n| n != old)
    });
    let elected = killed_at.elapsed();

    let admin: AdminClient<DefaultClientContext> = client(&live_bs).create().unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    let topic = NewTopic::new("after-failover", 3, TopicReplication::Fixed(2));
    let created = loop {
        let r = admin.create_topics([&topic], &opts).await;
        if matches!(r.as_deref(), Ok([Ok(_)])) {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(20),
            "create after failover: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!(
        "controller {old} killed: node {new} elected in {elected:?}, topic created at {created:?}"
    );
    assert!(elected < Duration::from_secs(10), "{elected:?}");
    assert!(created < Duration::from_secs(15), "{created:?}");
    let status = quorum_status(&live_bs);
    assert_eq!(status_leader(&status), Some(new), "{status}");
    // The new topic is led at once; a replica placed on the dead node (not yet
    // fenced when the topic was created, as Kafka allows) joins once it is back.
    for p in 0..3 {
        wait_for(Duration::from_secs(20), "after-failover led", || {
            state(&c, "after-failover", p).filter(|s| s.leader >= 0)
        });
    }

    // The old controller returns as a follower of the new one.
    c.start(old).unwrap();
    wait_settled(&c, "after-failover", 3, 2);
    let status = wait_for(
        Duration::from_secs(20),
        "the old controller following",
        || {
            let s = quorum_status(&c.bootstrap());
            (status_leader(&s) == Some(new)).then_some(s)
        },
    );
    assert!(status.contains("CurrentVoters:"), "{status}");
}

/// InitProducerId (v0, no transactional id) asked of the node on `port`.
fn init_producer_id(port: u16) -> (i16, i64) {
    use kafka_protocol::messages::{ApiKey, InitProducerIdRequest, InitProducerIdResponse};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000);
    let r: InitProducerIdResponse =
        common::raw_call(&mut stream, ApiKey::InitProducerId, 0, &request);
    (r.error_code, r.producer_id.0)
}

/// Every node hands out producer ids no other node hands out: two idempotent
/// producers sharing an id would have one's batches taken as retries of the
/// other's, acknowledged and never written. Ids stay unique after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_ids_are_unique_across_the_cluster() {
    let _serial = serial().await;
    let c = three_nodes().await;
    let ports: Vec<u16> = c
        .bootstrap()
        .split(',')
        .filter_map(|a| a.rsplit(':').next()?.parse().ok())
        .collect();
    let mut ids = Vec::new();
    for round in 0..2 {
        for &port in &ports {
            let (error, id) = init_producer_id(port);
            assert_eq!(error, 0, "InitProducerId on {port}, round {round}");
            ids.push(id);
        }
    }
    c.restart(2).unwrap();
    let (error, id) = wait_for(
        Duration::from_secs(20),
        "InitProducerId after restart",
        || Some(init_producer_id(ports[1])).filter(|(e, _)| *e == 0),
    );
    assert_eq!(error, 0);
    ids.push(id);
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "producer ids repeat: {ids:?}");
    assert!(ids.iter().all(|&id| id >= 0), "{ids:?}");
}
