//! Request helpers shared by the scenarios: each sends one request and returns the
//! part of the answer the scenarios compare.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::list_offsets_response::ListOffsetsPartitionResponse;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchRequest, ListOffsetsRequest, MetadataRequest,
    ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::wire::Connection;

/// Produce v13 and Fetch v13+ name topics by id only; the scenarios use names.
pub(crate) const PRODUCE_CAP: i16 = 12;
pub(crate) const FETCH_CAP: i16 = 12;

/// An error code as `36 TopicAlreadyExists`.
pub(crate) fn code(code: i16) -> String {
    match code.err() {
        None => "0 NONE".to_string(),
        Some(e) => format!("{code} {e:?}"),
    }
}

pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub(crate) fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

/// CreateTopics for one topic; returns its result.
pub(crate) fn create_topic(
    conn: &mut Connection,
    name: &str,
    partitions: i32,
    replication: i16,
    configs: &[(&str, &str)],
    validate_only: bool,
) -> Result<CreatableTopicResult> {
    let topic = CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(replication)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(s(k))
                        .with_value(Some(s(v)))
                })
                .collect(),
        );
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(10_000)
        .with_validate_only(validate_only);
    let response = conn.send(request, i16::MAX)?;
    response
        .topics
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("CreateTopics answered no topic"))
}

/// Creates a topic and waits until Metadata shows a leader for every partition.
pub(crate) fn create_ready(conn: &mut Connection, name: &str, partitions: i32) -> Result<()> {
    let result = create_topic(conn, name, partitions, 1, &[], false)?;
    if result.error_code != 0 {
        return Err(anyhow!("creating {name}: {}", code(result.error_code)));
    }
    wait_ready(conn, name)
}

/// Waits (up to 10 s) until Metadata answers `name` with error 0 and a leader everywhere.
pub(crate) fn wait_ready(conn: &mut Connection, name: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = metadata_topic(conn, name, false)?;
        if t.error_code == 0
            && !t.partitions.is_empty()
            && t.partitions.iter().all(|p| p.leader_id.0 >= 0)
        {
            // Metadata can name a leader a moment before that broker serves the
            // partition (Kafka then answers NOT_LEADER_OR_FOLLOWER): wait until
            // ListOffsets succeeds on every partition.
            let mut all = true;
            for p in &t.partitions {
                if list_offsets(conn, name, p.partition_index, -1)?.error_code != 0 {
                    all = false;
                }
            }
            if all {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(anyhow!("{name} not ready: {}", code(t.error_code)));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Metadata for one topic.
pub(crate) fn metadata_topic(
    conn: &mut Connection,
    name: &str,
    auto_create: bool,
) -> Result<MetadataResponseTopic> {
    let request = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic_name(name)))
        ]))
        .with_allow_auto_topic_creation(auto_create);
    let response = conn.send(request, 12)?;
    response
        .topics
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("Metadata answered no topic"))
}

/// One uncompressed v2 batch of `values`, with timestamps `ts` (one per value).
pub(crate) fn batch(values: &[Bytes], ts: &[i64]) -> Result<Bytes> {
    batch_with(values, ts, Compression::None, None)
}

/// One v2 batch: `producer` is (producer id, epoch, base sequence) for idempotent batches.
pub(crate) fn batch_with(
    values: &[Bytes],
    ts: &[i64],
    compression: Compression,
    producer: Option<(i64, i16, i32)>,
) -> Result<Bytes> {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map_or(-1, |p| p.0),
            producer_epoch: producer.map_or(-1, |p| p.1),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder splits batches where offset - sequence changes, so a
            // non-idempotent batch still needs sequences that advance with offsets.
            sequence: producer.map_or(i as i32 - 1, |p| p.2 + i as i32),
            timestamp: ts.get(i).copied().unwrap_or(1_000),
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(v.clone()),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )?;
    Ok(buf.freeze())
}

/// Small text values as Bytes.
pub(crate) fn texts(values: &[&str]) -> Vec<Bytes> {
    values.iter().map(|v| Bytes::from(v.to_string())).collect()
}

/// A batch of small text values, timestamps 1000, 1001, ...
pub(crate) fn text_batch(values: &[&str]) -> Result<Bytes> {
    let values: Vec<Bytes> = values.iter().map(|v| Bytes::from(v.to_string())).collect();
    let ts: Vec<i64> = (0..values.len() as i64).map(|i| 1_000 + i).collect();
    batch(&values, &ts)
}

/// Produce (acks=-1) one batch to one partition.
pub(crate) fn produce(
    conn: &mut Connection,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> Result<PartitionProduceResponse> {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    let response = conn.send(request, PRODUCE_CAP)?;
    response
        .responses
        .into_iter()
        .flat_map(|t| t.partition_responses)
        .next()
        .ok_or_else(|| anyhow!("Produce answered no partition"))
}

/// Fetch (no wait) one partition from `offset`.
pub(crate) fn fetch(
    conn: &mut Connection,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<PartitionData> {
    fetch_isolated(conn, topic, partition, offset, 0)
}

/// [`fetch`] at an isolation level: 0 read_uncommitted, 1 read_committed.
pub(crate) fn fetch_isolated(
    conn: &mut Connection,
    topic: &str,
    partition: i32,
    offset: i64,
    isolation: i8,
) -> Result<PartitionData> {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(offset)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(1 << 20)])]);
    let response = conn.send(request, FETCH_CAP)?;
    if response.error_code != 0 {
        return Err(anyhow!("Fetch: top-level {}", code(response.error_code)));
    }
    response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .next()
        .ok_or_else(|| anyhow!("Fetch answered no partition"))
}

/// Offsets of the records in a fetched record set, as "0,1,2".
pub(crate) fn record_offsets(records: &Option<Bytes>) -> String {
    if records.is_none() {
        return "null".to_string();
    }
    let offsets: Vec<String> = decoded(records)
        .iter()
        .map(|r| r.offset.to_string())
        .collect();
    offsets.join(",")
}

/// Every record of a fetched record set, control records included, up to the
/// first batch that does not decode (a partial batch at the end).
pub(crate) fn decoded(records: &Option<Bytes>) -> Vec<Record> {
    let Some(bytes) = records else {
        return Vec::new();
    };
    let mut buf = bytes.clone();
    let mut out = Vec::new();
    while buf.len() >= 61 {
        match RecordBatchDecoder::decode(&mut buf) {
            Ok(set) => out.extend(set.records),
            Err(_) => break,
        }
    }
    out
}

/// Per batch of a fetched record set: "base_offset:count:compression:timestamp_type".
pub(crate) fn batch_summaries(records: &Option<Bytes>) -> Result<Vec<String>> {
    let Some(bytes) = records else {
        return Ok(Vec::new());
    };
    let mut buf = bytes.clone();
    let infos = RecordBatchDecoder::decode_batch_info(&mut buf)?;
    Ok(infos
        .iter()
        .map(|i| {
            format!(
                "{}:{}:{:?}:{:?}",
                i.min_offset, i.record_count, i.compression, i.timestamp_type
            )
        })
        .collect())
}

/// Timestamps of the records in a fetched record set, as "1000,1001".
pub(crate) fn record_timestamps(records: &Option<Bytes>) -> Vec<i64> {
    decoded(records).iter().map(|r| r.timestamp).collect()
}

/// ListOffsets for one partition at `timestamp` (-2 earliest, -1 latest, -3 max timestamp).
pub(crate) fn list_offsets(
    conn: &mut Connection,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<ListOffsetsPartitionResponse> {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(0)
        .with_timeout_ms(10_000)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_current_leader_epoch(-1)
                .with_timestamp(timestamp)])]);
    let response = conn.send(request, i16::MAX)?;
    response
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .next()
        .ok_or_else(|| anyhow!("ListOffsets answered no partition"))
}
