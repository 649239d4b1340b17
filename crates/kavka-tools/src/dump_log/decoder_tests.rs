//! The decoders on segments whose records come from the coordinators' own codecs
//! (`kavka-group`'s `CoordinatorRecord::encode`, `kavka-txn`'s `TxnRecord::encode`),
//! printed as Kafka 4.4's `kafka-dump-log` prints the same records.

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTp;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kavka_group::{
    AssignedTopicPartitions, ConsumerGroupCurrentMemberAssignmentValue, ConsumerGroupKey,
    ConsumerGroupMemberMetadataValue, ConsumerGroupMetadataValue, ConsumerMemberKey,
    CoordinatorRecord, GroupMetadataKey, GroupMetadataValue, MemberMetadataValue, OffsetCommitKey,
    OffsetCommitValue, TopicId,
};
use kavka_txn::{TxnMetadata, TxnRecord, TxnState};

use super::*;

const TS: i64 = 1_796_275_793_907;

/// A record's key and value, either possibly missing.
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// One batch holding `records` (key, value) at offsets 0.., as a coordinator writes it.
fn segment(records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<u8> {
    let records: Vec<KeyValue> = records
        .iter()
        .map(|(k, v)| (Some(k.clone()), v.clone()))
        .collect();
    segment_of(&records)
}

/// A batch of records whose key may be missing.
fn segment_of(records: &[KeyValue]) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: TS,
            key: key.as_deref().map(Bytes::copy_from_slice),
            value: value.as_deref().map(Bytes::copy_from_slice),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode");
    buf.to_vec()
}

/// The `key: ... payload: ...` part of each record line, decoded with `decoder`.
fn decoded(data: &[u8], decoder: Decoder) -> Vec<String> {
    let options = Options {
        print_data: true,
        deep: true,
        skip_metadata: true,
        decoder,
    };
    let (lines, fatal) = dump_log(data, "00000000000000000000.log", &options);
    assert_eq!(fatal, None);
    lines.into_iter().filter(|l| l.starts_with("| ")).collect()
}

fn versioned(version: i16, message: &impl Encodable, message_version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&version.to_be_bytes());
    message.encode(&mut buf, message_version).expect("encode");
    buf.to_vec()
}

#[test]
fn offset_commits_and_classic_groups_print_as_kafkas_json() {
    let subscription = ConsumerProtocolSubscription::default()
        .with_topics(vec![StrBytes::from_static_str("orders")])
        .with_generation_id(-1);
    let assignment =
        ConsumerProtocolAssignment::default().with_assigned_partitions(vec![AssignedTp::default()
            .with_topic(TopicName(StrBytes::from_static_str("orders")))
            .with_partitions(vec![0, 1])]);
    let group = CoordinatorRecord::GroupMetadata {
        key: GroupMetadataKey { group: "g".into() },
        value: Some(GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 1,
            protocol: Some("range".into()),
            leader: Some("m-1".into()),
            current_state_timestamp_ms: TS,
            members: vec![MemberMetadataValue {
                member_id: "m-1".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300000,
                session_timeout_ms: 45000,
                subscription: versioned(3, &subscription, 3),
                assignment: versioned(3, &assignment, 3),
            }],
        }),
    };
    let commit = CoordinatorRecord::OffsetCommit {
        key: OffsetCommitKey {
            group: "g".into(),
            topic: "orders".into(),
            partition: 1,
        },
        value: Some(OffsetCommitValue::new(42, 0, String::new(), TS)),
    };
    let tombstone = CoordinatorRecord::GroupMetadata {
        key: GroupMetadataKey { group: "g".into() },
        value: None,
    };
    let mut unknown_key = vec![0, 9];
    unknown_key.extend_from_slice(&[0, 1, b'g']);
    let data = segment(&[
        group.encode(),
        commit.encode(),
        tombstone.encode(),
        (unknown_key, Some(vec![0, 0])),
    ]);
    assert_eq!(
        decoded(&data, Decoder::Offsets),
        vec![
            r#"| key: {"type":"2","data":{"group":"g"}} payload: {"version":"3","data":{"protocolType":"consumer","generation":1,"protocol":"range","leader":"m-1","currentStateTimestamp":1796275793907,"members":[{"memberId":"m-1","groupInstanceId":null,"clientId":"c","clientHost":"/127.0.0.1","rebalanceTimeout":300000,"sessionTimeout":45000,"subscription":{"topics":["orders"],"userData":null,"ownedPartitions":[],"generationId":-1,"rackId":null},"assignment":{"assignedPartitions":[{"topic":"orders","partitions":[0,1]}],"userData":null}}]}}"#,
            r#"| key: {"type":"1","data":{"group":"g","topic":"orders","partition":1}} payload: {"version":"4","data":{"offset":42,"leaderEpoch":0,"metadata":"","commitTimestamp":1796275793907}}"#,
            r#"| key: {"type":"2","data":{"group":"g"}} payload: <DELETE>"#,
            "| key: Unknown record type 9 at offset 3, skipping.",
        ]
    );
}

#[test]
fn consumer_protocol_group_records_print_as_kafkas_json() {
    let topic = TopicId([0; 16]);
    let member = ConsumerMemberKey {
        group: "g".into(),
        member_id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
    };
    let records = [
        CoordinatorRecord::ConsumerGroupMetadata {
            key: ConsumerGroupKey { group: "g".into() },
            value: Some(ConsumerGroupMetadataValue {
                epoch: 2,
                metadata_hash: 7,
            }),
        },
        CoordinatorRecord::ConsumerGroupMemberMetadata {
            key: member.clone(),
            value: Some(ConsumerGroupMemberMetadataValue {
                instance_id: None,
                rack_id: None,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                subscribed_topic_names: vec!["orders".into()],
                subscribed_topic_regex: None,
                rebalance_timeout_ms: 300000,
                server_assignor: Some("uniform".into()),
                classic_member_metadata: None,
            }),
        },
        CoordinatorRecord::ConsumerGroupCurrentMemberAssignment {
            key: member,
            value: Some(ConsumerGroupCurrentMemberAssignmentValue {
                member_epoch: 2,
                previous_member_epoch: 1,
                state: 0,
                assigned_partitions: vec![AssignedTopicPartitions {
                    topic_id: topic,
                    partitions: vec![0, 1],
                    assignment_epochs: None,
                }],
                partitions_pending_revocation: vec![],
            }),
        },
    ];
    let data = segment(
        &records
            .iter()
            .map(CoordinatorRecord::encode)
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        decoded(&data, Decoder::Offsets),
        vec![
            r#"| key: {"type":"3","data":{"groupId":"g"}} payload: {"version":"0","data":{"epoch":2,"metadataHash":7}}"#,
            r#"| key: {"type":"5","data":{"groupId":"g","memberId":"AAAAAAAAAAAAAAAAAAAAAA"}} payload: {"version":"0","data":{"instanceId":null,"rackId":null,"clientId":"c","clientHost":"/127.0.0.1","subscribedTopicNames":["orders"],"subscribedTopicRegex":"","rebalanceTimeoutMs":300000,"serverAssignor":"uniform","classicMemberMetadata":null}}"#,
            r#"| key: {"type":"8","data":{"groupId":"g","memberId":"AAAAAAAAAAAAAAAAAAAAAA"}} payload: {"version":"0","data":{"memberEpoch":2,"previousMemberEpoch":1,"state":0,"assignedPartitions":[{"topicId":"AAAAAAAAAAAAAAAAAAAAAA","partitions":[0,1]}],"partitionsPendingRevocation":[]}}"#,
        ]
    );
}

#[test]
fn transaction_records_print_as_kafkas_json() {
    let mut m = TxnMetadata {
        transactional_id: "tx-1".into(),
        producer_id: 1000,
        last_producer_id: -1,
        producer_epoch: 0,
        last_producer_epoch: -1,
        timeout_ms: 60000,
        state: TxnState::Empty,
        partitions: BTreeSet::new(),
        start_ms: -1,
        last_update_ms: TS,
    };
    let empty = TxnRecord::of(&m).encode();
    m.state = TxnState::Ongoing;
    m.start_ms = TS;
    m.partitions = [
        ("a".to_string(), 1),
        ("a".to_string(), 0),
        ("b".to_string(), 2),
    ]
    .into_iter()
    .collect();
    let ongoing = TxnRecord::of(&m).encode();
    let removed = TxnRecord {
        transactional_id: "tx-1".into(),
        value: None,
    }
    .encode();
    let data = segment(&[empty, ongoing, removed]);
    assert_eq!(
        decoded(&data, Decoder::TransactionLog),
        vec![
            r#"| key: {"type":"0","data":{"transactionalId":"tx-1"}} payload: {"version":"1","data":{"producerId":1000,"producerEpoch":0,"transactionTimeoutMs":60000,"transactionStatus":"Empty","transactionPartitions":null,"transactionLastUpdateTimestampMs":1796275793907,"transactionStartTimestampMs":-1}}"#,
            r#"| key: {"type":"0","data":{"transactionalId":"tx-1"}} payload: {"version":"1","data":{"producerId":1000,"producerEpoch":0,"transactionTimeoutMs":60000,"transactionStatus":"Ongoing","transactionPartitions":[{"topic":"a","partitionIds":[0,1]},{"topic":"b","partitionIds":[2]}],"transactionLastUpdateTimestampMs":1796275793907,"transactionStartTimestampMs":1796275793907}}"#,
            r#"| key: {"type":"0","data":{"transactionalId":"tx-1"}} payload: <DELETE>"#,
        ]
    );
}

#[test]
fn a_record_without_a_key_stops_the_decoder() {
    let data = segment_of(&[(None, Some(b"v".to_vec()))]);
    for decoder in [Decoder::Offsets, Decoder::TransactionLog] {
        let options = Options {
            print_data: true,
            deep: true,
            skip_metadata: false,
            decoder,
        };
        let (lines, fatal) = dump_log(&data, "00000000000000000000.log", &options);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(fatal.is_some_and(|m| m.contains("at offset 0")));
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn every_record_kafka_wrote_decodes() {
    // Records Apache Kafka 4.4 wrote (classic, static, consumer-protocol and regex
    // groups), as kavka-group's record-format tests read them.
    let fixture =
        include_str!("../../../kavka-group/tests/fixtures/kafka-4.4-consumer-offsets.txt");
    let records: Vec<(Vec<u8>, Option<Vec<u8>>)> = fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let value = (fields[2] != "-").then(|| unhex(fields[2]));
            (unhex(fields[1]), value)
        })
        .collect();
    assert!(records.len() > 50);
    let lines = decoded(&segment(&records), Decoder::Offsets);
    assert_eq!(lines.len(), records.len());
    for line in &lines {
        assert!(
            line.starts_with(r#"| key: {"type":""#) && line.contains(" payload: "),
            "{line}"
        );
    }
    let types: BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l.split(r#"{"type":""#).nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        types,
        ["1", "2", "3", "5", "6", "7", "8"].into_iter().collect()
    );
}
