//! `__consumer_offsets` records in Apache Kafka's format: bytes Kafka itself wrote
//! decode and re-encode identically, every record type round-trips, arbitrary bytes
//! never panic the decoder, and Kavka's former JSON records still load.

use kavka_group::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// (key, value) pairs Kafka 4.4 wrote, in log order per partition.
fn kafka_records() -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    include_str!("fixtures/kafka-4.4-consumer-offsets.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let value = (f[2] != "-").then(|| hex(f[2]));
            (hex(f[1]), value)
        })
        .collect()
}

const ORDERS: TopicId = TopicId([
    0xd5, 0x12, 0xdf, 0xca, 0xa2, 0xad, 0x4c, 0x74, 0x92, 0x8c, 0xbd, 0xb5, 0x54, 0xaa, 0x23, 0x15,
]);

#[test]
fn records_kafka_wrote_reencode_to_the_same_bytes() {
    let records = kafka_records();
    assert!(records.len() > 17);
    for (key, value) in &records {
        let decoded = CoordinatorRecord::decode(key, value.as_deref())
            .unwrap_or_else(|e| panic!("{e} for key {key:02x?}"));
        let (k, v) = decoded.encode();
        assert_eq!(&k, key, "key of {decoded:?}");
        assert_eq!(&v, value, "value of {decoded:?}");
    }
}

#[test]
fn records_kafka_wrote_decode_to_what_the_flow_did() {
    let decoded: Vec<CoordinatorRecord> = kafka_records()
        .iter()
        .map(|(k, v)| CoordinatorRecord::decode(k, v.as_deref()).unwrap())
        .collect();
    let member = "FCGLmsS5Rwm8gBlYNr1uIg";
    assert_eq!(
        decoded[0],
        CoordinatorRecord::ConsumerGroupMemberMetadata {
            key: ConsumerMemberKey {
                group: "kip848-g".into(),
                member_id: member.into()
            },
            value: Some(ConsumerGroupMemberMetadataValue {
                instance_id: None,
                rack_id: None,
                client_id: "console-consumer".into(),
                client_host: "/127.0.0.1".into(),
                subscribed_topic_names: vec!["orders".into()],
                subscribed_topic_regex: None,
                rebalance_timeout_ms: 300000,
                server_assignor: None,
                classic_member_metadata: None,
            }),
        }
    );
    assert_eq!(
        decoded[1],
        CoordinatorRecord::ConsumerGroupMetadata {
            key: ConsumerGroupKey {
                group: "kip848-g".into()
            },
            value: Some(ConsumerGroupMetadataValue {
                epoch: 2,
                metadata_hash: 4874947363087079720
            }),
        }
    );
    let CoordinatorRecord::ConsumerGroupCurrentMemberAssignment { value: Some(v), .. } =
        &decoded[4]
    else {
        panic!("{:?}", decoded[4]);
    };
    assert_eq!(
        (v.member_epoch, v.previous_member_epoch, v.state),
        (2, 0, 0)
    );
    assert_eq!(
        v.assigned_partitions,
        vec![AssignedTopicPartitions {
            topic_id: ORDERS,
            partitions: vec![0, 1],
            assignment_epochs: Some(vec![2, 2]),
        }]
    );
    let CoordinatorRecord::OffsetCommit {
        key,
        value: Some(v),
    } = &decoded[6]
    else {
        panic!("{:?}", decoded[6]);
    };
    assert_eq!((key.topic.as_str(), key.partition), ("orders", 1));
    assert_eq!(
        (v.offset, v.leader_epoch, v.expire_timestamp_ms),
        (4, 0, -1)
    );
    assert_eq!(v.topic_id, Some(ORDERS));
    assert!(decoded[7].is_tombstone());
    let CoordinatorRecord::GroupMetadata {
        key,
        value: Some(v),
    } = &decoded[13]
    else {
        panic!("{:?}", decoded[13]);
    };
    assert_eq!(key.group, "classic-g");
    assert_eq!(
        (
            v.protocol_type.as_str(),
            v.generation,
            v.protocol.as_deref()
        ),
        ("consumer", 1, Some("range"))
    );
    assert_eq!(v.members[0].client_host, "/127.0.0.1");
    assert_eq!(v.members[0].session_timeout_ms, 45000);
}

#[test]
fn kavka_writes_kafka_bytes_for_the_same_content() {
    // The offset commit Kafka wrote for classic-g, built the way Kavka builds it.
    let (key, value) = &kafka_records()[14];
    let mut v = OffsetCommitValue::new(0, -1, String::new(), 1796197394472);
    v.topic_id = Some(ORDERS);
    let record = CoordinatorRecord::OffsetCommit {
        key: OffsetCommitKey {
            group: "classic-g".into(),
            topic: "orders".into(),
            partition: 0,
        },
        value: Some(v),
    };
    assert_eq!(record.encode(), (key.clone(), value.clone()));
}

#[test]
fn truncated_and_extended_kafka_records_are_errors_not_panics() {
    for (key, value) in kafka_records() {
        for cut in 0..key.len() {
            assert!(CoordinatorRecord::decode(&key[..cut], value.as_deref()).is_err());
        }
        if let Some(value) = value {
            for cut in 0..value.len() {
                assert!(CoordinatorRecord::decode(&key, Some(&value[..cut])).is_err());
            }
            let mut longer = value.clone();
            longer.push(0);
            assert!(CoordinatorRecord::decode(&key, Some(&longer)).is_err());
        }
    }
}

#[test]
fn unknown_record_types_and_versions_are_reported() {
    let share_group_key = [0u8, 11, 0, 1, b'g'];
    assert!(matches!(
        CoordinatorRecord::decode(&share_group_key, None),
        Err(RecordError::UnknownType(11))
    ));
    let epoch_key = hex("000300086b69703834382d67");
    assert!(matches!(
        CoordinatorRecord::decode(&epoch_key, Some(&[0, 1, 0, 0, 0, 2, 0])),
        Err(RecordError::Malformed(WireError::Version(1)))
    ));
}

#[test]
fn older_value_versions_still_decode() {
    let key = OffsetCommitKey {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
    };
    // OffsetCommitValue v1: offset, metadata, commit and expire timestamps.
    let mut v1 = vec![0, 1];
    v1.extend(7i64.to_be_bytes());
    v1.extend([0, 2, b'm', b'd']);
    v1.extend(5i64.to_be_bytes());
    v1.extend(9i64.to_be_bytes());
    let record = CoordinatorRecord::OffsetCommit {
        key: key.clone(),
        value: None,
    };
    let (k, _) = record.encode();
    let decoded = CoordinatorRecord::decode(&k, Some(&v1)).unwrap();
    let mut expected = OffsetCommitValue::new(7, -1, "md".into(), 5);
    expected.expire_timestamp_ms = 9;
    assert_eq!(
        decoded,
        CoordinatorRecord::OffsetCommit {
            key,
            value: Some(expected)
        }
    );
    // Kafka writes v1 exactly when an expiry is set, so the bytes come back.
    assert_eq!(decoded.encode().1, Some(v1));
    // The pre-2.x key type 0 reads as the same key.
    let mut legacy_key = k.clone();
    legacy_key[1] = 0;
    assert_eq!(
        CoordinatorRecord::decode(&legacy_key, None).unwrap(),
        CoordinatorRecord::decode(&k, None).unwrap()
    );
}

// ---- properties ----

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{0,12}"
}

fn opt_name() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-z]{1,8}")
}

fn topic_id() -> impl Strategy<Value = TopicId> {
    any::<[u8; 16]>().prop_map(TopicId)
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..24)
}

fn group_key() -> impl Strategy<Value = ConsumerGroupKey> {
    name().prop_map(|group| ConsumerGroupKey { group })
}

fn member_key() -> impl Strategy<Value = ConsumerMemberKey> {
    (name(), name()).prop_map(|(group, member_id)| ConsumerMemberKey { group, member_id })
}

fn assigned() -> impl Strategy<Value = Vec<AssignedTopicPartitions>> {
    proptest::collection::vec(
        (
            topic_id(),
            proptest::collection::vec(any::<i32>(), 0..4),
            proptest::option::of(proptest::collection::vec(any::<i32>(), 0..4)),
        )
            .prop_map(|(topic_id, partitions, assignment_epochs)| {
                AssignedTopicPartitions {
                    topic_id,
                    partitions,
                    assignment_epochs,
                }
            }),
        0..3,
    )
}

fn offset_commit() -> impl Strategy<Value = CoordinatorRecord> {
    let value = (
        any::<i64>(),
        any::<i32>(),
        name(),
        any::<i64>(),
        proptest::option::of(topic_id().prop_filter("zero id is no id", |t| t.0 != [0; 16])),
    )
        .prop_map(|(offset, epoch, metadata, ts, topic_id)| {
            let mut v = OffsetCommitValue::new(offset, epoch, metadata, ts);
            v.topic_id = topic_id;
            v
        });
    (name(), name(), any::<i32>(), proptest::option::of(value)).prop_map(
        |(group, topic, partition, value)| CoordinatorRecord::OffsetCommit {
            key: OffsetCommitKey {
                group,
                topic,
                partition,
            },
            value,
        },
    )
}

fn group_metadata() -> impl Strategy<Value = CoordinatorRecord> {
    let member = (
        name(),
        opt_name(),
        name(),
        name(),
        any::<i32>(),
        any::<i32>(),
        bytes(),
        bytes(),
    )
        .prop_map(
            |(id, instance, client, host, rt, st, sub, asg)| MemberMetadataValue {
                member_id: id,
                group_instance_id: instance,
                client_id: client,
                client_host: host,
                rebalance_timeout_ms: rt,
                session_timeout_ms: st,
                subscription: sub,
                assignment: asg,
            },
        );
    let value = (
        name(),
        any::<i32>(),
        opt_name(),
        opt_name(),
        any::<i64>(),
        proptest::collection::vec(member, 0..3),
    )
        .prop_map(
            |(pt, generation, protocol, leader, ts, members)| GroupMetadataValue {
                protocol_type: pt,
                generation,
                protocol,
                leader,
                current_state_timestamp_ms: ts,
                members,
            },
        );
    (name(), proptest::option::of(value)).prop_map(|(group, value)| {
        CoordinatorRecord::GroupMetadata {
            key: GroupMetadataKey { group },
            value,
        }
    })
}

fn consumer_records() -> impl Strategy<Value = CoordinatorRecord> {
    let epoch = (
        group_key(),
        proptest::option::of((any::<i32>(), any::<i64>())),
    )
        .prop_map(|(key, v)| CoordinatorRecord::ConsumerGroupMetadata {
            key,
            value: v.map(|(epoch, metadata_hash)| ConsumerGroupMetadataValue {
                epoch,
                metadata_hash,
            }),
        });
    let topics = proptest::collection::vec(
        (
            topic_id(),
            name(),
            any::<i32>(),
            proptest::collection::vec(
                (any::<i32>(), proptest::collection::vec(name(), 0..2)),
                0..2,
            ),
        )
            .prop_map(|(topic_id, topic_name, num_partitions, partition_racks)| {
                TopicMetadata {
                    topic_id,
                    topic_name,
                    num_partitions,
                    partition_racks,
                }
            }),
        0..3,
    );
    let partition_metadata = (group_key(), proptest::option::of(topics)).prop_map(|(key, t)| {
        CoordinatorRecord::ConsumerGroupPartitionMetadata {
            key,
            value: t.map(|topics| ConsumerGroupPartitionMetadataValue { topics }),
        }
    });
    let classic = (
        any::<i32>(),
        proptest::collection::vec((name(), bytes()), 0..2),
    )
        .prop_map(
            |(session_timeout_ms, supported_protocols)| ClassicMemberMetadata {
                session_timeout_ms,
                supported_protocols,
            },
        );
    let subscription = (
        (opt_name(), opt_name(), name(), name()),
        proptest::collection::vec(name(), 0..3),
        opt_name(),
        any::<i32>(),
        opt_name(),
        proptest::option::of(classic),
    )
        .prop_map(
            |((instance_id, rack_id, client_id, client_host), names, regex, rt, assignor, c)| {
                ConsumerGroupMemberMetadataValue {
                    instance_id,
                    rack_id,
                    client_id,
                    client_host,
                    subscribed_topic_names: names,
                    subscribed_topic_regex: regex,
                    rebalance_timeout_ms: rt,
                    server_assignor: assignor,
                    classic_member_metadata: c,
                }
            },
        );
    let member = (member_key(), proptest::option::of(subscription))
        .prop_map(|(key, value)| CoordinatorRecord::ConsumerGroupMemberMetadata { key, value });
    let target_epoch = (
        group_key(),
        proptest::option::of((any::<i32>(), any::<i64>())),
    )
        .prop_map(
            |(key, v)| CoordinatorRecord::ConsumerGroupTargetAssignmentMetadata {
                key,
                value: v.map(|(assignment_epoch, assignment_timestamp_ms)| {
                    ConsumerGroupTargetAssignmentMetadataValue {
                        assignment_epoch,
                        assignment_timestamp_ms,
                    }
                }),
            },
        );
    let target = (
        member_key(),
        proptest::option::of(proptest::collection::vec(
            (topic_id(), proptest::collection::vec(any::<i32>(), 0..4)).prop_map(
                |(topic_id, partitions)| TopicPartitionsValue {
                    topic_id,
                    partitions,
                },
            ),
            0..3,
        )),
    )
        .prop_map(
            |(key, v)| CoordinatorRecord::ConsumerGroupTargetAssignmentMember {
                key,
                value: v.map(
                    |topic_partitions| ConsumerGroupTargetAssignmentMemberValue {
                        topic_partitions,
                    },
                ),
            },
        );
    let current = (
        member_key(),
        proptest::option::of((
            any::<i32>(),
            any::<i32>(),
            any::<i8>(),
            assigned(),
            assigned(),
        )),
    )
        .prop_map(
            |(key, v)| CoordinatorRecord::ConsumerGroupCurrentMemberAssignment {
                key,
                value: v.map(|(member_epoch, previous_member_epoch, state, a, p)| {
                    ConsumerGroupCurrentMemberAssignmentValue {
                        member_epoch,
                        previous_member_epoch,
                        state,
                        assigned_partitions: a,
                        partitions_pending_revocation: p,
                    }
                }),
            },
        );
    let regex = (
        name(),
        name(),
        proptest::option::of((
            proptest::collection::vec(name(), 0..3),
            any::<i64>(),
            any::<i64>(),
        )),
    )
        .prop_map(
            |(group, regex, v)| CoordinatorRecord::ConsumerGroupRegularExpression {
                key: ConsumerGroupRegexKey { group, regex },
                value: v.map(|(topics, version, timestamp_ms)| ConsumerGroupRegexValue {
                    topics,
                    version,
                    timestamp_ms,
                }),
            },
        );
    prop_oneof![
        epoch,
        partition_metadata,
        member,
        target_epoch,
        target,
        current,
        regex
    ]
}

fn any_record() -> impl Strategy<Value = CoordinatorRecord> {
    prop_oneof![offset_commit(), group_metadata(), consumer_records()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_record_round_trips(record in any_record()) {
        let (key, value) = record.encode();
        prop_assert!(!CoordinatorRecord::is_legacy_key(&key));
        let decoded = CoordinatorRecord::decode(&key, value.as_deref()).unwrap();
        prop_assert_eq!(&decoded, &record);
        let stored = CoordinatorRecord::decode_stored(&key, value.as_deref()).unwrap();
        prop_assert_eq!(stored, vec![record]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        key in proptest::collection::vec(any::<u8>(), 0..64),
        value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..128)),
    ) {
        let _ = CoordinatorRecord::decode_stored(&key, value.as_deref());
    }

    #[test]
    fn arbitrary_values_under_every_key_type_never_panic(
        record_type in 0i16..24,
        value in proptest::collection::vec(any::<u8>(), 0..128),
        version in 0i16..6,
    ) {
        let mut key = record_type.to_be_bytes().to_vec();
        key.extend([0, 1, b'g', 0, 1, b'm']);
        let mut v = version.to_be_bytes().to_vec();
        v.extend(value);
        let _ = CoordinatorRecord::decode(&key, Some(&v));
        let _ = CoordinatorRecord::decode(&key[..5], Some(&v));
    }

    #[test]
    fn mutated_records_never_panic(
        record in any_record(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let (key, value) = record.encode();
        let Some(mut value) = value else { return Ok(()) };
        for (at, byte) in flips {
            let i = at % value.len();
            value[i] = byte;
        }
        let _ = CoordinatorRecord::decode(&key, Some(&value));
    }
}

#[test]
fn huge_lengths_are_refused_before_allocating() {
    // A compact string claiming 2^32 - 2 bytes, and an array claiming i32::MAX members.
    let key = hex("000500086b69703834382d6700164643474c6d73533552776d3867426c594e7231754967");
    let value = [0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(CoordinatorRecord::decode(&key, Some(&value)).is_err());
    let key = hex("00020009636c61737369632d67");
    let mut value = vec![0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
    value.extend(0i64.to_be_bytes());
    value.extend(i32::MAX.to_be_bytes());
    assert!(CoordinatorRecord::decode(&key, Some(&value)).is_err());
}

#[test]
fn kafka_records_with_racks_assignors_statics_and_revocations_decode() {
    let decoded: Vec<CoordinatorRecord> = kafka_records()
        .iter()
        .map(|(k, v)| CoordinatorRecord::decode(k, v.as_deref()).unwrap())
        .collect();
    let subscriptions: Vec<&ConsumerGroupMemberMetadataValue> = decoded
        .iter()
        .filter_map(|r| match r {
            CoordinatorRecord::ConsumerGroupMemberMetadata { value: Some(v), .. } => Some(v),
            _ => None,
        })
        .collect();
    assert!(subscriptions
        .iter()
        .any(|v| v.rack_id.as_deref() == Some("rack-a")
            && v.server_assignor.as_deref() == Some("range")));
    assert!(subscriptions
        .iter()
        .any(|v| v.instance_id.as_deref() == Some("inst-2")));
    let states: Vec<(i32, i8, usize)> = decoded
        .iter()
        .filter_map(|r| match r {
            CoordinatorRecord::ConsumerGroupCurrentMemberAssignment { value: Some(v), .. } => {
                Some((
                    v.member_epoch,
                    v.state,
                    v.partitions_pending_revocation.len(),
                ))
            }
            _ => None,
        })
        .collect();
    // Unrevoked (1) with partitions pending, unreleased (2), and a static member gone (-2).
    assert!(states.contains(&(2, 1, 1)));
    assert!(states.iter().any(|s| s.1 == 2));
    assert!(states.iter().any(|s| s.0 == -2));
    let static_classic = decoded.iter().any(|r| {
        matches!(r, CoordinatorRecord::GroupMetadata { value: Some(v), .. }
            if v.members.iter().any(|m| m.group_instance_id.as_deref() == Some("inst-1")))
    });
    assert!(static_classic);
}
