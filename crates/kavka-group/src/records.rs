//! Records the coordinator persists to `__consumer_offsets`, and their (JSON) encoding.
//!
//! Keys and values are encoded with serde JSON for now; Kafka's binary schemas can
//! replace `encode`/`decode` later without touching the state machine.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::consumer::member::MemberState;
use crate::consumer::{TopicInfo, TopicPartitions};

/// Key of a committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommitKey {
    /// Group id.
    pub group: String,
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// Value of a committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommitValue {
    /// Committed offset.
    pub offset: i64,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
    /// When the commit was accepted.
    pub commit_timestamp_ms: i64,
}

/// Key of a group's membership record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMetadataKey {
    /// Group id.
    pub group: String,
}

/// One member inside a [`GroupMetadataValue`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMetadataValue {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Metadata for the chosen protocol.
    pub subscription: Vec<u8>,
    /// Assignment from the leader.
    pub assignment: Vec<u8>,
}

/// Value of a group's membership record: the last stable generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMetadataValue {
    /// Protocol type, None for offset-only groups.
    pub protocol_type: Option<String>,
    /// Generation id.
    pub generation: i32,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// When the group entered its current state.
    pub current_state_timestamp_ms: Option<i64>,
    /// Members with their assignments.
    pub members: Vec<MemberMetadataValue>,
}

/// Key of a consumer-protocol group's own record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerGroupKey {
    /// Group id.
    pub group: String,
}

/// Value of a consumer-protocol group's record: its epochs and the topic metadata
/// its target assignment was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerGroupValue {
    /// Group epoch: bumped on every membership, subscription or metadata change.
    pub group_epoch: i32,
    /// Epoch of the current target assignment.
    pub assignment_epoch: i32,
    /// Subscribed topics as last resolved: name -> (id, partitions).
    pub subscribed_topics: BTreeMap<String, TopicInfo>,
}

/// Key of one consumer-protocol member's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMemberKey {
    /// Group id.
    pub group: String,
    /// Member id.
    pub member_id: String,
}

/// Value of a consumer-protocol member: subscription, epochs, current and target
/// assignment (Kafka splits these over three record types; one is enough here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMemberValue {
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Rack id.
    pub rack_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout (bounds revocation).
    pub rebalance_timeout_ms: i32,
    /// Topics subscribed by name.
    pub subscribed_topic_names: Vec<String>,
    /// Topics subscribed by regex.
    pub subscribed_topic_regex: Option<String>,
    /// Preferred server assignor.
    pub server_assignor: Option<String>,
    /// Member epoch.
    pub member_epoch: i32,
    /// Previous member epoch.
    pub previous_member_epoch: i32,
    /// Reconciliation state.
    pub state: MemberState,
    /// Partitions owned.
    pub assigned: Vec<TopicPartitions>,
    /// Partitions being revoked.
    pub pending_revocation: Vec<TopicPartitions>,
    /// The member's share of the target assignment.
    pub target: Vec<TopicPartitions>,
}

/// A record for `__consumer_offsets`; a `None` value is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordinatorRecord {
    /// A committed offset or its tombstone.
    OffsetCommit {
        /// Key.
        key: OffsetCommitKey,
        /// Value, None to delete.
        value: Option<OffsetCommitValue>,
    },
    /// Group membership or its tombstone.
    GroupMetadata {
        /// Key.
        key: GroupMetadataKey,
        /// Value, None to delete.
        value: Option<GroupMetadataValue>,
    },
    /// A consumer-protocol group's epochs, or its tombstone.
    ConsumerGroup {
        /// Key.
        key: ConsumerGroupKey,
        /// Value, None to delete.
        value: Option<ConsumerGroupValue>,
    },
    /// A consumer-protocol member, or its tombstone when it left.
    ConsumerMember {
        /// Key.
        key: ConsumerMemberKey,
        /// Value, None to delete.
        value: Option<ConsumerMemberValue>,
    },
}

/// The key as encoded on disk; the variant tag tells the value type.
#[derive(Serialize, Deserialize)]
enum EncodedKey {
    OffsetCommit(OffsetCommitKey),
    GroupMetadata(GroupMetadataKey),
    ConsumerGroup(ConsumerGroupKey),
    ConsumerMember(ConsumerMemberKey),
}

/// Why a stored record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The key or value is not valid JSON for its schema.
    #[error("malformed coordinator record: {0}")]
    Malformed(#[from] serde_json::Error),
}

impl CoordinatorRecord {
    /// The group this record belongs to (decides its `__consumer_offsets` partition).
    pub fn group_id(&self) -> &str {
        match self {
            CoordinatorRecord::OffsetCommit { key, .. } => &key.group,
            CoordinatorRecord::GroupMetadata { key, .. } => &key.group,
            CoordinatorRecord::ConsumerGroup { key, .. } => &key.group,
            CoordinatorRecord::ConsumerMember { key, .. } => &key.group,
        }
    }

    /// Encodes to (key bytes, value bytes or None for a tombstone).
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        // Serializing these plain structs cannot fail (no maps with non-string keys).
        fn json<T: Serialize>(v: &T) -> Vec<u8> {
            serde_json::to_vec(v).unwrap_or_default()
        }
        match self {
            CoordinatorRecord::ConsumerGroup { key, value } => (
                json(&EncodedKey::ConsumerGroup(key.clone())),
                value.as_ref().map(json),
            ),
            CoordinatorRecord::ConsumerMember { key, value } => (
                json(&EncodedKey::ConsumerMember(key.clone())),
                value.as_ref().map(json),
            ),
            CoordinatorRecord::OffsetCommit { key, value } => (
                serde_json::to_vec(&EncodedKey::OffsetCommit(key.clone())).unwrap_or_default(),
                value
                    .as_ref()
                    .map(|v| serde_json::to_vec(v).unwrap_or_default()),
            ),
            CoordinatorRecord::GroupMetadata { key, value } => (
                serde_json::to_vec(&EncodedKey::GroupMetadata(key.clone())).unwrap_or_default(),
                value
                    .as_ref()
                    .map(|v| serde_json::to_vec(v).unwrap_or_default()),
            ),
        }
    }

    /// Decodes a record read back from `__consumer_offsets`.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Self, RecordError> {
        Ok(match serde_json::from_slice::<EncodedKey>(key)? {
            EncodedKey::OffsetCommit(key) => CoordinatorRecord::OffsetCommit {
                key,
                value: value.map(serde_json::from_slice).transpose()?,
            },
            EncodedKey::GroupMetadata(key) => CoordinatorRecord::GroupMetadata {
                key,
                value: value.map(serde_json::from_slice).transpose()?,
            },
            EncodedKey::ConsumerGroup(key) => CoordinatorRecord::ConsumerGroup {
                key,
                value: value.map(serde_json::from_slice).transpose()?,
            },
            EncodedKey::ConsumerMember(key) => CoordinatorRecord::ConsumerMember {
                key,
                value: value.map(serde_json::from_slice).transpose()?,
            },
        })
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

    pub(crate) fn consumer_group_tombstone(group: &str) -> Self {
        CoordinatorRecord::ConsumerGroup {
            key: ConsumerGroupKey {
                group: group.to_string(),
            },
            value: None,
        }
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
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_bytes() {
        let record = CoordinatorRecord::OffsetCommit {
            key: OffsetCommitKey {
                group: "g".into(),
                topic: "t".into(),
                partition: 3,
            },
            value: Some(OffsetCommitValue {
                offset: 42,
                leader_epoch: 1,
                metadata: "m".into(),
                commit_timestamp_ms: 7,
            }),
        };
        let (k, v) = record.encode();
        assert_eq!(CoordinatorRecord::decode(&k, v.as_deref()).unwrap(), record);
        let tomb = CoordinatorRecord::group_tombstone("g");
        let (k, v) = tomb.encode();
        assert!(v.is_none());
        assert_eq!(CoordinatorRecord::decode(&k, None).unwrap(), tomb);
    }

    #[test]
    fn partition_for_group_matches_java_hash_code() {
        // "my-group".hashCode() == -1906497762 in Java.
        assert_eq!(partition_for_group("my-group", 50), 1906497762 % 50);
        assert_eq!(partition_for_group("", 50), 0);
    }
}
