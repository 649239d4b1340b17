//! `kavka dump-log --offsets-decoder` and `--transaction-log-decoder` on the
//! `__consumer_offsets` and `__transaction_state` segments a Kavka broker wrote for
//! a consumer group's commit and a transaction made through librdkafka: what an
//! operator reads there (group, topic, partition, committed offset; transactional
//! id, producer id, state) in Kafka's output form. The exact JSON of every record
//! type is pinned by the unit tests in kavka-tools (`dump_log/decoder_tests.rs`)
//! and against Kafka's own tool by compat/offsets-format/run.sh.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(30);

/// `kavka dump-log ARGS --files SEGMENT`: (exit code, stdout, stderr).
fn dump(segment: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("dump-log")
        .args(args)
        .arg("--files")
        .arg(segment)
        .output()
        .expect("run kavka dump-log");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The producer id in the batch lines of a plain dump of `segment`'s data.
fn transactional_producer_id(segment: &Path) -> String {
    let (code, out, err) = dump(segment, &[]);
    assert_eq!(code, Some(0), "{err}");
    out.lines()
        .find(|l| l.contains("isTransactional: true isControl: false"))
        .and_then(|l| l.split(" producerId: ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no transactional batch in {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoders_print_a_groups_commits_and_a_transactions_states() {
    let mut broker = TestBroker::start_with(&[
        "group.initial.rebalance.delay.ms=0",
        "offsets.topic.num.partitions=1",
        "transaction.state.log.num.partitions=1",
    ]);
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1).await;

    // A transaction of two records, committed.
    let producer: BaseProducer = client_config(&b)
        .set("transactional.id", "dump-tx")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    producer.init_transactions(TIMEOUT).expect("init");
    producer.begin_transaction().expect("begin");
    for value in ["a", "b"] {
        producer
            .send(
                BaseRecord::<(), str>::to("orders")
                    .partition(0)
                    .payload(value),
            )
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.commit_transaction(TIMEOUT).expect("commit");

    // Group `dump-g` reads both (and the marker after them) and commits offset 3.
    let consumer: BaseConsumer = client_config(&b)
        .set("group.id", "dump-g")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    consumer.subscribe(&["orders"]).expect("subscribe");
    let got = consume_n(&consumer, 2, TIMEOUT);
    assert_eq!(got.len(), 2);
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("orders", 0, Offset::Offset(3))
        .expect("offset");
    consumer
        .commit(&offsets, CommitMode::Sync)
        .expect("commit offsets");
    drop(consumer);
    drop(producer);
    broker.stop();

    let dir = broker.data_dir().to_path_buf();
    let first = "00000000000000000000.log";
    let producer_id = transactional_producer_id(&dir.join("orders-0").join(first));

    let offsets_segment = dir.join("__consumer_offsets-0").join(first);
    let (code, out, err) = dump(&offsets_segment, &["--offsets-decoder"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with(&format!(
            "Dumping {}\nLog starting offset: 0\n",
            offsets_segment.display()
        )),
        "{out}"
    );
    // Decoding implies deep iteration and printing the data.
    let commit = out
        .lines()
        .find(|l| {
            l.contains(
                r#" key: {"type":"1","data":{"group":"dump-g","topic":"orders","partition":0}}"#,
            )
        })
        .unwrap_or_else(|| panic!("no offset commit of dump-g in {out}"));
    assert!(commit.starts_with("| offset: "), "{commit}");
    assert!(
        commit.contains(r#" payload: {"version":"4","data":{"offset":3,"leaderEpoch":"#),
        "{commit}"
    );
    // The classic group's membership, with its member's decoded assignment.
    assert!(
        out.lines().any(|l| l.contains(r#"key: {"type":"2","data":{"group":"dump-g"}} payload: {"version":"3","data":{"protocolType":"consumer","generation":1,"#)
            && l.contains(r#""assignment":{"assignedPartitions":[{"topic":"orders","partitions":[0]}],"userData":"#)),
        "{out}"
    );

    let txn_segment = dir.join("__transaction_state-0").join(first);
    let (code, out, err) = dump(&txn_segment, &["--transaction-log-decoder"]);
    assert_eq!(code, Some(0), "{err}");
    let states: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(r#"key: {"type":"0","data":{"transactionalId":"dump-tx"}}"#))
        .collect();
    // Empty (init), Ongoing, PrepareCommit, CompleteCommit, by name as Kafka's tool
    // prints them, each with the producer id
    // the data batches carry.
    let status = |s: &str| {
        s.split(r#""transactionStatus":""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?")
            .to_string()
    };
    assert_eq!(
        states.iter().map(|s| status(s)).collect::<Vec<_>>(),
        ["Empty", "Ongoing", "PrepareCommit", "CompleteCommit"],
        "{out}"
    );
    assert!(
        states.iter().all(|s| s.contains(&format!(
            r#"payload: {{"version":"1","data":{{"producerId":{producer_id},"#
        ))),
        "{out}"
    );
    assert!(
        states[2].contains(r#""transactionPartitions":[{"topic":"orders","partitionIds":[0]}]"#),
        "{out}"
    );

    // The plain view of the same segment keeps the raw bytes, as Kafka's does.
    let (code, out, _) = dump(&txn_segment, &["--print-data-log"]);
    assert_eq!(code, Some(0));
    assert!(!out.contains("transactionalId"), "{out}");
}
