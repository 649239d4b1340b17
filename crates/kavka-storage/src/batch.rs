//! The fixed header of a v2 record batch, read and patched in place.

use crate::StorageError;

/// Bytes before the first record of a v2 batch.
pub const BATCH_HEADER_LEN: usize = 61;

/// Bytes before `batch_length` counts: the base offset and the length field itself.
pub(crate) const LOG_OVERHEAD: usize = 12;
const MAGIC_POS: usize = 16;
pub(crate) const CRC_POS: usize = 17;
/// The CRC covers everything from the attributes to the end of the batch.
const ATTRIBUTES_POS: usize = 21;
const BASE_TIMESTAMP_POS: usize = 27;
const MAX_TIMESTAMP_POS: usize = 35;
const PARTITION_LEADER_EPOCH_POS: usize = 12;
const COMPRESSION_MASK: i16 = 0x07;
const LOG_APPEND_TIME_FLAG: i16 = 0x08;

/// The header fields of one magic-2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Bytes after the length field; the whole batch is `batch_length + 12` bytes.
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parses the fixed header at the start of `buf` (only the header is needed).
    /// Rejects anything that is not a plausible magic-2 header.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, StorageError> {
        if buf.len() <= MAGIC_POS {
            return Err(StorageError::InvalidRecord(format!(
                "truncated batch header: {} bytes",
                buf.len()
            )));
        }
        let magic = buf[MAGIC_POS] as i8;
        if magic != 2 {
            return Err(StorageError::CorruptMessage(format!(
                "unsupported magic {magic}"
            )));
        }
        if buf.len() < BATCH_HEADER_LEN {
            return Err(StorageError::InvalidRecord(format!(
                "truncated batch header: {} bytes",
                buf.len()
            )));
        }
        let header = BatchHeader {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: be_i32(buf, PARTITION_LEADER_EPOCH_POS),
            magic,
            crc: be_i32(buf, CRC_POS) as u32,
            attributes: be_i16(buf, ATTRIBUTES_POS),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, BASE_TIMESTAMP_POS),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_POS),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            record_count: be_i32(buf, 57),
        };
        if (header.batch_length as i64) < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(StorageError::CorruptMessage(format!(
                "batch length {} is shorter than a header",
                header.batch_length
            )));
        }
        Ok(header)
    }

    /// Size of the whole batch in bytes, header included.
    pub fn size(&self) -> usize {
        // parse() guarantees a positive length, so the cast cannot wrap.
        self.batch_length as usize + LOG_OVERHEAD
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        // Saturating: the base offset of a batch read back from disk is not CRC-protected.
        self.base_offset
            .saturating_add(self.last_offset_delta as i64)
    }

    /// True when the records are compressed (codec bits 0-2 set).
    pub fn is_compressed(&self) -> bool {
        self.attributes & COMPRESSION_MASK != 0
    }

    /// True when the broker stamped the timestamps (attribute bit 3).
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & LOG_APPEND_TIME_FLAG != 0
    }

    /// True for a batch of a transaction (attribute bit 4), markers included.
    pub fn is_transactional(&self) -> bool {
        self.attributes & crate::txn_marker::TRANSACTIONAL_FLAG != 0
    }

    /// True for a control batch (attribute bit 5): transaction markers.
    pub fn is_control(&self) -> bool {
        self.attributes & crate::txn_marker::CONTROL_FLAG != 0
    }

    /// True when the batch carries idempotent-producer metadata to check.
    pub fn is_idempotent(&self) -> bool {
        self.producer_id >= 0 && self.base_sequence >= 0
    }

    /// Sequence number of the last record, wrapping to 0 after `i32::MAX` as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        let last = self.base_sequence as i64 + self.last_offset_delta as i64;
        (last % (i32::MAX as i64 + 1)) as i32
    }
}

/// The CRC-32C a batch should carry.
pub(crate) fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES_POS..).unwrap_or(&[]))
}

/// Checks one whole batch (`batch.len() == header.size()`): CRC and record counts.
pub(crate) fn validate_batch(header: &BatchHeader, batch: &[u8]) -> Result<(), StorageError> {
    let crc = compute_crc(batch);
    if crc != header.crc {
        return Err(StorageError::CorruptMessage(format!(
            "CRC mismatch: stored {:#010x}, computed {crc:#010x}",
            header.crc
        )));
    }
    if header.record_count <= 0 || header.last_offset_delta < 0 {
        return Err(StorageError::CorruptMessage(format!(
            "batch holds {} records",
            header.record_count
        )));
    }
    if header.record_count as i64 != header.last_offset_delta as i64 + 1 {
        return Err(StorageError::CorruptMessage(format!(
            "record count {} does not match last offset delta {}",
            header.record_count, header.last_offset_delta
        )));
    }
    Ok(())
}

/// Checks one whole batch read back from a log: its CRC and plausible counts. Looser
/// than [`validate_batch`] because the cleaner leaves batches with fewer records than
/// their offset span (removed records keep the batch's first and last offsets), down
/// to none at all.
pub(crate) fn validate_stored_batch(
    header: &BatchHeader,
    batch: &[u8],
) -> Result<(), StorageError> {
    let crc = compute_crc(batch);
    if crc != header.crc {
        return Err(StorageError::CorruptMessage(format!(
            "CRC mismatch: stored {:#010x}, computed {crc:#010x}",
            header.crc
        )));
    }
    if header.record_count < 0
        || header.last_offset_delta < 0
        || header.record_count as i64 > header.last_offset_delta as i64 + 1
    {
        return Err(StorageError::CorruptMessage(format!(
            "batch holds {} records in {} offsets",
            header.record_count,
            header.last_offset_delta as i64 + 1
        )));
    }
    Ok(())
}

/// Splits a produce record set into whole, validated batches; errors on anything else.
/// Returns each batch's start position and header.
pub(crate) fn split_and_validate(
    records: &[u8],
    max_message_bytes: u32,
) -> Result<Vec<(usize, BatchHeader)>, StorageError> {
    if records.is_empty() {
        return Err(StorageError::InvalidRecord("empty record set".into()));
    }
    let mut batches = Vec::new();
    let mut pos = 0;
    while pos < records.len() {
        let rest = &records[pos..];
        let header = BatchHeader::parse(rest)?;
        let size = header.size();
        if size > max_message_bytes as usize {
            return Err(StorageError::MessageTooLarge {
                size,
                max: max_message_bytes,
            });
        }
        if size > rest.len() {
            return Err(StorageError::InvalidRecord(format!(
                "partial batch: {size} bytes declared, {} present",
                rest.len()
            )));
        }
        validate_batch(&header, &rest[..size])?;
        batches.push((pos, header));
        pos += size;
    }
    Ok(batches)
}

/// Splits a record set fetched from a partition leader into whole, validated batches
/// (header, magic, lengths, CRC-32C). Looser than [`split_and_validate`] in two ways,
/// both as Kafka's follower: no `max.message.bytes` limit (the leader accepted the
/// batch under its own), and record counts as [`validate_stored_batch`] allows, since
/// the leader's cleaner leaves batches with fewer records than offsets.
pub(crate) fn split_and_validate_replicated(
    records: &[u8],
) -> Result<Vec<(usize, BatchHeader)>, StorageError> {
    if records.is_empty() {
        return Err(StorageError::InvalidRecord("empty record set".into()));
    }
    let mut batches = Vec::new();
    let mut pos = 0;
    while pos < records.len() {
        let rest = &records[pos..];
        let header = BatchHeader::parse(rest)?;
        let size = header.size();
        if size > rest.len() {
            return Err(StorageError::InvalidRecord(format!(
                "partial batch: {size} bytes declared, {} present",
                rest.len()
            )));
        }
        validate_stored_batch(&header, &rest[..size])?;
        batches.push((pos, header));
        pos += size;
    }
    Ok(batches)
}

/// Rewrites the fields the broker owns; neither is covered by the CRC.
pub(crate) fn assign_offset_and_epoch(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[PARTITION_LEADER_EPOCH_POS..PARTITION_LEADER_EPOCH_POS + 4]
        .copy_from_slice(&leader_epoch.to_be_bytes());
}

/// Stamps LogAppendTime: sets the timestamp-type bit and both timestamps, then
/// recomputes the CRC because attributes and timestamps are covered by it.
pub(crate) fn stamp_log_append_time(batch: &mut [u8], now_ms: i64) -> u32 {
    let attributes = be_i16(batch, ATTRIBUTES_POS) | LOG_APPEND_TIME_FLAG;
    batch[ATTRIBUTES_POS..ATTRIBUTES_POS + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[BASE_TIMESTAMP_POS..BASE_TIMESTAMP_POS + 8].copy_from_slice(&now_ms.to_be_bytes());
    batch[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
    crc
}

/// The first record of an uncompressed, CreateTime batch whose timestamp is
/// `>= target`, as (offset, timestamp). None when the records cannot be decoded
/// (compressed or malformed) or no record qualifies; callers then fall back to the
/// batch-level answer.
pub(crate) fn first_record_at_or_after(
    header: &BatchHeader,
    batch: &[u8],
    target: i64,
) -> Option<(i64, i64)> {
    if header.is_compressed() || header.is_log_append_time() {
        return None;
    }
    let mut pos = BATCH_HEADER_LEN;
    for _ in 0..header.record_count {
        let (len, n) = read_varint(batch, pos)?;
        let body = pos + n;
        let end = body.checked_add(usize::try_from(len).ok()?)?;
        if end > batch.len() {
            return None;
        }
        // Record body: attributes (1 byte), timestampDelta varlong, offsetDelta varint.
        let (ts_delta, n1) = read_varint(batch, body + 1)?;
        let (offset_delta, _) = read_varint(batch, body + 1 + n1)?;
        let ts = header.base_timestamp.checked_add(ts_delta)?;
        if ts >= target {
            return Some((header.base_offset.checked_add(offset_delta)?, ts));
        }
        pos = end;
    }
    None
}

/// Zigzag varint (Kafka's varint and varlong share the encoding); returns (value, bytes read).
pub(crate) fn read_varint(buf: &[u8], at: usize) -> Option<(i64, usize)> {
    let mut raw: u64 = 0;
    for i in 0..10 {
        let byte = *buf.get(at + i)?;
        raw |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let value = (raw >> 1) as i64 ^ -((raw & 1) as i64);
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_short_and_old_magic() {
        assert!(matches!(
            BatchHeader::parse(&[0u8; 10]),
            Err(StorageError::InvalidRecord(_))
        ));
        let mut buf = [0u8; 61];
        buf[16] = 1;
        assert!(matches!(
            BatchHeader::parse(&buf),
            Err(StorageError::CorruptMessage(_))
        ));
        buf[16] = 2;
        // batch_length 0 cannot hold a header.
        assert!(matches!(
            BatchHeader::parse(&buf),
            Err(StorageError::CorruptMessage(_))
        ));
    }

    #[test]
    fn last_sequence_wraps_after_i32_max() {
        let mut buf = [0u8; 61];
        buf[16] = 2;
        buf[8..12].copy_from_slice(&49i32.to_be_bytes());
        let mut h = BatchHeader::parse(&buf).unwrap();
        h.base_sequence = i32::MAX - 1;
        h.last_offset_delta = 3;
        assert_eq!(h.last_sequence(), 1);
    }

    #[test]
    fn varint_decodes_zigzag() {
        assert_eq!(read_varint(&[0x00], 0), Some((0, 1)));
        assert_eq!(read_varint(&[0x01], 0), Some((-1, 1)));
        assert_eq!(read_varint(&[0x02], 0), Some((1, 1)));
        assert_eq!(read_varint(&[0xac, 0x02], 0), Some((150, 2)));
        assert_eq!(read_varint(&[0x80], 0), None);
    }
}
