//! The follower's side of a partition log: appending what the leader wrote, keeping
//! its offsets and epochs, and starting over when the leader's log moved past ours.

mod common;

use bytes::{Bytes, BytesMut};
use common::{batch, decode, idempotent, small_config};
use kavka_storage::{BatchHeader, LogConfig, PartitionLog, StorageError};

const NOW: i64 = 1_700_000_000_000;

/// Every batch of `log` from `from`, as a follower's fetch would get them.
fn fetch_all(log: &PartitionLog, from: i64) -> Bytes {
    let mut out = BytesMut::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let data = log.read(offset, 1 << 20, i64::MAX).unwrap();
        let mut pos = 0;
        let mut last = offset;
        while pos < data.records.len() {
            let h = BatchHeader::parse(&data.records[pos..]).unwrap();
            last = h.last_offset();
            pos += h.size();
        }
        out.extend_from_slice(&data.records);
        offset = last + 1;
    }
    out.freeze()
}

fn leader_with_two_epochs(dir: &std::path::Path) -> PartitionLog {
    let mut leader = PartitionLog::open(dir, LogConfig::default()).unwrap();
    leader.append(batch(&["a", "b"], NOW), 1, NOW).unwrap();
    leader.append(batch(&["c"], NOW), 1, NOW).unwrap();
    leader.append(batch(&["d", "e"], NOW), 3, NOW).unwrap();
    leader
}

#[test]
fn follower_keeps_the_leaders_offsets_epochs_and_bytes() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = leader_with_two_epochs(dirs.0.path());
    let mut follower = PartitionLog::open(dirs.1.path(), LogConfig::default()).unwrap();
    let fetched = fetch_all(&leader, 0);
    let info = follower.append_as_follower(fetched.clone(), NOW).unwrap();
    assert_eq!(
        (info.first_offset, info.last_offset, info.record_count),
        (0, 4, 5)
    );
    assert_eq!(follower.log_end_offset(), 5);
    assert_eq!(fetch_all(&follower, 0), fetched, "byte-identical replica");
    assert_eq!(follower.leader_epochs(), leader.leader_epochs());
    assert_eq!(follower.leader_epochs(), &[(1, 0), (3, 3)]);
    assert_eq!(follower.end_offset_for_epoch(1), Some((1, 3)));
    assert_eq!(follower.latest_epoch(), 3);
}

#[test]
fn follower_appends_in_several_fetches() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = leader_with_two_epochs(dirs.0.path());
    let mut follower = PartitionLog::open(dirs.1.path(), small_config()).unwrap();
    follower
        .append_as_follower(leader.read(0, 1, i64::MAX).unwrap().records, NOW)
        .unwrap();
    assert_eq!(follower.log_end_offset(), 2);
    follower
        .append_as_follower(fetch_all(&leader, 2), NOW)
        .unwrap();
    assert_eq!(
        decode(&fetch_all(&follower, 0)),
        decode(&fetch_all(&leader, 0))
    );
}

#[test]
fn offsets_below_the_log_end_are_refused_and_gaps_kept() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = leader_with_two_epochs(dirs.0.path());
    let mut follower = PartitionLog::open(dirs.1.path(), LogConfig::default()).unwrap();
    follower
        .append_as_follower(fetch_all(&leader, 0), NOW)
        .unwrap();
    let again = follower.append_as_follower(fetch_all(&leader, 3), NOW);
    assert!(
        matches!(again, Err(StorageError::InvalidRecord(_))),
        "{again:?}"
    );
    assert_eq!(follower.log_end_offset(), 5, "nothing written");

    // A batch at offset 100 (the leader's cleaner removed 5..100) is kept there.
    let mut gap = BytesMut::from(&batch(&["z"], NOW)[..]);
    gap[0..8].copy_from_slice(&100i64.to_be_bytes());
    gap[12..16].copy_from_slice(&4i32.to_be_bytes());
    let info = follower.append_as_follower(gap.freeze(), NOW).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (100, 100));
    assert_eq!(follower.log_end_offset(), 101);
    assert_eq!(
        decode(&follower.read(5, 1 << 20, i64::MAX).unwrap().records),
        [(100, "z".to_string())]
    );
    assert_eq!(follower.leader_epochs().last(), Some(&(4, 100)));
}

#[test]
fn corrupt_replicated_batches_are_refused_whole() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = leader_with_two_epochs(dirs.0.path());
    let mut follower = PartitionLog::open(dirs.1.path(), LogConfig::default()).unwrap();
    let mut bytes = BytesMut::from(&fetch_all(&leader, 0)[..]);
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    assert!(matches!(
        follower.append_as_follower(bytes.freeze(), NOW),
        Err(StorageError::CorruptMessage(_))
    ));
    let whole = fetch_all(&leader, 0);
    assert!(matches!(
        follower.append_as_follower(whole.slice(..whole.len() - 3), NOW),
        Err(StorageError::InvalidRecord(_))
    ));
    assert_eq!(follower.log_end_offset(), 0);
    assert!(
        follower.leader_epochs().is_empty(),
        "no epoch from a refused set"
    );
}

#[test]
fn idempotent_producer_continues_after_failover_to_the_follower() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = PartitionLog::open(dirs.0.path(), LogConfig::default()).unwrap();
    let first = leader
        .append(idempotent(&["a", "b"], (7, 0, 0)), 1, NOW)
        .unwrap();
    leader
        .append(idempotent(&["c"], (7, 0, 2)), 1, NOW)
        .unwrap();
    let mut follower = PartitionLog::open(dirs.1.path(), LogConfig::default()).unwrap();
    follower
        .append_as_follower(fetch_all(&leader, 0), NOW)
        .unwrap();

    // The follower is now leader of epoch 2: a retry is a duplicate, the next continues.
    follower.assign_leader_epoch(2);
    let retry = follower
        .append(idempotent(&["a", "b"], (7, 0, 0)), 2, NOW)
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.first_offset, first.first_offset);
    assert!(matches!(
        follower.append(idempotent(&["x"], (7, 0, 9)), 2, NOW),
        Err(StorageError::OutOfOrderSequence { expected: 3, .. })
    ));
    let next = follower
        .append(idempotent(&["d"], (7, 0, 3)), 2, NOW)
        .unwrap();
    assert_eq!(next.first_offset, 3);
    assert_eq!(follower.leader_epochs(), &[(1, 0), (2, 3)]);
}

#[test]
fn follower_appends_survive_a_crash() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = PartitionLog::open(dirs.0.path(), small_config()).unwrap();
    for i in 0..30 {
        let epoch = if i < 15 { 1 } else { 2 };
        leader
            .append(idempotent(&[&format!("v{i:03}")], (4, 0, i)), epoch, NOW)
            .unwrap();
    }
    let mut follower = PartitionLog::open(dirs.1.path(), small_config()).unwrap();
    follower
        .append_as_follower(fetch_all(&leader, 0), NOW)
        .unwrap();
    assert!(follower.segment_count() > 1, "rolled on the way");
    drop(follower); // no close: recovery at the next open

    let mut follower = PartitionLog::open(dirs.1.path(), small_config()).unwrap();
    assert_eq!(follower.log_end_offset(), 30);
    assert_eq!(follower.leader_epochs(), &[(1, 0), (2, 15)]);
    assert_eq!(
        decode(&fetch_all(&follower, 0)),
        decode(&fetch_all(&leader, 0))
    );
    let retry = follower
        .append(idempotent(&["v029"], (4, 0, 29)), 3, NOW)
        .unwrap();
    assert!(
        retry.duplicate,
        "producer state rebuilt from the replicated batches"
    );
}

#[test]
fn truncate_fully_and_start_at_empties_the_log_and_its_state() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut follower = PartitionLog::open(dirs.1.path(), LogConfig::default()).unwrap();
    follower
        .append(idempotent(&["a"], (7, 0, 0)), 1, NOW)
        .unwrap();
    follower.truncate_fully_and_start_at(50).unwrap();
    assert_eq!(follower.log_start_offset(), 50);
    assert_eq!(follower.log_end_offset(), 50);
    assert!(follower.leader_epochs().is_empty());
    // The producer is unknown now: any sequence is accepted.
    follower
        .append(idempotent(&["b"], (7, 0, 5)), 2, NOW)
        .unwrap();
    drop(follower);
    let follower = PartitionLog::open(dirs.1.path(), LogConfig::default()).unwrap();
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (50, 51)
    );
    assert_eq!(follower.leader_epochs(), &[(2, 50)]);
    drop(dirs.0);
}

#[test]
fn truncate_to_drops_epochs_and_producer_batches_past_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(idempotent(&["a"], (7, 0, 0)), 1, NOW).unwrap();
    log.append(idempotent(&["b"], (7, 0, 1)), 2, NOW).unwrap();
    log.truncate_to(1).unwrap();
    assert_eq!(log.leader_epochs(), &[(1, 0)]);
    // Sequence 1 is gone with its batch: it is the next expected, not a duplicate.
    let again = log.append(idempotent(&["b"], (7, 0, 1)), 3, NOW).unwrap();
    assert!(!again.duplicate);
    assert_eq!(again.first_offset, 1);
}

#[test]
fn an_epoch_led_without_writes_goes_when_truncating_at_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(batch(&["a"], NOW), 1, NOW).unwrap();
    log.assign_leader_epoch(2);
    assert_eq!(log.leader_epochs(), &[(1, 0), (2, 1)]);
    log.assign_leader_epoch(2);
    log.truncate_to(1).unwrap();
    assert_eq!(log.leader_epochs(), &[(1, 0)]);
    assert_eq!(log.log_end_offset(), 1);
}
