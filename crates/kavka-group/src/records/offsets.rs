//! Committed offsets: `OffsetCommitKey` (record type 1; type 0 is the same key as
//! written before Kafka 2.x, still read) and `OffsetCommitValue` versions 0 to 4.

use super::wire::{Reader, WireError, Writer};
use super::{KEY_LEGACY_OFFSET_COMMIT, KEY_OFFSET_COMMIT};
use crate::consumer::TopicId;

/// Key of a committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitKey {
    /// Group id.
    pub group: String,
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// Value of a committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    /// Committed offset.
    pub offset: i64,
    /// Leader epoch, -1 when unknown (versions 3+).
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
    /// When the commit was accepted.
    pub commit_timestamp_ms: i64,
    /// When the offset expires, -1 for the broker's retention (only version 1 has it:
    /// Kafka writes version 1 exactly when a client asked for a retention time).
    pub expire_timestamp_ms: i64,
    /// The topic's id when the commit named the topic by id (OffsetCommit v10+), a
    /// tagged field of version 4.
    pub topic_id: Option<TopicId>,
}

impl OffsetCommitValue {
    /// A value with Kafka's defaults for what the commit did not say.
    pub fn new(offset: i64, leader_epoch: i32, metadata: String, commit_timestamp_ms: i64) -> Self {
        OffsetCommitValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp_ms,
            expire_timestamp_ms: -1,
            topic_id: None,
        }
    }
}

pub(super) fn encode_key(key: &OffsetCommitKey) -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(KEY_OFFSET_COMMIT);
    w.string(&key.group);
    w.string(&key.topic);
    w.i32(key.partition);
    w.buf
}

pub(super) fn decode_key(r: &mut Reader<'_>) -> Result<OffsetCommitKey, WireError> {
    Ok(OffsetCommitKey {
        group: r.string()?,
        topic: r.string()?,
        partition: r.i32()?,
    })
}

/// Kafka's choice: version 1 only to carry an explicit expiry, else version 4.
pub(super) fn encode_value(v: &OffsetCommitValue) -> Vec<u8> {
    let mut w = Writer::default();
    if v.expire_timestamp_ms != -1 {
        w.i16(1);
        w.i64(v.offset);
        w.string(&v.metadata);
        w.i64(v.commit_timestamp_ms);
        w.i64(v.expire_timestamp_ms);
        return w.buf;
    }
    w.i16(4);
    w.i64(v.offset);
    w.i32(v.leader_epoch);
    w.compact_string(&v.metadata);
    w.i64(v.commit_timestamp_ms);
    let mut tagged = Vec::new();
    if let Some(id) = v.topic_id.filter(|id| id.0 != [0; 16]) {
        tagged.push((0, Writer::field(|w| w.uuid(&id.0))));
    }
    w.tagged_fields(&tagged);
    w.buf
}

pub(super) fn decode_value(r: &mut Reader<'_>) -> Result<OffsetCommitValue, WireError> {
    let version = r.i16()?;
    let mut v = OffsetCommitValue::new(0, -1, String::new(), 0);
    v.offset = r.i64()?;
    match version {
        0..=3 => {
            if version >= 3 {
                v.leader_epoch = r.i32()?;
            }
            v.metadata = r.string()?;
            v.commit_timestamp_ms = r.i64()?;
            if version == 1 {
                v.expire_timestamp_ms = r.i64()?;
            }
        }
        4 => {
            v.leader_epoch = r.i32()?;
            v.metadata = r.compact_string()?;
            v.commit_timestamp_ms = r.i64()?;
            r.tagged_fields(|tag, f| {
                if tag == 0 {
                    v.topic_id = Some(TopicId(f.uuid()?)).filter(|id| id.0 != [0; 16]);
                }
                Ok(())
            })?;
        }
        other => return Err(WireError::Version(other)),
    }
    Ok(v)
}

/// Both key types decode to the same key; writes always use type 1.
pub(super) fn is_offset_key(record_type: i16) -> bool {
    record_type == KEY_OFFSET_COMMIT || record_type == KEY_LEGACY_OFFSET_COMMIT
}
