//! The batch a coordinator writes: Kafka's coordinator batch format.

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// A record as a coordinator writes it: key, and value (None is a tombstone).
pub(crate) type Entry = (Bytes, Option<Bytes>);

/// (key, value) records as one batch the way Kafka's coordinators write them
/// (uncompressed, records numbered from 0; a producer's only for TxnOffsetCommit),
/// so a step's records land together.
pub(crate) fn coordinator_batch(
    entries: Vec<Entry>,
    now: i64,
    producer: Option<(i64, i16)>,
) -> Result<Bytes, String> {
    let list: Vec<Record> = entries
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map_or(-1, |p| p.0),
            producer_epoch: producer.map_or(-1, |p| p.1),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Kafka numbers a coordinator batch's records from 0 (with no producer
            // id); the encoder also needs consecutive sequences to keep one batch.
            // A transactional batch carries none (-1), so the log checks its
            // epoch but no sequence.
            sequence: match producer {
                Some(_) => -1,
                None => i32::try_from(i).unwrap_or(i32::MAX),
            },
            timestamp: now,
            key: Some(key),
            value,
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        list.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}
