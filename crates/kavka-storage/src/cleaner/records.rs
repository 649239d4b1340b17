//! The records inside one v2 batch, as far as the cleaner needs them: offset,
//! timestamp, key and whether the value is null. Everything else of a record (key,
//! value and headers) is kept as the exact bytes it was stored with, so a cleaned
//! record is byte-for-byte the original, duplicate header keys included.
//!
//! Only codecs come from `kafka-protocol`: its record decoder keeps headers in a map
//! (duplicates would collapse) and its encoder rebases a batch on its first record,
//! which would change the base offset and base sequence that idempotent producers
//! rely on. Kafka keeps both, and so does this module.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};

use super::CleanerError;
use crate::batch::{compute_crc, read_varint, BatchHeader, CRC_POS};
use crate::BATCH_HEADER_LEN;

/// Attribute bit 6 (KIP-534): the base timestamp holds the delete horizon.
pub(crate) const DELETE_HORIZON_FLAG: i16 = 0x40;
const CONTROL_FLAG: i16 = 0x20;
const COMPRESSION_MASK: i16 = 0x07;

/// One record of a batch, with its body kept as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CleanRecord {
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    pub(crate) key: Option<Bytes>,
    /// A null value: the record deletes its key.
    pub(crate) is_tombstone: bool,
    attributes: u8,
    /// Key length, key, value length, value and headers exactly as stored.
    body: Bytes,
}

impl CleanRecord {
    /// A record with the given key and value, for tests of the pure cleaning logic.
    #[cfg(test)]
    pub(crate) fn new(
        offset: i64,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Self {
        let mut body = BytesMut::new();
        for field in [key, value] {
            match field {
                Some(bytes) => {
                    write_varint(&mut body, bytes.len() as i64);
                    body.put_slice(bytes);
                }
                None => write_varint(&mut body, -1),
            }
        }
        write_varint(&mut body, 0);
        Self {
            offset,
            timestamp,
            key: key.map(Bytes::copy_from_slice),
            is_tombstone: value.is_none(),
            attributes: 0,
            body: body.freeze(),
        }
    }
}

/// True for transaction markers and other control batches.
pub(crate) fn is_control(header: &BatchHeader) -> bool {
    header.attributes & CONTROL_FLAG != 0
}

/// The delete horizon a previous cleaning stamped on the batch, if any.
pub(crate) fn delete_horizon(header: &BatchHeader) -> Option<i64> {
    (header.attributes & DELETE_HORIZON_FLAG != 0).then_some(header.base_timestamp)
}

fn corrupt(header: &BatchHeader, reason: impl Into<String>) -> CleanerError {
    CleanerError::Corrupt {
        offset: header.base_offset,
        reason: reason.into(),
    }
}

/// The records section of a batch, decompressed. Compressed batches go through the
/// codec their attributes name; this is the only place storage decompresses.
fn records_section(header: &BatchHeader, batch: &Bytes) -> Result<Bytes, CleanerError> {
    let mut payload = batch.slice(BATCH_HEADER_LEN.min(batch.len())..);
    let take = |b: &mut Bytes| Ok(std::mem::take(b));
    let out = match header.attributes & COMPRESSION_MASK {
        0 => Ok(payload),
        1 => <Gzip as Decompressor<Bytes>>::decompress(&mut payload, take),
        2 => <Snappy as Decompressor<Bytes>>::decompress(&mut payload, take),
        3 => <Lz4 as Decompressor<Bytes>>::decompress(&mut payload, take),
        4 => <Zstd as Decompressor<Bytes>>::decompress(&mut payload, take),
        codec => {
            return Err(corrupt(
                header,
                format!("unknown compression codec {codec}"),
            ))
        }
    };
    out.map_err(|e| corrupt(header, format!("cannot decompress: {e}")))
}

/// Decodes every record of a data batch (`batch` is the whole batch).
pub(crate) fn decode(
    header: &BatchHeader,
    batch: &Bytes,
) -> Result<Vec<CleanRecord>, CleanerError> {
    let section = records_section(header, batch)?;
    let count = usize::try_from(header.record_count).unwrap_or(0);
    // Each record takes at least a few bytes, so the count cannot ask for more than that.
    let mut records = Vec::with_capacity(count.min(section.len()));
    let mut pos = 0usize;
    for _ in 0..count {
        let (record, next) = decode_record(header, &section, pos)
            .ok_or_else(|| corrupt(header, format!("malformed record at byte {pos}")))?;
        records.push(record);
        pos = next;
    }
    Ok(records)
}

/// One record at `pos`; None when the bytes are not a whole record.
fn decode_record(
    header: &BatchHeader,
    section: &Bytes,
    pos: usize,
) -> Option<(CleanRecord, usize)> {
    let (len, n) = read_varint(section, pos)?;
    let start = pos + n;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    if end > section.len() || start >= end {
        return None;
    }
    let attributes = section[start];
    let (timestamp_delta, n1) = read_varint(section, start + 1)?;
    let (offset_delta, n2) = read_varint(section, start + 1 + n1)?;
    let body_start = start + 1 + n1 + n2;
    let (key_len, n3) = read_varint(section, body_start)?;
    let mut cursor = body_start + n3;
    let key = if key_len < 0 {
        None
    } else {
        let key_end = cursor.checked_add(usize::try_from(key_len).ok()?)?;
        if key_end > end {
            return None;
        }
        let key = section.slice(cursor..key_end);
        cursor = key_end;
        Some(key)
    };
    let (value_len, _) = read_varint(section, cursor)?;
    if cursor >= end {
        return None;
    }
    let record = CleanRecord {
        offset: header.base_offset.checked_add(offset_delta)?,
        timestamp: header.base_timestamp.checked_add(timestamp_delta)?,
        key,
        is_tombstone: value_len < 0,
        attributes,
        body: section.slice(body_start..end),
    };
    Some((record, end))
}

/// Zigzag varint/varlong, Kafka's record encoding.
pub(crate) fn write_varint(out: &mut BytesMut, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.put_u8((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.put_u8(raw as u8);
}

/// Rebuilds `original` holding only `records` (a non-empty subset of its records, in
/// order). The base offset, last offset delta, producer id, epoch and base sequence
/// stay those of the original, so the batch still ends where it did and a producer's
/// last sequence is unchanged. With `delete_horizon` the base timestamp carries it
/// (KIP-534) and record timestamps are re-expressed against it. The records are
/// compressed again with the original codec.
pub(crate) fn encode(
    original: &BatchHeader,
    records: &[&CleanRecord],
    delete_horizon: Option<i64>,
) -> Result<Vec<u8>, CleanerError> {
    let first_ts = records
        .first()
        .map_or(original.max_timestamp, |r| r.timestamp);
    let base_timestamp = delete_horizon.unwrap_or(first_ts);
    let max_timestamp = if original.is_log_append_time() {
        original.max_timestamp
    } else {
        records
            .iter()
            .map(|r| r.timestamp)
            .max()
            .unwrap_or(original.max_timestamp)
    };
    let mut plain = BytesMut::new();
    let mut record = BytesMut::new();
    for r in records {
        record.clear();
        record.put_u8(r.attributes);
        write_varint(&mut record, r.timestamp - base_timestamp);
        write_varint(&mut record, r.offset - original.base_offset);
        record.put_slice(&r.body);
        write_varint(&mut plain, record.len() as i64);
        plain.put_slice(&record);
    }
    let codec = original.attributes & COMPRESSION_MASK;
    let payload = compress(original, codec, plain)?;
    let mut attributes = original.attributes & !DELETE_HORIZON_FLAG;
    if delete_horizon.is_some() {
        attributes |= DELETE_HORIZON_FLAG;
    }
    Ok(write_batch(
        original,
        attributes,
        base_timestamp,
        max_timestamp,
        records.len() as i32,
        &payload,
    ))
}

/// A batch with no records that keeps the original's offsets and producer fields:
/// what the cleaner leaves when every record went but the batch holds a producer's
/// last sequence (or ends the cleaned range), as Kafka does.
pub(crate) fn encode_empty(original: &BatchHeader) -> Vec<u8> {
    let attributes = original.attributes & !(COMPRESSION_MASK | DELETE_HORIZON_FLAG);
    write_batch(
        original,
        attributes,
        original.max_timestamp,
        original.max_timestamp,
        0,
        &[],
    )
}

fn compress(header: &BatchHeader, codec: i16, plain: BytesMut) -> Result<Bytes, CleanerError> {
    let mut out = BytesMut::new();
    let fill = |b: &mut BytesMut| {
        b.put_slice(&plain);
        Ok(())
    };
    let result = match codec {
        0 => return Ok(plain.freeze()),
        1 => <Gzip as Compressor<BytesMut>>::compress(&mut out, fill),
        2 => <Snappy as Compressor<BytesMut>>::compress(&mut out, fill),
        3 => <Lz4 as Compressor<BytesMut>>::compress(&mut out, fill),
        4 => <Zstd as Compressor<BytesMut>>::compress(&mut out, fill),
        other => {
            return Err(corrupt(
                header,
                format!("unknown compression codec {other}"),
            ))
        }
    };
    result.map_err(|e| corrupt(header, format!("cannot compress: {e}")))?;
    Ok(out.freeze())
}

fn write_batch(
    original: &BatchHeader,
    attributes: i16,
    base_timestamp: i64,
    max_timestamp: i64,
    record_count: i32,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(BATCH_HEADER_LEN + payload.len());
    let batch_length = (BATCH_HEADER_LEN - crate::batch::LOG_OVERHEAD + payload.len()) as i32;
    out.put_i64(original.base_offset);
    out.put_i32(batch_length);
    out.put_i32(original.partition_leader_epoch);
    out.put_i8(2);
    out.put_u32(0); // CRC, filled in below
    out.put_i16(attributes);
    out.put_i32(original.last_offset_delta);
    out.put_i64(base_timestamp);
    out.put_i64(max_timestamp);
    out.put_i64(original.producer_id);
    out.put_i16(original.producer_epoch);
    out.put_i32(original.base_sequence);
    out.put_i32(record_count);
    out.put_slice(payload);
    let crc = compute_crc(&out);
    out[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
        TimestampType,
    };

    fn produced(compression: Compression) -> Bytes {
        let records: Vec<Record> = (0..4)
            .map(|i| {
                let mut headers = indexmap::IndexMap::new();
                headers.insert(
                    kafka_protocol::protocol::StrBytes::from_static_str("h"),
                    Some(Bytes::from(format!("hv{i}"))),
                );
                Record {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: 3,
                    producer_id: 77,
                    producer_epoch: 2,
                    timestamp_type: TimestampType::Creation,
                    offset: 100 + i,
                    sequence: 10 + i as i32,
                    timestamp: 5_000 + i * 10,
                    key: Some(Bytes::from(format!("k{i}"))),
                    value: (i != 2).then(|| Bytes::from(format!("v{i}"))),
                    headers,
                }
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

    #[test]
    fn decode_then_encode_a_subset_keeps_offsets_producer_and_codec() {
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let batch = produced(compression);
            let header = BatchHeader::parse(&batch).unwrap();
            let records = decode(&header, &batch).unwrap();
            assert_eq!(records.len(), 4);
            assert_eq!(records[2].offset, 102);
            assert!(records[2].is_tombstone);
            assert_eq!(records[1].key.as_deref(), Some(&b"k1"[..]));
            let kept = [&records[1], &records[2]];
            let out = encode(&header, &kept, Some(99_999)).unwrap();
            let new_header = BatchHeader::parse(&out).unwrap();
            assert_eq!(new_header.base_offset, 100);
            assert_eq!(new_header.last_offset(), 103);
            assert_eq!(new_header.base_sequence, 10);
            assert_eq!(new_header.producer_id, 77);
            assert_eq!(new_header.record_count, 2);
            assert_eq!(new_header.attributes & 7, header.attributes & 7);
            assert_eq!(delete_horizon(&new_header), Some(99_999));
            assert_eq!(compute_crc(&out), new_header.crc);
            let set = RecordBatchDecoder::decode(&mut Bytes::from(out)).unwrap();
            let got: Vec<_> = set
                .records
                .iter()
                .map(|r| (r.offset, r.timestamp, r.key.clone(), r.value.clone()))
                .collect();
            assert_eq!(
                got,
                vec![
                    (101, 5_010, Some(Bytes::from("k1")), Some(Bytes::from("v1"))),
                    (102, 5_020, Some(Bytes::from("k2")), None),
                ]
            );
            assert_eq!(set.records[0].headers.len(), 1);
            assert!(set.records[0].delete_horizon);
        }
    }

    #[test]
    fn empty_batch_keeps_last_offset_and_sequence() {
        let batch = produced(Compression::Lz4);
        let header = BatchHeader::parse(&batch).unwrap();
        let out = encode_empty(&header);
        let h = BatchHeader::parse(&out).unwrap();
        assert_eq!(
            (h.base_offset, h.last_offset(), h.record_count),
            (100, 103, 0)
        );
        assert_eq!(h.last_sequence(), header.last_sequence());
        assert_eq!(compute_crc(&out), h.crc);
        assert!(!h.is_compressed());
    }

    #[test]
    fn truncated_records_are_corrupt_not_a_panic() {
        let batch = produced(Compression::None);
        let header = BatchHeader::parse(&batch).unwrap();
        for cut in BATCH_HEADER_LEN..batch.len() {
            let short = batch.slice(..cut);
            assert!(decode(&header, &short).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn varint_round_trips() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut b = BytesMut::new();
            write_varint(&mut b, v);
            assert_eq!(read_varint(&b, 0), Some((v, b.len())));
        }
    }
}
