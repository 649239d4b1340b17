//! OffsetCommit/Fetch/Delete, group deletion and offset expiry.

mod harness;

use harness::*;
use kavka_group::*;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[test]
fn member_commit_is_checked_against_generation() {
    let mut h = Harness::new();
    let ids = h.stable_group(1);
    assert_eq!(h.commit(1, &ids[0], 10), None);
    assert_eq!(h.committed("t", 0), 10);
    assert_eq!(
        h.commit(0, &ids[0], 11),
        Some(GroupError::IllegalGeneration)
    );
    assert_eq!(
        h.commit(1, "stranger", 11),
        Some(GroupError::UnknownMemberId)
    );
    assert_eq!(h.commit(-1, "", 11), Some(GroupError::UnknownMemberId));
    assert_eq!(h.committed("t", 0), 10, "refused commits change nothing");
}

#[test]
fn commit_during_rebalance_phases() {
    let mut h = Harness::new();
    let ids = h.stable_group(2);
    let join = h.join(&ids[0]);
    // PreparingRebalance: consumers commit while revoking partitions (as in Kafka).
    assert_eq!(h.commit(1, &ids[1], 5), None);
    h.join(&ids[1]);
    assert_eq!(h.join_answer(join).unwrap().generation_id, 2);
    assert_eq!(
        h.commit(2, &ids[1], 6),
        Some(GroupError::RebalanceInProgress)
    );
}

#[test]
fn simple_consumer_commits_to_an_empty_or_unknown_group() {
    let mut h = Harness::new();
    assert_eq!(h.commit(-1, "", 42), None);
    assert_eq!(h.state(), Some(GroupState::Empty));
    assert_eq!(h.committed("t", 0), 42);
    assert_eq!(h.commit(3, "m", 43), Some(GroupError::UnknownMemberId));
    let listed = h.coord.list_groups(&[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, "Empty");
    assert_eq!(listed[0].protocol_type, "");
}

#[test]
fn commit_to_unknown_group_with_generation_is_illegal() {
    let mut h = Harness::new();
    assert_eq!(h.commit(1, "m", 1), Some(GroupError::IllegalGeneration));
    assert!(h.state().is_none());
}

#[test]
fn oversized_metadata_is_refused_per_partition() {
    let mut h = Harness::new();
    let req = OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        offsets: vec![
            CommitPartition {
                topic: "t".into(),
                partition: 0,
                offset: 1,
                leader_epoch: -1,
                metadata: Some("x".repeat(4097)),
            },
            CommitPartition {
                topic: "t".into(),
                partition: 1,
                offset: 1,
                leader_epoch: -1,
                metadata: None,
            },
        ],
    };
    let (results, records) = h.coord.commit_offsets(req, h.now);
    assert_eq!(results[0].error, Some(GroupError::OffsetMetadataTooLarge));
    assert_eq!(results[1].error, None);
    assert_eq!(records.len(), 1);
}

#[test]
fn fetch_answers_minus_one_for_partitions_never_committed() {
    let mut h = Harness::new();
    assert_eq!(h.committed("t", 0), -1, "unknown group");
    h.commit(-1, "", 7);
    let topics = [
        ("t".to_string(), vec![0, 1]),
        ("other".to_string(), vec![0]),
    ];
    let fetched = h.coord.fetch_offsets(GROUP, Some(&topics)).unwrap();
    let offsets: Vec<i64> = fetched.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, vec![7, -1, -1]);
    assert_eq!(fetched[0].leader_epoch, 3);
    assert_eq!(fetched[0].metadata, "meta");
    assert_eq!(fetched[1].leader_epoch, -1);
    let all = h.coord.fetch_offsets(GROUP, None).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        h.coord.fetch_offsets("", None),
        Err(GroupError::InvalidGroupId)
    );
}

#[test]
fn deleting_a_non_empty_group_is_refused() {
    let mut h = Harness::new();
    let ids = h.stable_group(1);
    h.commit(1, &ids[0], 5);
    let groups = vec![GROUP.to_string(), "missing".to_string()];
    let (results, records) = h.coord.delete_groups(&groups);
    assert_eq!(results[0].error, Some(GroupError::NonEmptyGroup));
    assert_eq!(results[1].error, Some(GroupError::GroupIdNotFound));
    assert!(records.is_empty());

    let (_, effects) = h.coord.leave_group(
        GROUP,
        vec![LeavingMember {
            member_id: ids[0].clone(),
            group_instance_id: None,
        }],
        h.now,
    );
    h.absorb(effects);
    let (results, records) = h.coord.delete_groups(&groups[..1]);
    assert_eq!(results[0].error, None);
    assert_eq!(
        records,
        vec![
            CoordinatorRecord::OffsetCommit {
                key: OffsetCommitKey {
                    group: GROUP.into(),
                    topic: "t".into(),
                    partition: 0
                },
                value: None
            },
            CoordinatorRecord::GroupMetadata {
                key: GroupMetadataKey {
                    group: GROUP.into()
                },
                value: None
            },
        ]
    );
    assert!(h.state().is_none());
    assert_eq!(h.coord.describe_groups(&groups[..1])[0].state, "Dead");
}

#[test]
fn offset_delete_refuses_topics_an_active_group_subscribes_to() {
    let mut h = Harness::new();
    let ids = h.stable_group(1);
    h.commit(1, &ids[0], 5);
    let req = OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id: 1,
        member_id: ids[0].clone(),
        group_instance_id: None,
        offsets: vec![CommitPartition {
            topic: "old".into(),
            partition: 0,
            offset: 1,
            leader_epoch: -1,
            metadata: None,
        }],
    };
    h.coord.commit_offsets(req, h.now);
    let topics = [("t".to_string(), vec![0]), ("old".to_string(), vec![0])];
    let (response, records) = h.coord.delete_offsets(GROUP, &topics);
    assert_eq!(response.error, None);
    assert_eq!(
        response.partitions[0].error,
        Some(GroupError::GroupSubscribedToTopic)
    );
    assert_eq!(response.partitions[1].error, None);
    assert_eq!(records.len(), 1);
    assert_eq!(h.committed("old", 0), -1);
    assert_eq!(h.committed("t", 0), 5);
    let (response, _) = h.coord.delete_offsets("missing", &topics);
    assert_eq!(response.error, Some(GroupError::GroupIdNotFound));
}

#[test]
fn offsets_of_an_empty_group_expire_after_retention() {
    let mut h = Harness::new();
    h.advance(0);
    h.commit(-1, "", 1);
    h.advance(6 * DAY_MS);
    assert_eq!(h.committed("t", 0), 1);
    h.advance(DAY_MS);
    assert_eq!(h.committed("t", 0), -1);
    assert!(
        h.state().is_none(),
        "an empty group without offsets is removed"
    );
    assert!(matches!(
        &h.records[h.records.len() - 2..],
        [
            CoordinatorRecord::OffsetCommit { value: None, .. },
            CoordinatorRecord::GroupMetadata { value: None, .. }
        ]
    ));
}

#[test]
fn offsets_of_a_managed_group_age_only_once_it_is_empty() {
    let mut h = Harness::new();
    let ids = h.stable_group(1);
    h.commit(1, &ids[0], 1);
    for _ in 0..8 {
        for _ in 0..DAY_MS / 5_000 {
            h.now += 5_000;
            assert_eq!(h.heartbeat(1, &ids[0]), Ok(()));
        }
        h.advance(0);
    }
    assert_eq!(h.committed("t", 0), 1, "a Stable group keeps its offsets");
    let (_, effects) = h.coord.leave_group(
        GROUP,
        vec![LeavingMember {
            member_id: ids[0].clone(),
            group_instance_id: None,
        }],
        h.now,
    );
    h.absorb(effects);
    assert_eq!(h.state(), Some(GroupState::Empty));
    h.advance(6 * DAY_MS);
    assert_eq!(
        h.committed("t", 0),
        1,
        "retention counts from becoming Empty"
    );
    h.advance(DAY_MS);
    assert_eq!(h.committed("t", 0), -1);
}
