//! The follower's steps: what it sends, how it reacts to answers, its high watermark.

use kavka_replica::*;

fn e(epoch: i32, start_offset: i64) -> EpochEntry {
    EpochEntry {
        epoch,
        start_offset,
    }
}

fn init(leader_epoch: i32, log_end: i64, hw: i64) -> FollowerInit {
    FollowerInit {
        leader_id: 2,
        leader_epoch,
        partition_epoch: 1,
        log_end_offset: log_end,
        high_watermark: hw,
    }
}

#[test]
fn follower_on_fetch_mode_fetches_from_its_log_end_with_last_epoch() {
    let epochs = vec![e(1, 0), e(3, 4)];
    let mut f = FollowerState::new(init(4, 10, 6), TruncationMode::OnFetch, epochs.as_slice());
    assert_eq!(f.phase(), FollowerPhase::Fetching);
    assert_eq!(
        f.next_action(epochs.as_slice()),
        FollowerAction::Fetch {
            fetch_offset: 10,
            last_fetched_epoch: Some(3),
            current_leader_epoch: 4
        }
    );
}

#[test]
fn follower_offset_for_leader_epoch_mode_asks_before_fetching() {
    let epochs = vec![e(1, 0), e(3, 4)];
    let mut f = FollowerState::new(
        init(4, 10, 6),
        TruncationMode::OffsetForLeaderEpoch,
        epochs.as_slice(),
    );
    assert_eq!(
        f.next_action(epochs.as_slice()),
        FollowerAction::OffsetForLeaderEpoch {
            current_leader_epoch: 4,
            leader_epoch: 3
        }
    );
    let step = f.on_offset_for_leader_epoch(
        4,
        Ok(EpochEndOffset {
            epoch: 3,
            end_offset: 8,
        }),
        epochs.as_slice(),
        10,
    );
    assert_eq!(step.truncate, Some(Truncate::To(8)));
    assert_eq!(step.high_watermark, None, "HW 6 is below the cut");
    assert_eq!(
        f.next_action(epochs.as_slice()),
        FollowerAction::Fetch {
            fetch_offset: 8,
            last_fetched_epoch: None,
            current_leader_epoch: 4
        }
    );
}

#[test]
fn follower_hw_is_min_of_leader_hw_and_own_log_end() {
    let epochs = vec![e(1, 0)];
    let mut f = FollowerState::new(init(1, 0, 0), TruncationMode::OnFetch, epochs.as_slice());
    // (leader HW in the answer, local log end after appending, follower HW)
    let table = [
        (0, 5, 0),
        (5, 8, 5),
        (12, 10, 10),
        (10, 10, 10),
        (12, 12, 12),
    ];
    for (leader_hw, log_end, expected) in table {
        let offset = f.fetch_offset();
        let _ = f.on_fetch_response(
            offset,
            1,
            FetchAnswer::Records {
                high_watermark: leader_hw,
            },
            epochs.as_slice(),
            log_end,
        );
        assert_eq!(
            f.high_watermark(),
            expected,
            "leader HW {leader_hw}, log end {log_end}"
        );
        assert_eq!(f.fetch_offset(), log_end);
    }
}

#[test]
fn truncation_below_follower_hw_lowers_it() {
    let epochs = vec![e(1, 0), e(2, 5)];
    let mut f = FollowerState::new(init(3, 10, 9), TruncationMode::OnFetch, epochs.as_slice());
    let step = f.on_fetch_response(
        10,
        3,
        FetchAnswer::Diverging(EpochEndOffset {
            epoch: 2,
            end_offset: 7,
        }),
        epochs.as_slice(),
        10,
    );
    assert_eq!(step.truncate, Some(Truncate::To(7)));
    assert_eq!(step.high_watermark, Some(7));
    assert_eq!(f.high_watermark(), 7);
    assert_eq!(f.fetch_offset(), 7);
}

#[test]
fn fenced_follower_waits_for_metadata_then_restarts() {
    let epochs = vec![e(1, 0)];
    let mut f = FollowerState::new(init(1, 5, 5), TruncationMode::OnFetch, epochs.as_slice());
    let _ = f.on_fetch_response(
        5,
        1,
        FetchAnswer::Error(ReplicaError::FencedLeaderEpoch),
        epochs.as_slice(),
        5,
    );
    assert_eq!(
        f.next_action(epochs.as_slice()),
        FollowerAction::AwaitMetadata
    );
    assert!(f.on_new_leader(init(2, 5, 5), epochs.as_slice()));
    assert_eq!(f.leader_epoch(), 2);
    assert_eq!(
        f.next_action(epochs.as_slice()),
        FollowerAction::Fetch {
            fetch_offset: 5,
            last_fetched_epoch: Some(1),
            current_leader_epoch: 2
        }
    );
}

#[test]
fn retriable_fetch_errors_back_off_and_keep_the_position() {
    let epochs = vec![e(1, 0)];
    for error in [
        ReplicaError::UnknownLeaderEpoch,
        ReplicaError::NotLeaderOrFollower,
    ] {
        let mut f = FollowerState::new(init(1, 5, 5), TruncationMode::OnFetch, epochs.as_slice());
        let step = f.on_fetch_response(5, 1, FetchAnswer::Error(error), epochs.as_slice(), 5);
        assert!(step.backoff, "{error:?}");
        assert_eq!(f.phase(), FollowerPhase::Fetching);
        assert_eq!(f.fetch_offset(), 5);
    }
}

#[test]
fn stale_answers_are_ignored() {
    let epochs = vec![e(1, 0)];
    let mut f = FollowerState::new(init(2, 5, 5), TruncationMode::OnFetch, epochs.as_slice());
    let records = FetchAnswer::Records { high_watermark: 9 };
    let _ = f.on_fetch_response(5, 1, records, epochs.as_slice(), 9);
    assert_eq!(
        (f.fetch_offset(), f.high_watermark()),
        (5, 5),
        "older epoch"
    );
    let _ = f.on_fetch_response(3, 2, records, epochs.as_slice(), 9);
    assert_eq!(
        (f.fetch_offset(), f.high_watermark()),
        (5, 5),
        "other fetch offset"
    );
    let step = f.on_offset_for_leader_epoch(
        2,
        Ok(EpochEndOffset {
            epoch: 1,
            end_offset: 0,
        }),
        epochs.as_slice(),
        5,
    );
    assert_eq!(step, FollowerStep::default(), "not truncating");
}

#[test]
fn out_of_range_asks_leader_offsets_and_resets() {
    let epochs = vec![e(1, 0)];
    let mut f = FollowerState::new(init(2, 3, 3), TruncationMode::OnFetch, epochs.as_slice());
    let _ = f.on_fetch_response(
        3,
        2,
        FetchAnswer::Error(ReplicaError::OffsetOutOfRange),
        epochs.as_slice(),
        3,
    );
    assert_eq!(
        f.next_action(epochs.as_slice()),
        FollowerAction::ListLeaderOffsets {
            current_leader_epoch: 2
        }
    );
    let step = f.on_leader_offsets(50, 80, 3);
    assert_eq!(step.truncate, Some(Truncate::FullyAndStartAt(50)));
    assert_eq!(f.fetch_offset(), 50);
    assert_eq!(f.high_watermark(), 50);
    assert_eq!(f.phase(), FollowerPhase::Fetching);
}

#[test]
fn metadata_for_same_epoch_keeps_position_older_is_ignored() {
    let epochs = vec![e(1, 0)];
    let mut f = FollowerState::new(init(2, 5, 5), TruncationMode::OnFetch, epochs.as_slice());
    let _ = f.on_fetch_response(
        5,
        2,
        FetchAnswer::Records { high_watermark: 7 },
        epochs.as_slice(),
        7,
    );
    assert!(!f.on_new_leader(
        FollowerInit {
            partition_epoch: 2,
            ..init(2, 7, 7)
        },
        epochs.as_slice()
    ));
    assert_eq!(f.partition_epoch(), 2);
    assert_eq!(f.fetch_offset(), 7);
    assert!(
        !f.on_new_leader(init(1, 7, 7), epochs.as_slice()),
        "older epoch"
    );
    assert_eq!(f.leader_epoch(), 2);
}
