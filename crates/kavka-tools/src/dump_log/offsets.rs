//! `--offsets-decoder`: each `__consumer_offsets` record as Kafka's
//! `OffsetsMessageParser` prints it: the key as `{"type":..,"data":{..}}`, the value
//! as `{"version":..,"data":{..}}` (or `<DELETE>` for a tombstone), the data in
//! the field order and versions of Kafka's schemas. The records are decoded by
//! `kavka-group`, the codec the group coordinator itself uses.

use bytes::Bytes;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafka_protocol::protocol::Decodable;
use kavka_group::{
    AssignedTopicPartitions, ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupMemberMetadataValue, ConsumerGroupPartitionMetadataValue, CoordinatorRecord,
    GroupMetadataValue, OffsetCommitValue, RecordError, TopicPartitionsValue,
};

use super::json::Json;
use super::Parsed;

/// The leading i16 of a key (record type) or value (version); None when shorter.
fn leading_i16(bytes: &[u8]) -> Option<i16> {
    Some(i16::from_be_bytes(bytes.get(..2)?.try_into().ok()?))
}

/// The key and payload Kafka prints for one record at `offset`.
pub(super) fn parse(offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Parsed {
    let Some(key) = key else {
        return Parsed::Fatal(format!(
            "Failed to decode message at offset {offset} using the specified decoder (message had a missing key)"
        ));
    };
    let record = match CoordinatorRecord::decode(key, value) {
        Ok(record) => record,
        Err(RecordError::UnknownType(t)) => {
            return Parsed::Text {
                key: Some(format!(
                    "Unknown record type {t} at offset {offset}, skipping."
                )),
                payload: None,
            }
        }
        Err(e) => {
            return Parsed::Text {
                key: Some(format!("Error at offset {offset}, skipping. {e}")),
                payload: None,
            }
        }
    };
    let record_type = leading_i16(key).unwrap_or_default();
    let version = value.and_then(leading_i16).unwrap_or_default();
    let (key_data, value_data) = record_json(&record, version);
    let key_json = Json::Object(vec![
        ("type", Json::Str(record_type.to_string())),
        ("data", key_data),
    ]);
    let payload = match value_data {
        Some(data) => Json::Object(vec![
            ("version", Json::Str(version.to_string())),
            ("data", data),
        ])
        .to_string(),
        None => "<DELETE>".to_string(),
    };
    Parsed::Text {
        key: Some(key_json.to_string()),
        payload: Some(payload),
    }
}

/// The key's data and, unless a tombstone, the value's data, in `version`.
fn record_json(record: &CoordinatorRecord, version: i16) -> (Json, Option<Json>) {
    use CoordinatorRecord::*;
    let group_key = |group: &str| Json::Object(vec![("groupId", Json::str(group))]);
    let member_key = |group: &str, member: &str| {
        Json::Object(vec![
            ("groupId", Json::str(group)),
            ("memberId", Json::str(member)),
        ])
    };
    match record {
        OffsetCommit { key, value } => (
            Json::Object(vec![
                ("group", Json::str(&key.group)),
                ("topic", Json::str(&key.topic)),
                ("partition", Json::Int(key.partition.into())),
            ]),
            value.as_ref().map(|v| offset_commit(v, version)),
        ),
        GroupMetadata { key, value } => (
            Json::Object(vec![("group", Json::str(&key.group))]),
            value.as_ref().map(|v| group_metadata(v, version)),
        ),
        ConsumerGroupMetadata { key, value } => (
            group_key(&key.group),
            value.as_ref().map(|v| {
                let mut data = vec![("epoch", Json::Int(v.epoch.into()))];
                if v.metadata_hash != 0 {
                    data.push(("metadataHash", Json::Int(v.metadata_hash)));
                }
                Json::Object(data)
            }),
        ),
        ConsumerGroupPartitionMetadata { key, value } => (
            group_key(&key.group),
            value.as_ref().map(partition_metadata),
        ),
        ConsumerGroupMemberMetadata { key, value } => (
            member_key(&key.group, &key.member_id),
            value.as_ref().map(member_metadata),
        ),
        ConsumerGroupTargetAssignmentMetadata { key, value } => (
            group_key(&key.group),
            value.as_ref().map(|v| {
                let mut data = vec![("assignmentEpoch", Json::Int(v.assignment_epoch.into()))];
                if v.assignment_timestamp_ms != 0 {
                    data.push(("assignmentTimestamp", Json::Int(v.assignment_timestamp_ms)));
                }
                Json::Object(data)
            }),
        ),
        ConsumerGroupTargetAssignmentMember { key, value } => (
            member_key(&key.group, &key.member_id),
            value.as_ref().map(|v| {
                Json::Object(vec![(
                    "topicPartitions",
                    Json::Array(v.topic_partitions.iter().map(topic_partitions).collect()),
                )])
            }),
        ),
        ConsumerGroupCurrentMemberAssignment { key, value } => (
            member_key(&key.group, &key.member_id),
            value.as_ref().map(current_assignment),
        ),
        ConsumerGroupRegularExpression { key, value } => (
            Json::Object(vec![
                ("groupId", Json::str(&key.group)),
                ("regularExpression", Json::str(&key.regex)),
            ]),
            value.as_ref().map(|v| {
                Json::Object(vec![
                    ("topics", Json::strs(&v.topics)),
                    ("version", Json::Int(v.version)),
                    ("timestamp", Json::Int(v.timestamp_ms)),
                ])
            }),
        ),
    }
}

/// `OffsetCommitValue`: the leader epoch from version 3, the expiry only in
/// version 1, the topic id (tagged, version 4) when it is set.
fn offset_commit(v: &OffsetCommitValue, version: i16) -> Json {
    let mut data = vec![("offset", Json::Int(v.offset))];
    if version >= 3 {
        data.push(("leaderEpoch", Json::Int(v.leader_epoch.into())));
    }
    data.push(("metadata", Json::str(&v.metadata)));
    data.push(("commitTimestamp", Json::Int(v.commit_timestamp_ms)));
    if version == 1 {
        data.push(("expireTimestamp", Json::Int(v.expire_timestamp_ms)));
    }
    if let Some(id) = &v.topic_id {
        data.push(("topicId", Json::uuid(&id.0)));
    }
    Json::Object(data)
}

/// `GroupMetadataValue`; for a `consumer` group each member's subscription and
/// assignment are decoded as Kafka's tool decodes them (kept as bytes when they
/// do not parse).
fn group_metadata(v: &GroupMetadataValue, version: i16) -> Json {
    let consumer = v.protocol_type == "consumer";
    let members = v
        .members
        .iter()
        .map(|m| {
            let mut data = vec![("memberId", Json::str(&m.member_id))];
            if version >= 3 {
                data.push((
                    "groupInstanceId",
                    Json::opt_str(m.group_instance_id.as_deref()),
                ));
            }
            data.push(("clientId", Json::str(&m.client_id)));
            data.push(("clientHost", Json::str(&m.client_host)));
            if version >= 1 {
                data.push(("rebalanceTimeout", Json::Int(m.rebalance_timeout_ms.into())));
            }
            data.push(("sessionTimeout", Json::Int(m.session_timeout_ms.into())));
            let subscription = consumer
                .then(|| subscription_json(&m.subscription))
                .flatten();
            data.push((
                "subscription",
                subscription.unwrap_or_else(|| Json::bytes(&m.subscription)),
            ));
            let assignment = consumer.then(|| assignment_json(&m.assignment)).flatten();
            data.push((
                "assignment",
                assignment.unwrap_or_else(|| Json::bytes(&m.assignment)),
            ));
            Json::Object(data)
        })
        .collect();
    let mut data = vec![
        ("protocolType", Json::str(&v.protocol_type)),
        ("generation", Json::Int(v.generation.into())),
        ("protocol", Json::opt_str(v.protocol.as_deref())),
        ("leader", Json::opt_str(v.leader.as_deref())),
    ];
    if version >= 2 {
        data.push((
            "currentStateTimestamp",
            Json::Int(v.current_state_timestamp_ms),
        ));
    }
    data.push(("members", Json::Array(members)));
    Json::Object(data)
}

/// A classic consumer's subscription bytes (a version, then the message), as
/// `ConsumerProtocolSubscriptionJsonConverter` prints them.
fn subscription_json(bytes: &[u8]) -> Option<Json> {
    let version = leading_i16(bytes)?;
    if !(0..=3).contains(&version) {
        return None;
    }
    let mut buf = Bytes::copy_from_slice(&bytes[2..]);
    let s = ConsumerProtocolSubscription::decode(&mut buf, version).ok()?;
    let mut data = vec![
        (
            "topics",
            Json::Array(s.topics.iter().map(|t| Json::str(t)).collect()),
        ),
        (
            "userData",
            s.user_data.as_ref().map_or(Json::Null, |b| Json::bytes(b)),
        ),
    ];
    if version >= 1 {
        let owned = s
            .owned_partitions
            .iter()
            .map(|tp| {
                Json::Object(vec![
                    ("topic", Json::str(&tp.topic)),
                    ("partitions", Json::ints(&tp.partitions)),
                ])
            })
            .collect();
        data.push(("ownedPartitions", Json::Array(owned)));
    }
    if version >= 2 {
        data.push(("generationId", Json::Int(s.generation_id.into())));
    }
    if version >= 3 {
        data.push(("rackId", Json::opt_str(s.rack_id.as_deref())));
    }
    Some(Json::Object(data))
}

/// A classic consumer's assignment bytes, as `ConsumerProtocolAssignmentJsonConverter`
/// prints them.
fn assignment_json(bytes: &[u8]) -> Option<Json> {
    let version = leading_i16(bytes)?;
    if !(0..=3).contains(&version) {
        return None;
    }
    let mut buf = Bytes::copy_from_slice(&bytes[2..]);
    let a = ConsumerProtocolAssignment::decode(&mut buf, version).ok()?;
    let assigned = a
        .assigned_partitions
        .iter()
        .map(|tp| {
            Json::Object(vec![
                ("topic", Json::str(&tp.topic)),
                ("partitions", Json::ints(&tp.partitions)),
            ])
        })
        .collect();
    Some(Json::Object(vec![
        ("assignedPartitions", Json::Array(assigned)),
        (
            "userData",
            a.user_data.as_ref().map_or(Json::Null, |b| Json::bytes(b)),
        ),
    ]))
}

fn partition_metadata(v: &ConsumerGroupPartitionMetadataValue) -> Json {
    let topics = v
        .topics
        .iter()
        .map(|t| {
            let racks = t
                .partition_racks
                .iter()
                .map(|(p, racks)| {
                    Json::Object(vec![
                        ("partition", Json::Int((*p).into())),
                        ("racks", Json::strs(racks)),
                    ])
                })
                .collect();
            Json::Object(vec![
                ("topicId", Json::uuid(&t.topic_id.0)),
                ("topicName", Json::str(&t.topic_name)),
                ("numPartitions", Json::Int(t.num_partitions.into())),
                ("partitionMetadata", Json::Array(racks)),
            ])
        })
        .collect();
    Json::Object(vec![("topics", Json::Array(topics))])
}

fn member_metadata(v: &ConsumerGroupMemberMetadataValue) -> Json {
    let mut data = vec![
        ("instanceId", Json::opt_str(v.instance_id.as_deref())),
        ("rackId", Json::opt_str(v.rack_id.as_deref())),
        ("clientId", Json::str(&v.client_id)),
        ("clientHost", Json::str(&v.client_host)),
        (
            "subscribedTopicNames",
            Json::strs(&v.subscribed_topic_names),
        ),
        // The codec reads Kafka's "" (no regex) as None.
        (
            "subscribedTopicRegex",
            Json::str(v.subscribed_topic_regex.as_deref().unwrap_or("")),
        ),
        (
            "rebalanceTimeoutMs",
            Json::Int(v.rebalance_timeout_ms.into()),
        ),
        (
            "serverAssignor",
            Json::opt_str(v.server_assignor.as_deref()),
        ),
    ];
    // A tagged field whose default is the empty struct: Kafka prints it unless it
    // holds that default, so a consumer-protocol member's null shows as `null`.
    match &v.classic_member_metadata {
        None => data.push(("classicMemberMetadata", Json::Null)),
        Some(c) if c.session_timeout_ms == 0 && c.supported_protocols.is_empty() => {}
        Some(c) => {
            let protocols = c
                .supported_protocols
                .iter()
                .map(|(name, metadata)| {
                    Json::Object(vec![
                        ("name", Json::str(name)),
                        ("metadata", Json::bytes(metadata)),
                    ])
                })
                .collect();
            data.push((
                "classicMemberMetadata",
                Json::Object(vec![
                    ("sessionTimeoutMs", Json::Int(c.session_timeout_ms.into())),
                    ("supportedProtocols", Json::Array(protocols)),
                ]),
            ));
        }
    }
    Json::Object(data)
}

fn topic_partitions(tp: &TopicPartitionsValue) -> Json {
    Json::Object(vec![
        ("topicId", Json::uuid(&tp.topic_id.0)),
        ("partitions", Json::ints(&tp.partitions)),
    ])
}

fn assigned_partitions(list: &[AssignedTopicPartitions]) -> Json {
    Json::Array(
        list.iter()
            .map(|tp| {
                let mut data = vec![
                    ("topicId", Json::uuid(&tp.topic_id.0)),
                    ("partitions", Json::ints(&tp.partitions)),
                ];
                if let Some(epochs) = &tp.assignment_epochs {
                    data.push(("assignmentEpochs", Json::ints(epochs)));
                }
                Json::Object(data)
            })
            .collect(),
    )
}

fn current_assignment(v: &ConsumerGroupCurrentMemberAssignmentValue) -> Json {
    Json::Object(vec![
        ("memberEpoch", Json::Int(v.member_epoch.into())),
        (
            "previousMemberEpoch",
            Json::Int(v.previous_member_epoch.into()),
        ),
        ("state", Json::Int(v.state.into())),
        (
            "assignedPartitions",
            assigned_partitions(&v.assigned_partitions),
        ),
        (
            "partitionsPendingRevocation",
            assigned_partitions(&v.partitions_pending_revocation),
        ),
    ])
}
