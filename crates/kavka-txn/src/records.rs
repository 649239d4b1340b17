//! `__transaction_state` records in Kafka's schema: the key is an i16 version (0)
//! then `TransactionLogKey` (the transactional id); the value an i16 version then
//! `TransactionLogValue`. Kavka writes value version 1 (flexible, what Kafka 4
//! writes), and reads 0 and 1. A null value is a tombstone: the id was removed.

use std::collections::BTreeSet;

use crate::metadata::{TopicPartition, TxnMetadata, TxnState, NO_PRODUCER_EPOCH};

const KEY_VERSION: i16 = 0;
const VALUE_VERSION: i16 = 1;

/// A record that cannot be read as a transaction record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("transaction record truncated")]
    Truncated,
    #[error("unknown {what} version {version}")]
    Version { what: &'static str, version: i16 },
    #[error("unknown transaction status {0}")]
    Status(i8),
    #[error("invalid string or length in transaction record")]
    Invalid,
}

/// One `__transaction_state` record: an id's state, or its removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    pub transactional_id: String,
    /// None: a tombstone.
    pub value: Option<TxnMetadata>,
}

impl TxnRecord {
    /// The record stating `m`.
    pub fn of(m: &TxnMetadata) -> TxnRecord {
        TxnRecord {
            transactional_id: m.transactional_id.clone(),
            value: Some(m.clone()),
        }
    }

    /// Key and value bytes as Kafka writes them.
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut key = Vec::with_capacity(4 + self.transactional_id.len());
        key.extend_from_slice(&KEY_VERSION.to_be_bytes());
        put_string(&mut key, &self.transactional_id);
        (key, self.value.as_ref().map(encode_value))
    }

    /// Reads a stored record; `value` None is a tombstone.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<TxnRecord, RecordError> {
        let mut k = Reader(key);
        let version = k.i16()?;
        if version != KEY_VERSION {
            return Err(RecordError::Version {
                what: "TransactionLogKey",
                version,
            });
        }
        let transactional_id = k.string()?;
        let value = match value {
            None => None,
            Some(v) => Some(decode_value(&transactional_id, v)?),
        };
        Ok(TxnRecord {
            transactional_id,
            value,
        })
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    let len = i16::try_from(s.len()).unwrap_or(i16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..len as usize]);
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_compact_string(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, u32::try_from(s.len() + 1).unwrap_or(u32::MAX));
    out.extend_from_slice(s.as_bytes());
}

/// Topics in the order Kafka groups them: each topic once, its partitions listed.
fn by_topic(partitions: &BTreeSet<TopicPartition>) -> Vec<(&str, Vec<i32>)> {
    let mut out: Vec<(&str, Vec<i32>)> = Vec::new();
    for (topic, p) in partitions {
        match out.last_mut() {
            Some((t, ps)) if *t == topic.as_str() => ps.push(*p),
            _ => out.push((topic.as_str(), vec![*p])),
        }
    }
    out
}

fn encode_value(m: &TxnMetadata) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&m.producer_id.to_be_bytes());
    out.extend_from_slice(&m.producer_epoch.to_be_bytes());
    out.extend_from_slice(&m.timeout_ms.to_be_bytes());
    out.push(m.state.id() as u8);
    // Kafka writes no partition list (null) for an Empty transaction.
    if m.state == TxnState::Empty {
        put_uvarint(&mut out, 0);
    } else {
        let topics = by_topic(&m.partitions);
        put_uvarint(
            &mut out,
            u32::try_from(topics.len() + 1).unwrap_or(u32::MAX),
        );
        for (topic, partitions) in topics {
            put_compact_string(&mut out, topic);
            put_uvarint(
                &mut out,
                u32::try_from(partitions.len() + 1).unwrap_or(u32::MAX),
            );
            for p in partitions {
                out.extend_from_slice(&p.to_be_bytes());
            }
            put_uvarint(&mut out, 0);
        }
    }
    out.extend_from_slice(&m.last_update_ms.to_be_bytes());
    out.extend_from_slice(&m.start_ms.to_be_bytes());
    // Tagged fields, only those away from their default, as Kafka writes them.
    if m.last_producer_id >= 0 {
        put_uvarint(&mut out, 1);
        put_uvarint(&mut out, 0);
        put_uvarint(&mut out, 8);
        out.extend_from_slice(&m.last_producer_id.to_be_bytes());
    } else {
        put_uvarint(&mut out, 0);
    }
    out
}

fn decode_value(transactional_id: &str, bytes: &[u8]) -> Result<TxnMetadata, RecordError> {
    let mut r = Reader(bytes);
    let version = r.i16()?;
    if !(0..=1).contains(&version) {
        return Err(RecordError::Version {
            what: "TransactionLogValue",
            version,
        });
    }
    let flexible = version >= 1;
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let status = r.i8()?;
    let state = TxnState::from_id(status).ok_or(RecordError::Status(status))?;
    let count = if flexible {
        i64::from(r.uvarint()?) - 1
    } else {
        i64::from(r.i32()?)
    };
    let mut partitions = BTreeSet::new();
    for _ in 0..count.max(0) {
        let topic = if flexible {
            r.compact_string()?
        } else {
            r.string()?
        };
        let n = if flexible {
            i64::from(r.uvarint()?) - 1
        } else {
            i64::from(r.i32()?)
        };
        for _ in 0..n.max(0) {
            partitions.insert((topic.clone(), r.i32()?));
        }
        if flexible {
            r.skip_tagged()?;
        }
    }
    let last_update_ms = r.i64()?;
    let start_ms = r.i64()?;
    let mut last_producer_id = -1;
    if flexible {
        let tags = r.uvarint()?;
        for _ in 0..tags {
            let tag = r.uvarint()?;
            let size = r.uvarint()? as usize;
            let field = r.take(size)?;
            if tag == 0 && size == 8 {
                last_producer_id = Reader(field).i64()?;
            }
        }
    }
    Ok(TxnMetadata {
        transactional_id: transactional_id.to_string(),
        producer_id,
        last_producer_id,
        producer_epoch,
        last_producer_epoch: NO_PRODUCER_EPOCH,
        timeout_ms,
        state,
        partitions,
        start_ms,
        last_update_ms,
    })
}

/// A bounds-checked reader: every length comes from the disk.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.0.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        self.take(N)?.try_into().map_err(|_| RecordError::Truncated)
    }

    fn i8(&mut self) -> Result<i8, RecordError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn uvarint(&mut self) -> Result<u32, RecordError> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let b = self.i8()? as u8;
            value |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordError::Invalid)
    }

    fn string(&mut self) -> Result<String, RecordError> {
        let len = usize::try_from(self.i16()?).map_err(|_| RecordError::Invalid)?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| RecordError::Invalid)
    }

    fn compact_string(&mut self) -> Result<String, RecordError> {
        let len = (self.uvarint()? as usize)
            .checked_sub(1)
            .ok_or(RecordError::Invalid)?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| RecordError::Invalid)
    }

    fn skip_tagged(&mut self) -> Result<(), RecordError> {
        for _ in 0..self.uvarint()? {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}
