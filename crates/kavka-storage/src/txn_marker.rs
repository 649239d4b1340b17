//! Transaction markers: the control batches that end a transaction (COMMIT or
//! ABORT), as the transaction coordinator has partition leaders write them. One
//! record, key = version 0 + control type, value = version 0 + coordinator epoch.

use bytes::{BufMut, Bytes, BytesMut};

use crate::batch::{compute_crc, read_varint, BatchHeader, BATCH_HEADER_LEN, CRC_POS};
use crate::cleaner::records::write_varint;

/// Batch attribute bit 4: the batch belongs to a transaction.
pub(crate) const TRANSACTIONAL_FLAG: i16 = 0x10;
/// Batch attribute bit 5: a control batch (markers), never application records.
pub(crate) const CONTROL_FLAG: i16 = 0x20;
const ABORT_TYPE: i16 = 0;
const COMMIT_TYPE: i16 = 1;

/// One marker to write: which producer's transaction ends, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch of the coordinator that decided; an older one is fenced.
    pub coordinator_epoch: i32,
    /// COMMIT (true) or ABORT (false).
    pub commit: bool,
}

/// The marker batch for `marker`, with base offset 0 (the log assigns it).
pub(crate) fn encode_marker_batch(marker: &TxnMarker, timestamp: i64) -> Bytes {
    let mut record = BytesMut::new();
    record.put_i8(0); // attributes
    write_varint(&mut record, 0); // timestamp delta
    write_varint(&mut record, 0); // offset delta
    write_varint(&mut record, 4);
    record.put_i16(0);
    record.put_i16(if marker.commit {
        COMMIT_TYPE
    } else {
        ABORT_TYPE
    });
    write_varint(&mut record, 6);
    record.put_i16(0);
    record.put_i32(marker.coordinator_epoch);
    write_varint(&mut record, 0); // headers
    let mut body = BytesMut::new();
    write_varint(&mut body, record.len() as i64);
    body.extend_from_slice(&record);

    let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + body.len());
    out.put_i64(0);
    out.put_i32((BATCH_HEADER_LEN - 12 + body.len()) as i32);
    out.put_i32(-1); // partition leader epoch, stamped by the log
    out.put_i8(2);
    out.put_u32(0); // crc, below
    out.put_i16(TRANSACTIONAL_FLAG | CONTROL_FLAG);
    out.put_i32(0); // last offset delta
    out.put_i64(timestamp);
    out.put_i64(timestamp);
    out.put_i64(marker.producer_id);
    out.put_i16(marker.producer_epoch);
    out.put_i32(-1); // base sequence: markers carry none
    out.put_i32(1);
    out.extend_from_slice(&body);
    let crc = compute_crc(&out);
    out[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
    out.freeze()
}

/// What a transaction marker batch says: (commit?, coordinator epoch). None for a
/// batch that is not a control batch, or a control record of another kind
/// (KRaft's leader change, snapshots) or too short to read.
pub(crate) fn parse_marker(header: &BatchHeader, batch: &[u8]) -> Option<(bool, i32)> {
    if !header.is_control() || header.is_compressed() || header.record_count < 1 {
        return None;
    }
    let (len, n) = read_varint(batch, BATCH_HEADER_LEN)?;
    let body = BATCH_HEADER_LEN + n;
    let end = body.checked_add(usize::try_from(len).ok()?)?;
    let record = batch.get(body..end)?;
    // attributes, timestamp delta, offset delta
    let mut pos = 1;
    pos += read_varint(record, pos)?.1;
    pos += read_varint(record, pos)?.1;
    let (key_len, n) = read_varint(record, pos)?;
    pos += n;
    let key = record.get(pos..pos + usize::try_from(key_len).ok()?)?;
    pos += key.len();
    if key.len() < 4 || i16::from_be_bytes([key[0], key[1]]) != 0 {
        return None;
    }
    let commit = match i16::from_be_bytes([key[2], key[3]]) {
        ABORT_TYPE => false,
        COMMIT_TYPE => true,
        _ => return None,
    };
    let (value_len, n) = read_varint(record, pos)?;
    pos += n;
    let value = record.get(pos..pos + usize::try_from(value_len).ok()?)?;
    let coordinator_epoch = match value {
        [_, _, a, b, c, d, ..] => i32::from_be_bytes([*a, *b, *c, *d]),
        _ => return None,
    };
    Some((commit, coordinator_epoch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::validate_batch;

    #[test]
    fn marker_batches_round_trip_and_validate() {
        for commit in [true, false] {
            let marker = TxnMarker {
                producer_id: 42,
                producer_epoch: 3,
                coordinator_epoch: 7,
                commit,
            };
            let bytes = encode_marker_batch(&marker, 1_000);
            let header = BatchHeader::parse(&bytes).unwrap();
            validate_batch(&header, &bytes).unwrap();
            assert!(header.is_control() && header.is_transactional());
            assert_eq!((header.producer_id, header.producer_epoch), (42, 3));
            assert_eq!(parse_marker(&header, &bytes), Some((commit, 7)));
        }
    }

    #[test]
    fn kafka_protocol_decodes_our_marker_as_a_control_record() {
        let marker = TxnMarker {
            producer_id: 5,
            producer_epoch: 0,
            coordinator_epoch: 1,
            commit: false,
        };
        let mut bytes = encode_marker_batch(&marker, 1);
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
        let record = &set.records[0];
        assert!(record.control && record.transactional);
        assert_eq!(record.key.as_deref(), Some(&[0u8, 0, 0, 0][..]));
    }
}
