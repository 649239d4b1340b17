//! Unit tests of the record formats (the property and golden-bytes tests are in
//! `tests/record_format.rs`).

use super::*;

#[test]
fn partition_for_group_matches_java_hash_code() {
    // "my-group".hashCode() == -1906497762 in Java.
    assert_eq!(partition_for_group("my-group", 50), 1906497762 % 50);
    assert_eq!(partition_for_group("", 50), 0);
}

#[test]
fn keys_start_with_the_record_type() {
    let (k, v) = CoordinatorRecord::group_tombstone("g").encode();
    assert_eq!(k, [0, 2, 0, 1, b'g']);
    assert_eq!(v, None);
    let tombstones = CoordinatorRecord::consumer_group_tombstones("g");
    let types: Vec<u8> = tombstones.iter().map(|r| r.encode().0[1]).collect();
    assert_eq!(types, [6, 4, 3]);
}

#[test]
fn json_keys_are_told_apart_from_kafka_keys() {
    assert!(CoordinatorRecord::is_legacy_key(
        br#"{"GroupMetadata":{"group":"g"}}"#
    ));
    assert!(!CoordinatorRecord::is_legacy_key(&[0, 2, 0, 1, b'g']));
    assert!(!CoordinatorRecord::is_legacy_key(&[]));
}

#[test]
fn a_json_offset_commit_reads_as_kafkas_record() {
    let key = br#"{"OffsetCommit":{"group":"g","topic":"t","partition":3}}"#;
    let value = br#"{"offset":42,"leader_epoch":1,"metadata":"m","commit_timestamp_ms":7}"#;
    let records = CoordinatorRecord::decode_stored(key, Some(value)).unwrap();
    assert_eq!(
        records,
        vec![CoordinatorRecord::OffsetCommit {
            key: OffsetCommitKey {
                group: "g".into(),
                topic: "t".into(),
                partition: 3
            },
            value: Some(OffsetCommitValue::new(42, 1, "m".into(), 7)),
        }]
    );
    assert_eq!(
        CoordinatorRecord::decode_stored(key, None).unwrap(),
        vec![CoordinatorRecord::offset_tombstone("g", "t", 3)]
    );
    assert!(matches!(
        CoordinatorRecord::decode_stored(b"{not json", None),
        Err(RecordError::Legacy(_))
    ));
}
