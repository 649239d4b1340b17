//! Transactions on a 3-node cluster from `kavka cluster`: the coordinator of a
//! transactional id is the leader of its `__transaction_state` partition, and
//! when that node is killed with -9 in the middle of a transaction, the
//! partition's new leader loads the transaction and the producer finishes it
//! there; when a coordinator dies after answering EndTxn, its successor writes the
//! markers; read_committed consumers see exactly what was committed.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{client_config, raw_call};
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const NOT_COORDINATOR: i16 = 16;

/// A 3-node cluster in a temporary directory, taken down and purged when dropped.
struct Cluster {
    dir: PathBuf,
    base: u16,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn up() -> Cluster {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cluster = Cluster {
            dir: tmp.path().join("cluster"),
            base: common::free_port_block(6),
            _tmp: tmp,
        };
        let base_arg = cluster.base.to_string();
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

fn find_coordinator(port: u16, id: &str) -> FindCoordinatorResponse {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw_call(
        &mut s,
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(id.to_string()))
            .with_key_type(1),
    )
}

/// The coordinator of `id` as node `via` names it, once it is not `not`.
fn coordinator(cluster: &Cluster, via: i32, id: &str, not: Option<i32>) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = find_coordinator(cluster.port(via), id);
        if r.error_code == 0 && Some(r.node_id.0) != not {
            return r.node_id.0;
        }
        assert!(
            Instant::now() < deadline,
            "no coordinator for {id}: {:?}",
            r.error_message
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn describe(port: u16, id: &str) -> DescribeTransactionsResponse {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw_call(
        &mut s,
        ApiKey::DescribeTransactions,
        0,
        &DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(StrBytes::from_string(id.to_string()))]),
    )
}

fn read_committed(bootstrap: &str, topic: &str, partitions: i32) -> Vec<String> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "kavka-txn-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(5) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            last = Instant::now();
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_survives_the_kill_of_its_coordinator() {
    let cluster = Cluster::up();
    let bs = cluster.bootstrap();
    let admin: AdminClient<DefaultClientContext> = client_config(&bs).create().unwrap();
    for r in admin
        .create_topics(
            &[NewTopic::new("payments", 3, TopicReplication::Fixed(3))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics")
    {
        r.expect("topic created");
    }
    let id = "tx-failover";
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = client_config(&bs)
            .set("transactional.id", id)
            .set("linger.ms", "5")
            .set("message.timeout.ms", "60000")
            .create()
            .expect("producer");
        let timeout = Duration::from_secs(60);
        producer.init_transactions(timeout).expect("init");

        // A committed transaction first, on the first coordinator.
        producer.begin_transaction().expect("begin");
        for p in 0..3 {
            producer
                .send(
                    BaseRecord::<(), str>::to("payments")
                        .partition(p)
                        .payload(&format!("before-{p}")),
                )
                .map_err(|(e, _)| e)
                .expect("enqueue");
        }
        producer.commit_transaction(timeout).expect("first commit");

        let first = coordinator(&cluster, 1, id, None);
        for node in (1..=3).filter(|&n| n != first) {
            let d = describe(cluster.port(node), id);
            assert_eq!(d.transaction_states[0].error_code, NOT_COORDINATOR);
        }

        // The second is open (its partitions recorded) when the coordinator dies.
        producer.begin_transaction().expect("begin");
        for p in 0..3 {
            producer
                .send(
                    BaseRecord::<(), str>::to("payments")
                        .partition(p)
                        .payload(&format!("during-{p}")),
                )
                .map_err(|(e, _)| e)
                .expect("enqueue");
        }
        producer.flush(timeout).expect("flush");
        let d = describe(cluster.port(first), id);
        assert_eq!(
            d.transaction_states[0].transaction_state.as_str(),
            "Ongoing"
        );

        cluster.run(&["kill", &first.to_string()]);
        let survivor = (1..=3).find(|&n| n != first).expect("survivor");
        let second = coordinator(&cluster, survivor, id, Some(first));

        // The producer finds the new coordinator, which loaded the transaction.
        let outcome = producer.commit_transaction(timeout);
        let want: Vec<String> = match &outcome {
            Ok(()) => [
                "before-0", "before-1", "before-2", "during-0", "during-1", "during-2",
            ]
            .map(String::from)
            .to_vec(),
            Err(e) => {
                eprintln!("commit after failover failed ({e}); aborting");
                producer.abort_transaction(timeout).expect("abort");
                ["before-0", "before-1", "before-2"]
                    .map(String::from)
                    .to_vec()
            }
        };
        let done = if outcome.is_ok() {
            "CompleteCommit"
        } else {
            "CompleteAbort"
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = describe(cluster.port(second), id);
            let state = d.transaction_states[0].transaction_state.to_string();
            if state == done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "stuck in {state} on node {second}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let survivors = format!("127.0.0.1:{}", cluster.port(survivor));
        assert_eq!(read_committed(&survivors, "payments", 3), want);

        // And the next transaction runs on the new coordinator.
        producer.begin_transaction().expect("begin");
        producer
            .send(
                BaseRecord::<(), str>::to("payments")
                    .partition(0)
                    .payload("after"),
            )
            .map_err(|(e, _)| e)
            .expect("enqueue");
        producer
            .commit_transaction(timeout)
            .expect("commit after failover");

        // The first node comes back; then the second coordinator dies right after
        // answering EndTxn, most likely before all its markers are written: the
        // next one loads PrepareCommit and writes them.
        cluster.run(&["start", &first.to_string()]);
        producer.begin_transaction().expect("begin");
        for p in 0..3 {
            producer
                .send(
                    BaseRecord::<(), str>::to("payments")
                        .partition(p)
                        .payload(&format!("last-{p}")),
                )
                .map_err(|(e, _)| e)
                .expect("enqueue");
        }
        producer
            .commit_transaction(timeout)
            .expect("commit before the second kill");
        cluster.run(&["kill", &second.to_string()]);
        let third = coordinator(&cluster, first, id, Some(second));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = describe(cluster.port(third), id);
            let state = d.transaction_states[0].transaction_state.to_string();
            if state == "CompleteCommit" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "stuck in {state} on node {third}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let alive = format!("127.0.0.1:{}", cluster.port(third));
        let all = read_committed(&alive, "payments", 3);
        for p in 0..3 {
            assert!(
                all.contains(&format!("last-{p}")),
                "last-{p} missing: {all:?}"
            );
        }
    })
    .await
    .unwrap();
}
