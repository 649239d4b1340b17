//! What a log tells the broker's upkeep timer: when its next time-based roll or
//! flush may be due, and whether it holds an open segment file.

mod common;

use common::batch;
use kavka_storage::{LogConfig, PartitionLog};

const NOW: i64 = 1_700_000_000_000;

#[test]
fn an_empty_log_has_no_upkeep_due() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!(log.next_upkeep_ms(NOW), None);
}

#[test]
fn a_written_segment_is_due_to_roll_segment_ms_after_its_first_append() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    log.append(batch(&["b"], NOW), 0, NOW + 300).unwrap();
    assert_eq!(log.next_upkeep_ms(NOW + 300), Some(NOW + 1000));
    log.maybe_roll(NOW + 1000).unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(
        log.next_upkeep_ms(NOW + 1000),
        None,
        "the new active segment is empty and nothing is unflushed"
    );
}

#[test]
fn unflushed_records_are_due_at_flush_ms_only_when_it_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    let week = LogConfig::default().segment_ms;
    assert_eq!(
        log.next_upkeep_ms(NOW),
        Some(NOW + week),
        "without flush.ms only the roll is timed"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_ms: Some(200),
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    assert_eq!(log.next_upkeep_ms(NOW), Some(NOW + 200));
    log.flush(false, NOW + 200).unwrap();
    assert_eq!(
        log.next_upkeep_ms(NOW + 200),
        Some(NOW + week),
        "flushed: the roll is next"
    );
}

#[test]
fn open_files_are_reported_until_an_idle_sweep_closes_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    assert!(log.has_open_files());
    log.close_idle_files();
    assert!(log.has_open_files(), "used since the last sweep");
    log.close_idle_files();
    assert!(!log.has_open_files());
}
