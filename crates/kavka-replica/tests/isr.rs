//! ISR membership over time: the caught-up rule, shrink and expand proposals,
//! eligibility (KIP-841, KIP-903), AlterPartition answers, and fetch validation.

mod common;

use common::*;
use kavka_replica::*;

#[test]
fn last_caught_up_time_follows_kafkas_rule_from_table() {
    // Each row: fetches (fetch offset, now, leader log end) from a fresh follower that
    // was not in the ISR; expected last_caught_up_time_ms after each.
    type Case = (&'static str, Vec<(i64, i64, i64)>, Vec<i64>);
    let table: Vec<Case> = vec![
        (
            "fetch at leader end: caught up now",
            vec![(10, 5, 10)],
            vec![5],
        ),
        (
            "first fetch behind: caught up at previous fetch time (none yet)",
            vec![(3, 5, 10)],
            vec![0],
        ),
        (
            "reached the end the leader had at the previous fetch: caught up then",
            vec![(3, 5, 10), (10, 8, 12)],
            vec![0, 5],
        ),
        (
            "keeps pace with a stream of appends without ever reaching the end",
            vec![(0, 100, 10), (10, 200, 20), (20, 300, 30), (30, 400, 40)],
            vec![0, 100, 200, 300],
        ),
        (
            "falls behind: time stays where it was",
            vec![(10, 100, 10), (10, 200, 20), (15, 300, 30)],
            vec![100, 100, 100],
        ),
        (
            "never moves back",
            vec![(10, 500, 10), (10, 400, 10)],
            vec![500, 500],
        ),
    ];
    for (case, fetches, expected) in table {
        let mut p = FollowerProgress::new_leader(0, false);
        let got: Vec<i64> = fetches
            .iter()
            .map(|&(offset, now, leo)| {
                p.record_fetch(offset, now, leo, -1);
                p.last_caught_up_time_ms
            })
            .collect();
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn follower_lagging_past_replica_lag_time_max_is_proposed_for_removal() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 0, 0, 1);
    // Both fetch; only 2 keeps up after the append at t=1000.
    let _ = fetch_ok(&mut l, 2, 0, 500);
    let _ = fetch_ok(&mut l, 3, 0, 500);
    let _ = l.on_leader_append(10, 1_000);
    let _ = fetch_ok(&mut l, 2, 10, 1_100);
    let _ = fetch_ok(&mut l, 3, 5, 1_100);
    // Table of shrink decisions over time (3 last caught up at 500, 2 at 1100).
    for (now, expected) in [(30_000, None), (30_500, None), (30_501, Some(vec![1, 2]))] {
        let got = l.maybe_shrink_isr(now).map(|r| ids(&r));
        assert_eq!(got, expected, "at {now}");
    }
}

#[test]
fn follower_fetching_often_but_never_catching_up_is_removed() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 1);
    let mut leo = 0;
    let mut follower = 0;
    for t in 1..=40 {
        leo += 100;
        let _ = l.on_leader_append(leo, t * 1_000);
        // It fetches every second, but only half as far as the leader wrote.
        follower += 50;
        let _ = fetch_ok(&mut l, 2, follower, t * 1_000);
    }
    let req = l.maybe_shrink_isr(40_000).expect("never caught up for 30s");
    assert_eq!(ids(&req), vec![1]);
}

#[test]
fn follower_at_leader_end_is_never_out_of_sync_however_old_its_fetch() {
    let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1);
    let _ = fetch_ok(&mut l, 2, 10, 1);
    assert_eq!(l.maybe_shrink_isr(1_000_000), None);
}

#[test]
fn isr_member_that_never_fetched_a_new_leader_is_removed_after_the_lag_time() {
    let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1);
    assert_eq!(
        l.maybe_shrink_isr(30_000),
        None,
        "counted as caught up at election"
    );
    assert_eq!(l.maybe_shrink_isr(30_001).map(|r| ids(&r)), Some(vec![1]));
}

#[test]
fn follower_reaching_hw_and_epoch_start_is_proposed_for_the_isr() {
    // Leader elected at log end 10 (epoch start 10), HW 4.
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 4, 1);
    // Follower 3 at 4 reached the HW but not the epoch start offset: not yet.
    assert_eq!(fetch_ok(&mut l, 3, 4, 1).alter_partition, None);
    let e = fetch_ok(&mut l, 3, 10, 2);
    let req = e.alter_partition.expect("caught up to both");
    assert_eq!(ids(&req), vec![1, 2, 3]);
    assert_eq!(req.leader_epoch, 5);
    assert_eq!(req.partition_epoch, 10);
    assert_eq!(
        req.new_isr,
        vec![
            IsrMember {
                broker_id: 1,
                broker_epoch: 101
            },
            IsrMember {
                broker_id: 2,
                broker_epoch: -1
            },
            IsrMember {
                broker_id: 3,
                broker_epoch: 103
            },
        ],
        "2 has not fetched yet: its broker epoch is unknown"
    );
}

#[test]
fn follower_below_hw_is_not_proposed() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    assert_eq!(fetch_ok(&mut l, 3, 9, 1).alter_partition, None);
}

#[test]
fn ineligible_brokers_are_not_proposed_for_the_isr() {
    let fenced = BrokerStatus {
        broker_epoch: 103,
        fenced: true,
        in_controlled_shutdown: false,
    };
    let shutting_down = BrokerStatus {
        broker_epoch: 103,
        fenced: false,
        in_controlled_shutdown: true,
    };
    let newer_epoch = BrokerStatus::alive(200);
    let table: Vec<(&str, Option<BrokerStatus>, bool)> = vec![
        (
            "alive with the fetch's broker epoch",
            Some(BrokerStatus::alive(103)),
            true,
        ),
        ("fenced (KIP-841)", Some(fenced), false),
        (
            "in controlled shutdown (KIP-841)",
            Some(shutting_down),
            false,
        ),
        ("not registered", None, false),
        (
            "re-registered since: stale fetch refused",
            Some(newer_epoch),
            false,
        ),
    ];
    for (case, status, proposed) in table {
        let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
        let _ = l.on_broker_status(3, status, 0);
        let result = l.on_follower_fetch(fetch(3, 10), epochs().as_slice(), 1);
        let got = matches!(
            result,
            Ok(FollowerFetchOutcome::Read(Effects {
                alter_partition: Some(_),
                ..
            }))
        );
        assert_eq!(got, proposed, "{case}: {result:?}");
    }
}

#[test]
fn fetch_with_older_broker_epoch_than_registered_is_not_leader_or_follower() {
    let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1);
    let _ = l.on_broker_status(2, Some(BrokerStatus::alive(500)), 0);
    let err = l
        .on_follower_fetch(fetch(2, 10), epochs().as_slice(), 1)
        .unwrap_err();
    assert_eq!(err, ReplicaError::NotLeaderOrFollower);
    assert_eq!(l.follower(2).unwrap().log_end_offset, None, "not recorded");
}

#[test]
fn fetch_without_broker_epoch_is_eligible() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    let mut f = fetch(3, 10);
    f.broker_epoch = -1;
    let out = l.on_follower_fetch(f, epochs().as_slice(), 1).unwrap();
    assert!(matches!(
        out,
        FollowerFetchOutcome::Read(Effects {
            alter_partition: Some(_),
            ..
        })
    ));
}

#[test]
fn only_one_isr_change_in_flight() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    let req = fetch_ok(&mut l, 3, 10, 1)
        .alter_partition
        .expect("expand 3");
    assert_eq!(l.maybe_shrink_isr(100_000), None, "expansion in flight");
    assert_eq!(fetch_ok(&mut l, 3, 10, 2).alter_partition, None);
    let (outcome, _) = commit(&mut l, &req, 3);
    assert_eq!(outcome, AlterPartitionOutcome::Committed);
    assert_eq!(isr_of(&l), vec![1, 2, 3]);
    assert_eq!(l.partition_epoch(), 11);
    assert!(l.maybe_shrink_isr(100_000).is_some(), "free again");
}

#[test]
fn alter_partition_answers_from_table() {
    use AlterPartitionError as E;
    // (case, answer, outcome kind, pending after, ISR after)
    let committed = |isr: Vec<i32>, le: i32, pe: i32| {
        Ok(CommittedIsr {
            isr,
            leader_epoch: le,
            partition_epoch: pe,
        })
    };
    type Case = (
        &'static str,
        Result<CommittedIsr, E>,
        &'static str,
        bool,
        Vec<i32>,
    );
    let table: Vec<Case> = vec![
        (
            "accepted",
            committed(vec![1, 2, 3], 5, 11),
            "committed",
            false,
            vec![1, 2, 3],
        ),
        (
            "controller answers its own ISR",
            committed(vec![1, 3], 5, 11),
            "committed",
            false,
            vec![1, 3],
        ),
        (
            "same partition epoch: nothing changed, still commits",
            committed(vec![1, 2], 5, 10),
            "committed",
            false,
            vec![1, 2],
        ),
        (
            "other leader epoch",
            committed(vec![1, 2, 3], 6, 11),
            "await",
            true,
            vec![1, 2],
        ),
        (
            "older partition epoch",
            committed(vec![1, 2, 3], 5, 9),
            "await",
            true,
            vec![1, 2],
        ),
        (
            "operation not attempted",
            Err(E::OperationNotAttempted),
            "reverted",
            false,
            vec![1, 2],
        ),
        (
            "ineligible replica",
            Err(E::IneligibleReplica),
            "reverted",
            false,
            vec![1, 2],
        ),
        (
            "invalid update version (stale partition epoch)",
            Err(E::InvalidUpdateVersion),
            "await",
            true,
            vec![1, 2],
        ),
        (
            "fenced leader epoch",
            Err(E::FencedLeaderEpoch),
            "await",
            true,
            vec![1, 2],
        ),
        (
            "unknown topic or partition",
            Err(E::UnknownTopicOrPartition),
            "await",
            true,
            vec![1, 2],
        ),
        (
            "unknown topic id",
            Err(E::UnknownTopicId),
            "await",
            true,
            vec![1, 2],
        ),
        (
            "invalid request",
            Err(E::InvalidRequest),
            "await",
            true,
            vec![1, 2],
        ),
        (
            "new leader elected",
            Err(E::NewLeaderElected),
            "await",
            true,
            vec![1, 2],
        ),
        (
            "anything else: retry",
            Err(E::from_code(15)),
            "retry",
            true,
            vec![1, 2],
        ),
    ];
    for (case, answer, kind, pending, isr) in table {
        let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
        let req = fetch_ok(&mut l, 3, 10, 1)
            .alter_partition
            .expect("expand 3");
        let (outcome, _) = l.on_alter_partition_response(req.id, answer, 2);
        let got = match &outcome {
            AlterPartitionOutcome::Committed => "committed",
            AlterPartitionOutcome::Reverted => "reverted",
            AlterPartitionOutcome::AwaitingMetadata => "await",
            AlterPartitionOutcome::Retry(r) => {
                assert_eq!(r, &req, "{case}: same request again");
                "retry"
            }
            AlterPartitionOutcome::Ignored => "ignored",
        };
        assert_eq!(got, kind, "{case}");
        assert_eq!(l.pending_isr_change().is_some(), pending, "{case}");
        assert_eq!(isr_of(&l), isr, "{case}");
    }
}

#[test]
fn awaiting_metadata_blocks_isr_changes_until_a_metadata_update() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    let req = fetch_ok(&mut l, 3, 10, 1).alter_partition.unwrap();
    let _ =
        l.on_alter_partition_response(req.id, Err(AlterPartitionError::InvalidUpdateVersion), 2);
    assert_eq!(fetch_ok(&mut l, 3, 10, 3).alter_partition, None);
    assert_eq!(l.maybe_shrink_isr(100_000), None);
    // A late duplicate answer changes nothing.
    let (outcome, _) = commit(&mut l, &req, 4);
    assert_eq!(outcome, AlterPartitionOutcome::Ignored);
    let out = l.on_metadata(
        PartitionUpdate {
            leader: 1,
            leader_epoch: 5,
            partition_epoch: 12,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2],
        },
        5,
    );
    assert!(matches!(out, MetadataOutcome::Applied(_)));
    let again = fetch_ok(&mut l, 3, 10, 6)
        .alter_partition
        .expect("proposed again");
    assert_eq!(again.partition_epoch, 12);
    assert_ne!(again.id, req.id);
}

#[test]
fn reverted_expansion_can_be_proposed_again() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    let req = fetch_ok(&mut l, 3, 10, 1).alter_partition.unwrap();
    let _ =
        l.on_alter_partition_response(req.id, Err(AlterPartitionError::OperationNotAttempted), 2);
    assert!(fetch_ok(&mut l, 3, 10, 3).alter_partition.is_some());
}

#[test]
fn stale_metadata_is_ignored() {
    let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1);
    let update = |le, pe| PartitionUpdate {
        leader: 1,
        leader_epoch: le,
        partition_epoch: pe,
        replicas: vec![1, 2],
        isr: vec![1],
    };
    assert_eq!(l.on_metadata(update(5, 9), 1), MetadataOutcome::Stale);
    assert_eq!(l.on_metadata(update(4, 11), 1), MetadataOutcome::Stale);
    assert_eq!(isr_of(&l), vec![1, 2]);
}

#[test]
fn new_leader_epoch_restarts_epoch_start_and_catch_up_clocks() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    let _ = fetch_ok(&mut l, 2, 10, 1);
    let _ = l.on_leader_append(20, 2);
    let out = l.on_metadata(
        PartitionUpdate {
            leader: 1,
            leader_epoch: 6,
            partition_epoch: 11,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2],
        },
        50_000,
    );
    assert!(matches!(out, MetadataOutcome::Applied(_)));
    assert_eq!(l.leader_epoch(), 6);
    assert_eq!(l.leader_epoch_start_offset(), 20);
    assert_eq!(
        l.follower(2).unwrap().last_caught_up_time_ms,
        50_000,
        "ISR member"
    );
    assert_eq!(
        l.follower(3).unwrap().last_caught_up_time_ms,
        0,
        "not in ISR"
    );
    assert_eq!(l.maybe_shrink_isr(80_000), None);
}

#[test]
fn losing_leadership_fails_waiting_produces_and_refuses_everything() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 1);
    let _ = l.on_leader_append(5, 1);
    assert_eq!(l.wait_for_acks(ProduceId(1), 5, 30_000), None);
    let out = l.on_metadata(
        PartitionUpdate {
            leader: 2,
            leader_epoch: 6,
            partition_epoch: 11,
            replicas: vec![1, 2],
            isr: vec![2],
        },
        2,
    );
    assert_eq!(
        out,
        MetadataOutcome::Resigned(vec![ProduceCompletion {
            id: ProduceId(1),
            result: Err(ReplicaError::NotLeaderOrFollower)
        }])
    );
    assert!(!l.is_leader());
    assert_eq!(
        l.check_append(Acks::Leader),
        Err(ReplicaError::NotLeaderOrFollower)
    );
    let mut f = fetch(2, 5);
    f.current_leader_epoch = Some(6);
    assert_eq!(
        l.on_follower_fetch(f, epochs().as_slice(), 3),
        Err(ReplicaError::NotLeaderOrFollower)
    );
}

#[test]
fn fetch_leader_epoch_checks_from_table() {
    // (case, current_leader_epoch, replica, offset, expected error)
    type Case = (&'static str, Option<i32>, i32, i64, Option<ReplicaError>);
    let table: Vec<Case> = vec![
        ("same epoch", Some(5), 2, 10, None),
        ("no epoch (old Fetch version)", None, 2, 10, None),
        (
            "older epoch: fenced",
            Some(4),
            2,
            10,
            Some(ReplicaError::FencedLeaderEpoch),
        ),
        (
            "newer epoch: unknown",
            Some(6),
            2,
            10,
            Some(ReplicaError::UnknownLeaderEpoch),
        ),
        (
            "unknown replica with epoch: retry",
            Some(5),
            9,
            10,
            Some(ReplicaError::UnknownLeaderEpoch),
        ),
        (
            "unknown replica without epoch",
            None,
            9,
            10,
            Some(ReplicaError::NotLeaderOrFollower),
        ),
        (
            "the leader itself is no follower",
            Some(5),
            1,
            10,
            Some(ReplicaError::UnknownLeaderEpoch),
        ),
        (
            "past the leader's log end",
            Some(5),
            2,
            11,
            Some(ReplicaError::OffsetOutOfRange),
        ),
        (
            "negative offset",
            Some(5),
            2,
            -1,
            Some(ReplicaError::OffsetOutOfRange),
        ),
    ];
    for (case, epoch, replica, offset, expected) in table {
        let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1);
        let mut f = fetch(replica, offset);
        f.current_leader_epoch = epoch;
        let got = l.on_follower_fetch(f, epochs().as_slice(), 1).err();
        assert_eq!(got, expected, "{case}");
        assert_eq!(
            l.check_leader_epoch(epoch).err(),
            match epoch {
                Some(4) => Some(ReplicaError::FencedLeaderEpoch),
                Some(6) => Some(ReplicaError::UnknownLeaderEpoch),
                _ => None,
            },
            "{case}: check_leader_epoch"
        );
    }
}

#[test]
fn diverging_fetch_is_answered_with_the_epoch_end_and_not_recorded() {
    // Leader: epoch 3 from 0, epoch 5 from 8; log end 10.
    let leader_epochs = vec![
        EpochEntry {
            epoch: 3,
            start_offset: 0,
        },
        EpochEntry {
            epoch: 5,
            start_offset: 8,
        },
    ];
    let mut l = leader(&[1, 2], &[1, 2], 10, 8, 1);
    let mut f = fetch(2, 9);
    f.last_fetched_epoch = Some(4);
    let out = l.on_follower_fetch(f, leader_epochs.as_slice(), 1).unwrap();
    assert_eq!(
        out,
        FollowerFetchOutcome::Diverging(EpochEndOffset {
            epoch: 3,
            end_offset: 8
        })
    );
    assert_eq!(l.follower(2).unwrap().log_end_offset, None);
    // The same follower fetching within epoch 3's range is fine.
    let mut f = fetch(2, 8);
    f.last_fetched_epoch = Some(3);
    assert!(matches!(
        l.on_follower_fetch(f, leader_epochs.as_slice(), 2),
        Ok(FollowerFetchOutcome::Read(_))
    ));
    assert_eq!(l.follower(2).unwrap().log_end_offset, Some(8));
}

#[test]
fn metadata_at_the_proposals_own_partition_epoch_keeps_it_pending() {
    // The update cannot be the controller's decision on the proposal (that would bump
    // the partition epoch), and the controller may still accept the proposal.
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    let req = fetch_ok(&mut l, 3, 10, 1).alter_partition.unwrap();
    let same = PartitionUpdate {
        leader: 1,
        leader_epoch: 5,
        partition_epoch: 10,
        replicas: vec![1, 2, 3],
        isr: vec![1, 2],
    };
    assert!(matches!(
        l.on_metadata(same, 2),
        MetadataOutcome::Applied(_)
    ));
    assert!(l.pending_isr_change().is_some());
    assert_eq!(l.maximal_isr().len(), 3);
    let (outcome, _) = commit(&mut l, &req, 3);
    assert_eq!(outcome, AlterPartitionOutcome::Committed);
}

#[test]
fn leader_reelected_after_missed_epochs_forgets_follower_log_ends() {
    // Epoch 5 → 6 (nobody else led): log ends kept, as Kafka does.
    let mut l = leader(&[1, 2], &[1, 2], 10, 10, 1);
    let _ = fetch_ok(&mut l, 2, 10, 1);
    let update = |leader_epoch, partition_epoch| PartitionUpdate {
        leader: 1,
        leader_epoch,
        partition_epoch,
        replicas: vec![1, 2],
        isr: vec![1, 2],
    };
    let _ = l.on_metadata(update(6, 11), 2);
    assert_eq!(l.follower(2).unwrap().log_end_offset, Some(10));
    // Epoch 6 → 8: epoch 7 had another leader, whom 2 may have followed and truncated
    // to. Its log end is unknown until it fetches in epoch 8, and holds the HW.
    let _ = l.on_metadata(update(8, 13), 3);
    assert_eq!(l.follower(2).unwrap().log_end_offset, None);
    let _ = l.on_leader_append(12, 4);
    assert_eq!(l.high_watermark(), 10);
}
