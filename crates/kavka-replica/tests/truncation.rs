//! Where a follower cuts its log: Kafka's end-offset rule, the truncation rule, and the
//! scenarios of KIP-101 and KIP-279, by OffsetForLeaderEpoch and by Fetch
//! `diverging_epoch` (KIP-320).

mod common;

#[path = "common/logs.rs"]
mod logs;

use kavka_replica::*;
use logs::*;

fn e(epoch: i32, start_offset: i64) -> EpochEntry {
    EpochEntry {
        epoch,
        start_offset,
    }
}

fn eo(epoch: i32, end_offset: i64) -> EpochEndOffset {
    EpochEndOffset { epoch, end_offset }
}

#[test]
fn end_offset_for_epoch_from_table() {
    let cache = vec![e(1, 0), e(3, 5), e(6, 8)];
    let table: Vec<(&str, i32, EpochEndOffset)> = vec![
        ("undefined epoch", -1, EpochEndOffset::UNDEFINED),
        ("latest epoch ends at the log end", 6, eo(6, 10)),
        ("above every epoch", 7, EpochEndOffset::UNDEFINED),
        ("below every epoch: the first start", 0, eo(0, 0)),
        ("known epoch ends where the next starts", 1, eo(1, 5)),
        (
            "unknown epoch between: the largest smaller one",
            2,
            eo(1, 5),
        ),
        ("middle epoch", 3, eo(3, 8)),
        ("unknown epoch below the latest", 5, eo(3, 8)),
    ];
    for (case, asked, expected) in table {
        assert_eq!(cache.end_offset_for(asked, 10), expected, "{case}");
    }
    let empty: Vec<EpochEntry> = vec![];
    assert_eq!(empty.end_offset_for(0, 10), EpochEndOffset::UNDEFINED);
}

#[test]
fn leader_divergence_check_from_table() {
    let leader = vec![e(1, 0), e(3, 5), e(6, 8)];
    // (case, fetch offset, last fetched epoch, expected)
    type Case = (
        &'static str,
        i64,
        i32,
        Result<Option<EpochEndOffset>, ReplicaError>,
    );
    let table: Vec<Case> = vec![
        ("caught up in the latest epoch", 10, 6, Ok(None)),
        ("inside a known epoch", 7, 3, Ok(None)),
        ("at the very end of a known epoch", 8, 3, Ok(None)),
        (
            "past the end of its epoch on the leader",
            9,
            3,
            Ok(Some(eo(3, 8))),
        ),
        ("epoch unknown to the leader", 6, 4, Ok(Some(eo(3, 8)))),
        (
            "past the leader's log end in the latest epoch",
            11,
            6,
            Ok(Some(eo(6, 10))),
        ),
        (
            "epoch above the leader's",
            10,
            7,
            Err(ReplicaError::OffsetOutOfRange),
        ),
        (
            "epoch below the leader's first, at its start",
            0,
            0,
            Ok(None),
        ),
        (
            "epoch below the leader's first, past its start",
            3,
            0,
            Ok(Some(eo(0, 0))),
        ),
    ];
    for (case, offset, epoch, expected) in table {
        assert_eq!(
            diverging_epoch(leader.as_slice(), 10, offset, epoch),
            expected,
            "{case}"
        );
    }
}

#[test]
fn truncation_rule_from_table() {
    // Follower: epoch 1 from 0, epoch 3 from 5, epoch 4 from 8; log end 10; HW 4.
    let follower = vec![e(1, 0), e(3, 5), e(4, 8)];
    let t = |offset, complete| Truncation { offset, complete };
    let table: Vec<(&str, EpochEndOffset, Truncation)> = vec![
        (
            "leader knows no end offset: back to the fetch offset (HW)",
            EpochEndOffset::UNDEFINED,
            t(4, true),
        ),
        (
            "end offset without epoch (old leader): min with log end",
            eo(-1, 7),
            t(7, true),
        ),
        (
            "end offset without epoch beyond our end",
            eo(-1, 12),
            t(10, true),
        ),
        (
            "same latest epoch, leader ends earlier",
            eo(4, 9),
            t(9, true),
        ),
        (
            "same latest epoch, leader ends later: keep all",
            eo(4, 15),
            t(10, true),
        ),
        (
            "shared older epoch ending earlier on the leader",
            eo(3, 6),
            t(6, true),
        ),
        (
            "shared older epoch ending later on the leader: our end of it",
            eo(3, 9),
            t(8, true),
        ),
        (
            "epoch we lack: cut to our largest smaller epoch's end, ask again",
            eo(2, 7),
            t(5, false),
        ),
        (
            "epoch below all ours: our first epoch's start",
            eo(0, 3),
            t(0, true),
        ),
    ];
    for (case, leader, expected) in table {
        assert_eq!(
            truncation_for(follower.as_slice(), 10, 4, leader),
            expected,
            "{case}"
        );
    }
    let empty: Vec<EpochEntry> = vec![];
    assert_eq!(
        truncation_for(empty.as_slice(), 10, 4, eo(3, 6)),
        t(6, true),
        "no epochs at all: the leader's end"
    );
}

#[test]
fn out_of_range_reset_from_table() {
    let table = [
        (
            "leader ends below us (unclean election): cut to its end",
            10,
            8,
            0,
            OutOfRangeReset::TruncateTo(8),
        ),
        (
            "we end below the leader's start: start over there",
            3,
            20,
            5,
            OutOfRangeReset::TruncateFullyAndStartAt(5),
        ),
        (
            "within the leader's range: fetch again from our end",
            10,
            20,
            5,
            OutOfRangeReset::FetchFrom(10),
        ),
    ];
    for (case, ours, end, start, expected) in table {
        assert_eq!(out_of_range_reset(ours, end, start), expected, "{case}");
    }
}

/// KIP-101 scenario 1: A leads epoch 0 and has m1, m2; B fetched both, so A's HW is 2,
/// but B learnt only HW 1. B restarts. Truncating to its HW would drop m2, which was
/// acknowledged; if A then dies and B leads, m2 is lost. By epoch, B keeps it.
#[test]
fn kip101_scenario1_restarted_follower_keeps_acknowledged_record_above_its_hw() {
    let a = ToyLog::of(&[(0, 2)]);
    let mut b = ToyLog::of(&[(0, 2)]);
    let cuts = truncate_by_offset_for_leader_epoch(&mut b, 1, &a, 0);
    assert_eq!(cuts, vec![2], "cut at the log end: nothing removed");
    assert_eq!(b.records, vec![0, 0]);
    let mut b = ToyLog::of(&[(0, 2)]);
    let cuts = truncate_by_diverging_epoch(&mut b, 1, &a, 0);
    assert!(cuts.is_empty());
    assert_eq!(b.records, vec![0, 0]);
}

/// KIP-101 scenario 2: A (leader, epoch 0) has m1, m2; B has m1; both lose power. B
/// comes back first, leads epoch 1 and writes m3 at offset 1. A comes back as follower
/// with m2 at offset 1: truncating to its HW would keep m2 and diverge from B forever.
/// By epoch, A asks for the end of epoch 0 on B (1) and drops m2.
#[test]
fn kip101_scenario2_diverged_follower_truncates_to_end_of_shared_epoch() {
    let mut b = ToyLog::of(&[(0, 1)]);
    b.assign_epoch(1);
    b.append(1);
    let mut a = ToyLog::of(&[(0, 2)]);
    let cuts = truncate_by_offset_for_leader_epoch(&mut a, 2, &b, 1);
    assert_eq!(cuts, vec![1]);
    assert!(a.is_prefix_of(&b));
    let mut a = ToyLog::of(&[(0, 2)]);
    let cuts = truncate_by_diverging_epoch(&mut a, 2, &b, 1);
    assert_eq!(cuts, vec![1]);
    assert!(a.is_prefix_of(&b));
}

/// KIP-279: A leads epoch 1 and writes offsets 0..=2; B has 0..=1. A fails, B leads
/// epoch 2 and writes offset 2; B fails fast, A leads epoch 3 and writes offset 3. B
/// asks A for the end of epoch 2, which A never saw: A answers its largest epoch below
/// (1) and where it ends (3). B's own epoch 1 ends at 2, so B cuts at 2 — not at 3,
/// which would keep B's epoch-2 record at offset 2 against A's epoch-1 record there.
#[test]
fn kip279_leader_answers_older_epoch_follower_cuts_at_its_own_end_of_it() {
    let mut a = ToyLog::of(&[(1, 3)]);
    a.assign_epoch(3);
    a.append(3);
    let mut b = ToyLog::of(&[(1, 2), (2, 1)]);
    let cuts = truncate_by_offset_for_leader_epoch(&mut b, 2, &a, 3);
    assert_eq!(cuts, vec![2]);
    assert!(b.is_prefix_of(&a));
    let mut b = ToyLog::of(&[(1, 2), (2, 1)]);
    let cuts = truncate_by_diverging_epoch(&mut b, 2, &a, 3);
    assert_eq!(cuts, vec![2]);
    assert!(b.is_prefix_of(&a));
}

/// KIP-279, several fast fail-overs: the leader answers an epoch (1) the follower never
/// had. The follower cuts to the end of its largest smaller epoch (0, ending at 5), asks
/// again about epoch 0, and cuts where epoch 0 ends on the leader (3).
#[test]
fn kip279_follower_lacks_answered_epoch_truncates_in_two_rounds() {
    let mut leader = ToyLog::of(&[(0, 3), (1, 4)]);
    leader.assign_epoch(3);
    leader.append(3);
    let follower_log = ToyLog::of(&[(0, 5), (2, 4)]);
    let mut f = follower_log.clone();
    let cuts = truncate_by_offset_for_leader_epoch(&mut f, 0, &leader, 3);
    assert_eq!(cuts, vec![5, 3]);
    assert!(f.is_prefix_of(&leader));
    let mut f = follower_log;
    let cuts = truncate_by_diverging_epoch(&mut f, 0, &leader, 3);
    assert_eq!(cuts, vec![5, 3]);
    assert!(f.is_prefix_of(&leader));
}

/// A follower that led an epoch without writing anything keeps that epoch's entry at
/// its log end; the cut at the log end must still remove it, or the follower would
/// later claim the new leader's offsets for its own epoch.
#[test]
fn kip279_empty_epoch_entry_at_log_end_is_removed_by_a_cut_at_the_log_end() {
    let mut leader = ToyLog::of(&[(1, 3)]);
    leader.assign_epoch(3);
    let mut f = ToyLog::of(&[(1, 3)]);
    f.assign_epoch(2);
    let cuts = truncate_by_offset_for_leader_epoch(&mut f, 3, &leader, 3);
    assert_eq!(cuts, vec![3]);
    assert_eq!(f.latest_epoch(), Some(1), "epoch 2 entry removed");
}

#[test]
fn follower_without_epochs_truncates_to_its_high_watermark() {
    let leader = ToyLog::of(&[(0, 5)]);
    let mut f = ToyLog {
        records: vec![0, 0, 0, 0],
        cache: vec![],
    };
    let cuts = truncate_by_offset_for_leader_epoch(&mut f, 2, &leader, 1);
    assert_eq!(cuts, vec![2]);
    assert_eq!(f.log_end(), 2);
}

#[test]
fn follower_behind_leader_in_the_same_epoch_keeps_its_log() {
    let leader = ToyLog::of(&[(0, 3), (4, 5)]);
    let mut f = ToyLog::of(&[(0, 3), (4, 2)]);
    let cuts = truncate_by_offset_for_leader_epoch(&mut f, 3, &leader, 4);
    assert_eq!(cuts, vec![5], "cut at its own end: nothing removed");
    assert_eq!(f.log_end(), 5);
    let mut f = ToyLog::of(&[(0, 3), (4, 2)]);
    assert!(truncate_by_diverging_epoch(&mut f, 3, &leader, 4).is_empty());
}
