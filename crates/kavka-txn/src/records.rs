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

/// `TransactionLogValue` as stored: every field of Kafka's schema, tagged ones
/// included, in the version it was written in. The coordinator keeps what it
/// needs of it as a [`TxnMetadata`]; the tools print it whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionLogValue {
    /// The value version (0, or 1: flexible).
    pub version: i16,
    pub producer_id: i64,
    /// Producer id of the last committed transaction (tagged 0, default -1).
    pub previous_producer_id: i64,
    /// Producer id last sent to the producer (tagged 1, default -1; Kavka never
    /// writes it).
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    /// Epoch last sent to the producer (tagged 3, default -1; Kavka never writes it).
    pub next_producer_epoch: i16,
    pub transaction_timeout_ms: i32,
    /// `TxnState::id`.
    pub transaction_status: i8,
    /// Topics with their partitions, in the record's order; None (null) when the
    /// transaction is Empty.
    pub transaction_partitions: Option<Vec<(String, Vec<i32>)>>,
    pub transaction_last_update_timestamp_ms: i64,
    pub transaction_start_timestamp_ms: i64,
    /// The client's transaction version (tagged 2, default 0; Kavka never writes it).
    pub client_transaction_version: i16,
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
        (
            key,
            self.value
                .as_ref()
                .map(|m| TransactionLogValue::of(m).encode()),
        )
    }

    /// Reads a stored record; `value` None is a tombstone.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<TxnRecord, RecordError> {
        let transactional_id = decode_key(key)?;
        let value = match value {
            None => None,
            Some(v) => Some(TransactionLogValue::decode(v)?.metadata(&transactional_id)?),
        };
        Ok(TxnRecord {
            transactional_id,
            value,
        })
    }
}

/// The transactional id of a `TransactionLogKey` (version 0, the only one).
pub fn decode_key(key: &[u8]) -> Result<String, RecordError> {
    let mut k = Reader(key);
    let version = k.i16()?;
    if version != KEY_VERSION {
        return Err(RecordError::Version {
            what: "TransactionLogKey",
            version,
        });
    }
    k.string()
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
fn by_topic(partitions: &BTreeSet<TopicPartition>) -> Vec<(String, Vec<i32>)> {
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for (topic, p) in partitions {
        match out.last_mut() {
            Some((t, ps)) if t == topic => ps.push(*p),
            _ => out.push((topic.clone(), vec![*p])),
        }
    }
    out
}

impl TransactionLogValue {
    /// The value Kavka writes for `m`: version 1, as Kafka 4 writes it.
    pub fn of(m: &TxnMetadata) -> TransactionLogValue {
        TransactionLogValue {
            version: VALUE_VERSION,
            producer_id: m.producer_id,
            previous_producer_id: m.last_producer_id.max(-1),
            next_producer_id: -1,
            producer_epoch: m.producer_epoch,
            next_producer_epoch: -1,
            transaction_timeout_ms: m.timeout_ms,
            transaction_status: m.state.id(),
            // Kafka writes no partition list (null) for an Empty transaction.
            transaction_partitions: (m.state != TxnState::Empty).then(|| by_topic(&m.partitions)),
            transaction_last_update_timestamp_ms: m.last_update_ms,
            transaction_start_timestamp_ms: m.start_ms,
            client_transaction_version: 0,
        }
    }

    /// The coordinator's view of this value.
    fn metadata(&self, transactional_id: &str) -> Result<TxnMetadata, RecordError> {
        let state = TxnState::from_id(self.transaction_status)
            .ok_or(RecordError::Status(self.transaction_status))?;
        let partitions = self
            .transaction_partitions
            .iter()
            .flatten()
            .flat_map(|(topic, ps)| ps.iter().map(move |p| (topic.clone(), *p)))
            .collect();
        Ok(TxnMetadata {
            transactional_id: transactional_id.to_string(),
            producer_id: self.producer_id,
            last_producer_id: self.previous_producer_id,
            producer_epoch: self.producer_epoch,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            timeout_ms: self.transaction_timeout_ms,
            state,
            partitions,
            start_ms: self.transaction_start_timestamp_ms,
            last_update_ms: self.transaction_last_update_timestamp_ms,
        })
    }

    /// The bytes of this value in its version (Kavka only writes version 1).
    pub fn encode(&self) -> Vec<u8> {
        let flexible = self.version >= 1;
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.producer_epoch.to_be_bytes());
        out.extend_from_slice(&self.transaction_timeout_ms.to_be_bytes());
        out.push(self.transaction_status as u8);
        let put_len = |out: &mut Vec<u8>, len: Option<usize>| {
            if flexible {
                put_uvarint(
                    out,
                    len.map_or(0, |n| u32::try_from(n + 1).unwrap_or(u32::MAX)),
                );
            } else {
                let n = len.map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
                out.extend_from_slice(&n.to_be_bytes());
            }
        };
        put_len(&mut out, self.transaction_partitions.as_ref().map(Vec::len));
        for (topic, partitions) in self.transaction_partitions.iter().flatten() {
            if flexible {
                put_compact_string(&mut out, topic);
            } else {
                put_string(&mut out, topic);
            }
            put_len(&mut out, Some(partitions.len()));
            for p in partitions {
                out.extend_from_slice(&p.to_be_bytes());
            }
            if flexible {
                put_uvarint(&mut out, 0);
            }
        }
        out.extend_from_slice(&self.transaction_last_update_timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.transaction_start_timestamp_ms.to_be_bytes());
        if flexible {
            // Tagged fields, only those away from their default, as Kafka writes them.
            let mut tagged: Vec<(u32, Vec<u8>)> = Vec::new();
            if self.previous_producer_id != -1 {
                tagged.push((0, self.previous_producer_id.to_be_bytes().to_vec()));
            }
            if self.next_producer_id != -1 {
                tagged.push((1, self.next_producer_id.to_be_bytes().to_vec()));
            }
            if self.client_transaction_version != 0 {
                tagged.push((2, self.client_transaction_version.to_be_bytes().to_vec()));
            }
            if self.next_producer_epoch != -1 {
                tagged.push((3, self.next_producer_epoch.to_be_bytes().to_vec()));
            }
            put_uvarint(&mut out, u32::try_from(tagged.len()).unwrap_or(0));
            for (tag, bytes) in tagged {
                put_uvarint(&mut out, tag);
                put_uvarint(&mut out, u32::try_from(bytes.len()).unwrap_or(0));
                out.extend_from_slice(&bytes);
            }
        }
        out
    }

    /// Reads a value of version 0 or 1.
    pub fn decode(bytes: &[u8]) -> Result<TransactionLogValue, RecordError> {
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
        let transaction_timeout_ms = r.i32()?;
        let transaction_status = r.i8()?;
        let count = if flexible {
            i64::from(r.uvarint()?) - 1
        } else {
            i64::from(r.i32()?)
        };
        let transaction_partitions = if count < 0 {
            None
        } else {
            let mut topics = Vec::new();
            for _ in 0..count {
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
                // Each partition takes four bytes: a count past the bytes left is
                // refused before anything is allocated.
                if n.saturating_mul(4) > r.0.len() as i64 {
                    return Err(RecordError::Truncated);
                }
                let mut partitions = Vec::new();
                for _ in 0..n.max(0) {
                    partitions.push(r.i32()?);
                }
                if flexible {
                    r.skip_tagged()?;
                }
                topics.push((topic, partitions));
            }
            Some(topics)
        };
        let mut value = TransactionLogValue {
            version,
            producer_id,
            previous_producer_id: -1,
            next_producer_id: -1,
            producer_epoch,
            next_producer_epoch: -1,
            transaction_timeout_ms,
            transaction_status,
            transaction_partitions,
            transaction_last_update_timestamp_ms: r.i64()?,
            transaction_start_timestamp_ms: r.i64()?,
            client_transaction_version: 0,
        };
        if flexible {
            let tags = r.uvarint()?;
            for _ in 0..tags {
                let tag = r.uvarint()?;
                let size = r.uvarint()? as usize;
                let mut field = Reader(r.take(size)?);
                match tag {
                    0 => value.previous_producer_id = field.i64()?,
                    1 => value.next_producer_id = field.i64()?,
                    2 => value.client_transaction_version = field.i16()?,
                    3 => value.next_producer_epoch = field.i16()?,
                    _ => {}
                }
            }
        }
        Ok(value)
    }
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
