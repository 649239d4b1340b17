//! Kavka's former record form (serde JSON keys and values, before the records took
//! Kafka's schemas), read so that a data dir written by an older Kavka still loads.
//! Each old record is translated into the Kafka records that carry the same state;
//! nothing writes this form any more.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;
use crate::consumer::member::MemberState;
use crate::consumer::{TopicInfo, TopicPartitions};

/// True when a key is in the JSON form: an object, where a Kafka key starts with the
/// high byte of a small record type (0x00).
pub(super) fn is_legacy_key(key: &[u8]) -> bool {
    key.first() == Some(&b'{')
}

#[derive(Deserialize)]
struct OldOffsetKey {
    group: String,
    topic: String,
    partition: i32,
}

#[derive(Deserialize)]
struct OldOffsetValue {
    offset: i64,
    leader_epoch: i32,
    metadata: String,
    commit_timestamp_ms: i64,
}

#[derive(Deserialize)]
struct OldGroupKey {
    group: String,
}

#[derive(Deserialize)]
struct OldMember {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    rebalance_timeout_ms: i32,
    session_timeout_ms: i32,
    subscription: Vec<u8>,
    assignment: Vec<u8>,
}

#[derive(Deserialize)]
struct OldGroupValue {
    protocol_type: Option<String>,
    generation: i32,
    protocol: Option<String>,
    leader: Option<String>,
    current_state_timestamp_ms: Option<i64>,
    members: Vec<OldMember>,
}

#[derive(Deserialize)]
struct OldConsumerGroupValue {
    group_epoch: i32,
    assignment_epoch: i32,
    subscribed_topics: BTreeMap<String, TopicInfo>,
}

#[derive(Deserialize)]
struct OldMemberKey {
    group: String,
    member_id: String,
}

#[derive(Deserialize)]
struct OldMemberValue {
    instance_id: Option<String>,
    rack_id: Option<String>,
    client_id: String,
    client_host: String,
    rebalance_timeout_ms: i32,
    subscribed_topic_names: Vec<String>,
    subscribed_topic_regex: Option<String>,
    server_assignor: Option<String>,
    member_epoch: i32,
    previous_member_epoch: i32,
    state: MemberState,
    assigned: Vec<TopicPartitions>,
    pending_revocation: Vec<TopicPartitions>,
    target: Vec<TopicPartitions>,
}

#[derive(Deserialize)]
enum OldKey {
    OffsetCommit(OldOffsetKey),
    GroupMetadata(OldGroupKey),
    ConsumerGroup(OldGroupKey),
    ConsumerMember(OldMemberKey),
}

fn json<'a, T: Deserialize<'a>>(value: Option<&'a [u8]>) -> Result<Option<T>, RecordError> {
    Ok(value.map(serde_json::from_slice).transpose()?)
}

/// Partitions of an old record, with no assignment epochs (the old form had none).
fn assigned(list: &[TopicPartitions]) -> Vec<AssignedTopicPartitions> {
    list.iter()
        .map(|tp| AssignedTopicPartitions {
            topic_id: tp.topic_id,
            partitions: tp.partitions.clone(),
            assignment_epochs: None,
        })
        .collect()
}

/// Translates one old record into Kafka's records, in replay order.
pub(super) fn decode(
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<Vec<CoordinatorRecord>, RecordError> {
    Ok(match serde_json::from_slice::<OldKey>(key)? {
        OldKey::OffsetCommit(k) => vec![CoordinatorRecord::OffsetCommit {
            key: OffsetCommitKey {
                group: k.group,
                topic: k.topic,
                partition: k.partition,
            },
            value: json::<OldOffsetValue>(value)?.map(|v| {
                OffsetCommitValue::new(v.offset, v.leader_epoch, v.metadata, v.commit_timestamp_ms)
            }),
        }],
        OldKey::GroupMetadata(k) => vec![CoordinatorRecord::GroupMetadata {
            key: GroupMetadataKey { group: k.group },
            value: json::<OldGroupValue>(value)?.map(|v| GroupMetadataValue {
                protocol_type: v.protocol_type.unwrap_or_default(),
                generation: v.generation,
                protocol: v.protocol,
                leader: v.leader,
                current_state_timestamp_ms: v.current_state_timestamp_ms.unwrap_or(-1),
                members: v
                    .members
                    .into_iter()
                    .map(|m| MemberMetadataValue {
                        member_id: m.member_id,
                        group_instance_id: m.group_instance_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                        rebalance_timeout_ms: m.rebalance_timeout_ms,
                        session_timeout_ms: m.session_timeout_ms,
                        subscription: m.subscription,
                        assignment: m.assignment,
                    })
                    .collect(),
            }),
        }],
        OldKey::ConsumerGroup(k) => {
            let key = ConsumerGroupKey { group: k.group };
            match json::<OldConsumerGroupValue>(value)? {
                None => CoordinatorRecord::consumer_group_tombstones(&key.group),
                // The old record kept the resolved topics themselves, which is what
                // Kafka's partition-metadata record (type 4) holds; no hash was kept.
                Some(v) => vec![
                    CoordinatorRecord::ConsumerGroupMetadata {
                        key: key.clone(),
                        value: Some(ConsumerGroupMetadataValue {
                            epoch: v.group_epoch,
                            metadata_hash: 0,
                        }),
                    },
                    CoordinatorRecord::ConsumerGroupPartitionMetadata {
                        key: key.clone(),
                        value: Some(ConsumerGroupPartitionMetadataValue {
                            topics: v
                                .subscribed_topics
                                .into_iter()
                                .map(|(name, info)| TopicMetadata {
                                    topic_id: info.id,
                                    topic_name: name,
                                    num_partitions: info.partitions,
                                    partition_racks: Vec::new(),
                                })
                                .collect(),
                        }),
                    },
                    CoordinatorRecord::ConsumerGroupTargetAssignmentMetadata {
                        key,
                        value: Some(ConsumerGroupTargetAssignmentMetadataValue {
                            assignment_epoch: v.assignment_epoch,
                            assignment_timestamp_ms: 0,
                        }),
                    },
                ],
            }
        }
        OldKey::ConsumerMember(k) => {
            let key = ConsumerMemberKey {
                group: k.group,
                member_id: k.member_id,
            };
            match json::<OldMemberValue>(value)? {
                None => vec![
                    CoordinatorRecord::ConsumerGroupCurrentMemberAssignment {
                        key: key.clone(),
                        value: None,
                    },
                    CoordinatorRecord::ConsumerGroupTargetAssignmentMember {
                        key: key.clone(),
                        value: None,
                    },
                    CoordinatorRecord::ConsumerGroupMemberMetadata { key, value: None },
                ],
                Some(v) => vec![
                    CoordinatorRecord::ConsumerGroupMemberMetadata {
                        key: key.clone(),
                        value: Some(ConsumerGroupMemberMetadataValue {
                            instance_id: v.instance_id,
                            rack_id: v.rack_id,
                            client_id: v.client_id,
                            client_host: v.client_host,
                            subscribed_topic_names: v.subscribed_topic_names,
                            subscribed_topic_regex: v.subscribed_topic_regex,
                            rebalance_timeout_ms: v.rebalance_timeout_ms,
                            server_assignor: v.server_assignor,
                            classic_member_metadata: None,
                        }),
                    },
                    CoordinatorRecord::ConsumerGroupTargetAssignmentMember {
                        key: key.clone(),
                        value: Some(ConsumerGroupTargetAssignmentMemberValue {
                            topic_partitions: v
                                .target
                                .iter()
                                .map(|tp| TopicPartitionsValue {
                                    topic_id: tp.topic_id,
                                    partitions: tp.partitions.clone(),
                                })
                                .collect(),
                        }),
                    },
                    CoordinatorRecord::ConsumerGroupCurrentMemberAssignment {
                        key,
                        value: Some(ConsumerGroupCurrentMemberAssignmentValue {
                            member_epoch: v.member_epoch,
                            previous_member_epoch: v.previous_member_epoch,
                            state: v.state.kafka_value(),
                            assigned_partitions: assigned(&v.assigned),
                            partitions_pending_revocation: assigned(&v.pending_revocation),
                        }),
                    },
                ],
            }
        }
    })
}
