//! Consumer-protocol (KIP-848) groups, in Kafka's split: the group's epoch
//! (type 3), its resolved topics (type 4, written by Kafka before 4.1 and only read
//! now), each member's subscription (type 5), the target assignment's epoch (type 6)
//! and each member's share of it (type 7), each member's current assignment (type 8),
//! and resolved subscription regexes (type 16). Every value is version 0, flexible.

use super::wire::{Reader, WireError, Writer};
use crate::consumer::TopicId;

/// Key of a record that belongs to a whole group (types 3, 4 and 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupKey {
    /// Group id.
    pub group: String,
}

/// Key of a record that belongs to one member (types 5, 7 and 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMemberKey {
    /// Group id.
    pub group: String,
    /// Member id.
    pub member_id: String,
}

/// Key of a resolved regex (type 16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupRegexKey {
    /// Group id.
    pub group: String,
    /// The regular expression.
    pub regex: String,
}

/// `ConsumerGroupMetadataValue`: the group epoch, bumped on every membership,
/// subscription or metadata change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadataValue {
    /// Group epoch.
    pub epoch: i32,
    /// Hash of the subscribed topics' metadata (tagged; 0 when none).
    pub metadata_hash: i64,
}

/// One topic of a [`ConsumerGroupPartitionMetadataValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic id.
    pub topic_id: TopicId,
    /// Topic name.
    pub topic_name: String,
    /// Partition count.
    pub num_partitions: i32,
    /// Racks per partition (unused since Kafka 4.0; kept as read).
    pub partition_racks: Vec<(i32, Vec<String>)>,
}

/// `ConsumerGroupPartitionMetadataValue`: the topics the group subscribes to, as
/// resolved when the epoch was last bumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupPartitionMetadataValue {
    /// Topics.
    pub topics: Vec<TopicMetadata>,
}

/// A classic-protocol member's join data, kept for a consumer group that upgraded
/// a classic one (tagged field of [`ConsumerGroupMemberMetadataValue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicMemberMetadata {
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Protocols the member supports: (name, metadata).
    pub supported_protocols: Vec<(String, Vec<u8>)>,
}

/// `ConsumerGroupMemberMetadataValue`: a member's client and subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMemberMetadataValue {
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Rack id.
    pub rack_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host, as Kafka prints it (`/127.0.0.1`).
    pub client_host: String,
    /// Topics subscribed by name, sorted.
    pub subscribed_topic_names: Vec<String>,
    /// Topics subscribed by regex; Kafka writes an empty string for none.
    pub subscribed_topic_regex: Option<String>,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Preferred server assignor.
    pub server_assignor: Option<String>,
    /// Set only for a member that joined with the classic protocol; None (written as
    /// a null marker) for a consumer-protocol member.
    pub classic_member_metadata: Option<ClassicMemberMetadata>,
}

/// `ConsumerGroupTargetAssignmentMetadataValue`: the epoch of the target assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupTargetAssignmentMetadataValue {
    /// Assignment epoch.
    pub assignment_epoch: i32,
    /// When the assignor computed it (tagged; 0 when not recorded).
    pub assignment_timestamp_ms: i64,
}

/// One topic's partitions in a member's target assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPartitionsValue {
    /// Topic id.
    pub topic_id: TopicId,
    /// Partitions.
    pub partitions: Vec<i32>,
}

/// `ConsumerGroupTargetAssignmentMemberValue`: a member's share of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupTargetAssignmentMemberValue {
    /// Partitions by topic.
    pub topic_partitions: Vec<TopicPartitionsValue>,
}

/// One topic's partitions in a member's current assignment, each with the member
/// epoch at which it was assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedTopicPartitions {
    /// Topic id.
    pub topic_id: TopicId,
    /// Partitions.
    pub partitions: Vec<i32>,
    /// Per partition, the epoch it was assigned at (tagged; None in records of
    /// brokers that did not track it).
    pub assignment_epochs: Option<Vec<i32>>,
}

/// `ConsumerGroupCurrentMemberAssignmentValue`: where a member stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupCurrentMemberAssignmentValue {
    /// Member epoch.
    pub member_epoch: i32,
    /// Previous member epoch.
    pub previous_member_epoch: i32,
    /// Kafka's `MemberState` value: 0 stable, 1 unrevoked, 2 unreleased partitions.
    pub state: i8,
    /// Partitions owned.
    pub assigned_partitions: Vec<AssignedTopicPartitions>,
    /// Partitions being revoked.
    pub partitions_pending_revocation: Vec<AssignedTopicPartitions>,
}

/// `ConsumerGroupRegularExpressionValue`: topics a regex resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupRegexValue {
    /// Matching topics.
    pub topics: Vec<String>,
    /// Metadata version it was resolved at.
    pub version: i64,
    /// When it was resolved.
    pub timestamp_ms: i64,
}

pub(super) fn encode_group_key(record_type: i16, key: &ConsumerGroupKey) -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(record_type);
    w.string(&key.group);
    w.buf
}

pub(super) fn decode_group_key(r: &mut Reader<'_>) -> Result<ConsumerGroupKey, WireError> {
    Ok(ConsumerGroupKey { group: r.string()? })
}

pub(super) fn encode_member_key(record_type: i16, key: &ConsumerMemberKey) -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(record_type);
    w.string(&key.group);
    w.string(&key.member_id);
    w.buf
}

pub(super) fn decode_member_key(r: &mut Reader<'_>) -> Result<ConsumerMemberKey, WireError> {
    Ok(ConsumerMemberKey {
        group: r.string()?,
        member_id: r.string()?,
    })
}

pub(super) fn encode_regex_key(record_type: i16, key: &ConsumerGroupRegexKey) -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(record_type);
    w.string(&key.group);
    w.string(&key.regex);
    w.buf
}

pub(super) fn decode_regex_key(r: &mut Reader<'_>) -> Result<ConsumerGroupRegexKey, WireError> {
    Ok(ConsumerGroupRegexKey {
        group: r.string()?,
        regex: r.string()?,
    })
}

/// Every consumer-protocol value has version 0 only.
fn version_zero(r: &mut Reader<'_>) -> Result<(), WireError> {
    match r.i16()? {
        0 => Ok(()),
        v => Err(WireError::Version(v)),
    }
}

fn writer_v0() -> Writer {
    let mut w = Writer::default();
    w.i16(0);
    w
}

/// Tag 0 holding an i64 unless it is at its default, 0.
fn tagged_i64(value: i64) -> Vec<(u32, Vec<u8>)> {
    if value == 0 {
        Vec::new()
    } else {
        vec![(0, Writer::field(|w| w.i64(value)))]
    }
}

fn read_tagged_i64(r: &mut Reader<'_>) -> Result<i64, WireError> {
    let mut value = 0;
    r.tagged_fields(|tag, f| {
        if tag == 0 {
            value = f.i64()?;
        }
        Ok(())
    })?;
    Ok(value)
}

pub(super) fn encode_group_metadata(v: &ConsumerGroupMetadataValue) -> Vec<u8> {
    let mut w = writer_v0();
    w.i32(v.epoch);
    w.tagged_fields(&tagged_i64(v.metadata_hash));
    w.buf
}

pub(super) fn decode_group_metadata(
    r: &mut Reader<'_>,
) -> Result<ConsumerGroupMetadataValue, WireError> {
    version_zero(r)?;
    let epoch = r.i32()?;
    let metadata_hash = read_tagged_i64(r)?;
    Ok(ConsumerGroupMetadataValue {
        epoch,
        metadata_hash,
    })
}

pub(super) fn encode_partition_metadata(v: &ConsumerGroupPartitionMetadataValue) -> Vec<u8> {
    let mut w = writer_v0();
    w.compact_array_of(&v.topics, |w, t| {
        w.uuid(&t.topic_id.0);
        w.compact_string(&t.topic_name);
        w.i32(t.num_partitions);
        w.compact_array_of(&t.partition_racks, |w, (p, racks)| {
            w.i32(*p);
            w.compact_array_of(racks, |w, rack| w.compact_string(rack));
            w.tagged_fields(&[]);
        });
        w.tagged_fields(&[]);
    });
    w.tagged_fields(&[]);
    w.buf
}

pub(super) fn decode_partition_metadata(
    r: &mut Reader<'_>,
) -> Result<ConsumerGroupPartitionMetadataValue, WireError> {
    version_zero(r)?;
    let topics = r.compact_array_of(|r| {
        let topic_id = TopicId(r.uuid()?);
        let topic_name = r.compact_string()?;
        let num_partitions = r.i32()?;
        let partition_racks = r.compact_array_of(|r| {
            let p = r.i32()?;
            let racks = r.compact_array_of(|r| r.compact_string())?;
            r.tagged_fields(|_, _| Ok(()))?;
            Ok((p, racks))
        })?;
        r.tagged_fields(|_, _| Ok(()))?;
        Ok(TopicMetadata {
            topic_id,
            topic_name,
            num_partitions,
            partition_racks,
        })
    })?;
    r.tagged_fields(|_, _| Ok(()))?;
    Ok(ConsumerGroupPartitionMetadataValue { topics })
}

pub(super) fn encode_member_metadata(v: &ConsumerGroupMemberMetadataValue) -> Vec<u8> {
    let mut w = writer_v0();
    w.compact_nullable_string(v.instance_id.as_deref());
    w.compact_nullable_string(v.rack_id.as_deref());
    w.compact_string(&v.client_id);
    w.compact_string(&v.client_host);
    w.compact_array_of(&v.subscribed_topic_names, |w, n| w.compact_string(n));
    // Kafka's member keeps "" for no regex and writes it so.
    w.compact_nullable_string(Some(v.subscribed_topic_regex.as_deref().unwrap_or("")));
    w.i32(v.rebalance_timeout_ms);
    w.compact_nullable_string(v.server_assignor.as_deref());
    // Kafka's generated code compares this nullable struct with an *empty* struct,
    // its default: so null is written (as a one-byte null marker) and an empty struct
    // is left out; a present struct is preceded by a 1 marker.
    let mut tagged = Vec::new();
    match &v.classic_member_metadata {
        None => tagged.push((0, vec![0])),
        Some(c) if c.session_timeout_ms == 0 && c.supported_protocols.is_empty() => {}
        Some(c) => tagged.push((
            0,
            Writer::field(|w| {
                w.unsigned_varint(1);
                w.i32(c.session_timeout_ms);
                w.compact_array_of(&c.supported_protocols, |w, (name, metadata)| {
                    w.compact_string(name);
                    w.compact_bytes(metadata);
                    w.tagged_fields(&[]);
                });
                w.tagged_fields(&[]);
            }),
        )),
    }
    w.tagged_fields(&tagged);
    w.buf
}

pub(super) fn decode_member_metadata(
    r: &mut Reader<'_>,
) -> Result<ConsumerGroupMemberMetadataValue, WireError> {
    version_zero(r)?;
    let instance_id = r.compact_nullable_string()?;
    let rack_id = r.compact_nullable_string()?;
    let client_id = r.compact_string()?;
    let client_host = r.compact_string()?;
    let subscribed_topic_names = r.compact_array_of(|r| r.compact_string())?;
    let subscribed_topic_regex = r.compact_nullable_string()?.filter(|s| !s.is_empty());
    let rebalance_timeout_ms = r.i32()?;
    let server_assignor = r.compact_nullable_string()?;
    // Absent means Kafka's default, the empty struct (see the encoder).
    let mut classic_member_metadata = Some(ClassicMemberMetadata {
        session_timeout_ms: 0,
        supported_protocols: Vec::new(),
    });
    r.tagged_fields(|tag, f| {
        if tag == 0 {
            classic_member_metadata = match f.unsigned_varint()? {
                0 => None,
                _ => {
                    let session_timeout_ms = f.i32()?;
                    let supported_protocols = f.compact_array_of(|r| {
                        let name = r.compact_string()?;
                        let metadata = r.compact_bytes()?;
                        r.tagged_fields(|_, _| Ok(()))?;
                        Ok((name, metadata))
                    })?;
                    f.tagged_fields(|_, _| Ok(()))?;
                    Some(ClassicMemberMetadata {
                        session_timeout_ms,
                        supported_protocols,
                    })
                }
            };
        }
        Ok(())
    })?;
    Ok(ConsumerGroupMemberMetadataValue {
        instance_id,
        rack_id,
        client_id,
        client_host,
        subscribed_topic_names,
        subscribed_topic_regex,
        rebalance_timeout_ms,
        server_assignor,
        classic_member_metadata,
    })
}

pub(super) fn encode_target_metadata(v: &ConsumerGroupTargetAssignmentMetadataValue) -> Vec<u8> {
    let mut w = writer_v0();
    w.i32(v.assignment_epoch);
    w.tagged_fields(&tagged_i64(v.assignment_timestamp_ms));
    w.buf
}

pub(super) fn decode_target_metadata(
    r: &mut Reader<'_>,
) -> Result<ConsumerGroupTargetAssignmentMetadataValue, WireError> {
    version_zero(r)?;
    let assignment_epoch = r.i32()?;
    let assignment_timestamp_ms = read_tagged_i64(r)?;
    Ok(ConsumerGroupTargetAssignmentMetadataValue {
        assignment_epoch,
        assignment_timestamp_ms,
    })
}

pub(super) fn encode_target_member(v: &ConsumerGroupTargetAssignmentMemberValue) -> Vec<u8> {
    let mut w = writer_v0();
    w.compact_array_of(&v.topic_partitions, |w, tp| {
        w.uuid(&tp.topic_id.0);
        w.compact_array_of(&tp.partitions, |w, p| w.i32(*p));
        w.tagged_fields(&[]);
    });
    w.tagged_fields(&[]);
    w.buf
}

pub(super) fn decode_target_member(
    r: &mut Reader<'_>,
) -> Result<ConsumerGroupTargetAssignmentMemberValue, WireError> {
    version_zero(r)?;
    let topic_partitions = r.compact_array_of(|r| {
        let topic_id = TopicId(r.uuid()?);
        let partitions = r.compact_array_of(|r| r.i32())?;
        r.tagged_fields(|_, _| Ok(()))?;
        Ok(TopicPartitionsValue {
            topic_id,
            partitions,
        })
    })?;
    r.tagged_fields(|_, _| Ok(()))?;
    Ok(ConsumerGroupTargetAssignmentMemberValue { topic_partitions })
}

fn encode_assigned(w: &mut Writer, list: &[AssignedTopicPartitions]) {
    w.compact_array_of(list, |w, tp| {
        w.uuid(&tp.topic_id.0);
        w.compact_array_of(&tp.partitions, |w, p| w.i32(*p));
        let mut tagged = Vec::new();
        if let Some(epochs) = &tp.assignment_epochs {
            tagged.push((
                0,
                Writer::field(|w| w.compact_array_of(epochs, |w, e| w.i32(*e))),
            ));
        }
        w.tagged_fields(&tagged);
    });
}

fn decode_assigned(r: &mut Reader<'_>) -> Result<Vec<AssignedTopicPartitions>, WireError> {
    r.compact_array_of(|r| {
        let topic_id = TopicId(r.uuid()?);
        let partitions = r.compact_array_of(|r| r.i32())?;
        let mut assignment_epochs = None;
        r.tagged_fields(|tag, f| {
            if tag == 0 {
                assignment_epochs = f.compact_nullable_array_of(|r| r.i32())?;
            }
            Ok(())
        })?;
        Ok(AssignedTopicPartitions {
            topic_id,
            partitions,
            assignment_epochs,
        })
    })
}

pub(super) fn encode_current_assignment(v: &ConsumerGroupCurrentMemberAssignmentValue) -> Vec<u8> {
    let mut w = writer_v0();
    w.i32(v.member_epoch);
    w.i32(v.previous_member_epoch);
    w.i8(v.state);
    encode_assigned(&mut w, &v.assigned_partitions);
    encode_assigned(&mut w, &v.partitions_pending_revocation);
    w.tagged_fields(&[]);
    w.buf
}

pub(super) fn decode_current_assignment(
    r: &mut Reader<'_>,
) -> Result<ConsumerGroupCurrentMemberAssignmentValue, WireError> {
    version_zero(r)?;
    let member_epoch = r.i32()?;
    let previous_member_epoch = r.i32()?;
    let state = r.i8()?;
    let assigned_partitions = decode_assigned(r)?;
    let partitions_pending_revocation = decode_assigned(r)?;
    r.tagged_fields(|_, _| Ok(()))?;
    Ok(ConsumerGroupCurrentMemberAssignmentValue {
        member_epoch,
        previous_member_epoch,
        state,
        assigned_partitions,
        partitions_pending_revocation,
    })
}

pub(super) fn encode_regex(v: &ConsumerGroupRegexValue) -> Vec<u8> {
    let mut w = writer_v0();
    w.compact_array_of(&v.topics, |w, t| w.compact_string(t));
    w.i64(v.version);
    w.i64(v.timestamp_ms);
    w.tagged_fields(&[]);
    w.buf
}

pub(super) fn decode_regex(r: &mut Reader<'_>) -> Result<ConsumerGroupRegexValue, WireError> {
    version_zero(r)?;
    let topics = r.compact_array_of(|r| r.compact_string())?;
    let version = r.i64()?;
    let timestamp_ms = r.i64()?;
    r.tagged_fields(|_, _| Ok(()))?;
    Ok(ConsumerGroupRegexValue {
        topics,
        version,
        timestamp_ms,
    })
}
