//! The transaction coordinator on one node, driven by librdkafka's transactional
//! producer and checked with read_committed consumers: committed records are read,
//! aborted ones are not, offsets sent to a transaction count only once it
//! commits, a second producer with the same transactional id fences the first, a
//! transaction left open past its timeout is aborted by the coordinator, and
//! ListTransactions / DescribeTransactions (and `kavka transactions`) show them.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{client_config, create_topic, raw_call, TestBroker};
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, ListTransactionsRequest, ListTransactionsResponse, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(30);

fn broker() -> TestBroker {
    TestBroker::start_with(&[
        // Timed-out transactions are looked for every half second.
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=500",
    ])
}

fn txn_producer(bootstrap: &str, id: &str, extra: &[(&str, &str)]) -> BaseProducer {
    let mut c = client_config(bootstrap);
    c.set("transactional.id", id)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "20000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("transactional producer")
}

fn send(p: &BaseProducer, topic: &str, partition: i32, value: &str) {
    p.send(
        BaseRecord::<(), str>::to(topic)
            .partition(partition)
            .payload(value),
    )
    .map_err(|(e, _)| e)
    .expect("enqueue");
    p.poll(Duration::ZERO);
}

fn read_committed(bootstrap: &str, topic: &str, partitions: i32) -> BaseConsumer {
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
    consumer
}

/// Every value read until nothing new came for `quiet`.
fn read_values(consumer: &BaseConsumer, quiet: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            last = Instant::now();
        }
    }
    out.sort();
    out
}

/// `kavka transactions ARGS`: its stdout, after checking it succeeded.
fn tool(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("transactions")
        .args(args)
        .output()
        .expect("run kavka transactions");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn describe(port: u16, id: &str) -> DescribeTransactionsResponse {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let find: FindCoordinatorResponse = raw_call(
        &mut s,
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(id.to_string()))
            .with_key_type(1),
    );
    assert_eq!(find.error_code, 0, "{:?}", find.error_message);
    raw_call(
        &mut s,
        ApiKey::DescribeTransactions,
        0,
        &DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(StrBytes::from_string(id.to_string()))]),
    )
}

fn state_of(port: u16, id: &str) -> String {
    let d = describe(port, id);
    d.transaction_states[0].transaction_state.to_string()
}

/// Waits until the coordinator reports `want` for `id` (markers are written after
/// EndTxn is answered).
fn wait_state(port: u16, id: &str, want: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let got = state_of(port, id);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "transaction {id} stayed {got}, never {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_transactions_are_read_and_aborted_ones_are_not() {
    let b = broker();
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "txn-visible", 2).await;
    let port = b.port;
    tokio::task::spawn_blocking(move || {
        let p = txn_producer(&bootstrap, "tx-visible", &[]);
        p.init_transactions(TIMEOUT).expect("init_transactions");
        p.begin_transaction().expect("begin");
        send(&p, "txn-visible", 0, "c1");
        send(&p, "txn-visible", 1, "c2");
        p.commit_transaction(TIMEOUT).expect("commit");
        wait_state(port, "tx-visible", "CompleteCommit");
        p.begin_transaction().expect("begin");
        send(&p, "txn-visible", 0, "a1");
        send(&p, "txn-visible", 1, "a2");
        p.flush(TIMEOUT).expect("flush");
        p.abort_transaction(TIMEOUT).expect("abort");
        wait_state(port, "tx-visible", "CompleteAbort");
        p.begin_transaction().expect("begin");
        send(&p, "txn-visible", 0, "c3");
        p.commit_transaction(TIMEOUT).expect("commit");

        let c = read_committed(&bootstrap, "txn-visible", 2);
        assert_eq!(read_values(&c, Duration::from_secs(3)), ["c1", "c2", "c3"]);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_producer_with_the_same_id_fences_the_first() {
    let b = broker();
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "txn-fence", 1).await;
    tokio::task::spawn_blocking(move || {
        let zombie = txn_producer(&bootstrap, "tx-fence", &[]);
        zombie.init_transactions(TIMEOUT).expect("init zombie");
        zombie.begin_transaction().expect("begin");
        send(&zombie, "txn-fence", 0, "zombie");
        zombie.flush(TIMEOUT).expect("flush");

        // The new instance aborts the zombie's open transaction and bumps the epoch.
        let fresh = txn_producer(&bootstrap, "tx-fence", &[]);
        fresh.init_transactions(TIMEOUT).expect("init fresh");
        fresh.begin_transaction().expect("begin");
        send(&fresh, "txn-fence", 0, "fresh");
        fresh.commit_transaction(TIMEOUT).expect("commit fresh");

        let err = zombie
            .commit_transaction(TIMEOUT)
            .expect_err("the zombie must not commit");
        match &err {
            KafkaError::Transaction(e) => assert!(e.is_fatal(), "not fatal: {err}"),
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().to_lowercase().contains("fenced"), "{err}");

        let c = read_committed(&bootstrap, "txn-fence", 1);
        assert_eq!(read_values(&c, Duration::from_secs(3)), ["fresh"]);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_past_its_timeout_is_aborted_and_its_producer_fenced() {
    let b = broker();
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "txn-timeout", 1).await;
    let port = b.port;
    tokio::task::spawn_blocking(move || {
        let p = txn_producer(
            &bootstrap,
            "tx-timeout",
            &[
                ("transaction.timeout.ms", "1500"),
                ("message.timeout.ms", "1500"),
            ],
        );
        p.init_transactions(TIMEOUT).expect("init");
        p.begin_transaction().expect("begin");
        send(&p, "txn-timeout", 0, "late");
        p.flush(TIMEOUT).expect("flush");
        wait_state(port, "tx-timeout", "CompleteAbort");
        let d = describe(port, "tx-timeout");
        assert_eq!(d.transaction_states[0].producer_epoch, 1, "epoch bumped");
        assert!(p.commit_transaction(TIMEOUT).is_err(), "commit after abort");

        let c = read_committed(&bootstrap, "txn-timeout", 1);
        assert!(read_values(&c, Duration::from_secs(3)).is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_above_the_maximum_is_refused() {
    let b = TestBroker::start_with(&["transaction.max.timeout.ms=10000"]);
    let bootstrap = b.bootstrap();
    tokio::task::spawn_blocking(move || {
        let p = txn_producer(
            &bootstrap,
            "tx-long",
            &[("transaction.timeout.ms", "20000")],
        );
        let err = p.init_transactions(TIMEOUT).expect_err("timeout too long");
        assert!(
            err.to_string()
                .contains("Transaction timeout is larger than the maximum value allowed"),
            "{err}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_describe_show_an_open_transaction_and_its_partitions() {
    let b = broker();
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "txn-described", 3).await;
    let port = b.port;
    tokio::task::spawn_blocking(move || {
        let p = txn_producer(&bootstrap, "tx-described", &[]);
        p.init_transactions(TIMEOUT).expect("init");
        p.begin_transaction().expect("begin");
        send(&p, "txn-described", 2, "v");
        send(&p, "txn-described", 0, "v");
        p.flush(TIMEOUT).expect("flush");

        let d = describe(port, "tx-described");
        let t = &d.transaction_states[0];
        assert_eq!(t.error_code, 0);
        assert_eq!(t.transaction_state.as_str(), "Ongoing");
        assert_eq!(t.transaction_timeout_ms, 60_000);
        assert!(t.transaction_start_time_ms > 0);
        assert_eq!(t.topics.len(), 1);
        assert_eq!(t.topics[0].topic.0.as_str(), "txn-described");
        assert_eq!(t.topics[0].partitions, [0, 2]);

        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let listed: ListTransactionsResponse = raw_call(
            &mut s,
            ApiKey::ListTransactions,
            1,
            &ListTransactionsRequest::default().with_duration_filter(-1),
        );
        assert_eq!(listed.error_code, 0);
        let ids: Vec<(String, String)> = listed
            .transaction_states
            .iter()
            .map(|t| {
                (
                    t.transactional_id.0.to_string(),
                    t.transaction_state.to_string(),
                )
            })
            .collect();
        assert_eq!(ids, [("tx-described".to_string(), "Ongoing".to_string())]);

        // Kafka's kafka-transactions.sh tables, as `kavka transactions` prints them.
        let bs = format!("127.0.0.1:{port}");
        let listed = tool(&["--bootstrap-server", &bs, "list"]);
        assert_eq!(
            listed,
            "TransactionalId\tCoordinator\tProducerId\tTransactionState\t\n\
             tx-described   \t1          \t0         \tOngoing         \t\n"
        );
        let described = tool(&[
            "--bootstrap-server",
            &bs,
            "describe",
            "--transactional-id",
            "tx-described",
        ]);
        let lines: Vec<&str> = described.lines().collect();
        let header: Vec<&str> = lines[0].split('\t').map(str::trim_end).collect();
        assert_eq!(
            header,
            [
                "CoordinatorId",
                "TransactionalId",
                "ProducerId",
                "ProducerEpoch",
                "TransactionState",
                "TransactionTimeoutMs",
                "CurrentTransactionStartTimeMs",
                "TransactionDurationMs",
                "TopicPartitions",
                ""
            ]
        );
        let cells: Vec<&str> = lines[1].split('\t').map(str::trim_end).collect();
        assert_eq!(
            &cells[..6],
            ["1", "tx-described", "0", "0", "Ongoing", "60000"]
        );
        assert_eq!(cells[6], t.transaction_start_time_ms.to_string());
        // A HashSet<TopicPartition>'s order, as Kafka's admin client collects them.
        assert_eq!(cells[8], "txn-described-2,txn-described-0");

        p.commit_transaction(TIMEOUT).expect("commit");
        wait_state(port, "tx-described", "CompleteCommit");
        let d = describe(port, "tx-described");
        assert!(d.transaction_states[0].topics.is_empty());
        let unknown = describe(port, "tx-unknown");
        assert_eq!(unknown.transaction_states[0].error_code, 105);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn offsets_sent_to_a_transaction_are_committed_with_it_and_only_then() {
    let b = broker();
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "ctp-in", 1).await;
    create_topic(&bootstrap, "ctp-out", 1).await;
    let input = common::producer(&bootstrap, &[]);
    common::send_all(
        &input,
        "ctp-in",
        ["r0", "r1", "r2", "r3", "r4", "r5"]
            .iter()
            .map(|v| (None, v.as_bytes())),
    )
    .await;
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client_config(&bootstrap)
            .set("group.id", "ctp")
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        consumer.subscribe(&["ctp-in"]).expect("subscribe");
        let p = txn_producer(&bootstrap, "tx-ctp", &[]);
        p.init_transactions(TIMEOUT).expect("init");

        // Read four, write what they became, and commit the input offset with them.
        let mut read = Vec::new();
        let deadline = Instant::now() + TIMEOUT;
        while read.len() < 4 && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                read.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            }
        }
        assert_eq!(read.len(), 4, "read {read:?}");
        let offsets = |next: i64| {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset("ctp-in", 0, Offset::Offset(next))
                .expect("tpl");
            tpl
        };
        let group = consumer.group_metadata().expect("group metadata");
        p.begin_transaction().expect("begin");
        for v in &read {
            send(&p, "ctp-out", 0, &format!("out-{v}"));
        }
        p.send_offsets_to_transaction(&offsets(4), &group, TIMEOUT)
            .expect("send offsets");
        p.commit_transaction(TIMEOUT).expect("commit");

        // An aborted one moves neither the output nor the committed offset.
        p.begin_transaction().expect("begin");
        send(&p, "ctp-out", 0, "out-aborted");
        p.send_offsets_to_transaction(&offsets(6), &group, TIMEOUT)
            .expect("send offsets");
        p.flush(TIMEOUT).expect("flush");
        p.abort_transaction(TIMEOUT).expect("abort");

        let committed = consumer
            .committed_offsets(offsets(0), TIMEOUT)
            .expect("committed offsets");
        let at = committed.find_partition("ctp-in", 0).expect("partition");
        assert_eq!(at.offset(), Offset::Offset(4));
        let c = read_committed(&bootstrap, "ctp-out", 1);
        assert_eq!(
            read_values(&c, Duration::from_secs(3)),
            ["out-r0", "out-r1", "out-r2", "out-r3"]
        );
        // A plain commit by the same group still works afterwards.
        consumer
            .commit(&offsets(5), CommitMode::Sync)
            .expect("plain commit");
    })
    .await
    .unwrap();
}

#[test]
fn a_transaction_log_replication_factor_above_the_brokers_is_refused_until_they_come() {
    // Kafka's default (3) set explicitly, on one broker: no __transaction_state.
    let b = TestBroker::start_with(&["transaction.state.log.replication.factor=3"]);
    let mut s = TcpStream::connect(("127.0.0.1", b.port)).expect("connect");
    let find: FindCoordinatorResponse = raw_call(
        &mut s,
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default()
            .with_key(StrBytes::from_static_str("tx-rf"))
            .with_key_type(1),
    );
    assert_eq!(find.error_code, 15, "COORDINATOR_NOT_AVAILABLE");
    let message = find
        .error_message
        .map(|m| m.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("does not meet the required replication factor '3'"),
        "{message}"
    );
    // Groups are not held up by it.
    let group: FindCoordinatorResponse = raw_call(
        &mut s,
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")),
    );
    assert_eq!(group.error_code, 0);
}
