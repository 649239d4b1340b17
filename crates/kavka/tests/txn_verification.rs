//! KIP-890 part 1 on one node: a partition leader asks the transaction coordinator
//! before the first transactional batch of a producer (AddPartitionsToTxn
//! verify-only). A batch for a partition never added to the producer's transaction
//! is refused with INVALID_TXN_STATE and Kafka's message (TRANSACTION_ABORTABLE from
//! Produce v11 on), and nothing is written; a partition that was added takes the
//! batch, and the transaction commits.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::raw_call;
use common::txn::{batch, connect, latest, name};
use common::{create_topic, TestBroker};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::*;

/// A raw Produce (v9, acks=all) of `records` to partition 0 of `topic`, sent with
/// `transactional_id`: (error code, error message).
fn produce(
    s: &mut TcpStream,
    transactional_id: &str,
    topic: &str,
    records: Bytes,
) -> (i16, Option<String>) {
    produce_version(s, transactional_id, topic, records, 9)
}

/// [`produce`] at a chosen Produce version.
fn produce_version(
    s: &mut TcpStream,
    transactional_id: &str,
    topic: &str,
    records: Bytes,
    version: i16,
) -> (i16, Option<String>) {
    let request = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(name(transactional_id))))
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(name(topic)))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records)),
            ])]);
    let response: ProduceResponse = raw_call(s, ApiKey::Produce, version, &request);
    let p = &response.responses[0].partition_responses[0];
    (
        p.error_code,
        p.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// InitProducerId for `id`, retried while the coordinator is being set up.
fn init_producer(s: &mut TcpStream, id: &str) -> (i64, i16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r: InitProducerIdResponse = raw_call(
            s,
            ApiKey::InitProducerId,
            3,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(name(id))))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        );
        if r.error_code == 0 {
            return (r.producer_id.0, r.producer_epoch);
        }
        assert!(
            Instant::now() < deadline,
            "InitProducerId: {}",
            r.error_code
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn add_partition(s: &mut TcpStream, id: &str, producer: (i64, i16), topic: &str) -> i16 {
    let r: AddPartitionsToTxnResponse = raw_call(
        s,
        ApiKey::AddPartitionsToTxn,
        3,
        &AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(name(id)))
            .with_v3_and_below_producer_id(ProducerId(producer.0))
            .with_v3_and_below_producer_epoch(producer.1)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(name(topic)))
                .with_partitions(vec![0])]),
    );
    r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
}

fn end_txn(s: &mut TcpStream, id: &str, producer: (i64, i16), commit: bool) -> i16 {
    let r: EndTxnResponse = raw_call(
        s,
        ApiKey::EndTxn,
        3,
        &EndTxnRequest::default()
            .with_transactional_id(TransactionalId(name(id)))
            .with_producer_id(ProducerId(producer.0))
            .with_producer_epoch(producer.1)
            .with_committed(commit),
    );
    r.error_code
}

const NOT_ADDED: (i16, Option<&str>) = (48, Some("Partition was not added to the transaction"));

#[tokio::test]
async fn a_transactional_batch_for_a_partition_never_added_is_refused() {
    let broker = TestBroker::start();
    refused_unless_added(&broker.bootstrap(), broker.port, "").await;
}

/// The same against Apache Kafka (the oracle): `KAVKA_REFERENCE_PORT=P cargo test
/// --test txn_verification -- --ignored` with `compat/kafka-ref.sh start --port P`.
#[tokio::test]
#[ignore = "needs a running reference Kafka (KAVKA_REFERENCE_PORT)"]
async fn reference_kafka_refuses_the_same() {
    let port: u16 = std::env::var("KAVKA_REFERENCE_PORT")
        .expect("KAVKA_REFERENCE_PORT")
        .parse()
        .expect("a port");
    let suffix = format!("-{}", std::process::id());
    refused_unless_added(&format!("127.0.0.1:{port}"), port, &suffix).await;
}

async fn refused_unless_added(bootstrap: &str, port: u16, suffix: &str) {
    let (added, never) = (format!("added{suffix}"), format!("never{suffix}"));
    let (added, never) = (added.as_str(), never.as_str());
    create_topic(bootstrap, added, 1).await;
    create_topic(bootstrap, never, 1).await;
    let mut s = connect(port);
    let id = &format!("kip890{suffix}");
    let producer = init_producer(&mut s, id);

    // A producer id the coordinator did not give this transactional id: the
    // coordinator's INVALID_PRODUCER_ID_MAPPING goes to the producer as is.
    let (code, message) = produce(&mut s, id, never, batch(&["x"], Some((9999, 0, 0))));
    assert_eq!((code, message), (49, None));

    // The real producer, before AddPartitionsToTxn and after it for another topic.
    let (code, message) = produce(
        &mut s,
        id,
        never,
        batch(&["x"], Some((producer.0, producer.1, 0))),
    );
    assert_eq!((code, message.as_deref()), NOT_ADDED);
    assert_eq!(add_partition(&mut s, id, producer, added), 0);
    let (code, message) = produce(
        &mut s,
        id,
        never,
        batch(&["x"], Some((producer.0, producer.1, 0))),
    );
    assert_eq!((code, message.as_deref()), NOT_ADDED);
    // A client that knows TRANSACTION_ABORTABLE (Produce v11+) gets it instead, as
    // from Kafka, and aborts rather than failing for good.
    let (code, _) = produce_version(
        &mut s,
        id,
        never,
        batch(&["x"], Some((producer.0, producer.1, 0))),
        11,
    );
    assert_eq!(code, 120, "TRANSACTION_ABORTABLE");
    assert_eq!(latest(&mut s, never, 0), 0, "nothing was written");

    // The partition that was added takes the batch, and a second one (the
    // transaction is open there now, no question asked).
    let (code, _) = produce(
        &mut s,
        id,
        added,
        batch(&["a", "b"], Some((producer.0, producer.1, 0))),
    );
    assert_eq!(code, 0);
    let (code, _) = produce(
        &mut s,
        id,
        added,
        batch(&["c"], Some((producer.0, producer.1, 2))),
    );
    assert_eq!(code, 0);
    assert_eq!(latest(&mut s, added, 1), 0, "open: the LSO waits");
    assert_eq!(end_txn(&mut s, id, producer, true), 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while latest(&mut s, added, 1) != 4 {
        assert!(Instant::now() < deadline, "the commit marker never came");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(latest(&mut s, never, 0), 0);
}

#[tokio::test]
async fn verification_can_be_turned_off_as_in_kafka() {
    let broker = TestBroker::start_with(&["transaction.partition.verification.enable=false"]);
    create_topic(&broker.bootstrap(), "never", 1).await;
    let mut s = connect(broker.port);
    let (code, _) = produce(
        &mut s,
        "kip890-off",
        "never",
        batch(&["x"], Some((9999, 0, 0))),
    );
    assert_eq!(code, 0);
    assert_eq!(latest(&mut s, "never", 0), 1);
}
