//! `kavka transactions describe-producers | abort | find-hanging` against a broker:
//! a transaction left open by a producer no coordinator knows (raw transactional
//! Produce, as a coordinator that lost its state would leave it) holds back the
//! last stable offset until the tool aborts it, and `find-hanging` names it while
//! leaving alone a transaction its coordinator still tracks. Outputs are compared
//! with what Kafka's `kafka-transactions.sh` prints.

mod common;

use std::time::Duration;

use common::txn::{batch, connect, latest, produce};
use common::{client_config, create_topic, TestBroker};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const TIMEOUT: Duration = Duration::from_secs(30);
/// A hanging transaction is made as a coordinator that lost its state would leave
/// one: a transactional batch the coordinator never heard of. KIP-890 verification
/// (on by default, as in Kafka) refuses exactly that, so these brokers run without.
const NO_VERIFICATION: &[&str] = &["transaction.partition.verification.enable=false"];

/// `kavka transactions --bootstrap-server B ARGS`: (exit code, stdout, stderr).
fn tool(bootstrap: &str, args: &str) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("transactions")
        .arg("--bootstrap-server")
        .arg(bootstrap)
        .args(args.split_whitespace())
        .output()
        .expect("run kavka transactions");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The rows of a table as cells, headers first (cells are padded and end in tabs).
fn cells(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| {
            l.split('\t')
                .filter(|c| !c.is_empty())
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

const DESCRIBE_PRODUCERS_HEADER: &str = "ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\t\
     LastSequence\tLastTimestamp\tCurrentTransactionStartOffset\t\n";
const FIND_HANGING_HEADER: &str = "Topic\tPartition\tProducerId\tProducerEpoch\t\
     CoordinatorEpoch\tStartOffset\tLastTimestamp\tDuration(min)\t\n";

#[tokio::test]
async fn a_hanging_transaction_is_found_described_and_aborted_by_start_offset() {
    let broker = TestBroker::start_with(NO_VERIFICATION);
    let b = broker.bootstrap();
    create_topic(&b, "hang", 1).await;
    create_topic(&b, "live", 1).await;

    // Producer 4242 opens a transaction at offset 0 with records stamped in 2023:
    // older than any transaction timeout.
    let mut s = connect(broker.port);
    let (code, base) = produce(&mut s, "hang", batch(&["a", "b"], Some((4242, 0, 0))), true);
    assert_eq!((code, base), (0, 0));
    assert_eq!(
        latest(&mut s, "hang", 1),
        0,
        "the open transaction holds the LSO"
    );

    // A transaction its coordinator tracks, open on `live`.
    let live: BaseProducer = client_config(&b)
        .set("transactional.id", "tools-live")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    live.init_transactions(TIMEOUT).expect("init");
    live.begin_transaction().expect("begin");
    live.send(BaseRecord::<(), str>::to("live").partition(0).payload("x"))
        .map_err(|(e, _)| e)
        .expect("send");
    live.flush(TIMEOUT).expect("flush");
    std::thread::sleep(Duration::from_millis(50));

    let (code, out, err) = tool(&b, "describe-producers --topic hang --partition 0");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "{DESCRIBE_PRODUCERS_HEADER}\
             4242      \t0            \t-1                    \t1           \t1700000000001\t0                            \t\n"
        )
    );

    // Only the producer no coordinator knows is hanging, even with a zero timeout.
    for args in [
        "find-hanging --broker-id 1",
        "find-hanging --broker-id 1 --max-transaction-timeout 0",
        "find-hanging --topic hang",
        "find-hanging --topic hang --partition 0",
    ] {
        let (code, out, err) = tool(&b, args);
        assert_eq!(code, 0, "{args}: {err}");
        let rows = cells(&out);
        assert!(out.starts_with(FIND_HANGING_HEADER), "{args}: {out}");
        assert_eq!(rows.len(), 2, "{args}: one hanging transaction: {out}");
        assert_eq!(
            rows[1][..7],
            ["hang", "0", "4242", "0", "-1", "0", "1700000000001"],
            "{args}"
        );
    }
    let (_, out, _) = tool(&b, "find-hanging --topic live --max-transaction-timeout 0");
    assert_eq!(
        out, FIND_HANGING_HEADER,
        "a tracked transaction is not hanging"
    );

    let (code, _, err) = tool(&b, "abort --topic hang --partition 0 --start-offset 1");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Could not find any open transactions starting at offset 1 on partition hang-0\n"
    );

    let (code, out, err) = tool(&b, "abort --topic hang --partition 0 --start-offset 0");
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    // Two records and the abort marker: the LSO moves past all of them.
    assert_eq!(latest(&mut s, "hang", 1), 3);
    let (_, out, _) = tool(&b, "describe-producers --topic hang --partition 0");
    assert_eq!(cells(&out)[1][5], "None", "{out}");
    assert_eq!(
        cells(&out)[1][2],
        "0",
        "the marker's coordinator epoch: {out}"
    );
    let (_, out, _) = tool(&b, "find-hanging --broker-id 1");
    assert_eq!(out, FIND_HANGING_HEADER);
    live.abort_transaction(TIMEOUT).expect("abort live");
}

#[tokio::test]
async fn abort_by_producer_id_and_kafkas_errors() {
    let broker = TestBroker::start_with(NO_VERIFICATION);
    let b = broker.bootstrap();
    create_topic(&b, "hang", 1).await;
    let mut s = connect(broker.port);
    let (code, _) = produce(&mut s, "hang", batch(&["a"], Some((4343, 2, 0))), true);
    assert_eq!(code, 0);

    // Kafka's tool checks these before it asks any broker.
    let (code, _, err) = tool(&b, "abort --topic hang --partition 0");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "The transaction to abort must be identified either with --start-offset (for brokers \
         on 3.0 or above) or with --producer-id, --producer-epoch, and --coordinator-epoch (for \
         older brokers)\n"
    );
    let (_, _, err) = tool(&b, "abort --topic hang --partition 0 --producer-id 4343");
    assert_eq!(err, "Missing required argument --producer-epoch\n");
    let (_, _, err) = tool(&b, "find-hanging --partition 0");
    assert_eq!(
        err,
        "The `find-hanging` command requires either --topic or --broker-id to limit the scope \
         of the search\n"
    );
    // argparse4j's conversion error, wrapped and justified as Kafka prints it.
    let (code, _, err) = tool(&b, "describe-producers --topic hang --partition x");
    assert_eq!(code, 1);
    assert!(
        err.ends_with(
            "kafka-transactions.sh: error: argument --partition:  could  not convert 'x'\n\
             to Integer (For input string: \"x\")\n"
        ),
        "{err}"
    );

    // An epoch below the producer's is refused by the partition.
    let (code, _, err) = tool(
        &b,
        "abort --topic hang --partition 0 --producer-id 4343 --producer-epoch 1 --coordinator-epoch 0",
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Failed to abort transaction AbortTransactionSpec(topicPartition=hang-0, \
         producerId=4343, producerEpoch=1, coordinatorEpoch=0): WriteTxnMarkers request with \
         AbortTransactionSpec(topicPartition=hang-0, producerId=4343, producerEpoch=1, \
         coordinatorEpoch=0) failed due an invalid producer epoch. Enable debug logging for \
         additional detail.\n"
    );
    assert_eq!(latest(&mut s, "hang", 1), 0);

    // A coordinator epoch of -1 (none yet) is sent as 0.
    let (code, out, err) = tool(
        &b,
        "abort --topic hang --partition 0 --producer-id 4343 --producer-epoch 2 --coordinator-epoch -1",
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(latest(&mut s, "hang", 1), 2);
}

/// `kavka consumer-groups --bootstrap-server B ARGS`: its stdout.
fn consumer_groups(bootstrap: &str, args: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("consumer-groups")
        .arg("--bootstrap-server")
        .arg(bootstrap)
        .args(args.split_whitespace())
        .output()
        .expect("run kavka consumer-groups");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kafka's ConsumerGroupCommand lists log end offsets with the admin client's default
/// isolation (read_uncommitted): LOG-END-OFFSET and LAG count to the high watermark,
/// past an open transaction, not to the last stable offset. Apache Kafka 4.4 prints
/// the same for the same history (checked with its own tool).
#[tokio::test]
async fn group_lag_counts_to_the_high_watermark_past_an_open_transaction() {
    let broker = TestBroker::start_with(NO_VERIFICATION);
    let b = broker.bootstrap();
    create_topic(&b, "lagged", 1).await;
    let mut s = connect(broker.port);
    let (code, _) = produce(
        &mut s,
        "lagged",
        batch(&["a", "b"], Some((4646, 0, 0))),
        true,
    );
    assert_eq!(code, 0);
    assert_eq!(latest(&mut s, "lagged", 1), 0, "LSO");
    assert_eq!(latest(&mut s, "lagged", 0), 2, "high watermark");

    consumer_groups(
        &b,
        "--group lag-g --topic lagged --reset-offsets --to-earliest --execute",
    );
    let row = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
            .find(|r| r.first().map(String::as_str) == Some("lag-g"))
            .unwrap_or_else(|| panic!("no row for the group: {out}"))
    };
    let out = consumer_groups(&b, "--group lag-g --describe");
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    assert_eq!(row(&out)[3..6], ["0", "2", "2"], "{out}");

    // Once aborted the marker counts too, as it does in Kafka's log end offset.
    let (code, _, err) = tool(&b, "abort --topic lagged --partition 0 --start-offset 0");
    assert_eq!(code, 0, "{err}");
    let out = consumer_groups(&b, "--group lag-g --describe");
    assert_eq!(row(&out)[3..6], ["0", "3", "3"], "{out}");
}
