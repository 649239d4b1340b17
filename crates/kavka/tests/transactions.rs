//! Transactions as a consumer sees them: transactional batches and markers written
//! over the wire (Produce with transactional batches, WriteTxnMarkers as the
//! transaction coordinator sends it), read back by librdkafka consumers in
//! `read_committed` and `read_uncommitted`.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::txn::*;
use common::*;
use kafka_protocol::messages::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

const TOPIC: &str = "txn";
/// These tests write transactional batches from producers no coordinator knows
/// and end them with their own markers, as a coordinator would: KIP-890
/// verification, which asks the coordinator first, is off.
const NO_VERIFICATION: &[&str] = &["transaction.partition.verification.enable=false"];

fn consumer(bs: &str, isolation: &str) -> BaseConsumer {
    let consumer: BaseConsumer = client_config(bs)
        .set("group.id", format!("txn-test-{isolation}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    consumer
}

/// Every value the consumer gets within `wait`.
fn values(consumer: &BaseConsumer, wait: Duration) -> Vec<String> {
    consume_n(consumer, 1000, wait)
        .iter()
        .map(|m| String::from_utf8(payload(m)).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_skips_aborted_records_and_waits_for_open_transactions() {
    let broker = TestBroker::start_with(NO_VERIFICATION);
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, 1).await;
    let mut s = connect(broker.port);

    assert_eq!(
        produce(
            &mut s,
            TOPIC,
            batch(&["aborted-1", "aborted-2"], Some((4242, 0, 0))),
            true
        ),
        (0, 0)
    );
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["plain-1"], None), false),
        (0, 2)
    );
    // The open transaction holds read_committed at its first offset.
    assert_eq!(latest(&mut s, TOPIC, 1), 0);
    assert_eq!(latest(&mut s, TOPIC, 0), 3);
    let committed = consumer(&bs, "read_committed");
    assert!(
        values(&committed, Duration::from_secs(3)).is_empty(),
        "blocked at the LSO"
    );

    assert_eq!(write_marker(&mut s, TOPIC, 4242, false), 0); // offset 3
    assert_eq!(
        produce(
            &mut s,
            TOPIC,
            batch(&["committed-1"], Some((4343, 0, 0))),
            true
        )
        .0,
        0
    ); // 4
    assert_eq!(write_marker(&mut s, TOPIC, 4343, true), 0); // 5
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["plain-2"], None), false).0,
        0
    ); // 6
    assert_eq!(latest(&mut s, TOPIC, 1), 7);
    assert_eq!(fetch_committed(&mut s, TOPIC), (7, vec![(4242, 0)]));

    assert_eq!(
        values(&committed, Duration::from_secs(5)),
        ["plain-1", "committed-1", "plain-2"]
    );
    let uncommitted = consumer(&bs, "read_uncommitted");
    assert_eq!(
        values(&uncommitted, Duration::from_secs(5)),
        [
            "aborted-1",
            "aborted-2",
            "plain-1",
            "committed-1",
            "plain-2"
        ]
    );

    // Fencing: an older producer or coordinator epoch is refused.
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["x"], Some((5000, 0, 0))), true).0,
        0
    );
    assert_eq!(write_marker_epochs(&mut s, TOPIC, 5000, 0, 3, true), 0);
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["y"], Some((5000, 1, 0))), true).0,
        0
    );
    assert_eq!(
        write_marker_epochs(&mut s, TOPIC, 5000, 0, 3, true),
        kafka_protocol::ResponseError::InvalidProducerEpoch.code()
    );
    assert_eq!(
        write_marker_epochs(&mut s, TOPIC, 5000, 1, 2, true),
        kafka_protocol::ResponseError::TransactionCoordinatorFenced.code()
    );
    assert_eq!(write_marker_epochs(&mut s, TOPIC, 5000, 1, 3, false), 0);
    // DescribeProducers shows the producers and the open transaction's start.
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["open"], Some((6000, 2, 0))), true),
        (0, 11)
    );
    let request = DescribeProducersRequest::default().with_topics(vec![
        describe_producers_request::TopicRequest::default()
            .with_name(TopicName(name(TOPIC)))
            .with_partition_indexes(vec![0]),
    ]);
    let response: DescribeProducersResponse =
        raw_call(&mut s, ApiKey::DescribeProducers, 0, &request);
    let producers = &response.topics[0].partitions[0].active_producers;
    let open = producers.iter().find(|p| p.producer_id.0 == 6000).unwrap();
    assert_eq!(
        (
            open.producer_epoch,
            open.last_sequence,
            open.current_txn_start_offset
        ),
        (2, 0, 11)
    );
    let done = producers.iter().find(|p| p.producer_id.0 == 5000).unwrap();
    assert_eq!(
        (done.coordinator_epoch, done.current_txn_start_offset),
        (3, -1)
    );

    // As Kafka, transactional records come with the transactional id.
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["z"], Some((7000, 0, 0))), false).0,
        kafka_protocol::ResponseError::TransactionalIdAuthorizationFailed.code()
    );
    // Unknown partitions are named as such.
    let request = WriteTxnMarkersRequest::default().with_markers(vec![
        write_txn_markers_request::WritableTxnMarker::default()
            .with_producer_id(ProducerId(1))
            .with_topics(vec![
                write_txn_markers_request::WritableTxnMarkerTopic::default()
                    .with_name(TopicName(name("nope")))
                    .with_partition_indexes(vec![0]),
            ]),
    ]);
    let response: WriteTxnMarkersResponse = raw_call(&mut s, ApiKey::WriteTxnMarkers, 1, &request);
    assert_eq!(
        response.markers[0].topics[0].partitions[0].error_code,
        kafka_protocol::ResponseError::UnknownTopicOrPartition.code()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_survives_kill_nine_and_its_commit_releases_it() {
    let mut broker = TestBroker::start_with(NO_VERIFICATION);
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, 1).await;
    let mut s = connect(broker.port);
    assert_eq!(produce(&mut s, TOPIC, batch(&["before"], None), false).0, 0); // 0
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["in-txn"], Some((77, 0, 0))), true).0,
        0
    ); // 1
    assert_eq!(produce(&mut s, TOPIC, batch(&["after"], None), false).0, 0); // 2
    assert_eq!(latest(&mut s, TOPIC, 1), 1);
    drop(s);

    broker.kill9();
    broker.restart();
    let mut s = connect(broker.port);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // The partition comes back once the broker has caught up with its metadata.
    while latest(&mut s, TOPIC, 0) != 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(latest(&mut s, TOPIC, 0), 3);
    assert_eq!(
        latest(&mut s, TOPIC, 1),
        1,
        "the LSO still holds at the open transaction"
    );
    let committed = consumer(&bs, "read_committed");
    assert_eq!(values(&committed, Duration::from_secs(3)), ["before"]);

    assert_eq!(write_marker(&mut s, TOPIC, 77, true), 0);
    assert_eq!(latest(&mut s, TOPIC, 1), 4);
    assert_eq!(
        values(&committed, Duration::from_secs(5)),
        ["in-txn", "after"]
    );
}

/// TxnOffsetCommit for group "tg", topic `TOPIC` partition 0 (generation -1).
fn txn_offset_commit(stream: &mut TcpStream, producer_id: i64, epoch: i16, offset: i64) -> i16 {
    let request = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(name("tx")))
        .with_group_id(GroupId(name("tg")))
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![
            txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                .with_name(TopicName(name(TOPIC)))
                .with_partitions(vec![
                    txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(-1),
                ]),
        ]);
    let response: TxnOffsetCommitResponse = raw_call(stream, ApiKey::TxnOffsetCommit, 3, &request);
    response.topics[0].partitions[0].error_code
}

/// OffsetFetch v7 of group "tg", `TOPIC` partition 0: (offset, error code).
fn committed_offset(stream: &mut TcpStream, require_stable: bool) -> (i64, i16) {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(name("tg")))
        .with_require_stable(require_stable)
        .with_topics(Some(vec![
            offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(TopicName(name(TOPIC)))
                .with_partition_indexes(vec![0]),
        ]));
    let response: OffsetFetchResponse = raw_call(stream, ApiKey::OffsetFetch, 7, &request);
    let p = &response.topics[0].partitions[0];
    (p.committed_offset, p.error_code)
}

/// Java's `String.hashCode`, for the group's `__consumer_offsets` partition.
fn offsets_partition(group: &str) -> i32 {
    let hash = group.encode_utf16().fold(0i32, |h, c| {
        h.wrapping_mul(31).wrapping_add(i32::from(c as i16))
    });
    hash.unsigned_abs() as i32 % 50
}

/// A marker on the group's `__consumer_offsets` partition.
fn offsets_marker(stream: &mut TcpStream, producer_id: i64, epoch: i16, commit: bool) -> i16 {
    let request = WriteTxnMarkersRequest::default().with_markers(vec![
        write_txn_markers_request::WritableTxnMarker::default()
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch)
            .with_transaction_result(commit)
            .with_topics(vec![
                write_txn_markers_request::WritableTxnMarkerTopic::default()
                    .with_name(TopicName(name("__consumer_offsets")))
                    .with_partition_indexes(vec![offsets_partition("tg")]),
            ]),
    ]);
    let response: WriteTxnMarkersResponse = raw_call(stream, ApiKey::WriteTxnMarkers, 1, &request);
    response.markers[0].topics[0].partitions[0].error_code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_offsets_count_only_once_committed_and_survive_a_restart() {
    let mut broker = TestBroker::start_with(&[
        "offsets.topic.replication.factor=1",
        "transaction.partition.verification.enable=false",
    ]);
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, 1).await;
    let mut s = connect(broker.port);
    let unstable = kafka_protocol::ResponseError::UnstableOffsetCommit.code();

    assert_eq!(txn_offset_commit(&mut s, 900, 0, 5), 0);
    assert_eq!(
        committed_offset(&mut s, false),
        (-1, 0),
        "pending is not committed"
    );
    assert_eq!(committed_offset(&mut s, true), (-1, unstable));
    assert_eq!(offsets_marker(&mut s, 900, 0, true), 0);
    assert_eq!(committed_offset(&mut s, true), (5, 0));

    assert_eq!(txn_offset_commit(&mut s, 900, 0, 9), 0);
    assert_eq!(offsets_marker(&mut s, 900, 0, false), 0);
    assert_eq!(
        committed_offset(&mut s, true),
        (5, 0),
        "the aborted offset is dropped"
    );

    // An older producer epoch is fenced by the log.
    assert_eq!(txn_offset_commit(&mut s, 901, 3, 11), 0);
    assert_eq!(
        txn_offset_commit(&mut s, 901, 2, 12),
        kafka_protocol::ResponseError::InvalidProducerEpoch.code()
    );
    drop(s);

    // The loader replays the markers and keeps the open transaction's offset pending.
    broker.kill9();
    broker.restart();
    let mut s = connect(broker.port);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut answer = committed_offset(&mut s, true);
    while answer.1 != unstable && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        answer = committed_offset(&mut s, true);
    }
    assert_eq!(answer, (-1, unstable));
    assert_eq!(committed_offset(&mut s, false), (5, 0));
    assert_eq!(offsets_marker(&mut s, 901, 3, true), 0);
    assert_eq!(committed_offset(&mut s, true), (11, 0));
}
