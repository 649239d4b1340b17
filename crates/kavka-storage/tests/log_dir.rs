//! One clean-shutdown marker per log directory: a clean stop is trusted, a crash
//! after a clean restart is still recovered, and per-partition markers written
//! before the change still open as clean.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{batch, decode, small_config};
use kavka_storage::log_dir::{mark_clean_shutdown, take_clean_shutdown_marker};
use kavka_storage::{BatchHeader, LogDirShutdown, PartitionLog, CLEAN_SHUTDOWN_FILE};

const NOW: i64 = 1_700_000_000_000;

fn active_segment(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

/// Appends to the active segment a copy of its last batch that follows it in
/// offsets but whose records no longer match its CRC: what a torn write can
/// leave, and what only a recovery scan (not a trusting open) refuses.
fn append_batch_with_bad_crc(dir: &Path) {
    let path = active_segment(dir);
    let mut bytes = fs::read(&path).unwrap();
    let mut pos = 0;
    let mut last = None;
    while pos < bytes.len() {
        let header = BatchHeader::parse(&bytes[pos..]).unwrap();
        last = Some((pos, header));
        pos += header.size();
    }
    let (start, header) = last.expect("a batch to copy");
    let mut copy = bytes[start..start + header.size()].to_vec();
    copy[..8].copy_from_slice(&(header.last_offset() + 1).to_be_bytes());
    let end = copy.len() - 1;
    copy[end] ^= 0x5a;
    bytes.extend_from_slice(&copy);
    fs::write(&path, bytes).unwrap();
}

fn values(log: &PartitionLog) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let records = decode(&log.read(offset, 1 << 20, i64::MAX).unwrap().records);
        offset = records.last().unwrap().0 + 1;
        out.extend(records.into_iter().map(|r| r.1));
    }
    out
}

fn append(log: &mut PartitionLog, from: usize, n: usize) {
    for i in from..from + n {
        log.append(batch(&[&format!("v{i}")], NOW), 0, NOW).unwrap();
    }
}

#[test]
fn a_crash_after_a_clean_restart_is_recovered() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..3).map(|p| root.path().join(format!("t-{p}"))).collect();
    let start = take_clean_shutdown_marker(root.path()).unwrap();
    assert_eq!(start, LogDirShutdown::Unclean, "a new directory");
    for dir in &dirs {
        let mut log = PartitionLog::open_in_log_dir(dir, small_config(), start).unwrap();
        append(&mut log, 0, 20);
        log.close_in_log_dir().unwrap();
    }
    mark_clean_shutdown(root.path()).unwrap();
    for dir in &dirs {
        assert!(
            !dir.join(CLEAN_SHUTDOWN_FILE).exists(),
            "no marker per partition"
        );
    }

    // A clean restart, more writes, then a crash that tears the tail.
    let start = take_clean_shutdown_marker(root.path()).unwrap();
    assert_eq!(start, LogDirShutdown::Clean);
    for dir in &dirs {
        let mut log = PartitionLog::open_in_log_dir(dir, small_config(), start).unwrap();
        assert_eq!(log.log_end_offset(), 20);
        append(&mut log, 20, 10);
        drop(log);
        append_batch_with_bad_crc(dir);
    }

    let start = take_clean_shutdown_marker(root.path()).unwrap();
    assert_eq!(
        start,
        LogDirShutdown::Unclean,
        "the marker went at the start"
    );
    let expected: Vec<String> = (0..30).map(|i| format!("v{i}")).collect();
    for dir in &dirs {
        let mut log = PartitionLog::open_in_log_dir(dir, small_config(), start).unwrap();
        assert_eq!(log.log_end_offset(), 30, "the torn batch is cut");
        assert_eq!(values(&log), expected);
        let next = log.append(batch(&["after"], NOW), 0, NOW).unwrap();
        assert_eq!(next.first_offset, 30);
    }
}

#[test]
fn a_clean_stop_is_trusted_without_a_scan() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("t-0");
    let mut log =
        PartitionLog::open_in_log_dir(&dir, small_config(), LogDirShutdown::Unclean).unwrap();
    append(&mut log, 0, 5);
    log.close_in_log_dir().unwrap();
    mark_clean_shutdown(root.path()).unwrap();
    // Damage only a scan would notice: after a clean stop the open trusts it,
    // which is what makes a start with many partitions cheap.
    append_batch_with_bad_crc(&dir);
    let start = take_clean_shutdown_marker(root.path()).unwrap();
    let log = PartitionLog::open_in_log_dir(&dir, small_config(), start).unwrap();
    assert_eq!(log.log_end_offset(), 6, "nothing was scanned");
}

#[test]
fn a_partition_marker_written_before_the_change_still_opens_clean_once() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("t-0");
    let mut log = PartitionLog::open(&dir, small_config()).unwrap();
    append(&mut log, 0, 5);
    // `close` writes the partition's own marker, as every close did before.
    log.close().unwrap();
    assert!(dir.join(CLEAN_SHUTDOWN_FILE).exists());
    append_batch_with_bad_crc(&dir);

    let start = take_clean_shutdown_marker(root.path()).unwrap();
    assert_eq!(
        start,
        LogDirShutdown::Unclean,
        "no marker for the directory"
    );
    let mut log = PartitionLog::open_in_log_dir(&dir, small_config(), start).unwrap();
    assert_eq!(log.log_end_offset(), 6, "trusted as clean, as before");
    assert!(
        !dir.join(CLEAN_SHUTDOWN_FILE).exists(),
        "the marker counts once"
    );
    log.truncate_to(5).unwrap();
    append(&mut log, 5, 1);
    drop(log);
    append_batch_with_bad_crc(&dir);
    let log = PartitionLog::open_in_log_dir(&dir, small_config(), start).unwrap();
    assert_eq!(log.log_end_offset(), 6, "a crash after it is recovered");
    assert_eq!(
        values(&log),
        (0..6).map(|i| format!("v{i}")).collect::<Vec<_>>()
    );
}

#[test]
fn producer_state_survives_a_clean_stop_of_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("t-0");
    let mut log =
        PartitionLog::open_in_log_dir(&dir, small_config(), LogDirShutdown::Unclean).unwrap();
    let first = log
        .append(common::idempotent(&["a"], (7, 0, 0)), 0, NOW)
        .unwrap();
    log.close_in_log_dir().unwrap();
    mark_clean_shutdown(root.path()).unwrap();
    let start = take_clean_shutdown_marker(root.path()).unwrap();
    let mut log = PartitionLog::open_in_log_dir(&dir, small_config(), start).unwrap();
    let retry = log
        .append(common::idempotent(&["a"], (7, 0, 0)), 0, NOW)
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.first_offset, first.first_offset);
}

#[test]
fn a_new_leader_epoch_reaches_the_checkpoint_before_its_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("t-0");
    let checkpoint = part.join(kavka_storage::LEADER_EPOCH_FILE);
    let mut log = PartitionLog::open(&part, small_config()).unwrap();
    log.append(batch(&["a"], NOW), 1, NOW).unwrap();
    let before = fs::read_to_string(&checkpoint).unwrap();

    // Becoming leader: the epoch answers at once, but costs no write yet.
    log.assign_leader_epoch(3);
    assert_eq!(log.leader_epochs(), &[(1, 0), (3, 1)]);
    assert_eq!(fs::read_to_string(&checkpoint).unwrap(), before);

    // Its first record puts it on disk, so a crash right after keeps it.
    log.append(batch(&["b"], NOW), 3, NOW).unwrap();
    assert_eq!(
        fs::read_to_string(&checkpoint)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        ["0", "2", "1 0", "3 1"]
    );
    std::mem::forget(log);
    let log = PartitionLog::open(&part, small_config()).unwrap();
    assert_eq!(log.leader_epochs(), &[(1, 0), (3, 1)]);
}

#[test]
fn a_follower_writes_the_epoch_it_led_without_writes_before_fetched_records() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("t-0");
    let mut leader = PartitionLog::open(&part, small_config()).unwrap();
    leader.append(batch(&["a"], NOW), 1, NOW).unwrap();
    leader.assign_leader_epoch(2);
    // Led epoch 2 without writes, then follows a leader of epoch 3.
    let other_dir = tempfile::tempdir().unwrap();
    let mut other = PartitionLog::open(other_dir.path(), small_config()).unwrap();
    other.append(batch(&["a"], NOW), 1, NOW).unwrap();
    other.append(batch(&["b"], NOW), 3, NOW).unwrap();
    let fetched = other.read(1, 1 << 20, i64::MAX).unwrap().records;
    leader.append_as_follower(fetched, NOW).unwrap();
    assert_eq!(leader.leader_epochs(), &[(1, 0), (3, 1)]);
    drop(leader);
    let log = PartitionLog::open(&part, small_config()).unwrap();
    assert_eq!(log.leader_epochs(), &[(1, 0), (3, 1)]);
}

#[test]
fn an_epoch_led_without_writes_is_dropped_at_open_without_rewriting_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("t-0");
    let checkpoint = part.join(kavka_storage::LEADER_EPOCH_FILE);
    let mut log = PartitionLog::open(&part, small_config()).unwrap();
    log.append(batch(&["a"], NOW), 1, NOW).unwrap();
    log.assign_leader_epoch(2);
    drop(log);
    let written = fs::read_to_string(&checkpoint).unwrap();

    // Epoch 2 starts at the log end and holds nothing: the open forgets it, as
    // every open would, and leaves the file alone.
    let log = PartitionLog::open(&part, small_config()).unwrap();
    assert_eq!(log.leader_epochs(), &[(1, 0)]);
    assert_eq!(fs::read_to_string(&checkpoint).unwrap(), written);
    drop(log);
    let mut log = PartitionLog::open(&part, small_config()).unwrap();
    assert_eq!(log.leader_epochs(), &[(1, 0)]);

    // The next epoch is written from what the log knows, without the stale one.
    log.assign_leader_epoch(3);
    log.append(batch(&["b"], NOW), 3, NOW).unwrap();
    drop(log);
    let log = PartitionLog::open(&part, small_config()).unwrap();
    assert_eq!(log.leader_epochs(), &[(1, 0), (3, 1)]);
}
