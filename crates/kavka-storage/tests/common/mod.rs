//! Helpers shared by the integration tests: real v2 batches built by kafka-protocol.
#![allow(dead_code, unreachable_pub)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kavka_storage::LogConfig;

/// Idempotent producer identity of a batch: (producer id, epoch, base sequence).
pub type Producer = (i64, i16, i32);

pub fn encode(
    values: &[&str],
    first_timestamp: i64,
    compression: Compression,
    producer: Option<Producer>,
) -> Bytes {
    encode_with(values, first_timestamp, compression, producer, false)
}

/// A batch of a transaction of `producer`.
pub fn transactional(values: &[&str], producer: Producer) -> Bytes {
    encode_with(values, 1_000, Compression::None, Some(producer), true)
}

pub fn encode_with(
    values: &[&str],
    first_timestamp: i64,
    compression: Compression,
    producer: Option<Producer>,
    transactional: bool,
) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional,
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
            timestamp: first_timestamp + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
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
            compression,
        },
    )
    .unwrap();
    buf.freeze()
}

/// An uncompressed, non-idempotent batch.
pub fn batch(values: &[&str], first_timestamp: i64) -> Bytes {
    encode(values, first_timestamp, Compression::None, None)
}

/// An idempotent batch.
pub fn idempotent(values: &[&str], producer: Producer) -> Bytes {
    encode(values, 1_000, Compression::None, Some(producer))
}

/// (offset, value) of every record in `bytes`.
pub fn decode(bytes: &Bytes) -> Vec<(i64, String)> {
    let mut buf = bytes.clone();
    RecordBatchDecoder::decode_all(&mut buf)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| {
            let value = r.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
            (r.offset, value.unwrap_or_default())
        })
        .collect()
}

/// Small segments and a dense index so a handful of batches exercise everything.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        retention_ms: None,
        ..LogConfig::default()
    }
}

/// Recursively copies a partition directory (flat: no subdirectories).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
