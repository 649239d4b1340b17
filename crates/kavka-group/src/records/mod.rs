//! Records the coordinator persists to `__consumer_offsets`, in Apache Kafka's own
//! format, so that Kafka's tools (`kafka-dump-log --offsets-decoder`, the console
//! consumer's offsets and group-metadata formatters) read Kavka's topic as Kafka's.
//!
//! A key is an i16 record type (Kafka calls it the key version) followed by the key
//! struct; a value is an i16 value version followed by the value struct; a null value
//! is a tombstone. Each record is written in the version Kafka 4.4 writes.
//!
//! - `wire`: the primitive field types, bounds-checked.
//! - `offsets`: committed offsets (types 0 and 1).
//! - `classic`: classic-group membership (type 2).
//! - `consumer`: consumer-protocol groups (types 3 to 8 and 16).
//! - `legacy`: the JSON form Kavka wrote before, still read from old data dirs.

mod classic;
mod consumer;
mod legacy;
mod offsets;
mod wire;

pub use classic::{GroupMetadataKey, GroupMetadataValue, MemberMetadataValue};
pub use consumer::{
    AssignedTopicPartitions, ClassicMemberMetadata, ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupKey, ConsumerGroupMemberMetadataValue, ConsumerGroupMetadataValue,
    ConsumerGroupPartitionMetadataValue, ConsumerGroupRegexKey, ConsumerGroupRegexValue,
    ConsumerGroupTargetAssignmentMemberValue, ConsumerGroupTargetAssignmentMetadataValue,
    ConsumerMemberKey, TopicMetadata, TopicPartitionsValue,
};
pub use offsets::{OffsetCommitKey, OffsetCommitValue};
pub use wire::WireError;

use wire::Reader;

// Kafka's record types (`CoordinatorRecordType`), the first two bytes of every key.
const KEY_LEGACY_OFFSET_COMMIT: i16 = 0;
const KEY_OFFSET_COMMIT: i16 = 1;
const KEY_GROUP_METADATA: i16 = 2;
const KEY_CONSUMER_GROUP_METADATA: i16 = 3;
const KEY_CONSUMER_GROUP_PARTITION_METADATA: i16 = 4;
const KEY_CONSUMER_GROUP_MEMBER_METADATA: i16 = 5;
const KEY_CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA: i16 = 6;
const KEY_CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER: i16 = 7;
const KEY_CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT: i16 = 8;
const KEY_CONSUMER_GROUP_REGULAR_EXPRESSION: i16 = 16;

/// A record for `__consumer_offsets`; a `None` value is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordinatorRecord {
    /// A committed offset or its tombstone (type 1).
    OffsetCommit {
        /// Key.
        key: OffsetCommitKey,
        /// Value, None to delete.
        value: Option<OffsetCommitValue>,
    },
    /// Classic group membership or its tombstone (type 2).
    GroupMetadata {
        /// Key.
        key: GroupMetadataKey,
        /// Value, None to delete.
        value: Option<GroupMetadataValue>,
    },
    /// A consumer group's epoch; its tombstone deletes the group (type 3).
    ConsumerGroupMetadata {
        /// Key.
        key: ConsumerGroupKey,
        /// Value, None to delete.
        value: Option<ConsumerGroupMetadataValue>,
    },
    /// A consumer group's resolved topics (type 4; read, and deleted with the group).
    ConsumerGroupPartitionMetadata {
        /// Key.
        key: ConsumerGroupKey,
        /// Value, None to delete.
        value: Option<ConsumerGroupPartitionMetadataValue>,
    },
    /// A member's subscription; its tombstone removes the member (type 5).
    ConsumerGroupMemberMetadata {
        /// Key.
        key: ConsumerMemberKey,
        /// Value, None to delete.
        value: Option<ConsumerGroupMemberMetadataValue>,
    },
    /// The target assignment's epoch (type 6).
    ConsumerGroupTargetAssignmentMetadata {
        /// Key.
        key: ConsumerGroupKey,
        /// Value, None to delete.
        value: Option<ConsumerGroupTargetAssignmentMetadataValue>,
    },
    /// A member's share of the target assignment (type 7).
    ConsumerGroupTargetAssignmentMember {
        /// Key.
        key: ConsumerMemberKey,
        /// Value, None to delete.
        value: Option<ConsumerGroupTargetAssignmentMemberValue>,
    },
    /// A member's epochs, state and owned partitions (type 8).
    ConsumerGroupCurrentMemberAssignment {
        /// Key.
        key: ConsumerMemberKey,
        /// Value, None to delete.
        value: Option<ConsumerGroupCurrentMemberAssignmentValue>,
    },
    /// Topics a subscription regex resolved to (type 16; Kavka resolves regexes on
    /// every heartbeat instead, so it only reads these).
    ConsumerGroupRegularExpression {
        /// Key.
        key: ConsumerGroupRegexKey,
        /// Value, None to delete.
        value: Option<ConsumerGroupRegexValue>,
    },
}

/// Why a stored record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The key or value does not follow Kafka's schema.
    #[error("malformed coordinator record: {0}")]
    Malformed(#[from] WireError),
    /// A record type Kavka does not keep (share and streams groups, or newer).
    #[error("unknown coordinator record type {0}")]
    UnknownType(i16),
    /// A record in Kavka's former JSON form that does not parse.
    #[error("malformed record in Kavka's former JSON form: {0}")]
    Legacy(#[from] serde_json::Error),
}

/// Decodes a value with `f`, requiring every byte to be used.
fn value<T>(
    value: Option<&[u8]>,
    f: impl FnOnce(&mut Reader<'_>) -> Result<T, WireError>,
) -> Result<Option<T>, RecordError> {
    value
        .map(|bytes| {
            let mut r = Reader::new(bytes);
            let v = f(&mut r)?;
            r.finish()?;
            Ok(v)
        })
        .transpose()
}

impl CoordinatorRecord {
    /// The group this record belongs to (decides its `__consumer_offsets` partition).
    pub fn group_id(&self) -> &str {
        use CoordinatorRecord::*;
        match self {
            OffsetCommit { key, .. } => &key.group,
            GroupMetadata { key, .. } => &key.group,
            ConsumerGroupMetadata { key, .. }
            | ConsumerGroupPartitionMetadata { key, .. }
            | ConsumerGroupTargetAssignmentMetadata { key, .. } => &key.group,
            ConsumerGroupMemberMetadata { key, .. }
            | ConsumerGroupTargetAssignmentMember { key, .. }
            | ConsumerGroupCurrentMemberAssignment { key, .. } => &key.group,
            ConsumerGroupRegularExpression { key, .. } => &key.group,
        }
    }

    /// True for a tombstone.
    pub fn is_tombstone(&self) -> bool {
        use CoordinatorRecord::*;
        match self {
            OffsetCommit { value, .. } => value.is_none(),
            GroupMetadata { value, .. } => value.is_none(),
            ConsumerGroupMetadata { value, .. } => value.is_none(),
            ConsumerGroupPartitionMetadata { value, .. } => value.is_none(),
            ConsumerGroupMemberMetadata { value, .. } => value.is_none(),
            ConsumerGroupTargetAssignmentMetadata { value, .. } => value.is_none(),
            ConsumerGroupTargetAssignmentMember { value, .. } => value.is_none(),
            ConsumerGroupCurrentMemberAssignment { value, .. } => value.is_none(),
            ConsumerGroupRegularExpression { value, .. } => value.is_none(),
        }
    }

    /// Encodes to (key bytes, value bytes or None for a tombstone), in Kafka's format.
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        use CoordinatorRecord::*;
        match self {
            OffsetCommit { key, value } => (
                offsets::encode_key(key),
                value.as_ref().map(offsets::encode_value),
            ),
            GroupMetadata { key, value } => (
                classic::encode_key(key),
                value.as_ref().map(classic::encode_value),
            ),
            ConsumerGroupMetadata { key, value } => (
                consumer::encode_group_key(KEY_CONSUMER_GROUP_METADATA, key),
                value.as_ref().map(consumer::encode_group_metadata),
            ),
            ConsumerGroupPartitionMetadata { key, value } => (
                consumer::encode_group_key(KEY_CONSUMER_GROUP_PARTITION_METADATA, key),
                value.as_ref().map(consumer::encode_partition_metadata),
            ),
            ConsumerGroupMemberMetadata { key, value } => (
                consumer::encode_member_key(KEY_CONSUMER_GROUP_MEMBER_METADATA, key),
                value.as_ref().map(consumer::encode_member_metadata),
            ),
            ConsumerGroupTargetAssignmentMetadata { key, value } => (
                consumer::encode_group_key(KEY_CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA, key),
                value.as_ref().map(consumer::encode_target_metadata),
            ),
            ConsumerGroupTargetAssignmentMember { key, value } => (
                consumer::encode_member_key(KEY_CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER, key),
                value.as_ref().map(consumer::encode_target_member),
            ),
            ConsumerGroupCurrentMemberAssignment { key, value } => (
                consumer::encode_member_key(KEY_CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT, key),
                value.as_ref().map(consumer::encode_current_assignment),
            ),
            ConsumerGroupRegularExpression { key, value } => (
                consumer::encode_regex_key(KEY_CONSUMER_GROUP_REGULAR_EXPRESSION, key),
                value.as_ref().map(consumer::encode_regex),
            ),
        }
    }

    /// Decodes a record in Kafka's format.
    pub fn decode(key: &[u8], value_bytes: Option<&[u8]>) -> Result<Self, RecordError> {
        let mut r = Reader::new(key);
        let record_type = r.i16()?;
        let v = value_bytes;
        let record = match record_type {
            t if offsets::is_offset_key(t) => CoordinatorRecord::OffsetCommit {
                key: offsets::decode_key(&mut r)?,
                value: value(v, offsets::decode_value)?,
            },
            KEY_GROUP_METADATA => CoordinatorRecord::GroupMetadata {
                key: classic::decode_key(&mut r)?,
                value: value(v, classic::decode_value)?,
            },
            KEY_CONSUMER_GROUP_METADATA => CoordinatorRecord::ConsumerGroupMetadata {
                key: consumer::decode_group_key(&mut r)?,
                value: value(v, consumer::decode_group_metadata)?,
            },
            KEY_CONSUMER_GROUP_PARTITION_METADATA => {
                CoordinatorRecord::ConsumerGroupPartitionMetadata {
                    key: consumer::decode_group_key(&mut r)?,
                    value: value(v, consumer::decode_partition_metadata)?,
                }
            }
            KEY_CONSUMER_GROUP_MEMBER_METADATA => CoordinatorRecord::ConsumerGroupMemberMetadata {
                key: consumer::decode_member_key(&mut r)?,
                value: value(v, consumer::decode_member_metadata)?,
            },
            KEY_CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA => {
                CoordinatorRecord::ConsumerGroupTargetAssignmentMetadata {
                    key: consumer::decode_group_key(&mut r)?,
                    value: value(v, consumer::decode_target_metadata)?,
                }
            }
            KEY_CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER => {
                CoordinatorRecord::ConsumerGroupTargetAssignmentMember {
                    key: consumer::decode_member_key(&mut r)?,
                    value: value(v, consumer::decode_target_member)?,
                }
            }
            KEY_CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT => {
                CoordinatorRecord::ConsumerGroupCurrentMemberAssignment {
                    key: consumer::decode_member_key(&mut r)?,
                    value: value(v, consumer::decode_current_assignment)?,
                }
            }
            KEY_CONSUMER_GROUP_REGULAR_EXPRESSION => {
                CoordinatorRecord::ConsumerGroupRegularExpression {
                    key: consumer::decode_regex_key(&mut r)?,
                    value: value(v, consumer::decode_regex)?,
                }
            }
            other => return Err(RecordError::UnknownType(other)),
        };
        r.finish()?;
        Ok(record)
    }

    /// Decodes a record as stored: Kafka's format, or the JSON form Kavka wrote before
    /// (whose keys start with `{`, never a Kafka key's first byte: record types are
    /// small non-negative i16s, so a Kafka key starts with 0x00). One old record may
    /// stand for several of Kafka's, so this returns a list, in replay order.
    pub fn decode_stored(key: &[u8], value: Option<&[u8]>) -> Result<Vec<Self>, RecordError> {
        if legacy::is_legacy_key(key) {
            legacy::decode(key, value)
        } else {
            Self::decode(key, value).map(|r| vec![r])
        }
    }

    /// True when `key` is in Kavka's former JSON form (see [`Self::decode_stored`]).
    pub fn is_legacy_key(key: &[u8]) -> bool {
        legacy::is_legacy_key(key)
    }

    pub(crate) fn offset_tombstone(group: &str, topic: &str, partition: i32) -> Self {
        CoordinatorRecord::OffsetCommit {
            key: OffsetCommitKey {
                group: group.to_string(),
                topic: topic.to_string(),
                partition,
            },
            value: None,
        }
    }

    /// The tombstones that delete an empty consumer group, in Kafka's order: target
    /// assignment epoch, resolved topics, then the group epoch itself.
    pub(crate) fn consumer_group_tombstones(group: &str) -> Vec<Self> {
        let key = ConsumerGroupKey {
            group: group.to_string(),
        };
        vec![
            CoordinatorRecord::ConsumerGroupTargetAssignmentMetadata {
                key: key.clone(),
                value: None,
            },
            CoordinatorRecord::ConsumerGroupPartitionMetadata {
                key: key.clone(),
                value: None,
            },
            CoordinatorRecord::ConsumerGroupMetadata { key, value: None },
        ]
    }

    pub(crate) fn group_tombstone(group: &str) -> Self {
        CoordinatorRecord::GroupMetadata {
            key: GroupMetadataKey {
                group: group.to_string(),
            },
            value: None,
        }
    }
}

/// The `__consumer_offsets` partition that owns `group_id`, as Kafka computes it:
/// `abs(javaStringHashCode(group)) % partitions`.
pub fn partition_for_group(group_id: &str, num_partitions: i32) -> i32 {
    let hash = group_id
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    // Kafka's Utils.abs maps i32::MIN to 0 instead of overflowing.
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    if num_partitions <= 0 {
        0
    } else {
        abs % num_partitions
    }
}

#[cfg(test)]
mod tests;
