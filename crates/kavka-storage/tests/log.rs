//! Behaviour of one partition log through its public API.

mod common;

use bytes::Bytes;
use common::{batch, decode, encode, idempotent, small_config};
use kafka_protocol::records::Compression;
use kavka_storage::{
    BatchHeader, CleanupPolicy, LogConfig, PartitionLog, StorageError, TimestampType,
};

const NOW: i64 = 1_700_000_000_000;

fn open(dir: &std::path::Path) -> PartitionLog {
    PartitionLog::open(dir, LogConfig::default()).unwrap()
}

fn read_all(log: &PartitionLog, from: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let data = log.read(offset, 1 << 20, i64::MAX).unwrap();
        let records = decode(&data.records);
        let last = records.last().map(|r| r.0).expect("non-empty read");
        out.extend(records.into_iter().filter(|r| r.0 >= offset));
        offset = last + 1;
    }
    out
}

#[test]
fn append_then_read_gives_contiguous_offsets_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    let a = log.append(batch(&["a", "b", "c"], NOW), 0, NOW).unwrap();
    let b = log.append(batch(&["d", "e"], NOW), 0, NOW).unwrap();
    assert_eq!((a.first_offset, a.last_offset, a.record_count), (0, 2, 3));
    assert_eq!((b.first_offset, b.last_offset, b.record_count), (3, 4, 2));
    assert_eq!(a.log_append_time, -1);
    assert!(!a.duplicate);
    assert_eq!(log.log_end_offset(), 5);
    let records = decode(&log.read(0, 1 << 20, i64::MAX).unwrap().records);
    let expected: Vec<(i64, String)> = ["a", "b", "c", "d", "e"]
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64, v.to_string()))
        .collect();
    assert_eq!(records, expected);
}

#[test]
fn stored_batch_carries_offset_and_leader_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    log.append(batch(&["a"], NOW), 3, NOW).unwrap();
    log.append(batch(&["b", "c"], NOW), 3, NOW).unwrap();
    let data = log.read(1, 1 << 20, i64::MAX).unwrap();
    let header = BatchHeader::parse(&data.records).unwrap();
    assert_eq!(header.base_offset, 1);
    assert_eq!(header.partition_leader_epoch, 3);
}

#[test]
fn read_from_middle_of_batch_returns_that_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    log.append(batch(&["a", "b"], NOW), 0, NOW).unwrap();
    log.append(batch(&["c", "d", "e"], NOW), 0, NOW).unwrap();
    let records = decode(&log.read(3, 1 << 20, i64::MAX).unwrap().records);
    assert_eq!(records.first().map(|r| r.0), Some(2));
    assert_eq!(records.len(), 3);
}

#[test]
fn max_bytes_is_honoured_but_one_batch_always_returned() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    let one = batch(&["aaaaaaaaaa"], NOW);
    for _ in 0..5 {
        log.append(one.clone(), 0, NOW).unwrap();
    }
    let tiny = log.read(0, 1, i64::MAX).unwrap();
    assert_eq!(tiny.records.len(), one.len());
    let two = log.read(0, one.len() * 2 + 5, i64::MAX).unwrap();
    assert_eq!(two.records.len(), one.len() * 2);
}

#[test]
fn read_stops_before_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    for v in ["a", "b", "c"] {
        log.append(batch(&[v], NOW), 0, NOW).unwrap();
    }
    let records = decode(&log.read(0, 1 << 20, 2).unwrap().records);
    assert_eq!(records.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 1]);
    assert!(log.read(2, 1 << 20, 2).unwrap().records.is_empty());
}

#[test]
fn read_at_log_end_is_empty_and_beyond_is_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    assert!(log.read(0, 100, i64::MAX).unwrap().records.is_empty());
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    assert!(log.read(1, 100, i64::MAX).unwrap().records.is_empty());
    assert!(matches!(
        log.read(2, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange {
            offset: 2,
            log_end: 1,
            ..
        })
    ));
    assert!(matches!(
        log.read(-1, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn corrupt_crc_is_rejected_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    let good = batch(&["b"], NOW);
    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    // A valid batch first: the whole request must still be refused.
    let mut request = good.to_vec();
    request.extend_from_slice(&bad);
    let err = log.append(Bytes::from(request), 0, NOW).unwrap_err();
    assert!(matches!(err, StorageError::CorruptMessage(_)), "{err:?}");
    assert_eq!(log.log_end_offset(), 1);
    let size = log.size_bytes();
    assert_eq!(
        decode(&log.read(0, 1 << 20, i64::MAX).unwrap().records).len(),
        1
    );
    assert_eq!(size, batch(&["a"], NOW).len() as u64);
}

#[test]
fn truncated_record_set_and_old_magic_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    let good = batch(&["a", "b"], NOW);
    let err = log
        .append(good.slice(..good.len() - 3), 0, NOW)
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidRecord(_)), "{err:?}");
    let mut old = good.to_vec();
    old[16] = 1;
    let err = log.append(Bytes::from(old), 0, NOW).unwrap_err();
    assert!(matches!(err, StorageError::CorruptMessage(_)), "{err:?}");
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn batch_larger_than_max_message_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        max_message_bytes: 100,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    let big = "x".repeat(200);
    let err = log.append(batch(&[&big], NOW), 0, NOW).unwrap_err();
    assert!(
        matches!(err, StorageError::MessageTooLarge { max: 100, .. }),
        "{err:?}"
    );
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn segments_roll_by_size_and_reads_cross_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    let mut expected = Vec::new();
    for i in 0..60 {
        let v = format!("value-{i:03}");
        log.append(batch(&[&v, &v], NOW), 0, NOW).unwrap();
        expected.push((2 * i as i64, v.clone()));
        expected.push((2 * i as i64 + 1, v));
    }
    let log_files = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap_or_default() == "log")
        .count();
    assert!(log_files >= 5, "only {log_files} segments");
    assert_eq!(log.segment_count(), log_files);
    assert!(dir.path().join("00000000000000000000.log").exists());
    assert_eq!(read_all(&log, 0), expected);
    // Every offset is reachable directly, through the sparse index.
    for offset in 0..120 {
        let records = decode(&log.read(offset, 1, i64::MAX).unwrap().records);
        assert!(records.iter().any(|r| r.0 == offset), "offset {offset}");
    }
}

#[test]
fn retention_by_size_deletes_oldest_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for i in 0..60 {
        log.append(batch(&[&format!("v{i}")], NOW), 0, NOW).unwrap();
    }
    let before = log.segment_count();
    log.set_config(LogConfig {
        retention_bytes: Some(1500),
        ..small_config()
    });
    let deleted = log.apply_retention(NOW).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.segment_count(), before - deleted);
    assert!(log.size_bytes() >= 1500 - 1024);
    assert!(log.log_start_offset() > 0);
    assert_eq!(log.log_end_offset(), 60);
    assert!(matches!(
        log.read(0, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    let start = log.log_start_offset();
    assert_eq!(read_all(&log, start).first().map(|r| r.0), Some(start));
    // Unlimited size pressure never removes the active segment.
    log.set_config(LogConfig {
        retention_bytes: Some(0),
        ..small_config()
    });
    log.apply_retention(NOW).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_end_offset(), 60);
}

#[test]
fn retention_by_time_deletes_expired_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for i in 0..30 {
        log.append(batch(&[&format!("old-{i}")], 1_000), 0, NOW)
            .unwrap();
    }
    let old_end = log.log_end_offset();
    // Force a roll so the old records are all in closed segments.
    log.append(batch(&[&"n".repeat(900)], NOW), 0, NOW).unwrap();
    for i in 0..3 {
        log.append(batch(&[&format!("new-{i}")], NOW), 0, NOW)
            .unwrap();
    }
    log.set_config(LogConfig {
        retention_ms: Some(60_000),
        ..small_config()
    });
    let deleted = log.apply_retention(NOW).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.log_start_offset(), old_end);
    assert_eq!(log.apply_retention(NOW).unwrap(), 0);
    assert_eq!(read_all(&log, old_end).len(), 4);
    // Everything expired: still the active segment stays.
    log.apply_retention(NOW + 10 * 60_000).unwrap();
    assert!(log.segment_count() >= 1);
    assert_eq!(log.log_end_offset(), old_end + 4);
}

#[test]
fn retention_follows_cleanup_policy() {
    let expiring = |policy| LogConfig {
        retention_ms: Some(60_000),
        retention_bytes: Some(0),
        cleanup_policy: policy,
        ..small_config()
    };
    for (policy, trimmed) in [
        (CleanupPolicy::COMPACT, false),
        (CleanupPolicy::DELETE, true),
        (CleanupPolicy::parse("compact,delete"), true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), expiring(policy)).unwrap();
        for i in 0..30 {
            log.append(batch(&[&format!("old-{i}")], 1_000), 0, NOW)
                .unwrap();
        }
        let segments = log.segment_count();
        assert!(segments > 1);
        let deleted = log.apply_retention(NOW).unwrap();
        assert_eq!(deleted > 0, trimmed, "{policy:?}");
        if !trimmed {
            assert_eq!(log.segment_count(), segments);
            assert_eq!(log.log_start_offset(), 0);
            assert_eq!(read_all(&log, 0).len(), 30);
        }
    }
}

#[test]
fn idempotent_retry_is_a_duplicate_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    log.append(batch(&["x"], NOW), 0, NOW).unwrap();
    let first = log
        .append(idempotent(&["a", "b"], (42, 0, 0)), 0, NOW)
        .unwrap();
    let second = log.append(idempotent(&["c"], (42, 0, 2)), 0, NOW).unwrap();
    let size = log.size_bytes();
    let retry = log
        .append(idempotent(&["a", "b"], (42, 0, 0)), 0, NOW)
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(
        (retry.first_offset, retry.last_offset),
        (first.first_offset, first.last_offset)
    );
    assert_eq!(retry.record_count, 0);
    assert_eq!(log.size_bytes(), size);
    assert_eq!(log.log_end_offset(), second.last_offset + 1);
}

#[test]
fn sequence_gap_is_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    log.append(idempotent(&["a"], (7, 0, 0)), 0, NOW).unwrap();
    let err = log
        .append(idempotent(&["b"], (7, 0, 2)), 0, NOW)
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::OutOfOrderSequence {
            producer_id: 7,
            expected: 1,
            got: 2
        }
    ));
    assert_eq!(log.log_end_offset(), 1);
}

#[test]
fn older_producer_epoch_is_fenced_and_new_epoch_restarts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    log.append(idempotent(&["a"], (7, 2, 0)), 0, NOW).unwrap();
    let err = log
        .append(idempotent(&["b"], (7, 1, 1)), 0, NOW)
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::InvalidProducerEpoch {
            producer_id: 7,
            current: 2,
            got: 1
        }
    ));
    let err = log
        .append(idempotent(&["b"], (7, 3, 5)), 0, NOW)
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::OutOfOrderSequence { expected: 0, .. }
    ));
    log.append(idempotent(&["b"], (7, 3, 0)), 0, NOW).unwrap();
}

#[test]
fn producer_state_survives_close_and_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    let original = log
        .append(idempotent(&["a", "b"], (9, 0, 0)), 0, NOW)
        .unwrap();
    log.close().unwrap();
    let mut log = open(dir.path());
    let retry = log
        .append(idempotent(&["a", "b"], (9, 0, 0)), 0, NOW)
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.first_offset, original.first_offset);
    assert!(matches!(
        log.append(idempotent(&["c"], (9, 0, 5)), 0, NOW),
        Err(StorageError::OutOfOrderSequence { expected: 2, .. })
    ));
}

#[test]
fn producer_state_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    // Enough data for rolls (snapshots) and then batches after the last snapshot.
    for i in 0..20 {
        log.append(batch(&[&"p".repeat(80)], NOW), 0, NOW).unwrap();
        log.append(idempotent(&[&format!("i{i}")], (5, 0, i)), 0, NOW)
            .unwrap();
    }
    let last = log
        .append(idempotent(&["last"], (5, 0, 20)), 0, NOW)
        .unwrap();
    drop(log); // no close: no clean-shutdown marker
    assert!(!dir.path().join(kavka_storage::CLEAN_SHUTDOWN_FILE).exists());
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.log_end_offset(), last.last_offset + 1);
    let retry = log
        .append(idempotent(&["last"], (5, 0, 20)), 0, NOW)
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.first_offset, last.first_offset);
    let next = log
        .append(idempotent(&["next"], (5, 0, 21)), 0, NOW)
        .unwrap();
    assert_eq!(next.first_offset, last.last_offset + 1);
}

#[test]
fn log_append_time_stamps_the_batch_and_keeps_a_valid_crc() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    let info = log.append(batch(&["a", "b"], 5), 0, NOW).unwrap();
    assert_eq!(info.log_append_time, NOW);
    let data = log.read(0, 1 << 20, i64::MAX).unwrap();
    let header = BatchHeader::parse(&data.records).unwrap();
    assert_eq!(header.max_timestamp, NOW);
    assert_eq!(header.base_timestamp, NOW);
    assert_ne!(header.attributes & 0x08, 0);
    assert_eq!(header.crc, crc32c::crc32c(&data.records[21..]));
    // A client decoder accepts it too (it checks the CRC).
    assert_eq!(decode(&data.records).len(), 2);
    assert_eq!(log.offset_for_timestamp(NOW).unwrap(), Some((0, NOW)));
}

#[test]
fn gzip_batches_are_stored_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    let gz = encode(&["g1", "g2", "g3"], NOW, Compression::Gzip, None);
    let header = BatchHeader::parse(&gz).unwrap();
    assert!(header.is_compressed());
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    log.append(gz.clone(), 0, NOW).unwrap();
    let data = log.read(2, 1 << 20, i64::MAX).unwrap();
    assert_eq!(&data.records[61..], &gz[61..]);
    let values: Vec<String> = decode(&data.records).into_iter().map(|r| r.1).collect();
    assert_eq!(values, vec!["g1", "g2", "g3"]);
}

#[test]
fn offset_for_timestamp_finds_first_newer_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    // Batch i holds timestamps 1000*i, 1000*i + 1, 1000*i + 2.
    for i in 0..30 {
        log.append(batch(&["a", "b", "c"], 1000 * i), 0, NOW)
            .unwrap();
    }
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 0)));
    assert_eq!(log.offset_for_timestamp(5_001).unwrap(), Some((16, 5_001)));
    assert_eq!(log.offset_for_timestamp(5_500).unwrap(), Some((18, 6_000)));
    assert_eq!(
        log.offset_for_timestamp(29_002).unwrap(),
        Some((89, 29_002))
    );
    assert_eq!(log.offset_for_timestamp(29_003).unwrap(), None);
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((89, 29_002)));
    // Compressed: the batch is the answer.
    log.append(encode(&["x", "y"], 40_000, Compression::Gzip, None), 0, NOW)
        .unwrap();
    assert_eq!(
        log.offset_for_timestamp(40_001).unwrap(),
        Some((90, 40_001))
    );
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((90, 40_001)));
}

#[test]
fn end_offset_for_epoch_uses_the_next_epoch_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    assert_eq!(log.end_offset_for_epoch(0), None);
    assert_eq!(log.latest_epoch(), -1);
    log.append(batch(&["a", "b"], NOW), 1, NOW).unwrap();
    log.append(batch(&["c"], NOW), 1, NOW).unwrap();
    log.append(batch(&["d", "e"], NOW), 3, NOW).unwrap();
    log.append(batch(&["f"], NOW), 4, NOW).unwrap();
    assert_eq!(log.latest_epoch(), 4);
    assert_eq!(log.end_offset_for_epoch(0), None);
    assert_eq!(log.end_offset_for_epoch(1), Some((1, 3)));
    assert_eq!(log.end_offset_for_epoch(2), Some((1, 3)));
    assert_eq!(log.end_offset_for_epoch(3), Some((3, 5)));
    assert_eq!(log.end_offset_for_epoch(7), Some((4, 6)));
    log.close().unwrap();
    let log = open(dir.path());
    assert_eq!(log.end_offset_for_epoch(3), Some((3, 5)));
}

#[test]
fn delete_records_before_moves_log_start_and_drops_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for i in 0..60 {
        log.append(batch(&[&format!("v{i}")], NOW), 0, NOW).unwrap();
    }
    let before = log.segment_count();
    assert_eq!(log.delete_records_before(35).unwrap(), 35);
    assert_eq!(log.delete_records_before(10).unwrap(), 35);
    assert!(log.segment_count() < before);
    assert!(matches!(
        log.read(34, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log, 35).first().map(|r| r.0), Some(35));
    drop(log);
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.log_start_offset(), 35);
}

#[test]
fn reopen_after_close_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for i in 0..50 {
        log.append(batch(&[&format!("v{i}"), "w"], i), 2, NOW)
            .unwrap();
    }
    let records = read_all(&log, 0);
    let (size, segments) = (log.size_bytes(), log.segment_count());
    let max_ts = log.max_timestamp_offset().unwrap();
    let ts = log.offset_for_timestamp(30).unwrap();
    log.close().unwrap();
    assert!(dir.path().join(kavka_storage::CLEAN_SHUTDOWN_FILE).exists());
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    assert!(!dir.path().join(kavka_storage::CLEAN_SHUTDOWN_FILE).exists());
    assert_eq!(log.log_end_offset(), 100);
    assert_eq!((log.size_bytes(), log.segment_count()), (size, segments));
    assert_eq!(read_all(&log, 0), records);
    assert_eq!(log.max_timestamp_offset().unwrap(), max_ts);
    assert_eq!(log.offset_for_timestamp(30).unwrap(), ts);
    assert_eq!(log.latest_epoch(), 2);
    assert_eq!(
        log.append(batch(&["z"], NOW), 2, NOW).unwrap().first_offset,
        100
    );
}

#[test]
fn truncate_to_drops_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for i in 0..40 {
        log.append(batch(&[&format!("v{i}")], NOW), i / 10, NOW)
            .unwrap();
    }
    log.truncate_to(25).unwrap();
    assert_eq!(log.log_end_offset(), 25);
    assert_eq!(log.latest_epoch(), 2);
    assert_eq!(read_all(&log, 0).len(), 25);
    assert_eq!(
        log.append(batch(&["n"], NOW), 5, NOW).unwrap().first_offset,
        25
    );
    assert_eq!(log.end_offset_for_epoch(2), Some((2, 25)));
    log.truncate_to(0).unwrap();
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn flush_messages_and_flush_ms_fsync_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_messages: Some(2),
        flush_ms: Some(10),
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    log.append(batch(&["a", "b", "c"], NOW), 0, NOW).unwrap();
    assert!(dir.path().join(kavka_storage::RECOVERY_POINT_FILE).exists());
    log.append(batch(&["d"], NOW), 0, NOW).unwrap();
    log.flush(false, NOW + 20).unwrap();
    log.flush(true, NOW + 21).unwrap();
}

#[test]
fn segment_ms_rolls_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    log.maybe_roll(NOW + 10).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.maybe_roll(NOW + 1000).unwrap();
    assert_eq!(log.segment_count(), 2);
    log.append(batch(&["b"], NOW), 0, NOW + 1001).unwrap();
    assert!(dir.path().join("00000000000000000001.log").exists());
}

#[test]
fn delete_removes_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topic-0");
    let mut log = open(&path);
    log.append(batch(&["a"], NOW), 0, NOW).unwrap();
    log.delete().unwrap();
    assert!(!path.exists());
}
