//! The high watermark: the pure rule from tables, then through `LeaderState`.

mod common;

use common::*;
use kavka_replica::*;

fn isr_member(log_end: i64) -> HwFollower {
    HwFollower {
        log_end_offset: Some(log_end),
        in_maximal_isr: true,
        caught_up_and_eligible: false,
    }
}

fn outsider(log_end: Option<i64>, caught_up: bool) -> HwFollower {
    HwFollower {
        log_end_offset: log_end,
        in_maximal_isr: false,
        caught_up_and_eligible: caught_up,
    }
}

#[test]
fn hw_is_min_log_end_over_isr_from_table() {
    // (case, current HW, leader log end, committed ISR size, min ISR, followers, expected)
    let unknown_member = HwFollower {
        log_end_offset: None,
        in_maximal_isr: true,
        caught_up_and_eligible: false,
    };
    type Case = (&'static str, i64, i64, usize, usize, Vec<HwFollower>, i64);
    let table: Vec<Case> = vec![
        ("leader alone: HW = its log end", 0, 10, 1, 1, vec![], 10),
        (
            "two members: the slower one",
            0,
            10,
            2,
            1,
            vec![isr_member(7)],
            7,
        ),
        (
            "three members: the slowest",
            0,
            10,
            3,
            1,
            vec![isr_member(9), isr_member(4)],
            4,
        ),
        (
            "all caught up",
            3,
            10,
            3,
            2,
            vec![isr_member(10), isr_member(10)],
            10,
        ),
        (
            "never backwards: slower member keeps current",
            8,
            10,
            2,
            1,
            vec![isr_member(5)],
            8,
        ),
        (
            "member not fetched yet holds the HW",
            4,
            10,
            2,
            1,
            vec![unknown_member],
            4,
        ),
        (
            "out-of-sync outsider ignored",
            0,
            10,
            1,
            1,
            vec![outsider(Some(2), false)],
            10,
        ),
        (
            "caught-up eligible outsider holds the HW",
            0,
            10,
            1,
            1,
            vec![outsider(Some(6), true)],
            6,
        ),
        (
            "outsider never fetched and not caught up ignored",
            0,
            10,
            1,
            1,
            vec![outsider(None, false)],
            10,
        ),
        (
            "under min ISR: frozen",
            3,
            10,
            1,
            2,
            vec![outsider(Some(10), false)],
            3,
        ),
        (
            "exactly min ISR: advances",
            3,
            10,
            2,
            2,
            vec![isr_member(9)],
            9,
        ),
        (
            "follower ahead of leader cannot lift HW past leader",
            0,
            10,
            2,
            1,
            vec![isr_member(12)],
            10,
        ),
    ];
    for (case, current, leo, isr_size, min_isr, followers, expected) in table {
        assert_eq!(
            next_high_watermark(current, leo, isr_size, min_isr, followers.iter().copied()),
            expected,
            "{case}"
        );
    }
}

#[test]
fn new_leader_does_not_expose_above_its_own_hw_until_followers_fetch() {
    let (mut l, effects) = LeaderState::new(init(&[1, 2, 3], &[1, 2, 3], 100, 80, 1), 0);
    assert_eq!(l.high_watermark(), 80);
    assert_eq!(effects.high_watermark, None);
    let _ = fetch_ok(&mut l, 2, 100, 1);
    assert_eq!(l.high_watermark(), 80, "follower 3 has not fetched yet");
    let e = fetch_ok(&mut l, 3, 95, 2);
    assert_eq!(e.high_watermark, Some(95));
    assert_eq!(l.high_watermark(), 95);
}

#[test]
fn new_leader_hw_is_capped_at_its_log_end() {
    let l = leader(&[1, 2], &[1, 2], 50, 70, 1);
    assert_eq!(l.high_watermark(), 50);
}

#[test]
fn sole_isr_member_leader_advances_hw_on_append() {
    let mut l = leader(&[1], &[1], 0, 0, 1);
    let e = l.on_leader_append(5, 1);
    assert_eq!(e.high_watermark, Some(5));
    assert_eq!(l.high_watermark(), 5);
}

#[test]
fn pending_expansion_counts_for_the_hw_before_it_is_committed() {
    // ISR {1,2}; follower 3 catches up to the HW and is proposed. While the proposal is
    // in flight follower 3 must hold the HW: if the controller commits it, it must have
    // everything below the HW.
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    let _ = fetch_ok(&mut l, 2, 10, 1);
    let e = fetch_ok(&mut l, 3, 10, 2);
    let req = e.alter_partition.expect("3 proposed");
    assert_eq!(ids(&req), vec![1, 2, 3]);
    assert_eq!(
        l.maximal_isr().into_iter().collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(isr_of(&l), vec![1, 2]);

    let _ = l.on_leader_append(20, 40_000);
    let _ = fetch_ok(&mut l, 2, 20, 40_001);
    // Follower 3 is far past the lag limit but still pending: the HW waits for it.
    assert_eq!(l.high_watermark(), 10);
    let _ = fetch_ok(&mut l, 3, 15, 40_002);
    assert_eq!(l.high_watermark(), 15);
    let (outcome, _) = commit(&mut l, &req, 40_003);
    assert_eq!(outcome, AlterPartitionOutcome::Committed);
    assert!(l.high_watermark() <= l.follower(3).unwrap().log_end_offset.unwrap());
}

#[test]
fn pending_shrink_keeps_counting_the_old_isr_until_committed() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 0, 0, 1);
    let _ = fetch_ok(&mut l, 2, 0, 1);
    let _ = fetch_ok(&mut l, 3, 0, 1);
    let _ = l.on_leader_append(10, 2);
    let _ = fetch_ok(&mut l, 2, 10, 3);
    assert_eq!(l.high_watermark(), 0, "3 is still at 0");
    let req = l.maybe_shrink_isr(40_000).expect("3 lagged 30s");
    assert_eq!(ids(&req), vec![1, 2]);
    let _ = fetch_ok(&mut l, 2, 10, 40_001);
    assert_eq!(l.high_watermark(), 0, "shrink in flight: 3 still counts");
    let (outcome, effects) = commit(&mut l, &req, 40_002);
    assert_eq!(outcome, AlterPartitionOutcome::Committed);
    assert_eq!(effects.high_watermark, Some(10));
}

#[test]
fn failed_shrink_leaves_the_hw_where_the_old_isr_puts_it() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 1);
    let _ = fetch_ok(&mut l, 2, 0, 1);
    let _ = l.on_leader_append(10, 2);
    let req = l.maybe_shrink_isr(40_000).expect("2 lagged");
    let (outcome, effects) = l.on_alter_partition_response(
        req.id,
        Err(AlterPartitionError::InvalidUpdateVersion),
        40_001,
    );
    assert_eq!(outcome, AlterPartitionOutcome::AwaitingMetadata);
    assert_eq!(effects.high_watermark, None);
    assert_eq!(l.high_watermark(), 0);
    assert_eq!(isr_of(&l), vec![1, 2]);
}

#[test]
fn hw_frozen_while_isr_below_min_insync_and_resumes_when_it_grows() {
    let mut l = leader(&[1, 2, 3], &[1], 0, 0, 2);
    let e = l.on_leader_append(10, 1);
    assert_eq!(e.high_watermark, None, "ISR {{1}} < min 2");
    // Follower 2 catches up to the HW (0) and is proposed; still frozen until committed.
    let e = fetch_ok(&mut l, 2, 10, 2);
    let req = e.alter_partition.expect("2 proposed");
    assert_eq!(l.high_watermark(), 0);
    let (_, effects) = commit(&mut l, &req, 3);
    assert_eq!(effects.high_watermark, Some(10));
}

#[test]
fn caught_up_outsider_holds_hw_but_fenced_one_does_not() {
    // ISR {1}; follower 2 fetched up to 5 and is caught up (pending expansion blocked by
    // being fenced): being fenced, it must not hold back the HW (KAFKA-15021).
    let mut l = leader(&[1, 2], &[1], 5, 5, 1);
    let _ = l.on_broker_status(
        2,
        Some(BrokerStatus {
            broker_epoch: 102,
            fenced: true,
            in_controlled_shutdown: false,
        }),
        0,
    );
    let e = fetch_ok(&mut l, 2, 5, 1);
    assert_eq!(e.alter_partition, None, "fenced: not proposed");
    let e = l.on_leader_append(9, 2);
    assert_eq!(e.high_watermark, Some(9));
    // Unfenced and caught up, it holds the HW at its log end.
    let _ = l.on_broker_status(2, Some(BrokerStatus::alive(102)), 3);
    let e = fetch_ok(&mut l, 2, 9, 4);
    assert!(e.alter_partition.is_some(), "eligible now: proposed");
    let _ = l.on_leader_append(12, 5);
    assert_eq!(l.high_watermark(), 9);
}

#[test]
fn metadata_shrink_applies_at_once_and_supersedes_pending_expansion() {
    let mut l = leader(&[1, 2, 3], &[1, 2], 10, 10, 1);
    let _ = fetch_ok(&mut l, 2, 10, 1);
    let req = fetch_ok(&mut l, 3, 10, 1).alter_partition.unwrap();
    let _ = l.on_leader_append(20, 2);
    let _ = fetch_ok(&mut l, 3, 20, 3);
    assert_eq!(l.high_watermark(), 10, "2 at 10");
    let out = l.on_metadata(
        PartitionUpdate {
            leader: 1,
            leader_epoch: 5,
            partition_epoch: 11,
            replicas: vec![1, 2, 3],
            isr: vec![1, 3],
        },
        40_000,
    );
    let MetadataOutcome::Applied(e) = out else {
        panic!("{out:?}")
    };
    // 2 left the ISR and is 30 s behind, so it no longer holds the HW.
    assert_eq!(e.high_watermark, Some(20));
    assert!(l.pending_isr_change().is_none());
    let (outcome, _) = commit(&mut l, &req, 5);
    assert_eq!(
        outcome,
        AlterPartitionOutcome::Ignored,
        "superseded proposal"
    );
}
