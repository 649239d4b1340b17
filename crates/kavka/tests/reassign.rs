//! Partition reassignment (KIP-455) on a 4-node local cluster, driven by
//! `kafka-reassign-partitions` as an operator would: a partition with data moves
//! from brokers [1,2,3] to [2,3,4] while a producer writes, and an in-flight move
//! is cancelled.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

/// One 4-node cluster at a time: two would starve each other on a small box.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn kavka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run kavka")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A base port in 29700–29799 with the 8 ports of a 4-node cluster free.
fn free_base() -> u16 {
    (29_710..29_790)
        .step_by(10)
        .find(|&base| (base..base + 8).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("8 free ports in 29710-29799")
}

/// A `kavka cluster` of 4 nodes, taken down when the test ends.
struct Cluster {
    dir: tempfile::TempDir,
    bootstrap: String,
}

impl Cluster {
    fn up() -> Self {
        let dir = tempfile::tempdir().expect("cluster dir");
        let base = free_base().to_string();
        let path = dir.path().to_string_lossy().to_string();
        let out = ok(kavka(&[
            "cluster",
            "up",
            "-n",
            "4",
            "--base-port",
            &base,
            "--dir",
            &path,
        ]));
        let bootstrap = out
            .lines()
            .find_map(|l| l.strip_prefix("Bootstrap servers: "))
            .expect("bootstrap line")
            .to_string();
        Self { dir, bootstrap }
    }

    fn dir(&self) -> String {
        self.dir.path().to_string_lossy().to_string()
    }

    fn node(&self, args: &[&str]) {
        let dir = self.dir();
        let mut full = vec!["cluster", "--dir", dir.as_str()];
        full.extend_from_slice(args);
        ok(kavka(&full));
    }

    fn partition_dir(&self, node: i32, topic: &str) -> PathBuf {
        self.dir.path().join(format!("node-{node}/data/{topic}-0"))
    }

    /// `kafka-reassign-partitions` with these arguments.
    fn reassign(&self, args: &[&str]) -> Output {
        let mut full = vec!["reassign-partitions", "--bootstrap-server", &self.bootstrap];
        full.extend_from_slice(args);
        kavka(&full)
    }

    /// `kafka-topics --describe` line of partition 0.
    fn describe(&self, topic: &str) -> String {
        let out = ok(kavka(&[
            "topics",
            "--bootstrap-server",
            &self.bootstrap,
            "--describe",
            "--topic",
            topic,
        ]));
        out.lines()
            .find(|l| l.contains("Partition: 0"))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let dir = self.dir();
        let _ = kavka(&["cluster", "resume", "4", "--dir", &dir]);
        let _ = kavka(&["cluster", "down", "--dir", &dir]);
    }
}

fn write_plan(dir: &Path, name: &str, topic: &str, replicas: &[i32]) -> String {
    let path = dir.join(name);
    let replicas: Vec<String> = replicas.iter().map(|r| r.to_string()).collect();
    std::fs::write(
        &path,
        format!(
            r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":[{}]}}]}}"#,
            replicas.join(",")
        ),
    )
    .expect("write plan");
    path.to_string_lossy().to_string()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn create_on(cluster: &Cluster, topic: &str, assignment: &str) {
    ok(kavka(&[
        "topics",
        "--bootstrap-server",
        &cluster.bootstrap,
        "--create",
        "--topic",
        topic,
        "--replica-assignment",
        assignment,
    ]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_moves_to_new_brokers_with_its_data_while_a_producer_writes() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::up();
    create_on(&cluster, "moving", "1:2:3");

    // A producer writes all along; every record it was told is written is kept.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let failed: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, failed, stop) = (acked.clone(), failed.clone(), stop.clone());
        let producer = producer(
            &cluster.bootstrap,
            &[("acks", "all"), ("enable.idempotence", "true")],
        );
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Acquire) {
                let value = format!("record-{i}");
                let record: FutureRecord<'_, [u8], [u8]> =
                    FutureRecord::to("moving").payload(value.as_bytes());
                match producer.send(record, Duration::from_secs(20)).await {
                    Ok(_) => acked.lock().unwrap().push(value),
                    Err((e, _)) => failed.lock().unwrap().push(format!("{value}: {e}")),
                }
                i += 1;
            }
        })
    };
    wait_until("records before the move", Duration::from_secs(30), || {
        acked.lock().unwrap().len() >= 300
    });

    let plan = write_plan(cluster.dir.path(), "move.json", "moving", &[2, 3, 4]);
    let started = ok(cluster.reassign(&[
        "--execute",
        "--reassignment-json-file",
        &plan,
        "--throttle",
        "10000000",
    ]));
    // The rollback plan names each current replica's log directory (DescribeLogDirs).
    let dirs: Vec<String> = (1..=3)
        .map(|n| format!("\"{}/node-{n}/data\"", cluster.dir()))
        .collect();
    let rollback = format!(
        "Current partition replica assignment\n\n{{\"version\":1,\"partitions\":[{{\"topic\":\"moving\",\"partition\":0,\"replicas\":[1,2,3],\"log_dirs\":[{}]}}]}}\n\nSave this to use as the --reassignment-json-file option during rollback\n",
        dirs.join(",")
    );
    assert!(started.starts_with(&rollback), "{started}");
    // Throttles are set as Kafka's tool sets them (stored, not enforced by Kavka).
    assert!(
        started.ends_with(
            "Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.\n\
             The inter-broker throttle limit was set to 10000000 B/s\n\
             Successfully started partition reassignment for moving-0\n"
        ),
        "{started}"
    );
    wait_until(
        "the reassignment completes",
        Duration::from_secs(60),
        || {
            let out = ok(cluster.reassign(&["--verify", "--reassignment-json-file", &plan]));
            out.contains("Reassignment of partition moving-0 is completed.")
        },
    );
    let verified = ok(cluster.reassign(&["--verify", "--reassignment-json-file", &plan]));
    assert_eq!(
        verified,
        "Status of partition reassignment:\nReassignment of partition moving-0 is completed.\n\n\
         Clearing broker-level throttles on brokers 1,2,3,4\nClearing topic-level throttles on topic moving\n"
    );
    assert_eq!(
        ok(cluster.reassign(&["--list"])),
        "No partition reassignments found.\n"
    );
    let line = cluster.describe("moving");
    assert!(line.contains("Replicas: 2,3,4\t"), "{line}");
    assert!(line.contains("Leader: 2\t"), "{line}");

    // Writing goes on after the move, then stops.
    let moved_at = acked.lock().unwrap().len();
    wait_until("records after the move", Duration::from_secs(30), || {
        acked.lock().unwrap().len() >= moved_at + 200
    });
    stop.store(true, Ordering::Release);
    writer.await.expect("producer task");
    let acked = acked.lock().unwrap().clone();
    assert!(
        failed.lock().unwrap().is_empty(),
        "sends failed: {:?}",
        failed.lock().unwrap()
    );

    // Broker 1 no longer holds the partition; broker 4 holds all of it: its log
    // ends up byte for byte the leader's.
    wait_until("broker 1 deletes its log", Duration::from_secs(20), || {
        !cluster.partition_dir(1, "moving").exists()
    });
    let segment = "00000000000000000000.log";
    wait_until("broker 4 catches up", Duration::from_secs(30), || {
        let leader = std::fs::read(cluster.partition_dir(2, "moving").join(segment));
        let new = std::fs::read(cluster.partition_dir(4, "moving").join(segment));
        matches!((leader, new), (Ok(a), Ok(b)) if !a.is_empty() && a == b)
    });
    let on_4 = std::fs::read(cluster.partition_dir(4, "moving").join(segment)).unwrap();
    for value in [&acked[0], &acked[acked.len() / 2], &acked[acked.len() - 1]] {
        assert!(
            on_4.windows(value.len()).any(|w| w == value.as_bytes()),
            "{value} is not in broker 4's log"
        );
    }

    // A consumer reads every acknowledged record, in order.
    let consumer = assigned_consumer(&cluster.bootstrap, "moving", &[0], Offset::Beginning);
    let read: Vec<String> = consume_n(&consumer, acked.len(), Duration::from_secs(60))
        .iter()
        .map(|m| String::from_utf8_lossy(&payload(m)).into_owned())
        .collect();
    assert_eq!(read.len(), acked.len(), "records read");
    assert_eq!(read, acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_in_flight_reassignment_restores_the_original_replicas() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::up();
    create_on(&cluster, "stuck", "1:2:3");
    let producer = producer(&cluster.bootstrap, &[("acks", "all")]);
    for i in 0..50 {
        send(&producer, "stuck", None, Some(format!("v{i}").as_bytes())).await;
    }

    // Broker 4 is frozen: it cannot catch up, so the move stays in flight.
    cluster.node(&["pause", "4"]);
    let plan = write_plan(cluster.dir.path(), "stuck.json", "stuck", &[2, 3, 4]);
    ok(cluster.reassign(&["--execute", "--reassignment-json-file", &plan]));
    assert_eq!(
        ok(cluster.reassign(&["--list"])),
        "Current partition reassignments:\nstuck-0: replicas: 2,3,4,1. adding: 4. removing: 1.\n"
    );
    assert_eq!(
        ok(cluster.reassign(&["--verify", "--reassignment-json-file", &plan])),
        "Status of partition reassignment:\nReassignment of partition stuck-0 is still in progress.\n\n"
    );
    // kafka-topics shows the move, and counts the target's replicas only.
    let line = cluster.describe("stuck");
    assert!(
        line.contains("Replicas: 2,3,4,1\tIsr: 1,2,3\tAdding Replicas: 4\tRemoving Replicas: 1\t"),
        "{line}"
    );
    let topic_line = ok(kavka(&[
        "topics",
        "--bootstrap-server",
        &cluster.bootstrap,
        "--describe",
        "--topic",
        "stuck",
    ]));
    assert!(
        topic_line.contains("\tReplicationFactor: 3\t"),
        "{topic_line}"
    );
    let other = write_plan(cluster.dir.path(), "other.json", "stuck", &[1, 2]);
    let refused = cluster.reassign(&["--execute", "--reassignment-json-file", &other]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout)
        .starts_with("Cannot execute because there is an existing partition assignment."));

    // Throttles stay: clearing them would wait on the frozen broker 4, as in Kafka.
    assert_eq!(
        ok(cluster.reassign(&[
            "--cancel",
            "--reassignment-json-file",
            &plan,
            "--preserve-throttles"
        ])),
        "Successfully cancelled partition reassignment for: stuck-0\n\
         None of the specified partition moves are active."
    );
    assert_eq!(
        ok(cluster.reassign(&["--list"])),
        "No partition reassignments found.\n"
    );
    // Back on the original brokers (Kafka keeps the reassignment's order of them).
    let line = cluster.describe("stuck");
    assert!(line.contains("Replicas: 2,3,1\t"), "{line}");
    assert!(line.contains("Isr: 1,2,3\t"), "{line}");

    cluster.node(&["resume", "4"]);
    wait_until("broker 4 holds no replica", Duration::from_secs(30), || {
        !cluster.partition_dir(4, "stuck").exists()
    });
    let consumer = assigned_consumer(&cluster.bootstrap, "stuck", &[0], Offset::Beginning);
    assert_eq!(
        consume_n(&consumer, 50, Duration::from_secs(30)).len(),
        50,
        "every record still there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_while_its_replica_moved_away_deletes_the_log_when_it_returns() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::up();
    create_on(&cluster, "away", "1:2:3");
    let producer = producer(&cluster.bootstrap, &[("acks", "all")]);
    for i in 0..50 {
        send(&producer, "away", None, Some(format!("v{i}").as_bytes())).await;
    }
    wait_until(
        "broker 1 holds the partition",
        Duration::from_secs(10),
        || cluster.partition_dir(1, "away").is_dir(),
    );

    // Broker 1 is down while the partition moves off it.
    cluster.node(&["stop", "1"]);
    let plan = write_plan(cluster.dir.path(), "away.json", "away", &[2, 3, 4]);
    ok(cluster.reassign(&["--execute", "--reassignment-json-file", &plan]));
    wait_until(
        "the reassignment completes",
        Duration::from_secs(60),
        || {
            let out = ok(cluster.reassign(&["--verify", "--reassignment-json-file", &plan]));
            out.contains("Reassignment of partition away-0 is completed.")
        },
    );
    assert!(
        cluster.partition_dir(1, "away").is_dir(),
        "the stopped broker's log is still there"
    );

    // Back, it finds the partition assigned elsewhere and deletes its log.
    cluster.node(&["start", "1"]);
    wait_until(
        "broker 1 deletes its stray log",
        Duration::from_secs(60),
        || !cluster.partition_dir(1, "away").exists(),
    );
    let consumer = assigned_consumer(&cluster.bootstrap, "away", &[0], Offset::Beginning);
    assert_eq!(consume_n(&consumer, 50, Duration::from_secs(30)).len(), 50);
}
