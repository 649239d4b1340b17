//! Raw protocol helpers for transaction tests: transactional batches, markers
//! as the transaction coordinator writes them, and the offsets a read_committed
//! consumer would see.

use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::raw_call;

pub fn name(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    s
}

/// One batch of `values`; transactional batches carry the producer's (id, epoch,
/// first sequence).
pub fn batch(values: &[&str], producer: Option<(i64, i16, i32)>) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map_or(-1, |p| p.0),
            producer_epoch: producer.map_or(-1, |p| p.1),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: producer.map_or(-1, |p| p.2 + i as i32),
            timestamp: 1_700_000_000_000 + i as i64,
            key: None,
            value: Some(Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

/// Produces one batch (acks=all); returns (error code, base offset).
pub fn produce(
    stream: &mut TcpStream,
    topic: &str,
    records: Bytes,
    transactional: bool,
) -> (i16, i64) {
    let request = ProduceRequest::default()
        .with_transactional_id(transactional.then(|| TransactionalId(name("tx"))))
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(name(topic)))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records)),
            ])]);
    let response: ProduceResponse = raw_call(stream, ApiKey::Produce, 9, &request);
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// Sends one marker as the transaction coordinator would; returns its error code.
pub fn write_marker(stream: &mut TcpStream, topic: &str, producer_id: i64, commit: bool) -> i16 {
    write_marker_epochs(stream, topic, producer_id, 0, 0, commit)
}

pub fn write_marker_epochs(
    stream: &mut TcpStream,
    topic: &str,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    commit: bool,
) -> i16 {
    let request = WriteTxnMarkersRequest::default().with_markers(vec![
        write_txn_markers_request::WritableTxnMarker::default()
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(producer_epoch)
            .with_transaction_result(commit)
            .with_coordinator_epoch(coordinator_epoch)
            .with_topics(vec![
                write_txn_markers_request::WritableTxnMarkerTopic::default()
                    .with_name(TopicName(name(topic)))
                    .with_partition_indexes(vec![0]),
            ]),
    ]);
    let response: WriteTxnMarkersResponse = raw_call(stream, ApiKey::WriteTxnMarkers, 1, &request);
    response.markers[0].topics[0].partitions[0].error_code
}

/// ListOffsets latest for the isolation level (0 uncommitted, 1 committed).
pub fn latest(stream: &mut TcpStream, topic: &str, isolation: i8) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation)
        .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
            .with_name(TopicName(name(topic)))
            .with_partitions(vec![
                list_offsets_request::ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-1),
            ])]);
    let response: ListOffsetsResponse = raw_call(stream, ApiKey::ListOffsets, 7, &request);
    response.topics[0].partitions[0].offset
}

/// A raw read_committed Fetch from offset 0: (LSO, aborted (pid, first offset)).
pub fn fetch_committed(stream: &mut TcpStream, topic: &str) -> (i64, Vec<(i64, i64)>) {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(1)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(TopicName(name(topic)))
            .with_partitions(vec![fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let response: FetchResponse = raw_call(stream, ApiKey::Fetch, 12, &request);
    let p = &response.responses[0].partitions[0];
    let aborted = p
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    (p.last_stable_offset, aborted)
}
