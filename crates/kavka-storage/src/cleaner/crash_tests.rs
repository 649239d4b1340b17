//! A crash at every step of a cleaner swap: each intermediate file set, reopened,
//! must give a valid log in which every key still reads as its latest value.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::{clean, swap, Throttler};
use crate::{CleanupPolicy, LogConfig, PartitionLog};

const NOW: i64 = 1_700_000_000_000;

fn keyed(key: &str, value: Option<&str>) -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: NOW,
        key: Some(Bytes::from(key.to_string())),
        value: value.map(|v| Bytes::from(v.to_string())),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 600,
        cleanup_policy: CleanupPolicy::COMPACT,
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    }
}

/// Key → (offset, value) of the last record per key, reading the whole log.
fn latest(log: &PartitionLog) -> BTreeMap<String, (i64, Option<String>)> {
    let mut out = BTreeMap::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let data = log.read(offset, 1 << 20, i64::MAX).unwrap();
        let mut buf = data.records;
        let mut next = offset;
        while !buf.is_empty() {
            let header = crate::BatchHeader::parse(&buf).unwrap();
            next = next.max(header.last_offset() + 1);
            let set = RecordBatchDecoder::decode(&mut buf).unwrap();
            for r in set.records.into_iter().filter(|r| r.offset >= offset) {
                let key = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
                let value = r.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
                out.insert(key, (r.offset, value));
            }
        }
        assert!(next > offset, "read made no progress at {offset}");
        offset = next;
    }
    out
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(swap::CLEANED_SUFFIX) || n.ends_with(swap::MANIFEST_SUFFIX))
        .collect()
}

fn fill(dir: &Path) -> PartitionLog {
    let mut log = PartitionLog::open(dir, config()).unwrap();
    for round in 0..12 {
        for k in 0..5 {
            let value = format!("v{round}-{k}");
            let tombstone = round == 7 && k == 3;
            let v = (!tombstone).then_some(value.as_str());
            log.append(keyed(&format!("k{k}"), v), 0, NOW).unwrap();
        }
    }
    log
}

#[test]
fn crash_at_every_swap_step_reopens_to_the_latest_value_of_every_key() {
    // How many steps a full commit takes, from an uninterrupted run.
    let dir = tempfile::tempdir().unwrap();
    let mut log = fill(dir.path());
    let expected = latest(&log);
    let task = log.prepare_cleaning(None, i64::MAX, NOW).unwrap().unwrap();
    let cleaned = clean(
        &task,
        1 << 20,
        &mut Throttler::new(f64::INFINITY),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert!(
        cleaned.groups.len() > 1,
        "want several groups, got {}",
        cleaned.groups.len()
    );
    let total: usize = cleaned
        .groups
        .iter()
        .map(|g| swap::steps(dir.path(), &g.manifest, true).len())
        .sum();
    let size_before = log.size_bytes();
    assert!(log.commit_cleaning(cleaned).unwrap());
    assert!(log.size_bytes() < size_before);
    assert_eq!(latest(&log), expected);
    assert!(leftovers(dir.path()).is_empty());

    for crash_after in 0..=total {
        let dir = tempfile::tempdir().unwrap();
        let mut log = fill(dir.path());
        let task = log.prepare_cleaning(None, i64::MAX, NOW).unwrap().unwrap();
        let cleaned = clean(
            &task,
            1 << 20,
            &mut Throttler::new(f64::INFINITY),
            &AtomicBool::new(false),
        )
        .unwrap();
        log.commit_cleaning_steps(cleaned, Some(crash_after))
            .unwrap();
        // The crash: the process dies, nothing more is written.
        drop(log);
        let reopened = PartitionLog::open(dir.path(), config()).unwrap();
        assert_eq!(
            latest(&reopened),
            expected,
            "crash after step {crash_after}"
        );
        assert_eq!(reopened.log_end_offset(), 60);
        assert!(
            leftovers(dir.path()).is_empty(),
            "crash after step {crash_after}: {:?}",
            leftovers(dir.path())
        );
        // The reopened log can be cleaned to the end and keeps its answers.
        let mut reopened = reopened;
        if let Some(task) = reopened.prepare_cleaning(None, i64::MAX, NOW).unwrap() {
            let cleaned = clean(
                &task,
                1 << 20,
                &mut Throttler::new(f64::INFINITY),
                &AtomicBool::new(false),
            )
            .unwrap();
            assert!(reopened.commit_cleaning(cleaned).unwrap());
        }
        assert_eq!(latest(&reopened), expected);
    }
}

#[test]
fn crash_while_writing_cleaned_segments_leaves_the_old_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = fill(dir.path());
    let expected = latest(&log);
    let task = log.prepare_cleaning(None, i64::MAX, NOW).unwrap().unwrap();
    let cleaned = clean(
        &task,
        1 << 20,
        &mut Throttler::new(f64::INFINITY),
        &AtomicBool::new(false),
    )
    .unwrap();
    // The process dies with `.cleaned` files on disk and no manifest.
    std::mem::forget(cleaned);
    drop(log);
    assert!(!leftovers(dir.path()).is_empty());
    let reopened = PartitionLog::open(dir.path(), config()).unwrap();
    assert_eq!(latest(&reopened), expected);
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_swap_that_fails_after_its_commit_point_is_finished_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = fill(dir.path());
    let expected = latest(&log);
    let task = log.prepare_cleaning(None, i64::MAX, NOW).unwrap().unwrap();
    let cleaned = clean(
        &task,
        1 << 20,
        &mut Throttler::new(f64::INFINITY),
        &AtomicBool::new(false),
    )
    .unwrap();
    // Something the swap cannot remove where the first segment's index was.
    let blocked = dir.path().join(crate::segment::file_name(0, "index"));
    std::fs::remove_file(&blocked).unwrap();
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("x"), b"x").unwrap();
    assert!(log.commit_cleaning(cleaned).is_err());
    // The commit point was passed: the manifest stays for the next open.
    assert!(!leftovers(dir.path()).is_empty());
    drop(log);
    std::fs::remove_dir_all(&blocked).unwrap();
    let reopened = PartitionLog::open(dir.path(), config()).unwrap();
    assert_eq!(latest(&reopened), expected);
    assert!(leftovers(dir.path()).is_empty());
}
