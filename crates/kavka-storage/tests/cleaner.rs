//! The log cleaner through the public API: prepare under the "lock", clean without
//! it, commit; then reopen, cleanly and after a crash.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use bytes::{Bytes, BytesMut};
use common::small_config;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kavka_storage::cleaner::{clean, Throttler};
use kavka_storage::{BatchHeader, CleanupPolicy, LogConfig, PartitionLog, StorageError};

const NOW: i64 = 1_700_000_000_000;

fn compact_config() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        min_cleanable_dirty_ratio: 0.0,
        ..small_config()
    }
}

/// One record of a produced batch.
#[derive(Clone)]
struct Rec {
    key: String,
    value: Option<String>,
    timestamp: i64,
    headers: Vec<(&'static str, String)>,
}

fn rec(key: &str, value: Option<&str>) -> Rec {
    Rec {
        key: key.into(),
        value: value.map(Into::into),
        timestamp: NOW,
        headers: Vec::new(),
    }
}

fn produce(recs: &[Rec], compression: Compression, producer: Option<(i64, i16, i32)>) -> Bytes {
    let records: Vec<Record> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map_or(-1, |p| p.0),
            producer_epoch: producer.map_or(-1, |p| p.1),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: producer.map_or(i as i32 - 1, |p| p.2 + i as i32),
            timestamp: r.timestamp,
            key: Some(Bytes::from(r.key.clone())),
            value: r.value.clone().map(Bytes::from),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (StrBytes::from_static_str(k), Some(Bytes::from(v.clone()))))
                .collect(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.freeze()
}

fn put(log: &mut PartitionLog, key: &str, value: Option<&str>) -> i64 {
    log.append(produce(&[rec(key, value)], Compression::None, None), 0, NOW)
        .unwrap()
        .first_offset
}

/// One whole pass; returns the next first dirty offset, None when nothing to do.
fn clean_once(log: &mut PartitionLog, checkpoint: Option<i64>, now: i64) -> Option<i64> {
    clean_with(log, checkpoint, now, 1 << 20)
}

fn clean_with(
    log: &mut PartitionLog,
    checkpoint: Option<i64>,
    now: i64,
    map: usize,
) -> Option<i64> {
    let task = log.prepare_cleaning(checkpoint, i64::MAX, now).unwrap()?;
    let cleaned = clean(
        &task,
        map,
        &mut Throttler::new(f64::INFINITY),
        &AtomicBool::new(false),
    )
    .unwrap();
    let next = cleaned.next_dirty_offset;
    assert!(log.commit_cleaning(cleaned).unwrap());
    Some(next)
}

/// Every record a consumer reading from the start sees: (offset, record, batch header).
fn read_all(log: &PartitionLog) -> Vec<(i64, Record, BatchHeader)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let data = log.read(offset, 1 << 20, i64::MAX).unwrap();
        let mut buf = data.records;
        let mut next = offset;
        while !buf.is_empty() {
            let header = BatchHeader::parse(&buf).unwrap();
            next = next.max(header.last_offset() + 1);
            let set = RecordBatchDecoder::decode(&mut buf).unwrap();
            for r in set.records.into_iter().filter(|r| r.offset >= offset) {
                out.push((r.offset, r, header));
            }
        }
        assert!(next > offset);
        offset = next;
    }
    out
}

/// (offset, key, value) of every record.
fn contents(log: &PartitionLog) -> Vec<(i64, String, Option<String>)> {
    read_all(log)
        .into_iter()
        .map(|(o, r, _)| {
            let s = |b: Bytes| String::from_utf8(b.to_vec()).unwrap();
            (o, s(r.key.unwrap()), r.value.map(s))
        })
        .collect()
}

fn leftover_cleaner_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".cleaned") || n.ends_with(".cleaner-swap"))
        .collect()
}

#[test]
fn cleaning_keeps_the_latest_record_per_key_at_its_offset_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..200 {
        let key = format!("k{}", i % 17);
        let value = format!("v{i}");
        let offset = put(&mut log, &key, Some(&value));
        model.insert(key, (offset, value));
    }
    let size_before = log.size_bytes();
    let before = contents(&log);
    let next = clean_once(&mut log, None, NOW).unwrap();
    assert!(log.size_bytes() < size_before / 2);
    let after = contents(&log);
    // Every record kept is one that was there, at its offset.
    assert!(after.iter().all(|r| before.contains(r)));
    assert!(after.windows(2).all(|w| w[0].0 < w[1].0));
    // Below the cleaned range end, exactly one record per key survives.
    let cleaned_part: Vec<_> = after.iter().filter(|r| r.0 < next).collect();
    let keys: std::collections::BTreeSet<_> = cleaned_part.iter().map(|r| &r.1).collect();
    assert_eq!(keys.len(), cleaned_part.len());
    // And a consumer still sees every key's latest value.
    let latest = |rs: &[(i64, String, Option<String>)]| {
        rs.iter()
            .map(|(o, k, v)| (k.clone(), (*o, v.clone().unwrap())))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(latest(&after), model);
    // The log end and start do not move.
    assert_eq!(log.log_end_offset(), 200);
    assert_eq!(log.log_start_offset(), 0);

    log.close().unwrap();
    let log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    assert_eq!(contents(&log), after);
    // After a crash (no clean-shutdown marker) every segment is scanned again.
    drop(log);
    std::fs::remove_file(dir.path().join(kavka_storage::RECOVERY_POINT_FILE)).ok();
    let log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    assert_eq!(contents(&log), after);
    assert!(leftover_cleaner_files(dir.path()).is_empty());
}

#[test]
fn tombstones_outlive_delete_retention_after_their_first_cleaning_then_go() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        delete_retention_ms: 60_000,
        ..compact_config()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    put(&mut log, "gone", Some("a"));
    put(&mut log, "kept", Some("b"));
    let tombstone = put(&mut log, "gone", None);
    for i in 0..40 {
        put(&mut log, &format!("filler{}", i % 5), Some("x"));
    }
    let next = clean_once(&mut log, None, NOW).unwrap();
    let after = contents(&log);
    assert!(!after.iter().any(|r| r.1 == "gone" && r.2.is_some()));
    assert!(
        after.contains(&(tombstone, "gone".into(), None)),
        "tombstone must stay until its horizon"
    );
    let horizon_batch = read_all(&log)
        .into_iter()
        .find(|(o, _, _)| *o == tombstone)
        .map(|(_, r, h)| (r.delete_horizon, h.base_timestamp))
        .unwrap();
    assert_eq!(horizon_batch, (true, NOW + 60_000));

    // More writes make the log dirty again; a pass before the horizon keeps it.
    for i in 0..40 {
        put(&mut log, &format!("filler{}", i % 5), Some("y"));
    }
    let next = clean_once(&mut log, Some(next), NOW + 59_999).unwrap();
    assert!(contents(&log).contains(&(tombstone, "gone".into(), None)));
    for i in 0..40 {
        put(&mut log, &format!("filler{}", i % 5), Some("z"));
    }
    clean_once(&mut log, Some(next), NOW + 60_000).unwrap();
    let after = contents(&log);
    assert!(
        !after.iter().any(|r| r.1 == "gone"),
        "tombstone past its horizon must go"
    );
    assert!(after.iter().any(|r| r.1 == "kept"));
}

#[test]
fn compressed_batches_keep_codec_headers_and_timestamps() {
    for compression in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
        let batch: Vec<Rec> = (0..6)
            .map(|i| Rec {
                key: format!("k{}", i % 3),
                value: Some(format!("value-{i}")),
                timestamp: NOW + i * 1000,
                headers: vec![("trace", format!("t{i}")), ("origin", "test".into())],
            })
            .collect();
        log.append(produce(&batch, compression, None), 0, NOW)
            .unwrap();
        for i in 0..30 {
            put(&mut log, &format!("other{}", i % 4), Some(&"p".repeat(60)));
        }
        clean_once(&mut log, None, NOW).unwrap();
        let all = read_all(&log);
        let survivors: Vec<_> = all.iter().filter(|(o, _, _)| *o < 6).collect();
        assert_eq!(
            survivors.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        for (offset, record, header) in survivors {
            assert_eq!(header.attributes & 7, compression as i16, "{compression:?}");
            assert_eq!(header.base_offset, 0);
            assert_eq!(header.last_offset(), 5);
            assert_eq!(record.timestamp, NOW + offset * 1000);
            assert_eq!(
                record.value.as_deref(),
                Some(format!("value-{offset}").as_bytes())
            );
            let headers: Vec<_> = record
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            assert_eq!(
                headers,
                vec![
                    ("trace".to_string(), Some(Bytes::from(format!("t{offset}")))),
                    ("origin".to_string(), Some(Bytes::from("test"))),
                ]
            );
        }
    }
}

#[test]
fn idempotent_producer_continues_after_its_batches_are_cleaned_away() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    let producer = (4242, 0, 0);
    log.append(
        produce(
            &[rec("p", Some("1")), rec("q", Some("1"))],
            Compression::None,
            Some(producer),
        ),
        0,
        NOW,
    )
    .unwrap();
    log.append(
        produce(
            &[rec("p", Some("2"))],
            Compression::None,
            Some((4242, 0, 2)),
        ),
        0,
        NOW,
    )
    .unwrap();
    // Others overwrite both keys, so none of the producer's records survive.
    for i in 0..30 {
        put(
            &mut log,
            if i % 2 == 0 { "p" } else { "q" },
            Some(&"o".repeat(60)),
        );
    }
    clean_once(&mut log, None, NOW).unwrap();
    // The producer's last batch stays as an empty shell holding its last sequence.
    let shells: Vec<_> = {
        let mut offset = 0;
        let mut found = Vec::new();
        while offset < log.log_end_offset() {
            let data = log.read(offset, 1 << 20, i64::MAX).unwrap();
            let mut buf = &data.records[..];
            let mut next = offset;
            while !buf.is_empty() {
                let h = BatchHeader::parse(buf).unwrap();
                if h.producer_id == 4242 {
                    found.push((h.base_offset, h.record_count, h.last_sequence()));
                }
                next = next.max(h.last_offset() + 1);
                buf = &buf[h.size()..];
            }
            offset = next;
        }
        found
    };
    assert_eq!(shells, vec![(2, 0, 2)]);
    // After a crash that lost the producer snapshot, state is rebuilt from the log.
    drop(log);
    std::fs::remove_file(dir.path().join(kavka_storage::PRODUCER_STATE_FILE)).unwrap();
    std::fs::remove_file(dir.path().join(kavka_storage::RECOVERY_POINT_FILE)).ok();
    let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    // The retry of the last batch is still recognised, the next sequence accepted.
    let retry = log
        .append(
            produce(
                &[rec("p", Some("2"))],
                Compression::None,
                Some((4242, 0, 2)),
            ),
            0,
            NOW,
        )
        .unwrap();
    assert!(retry.duplicate);
    log.append(
        produce(
            &[rec("p", Some("3"))],
            Compression::None,
            Some((4242, 0, 3)),
        ),
        0,
        NOW,
    )
    .unwrap();
    assert!(matches!(
        log.append(
            produce(
                &[rec("p", Some("9"))],
                Compression::None,
                Some((4242, 0, 9))
            ),
            0,
            NOW
        ),
        Err(StorageError::OutOfOrderSequence { .. })
    ));
}

#[test]
fn cleaning_is_discarded_when_the_log_changed_underneath() {
    type Change = fn(&mut PartitionLog);
    let changes: [(&str, Change); 3] = [
        ("delete records", |log| {
            log.delete_records_before(30).unwrap();
        }),
        ("truncation", |log| log.truncate_to(20).unwrap()),
        ("retention", |log| {
            let mut config = compact_config();
            config.cleanup_policy = CleanupPolicy::parse("compact,delete");
            config.retention_bytes = Some(0);
            log.set_config(config);
            assert!(log.apply_retention(NOW).unwrap() > 0);
        }),
    ];
    for (name, change) in changes {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
        for i in 0..60 {
            put(&mut log, &format!("k{}", i % 3), Some(&format!("v{i}")));
        }
        let task = log.prepare_cleaning(None, i64::MAX, NOW).unwrap().unwrap();
        let cleaned = clean(
            &task,
            1 << 20,
            &mut Throttler::new(f64::INFINITY),
            &AtomicBool::new(false),
        )
        .unwrap();
        change(&mut log);
        let expected = contents(&log);
        assert!(!log.commit_cleaning(cleaned).unwrap(), "{name}");
        assert_eq!(contents(&log), expected, "{name}");
        assert!(leftover_cleaner_files(dir.path()).is_empty(), "{name}");
    }
}

#[test]
fn a_small_offset_map_cleans_in_several_passes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    for round in 0..6 {
        for k in 0..20 {
            put(&mut log, &format!("key-{k:02}"), Some(&format!("r{round}")));
        }
    }
    let expected: BTreeMap<String, String> = (0..20)
        .map(|k| (format!("key-{k:02}"), "r5".to_string()))
        .collect();
    // Room for about five keys per pass.
    let mut checkpoint = None;
    let mut passes = 0;
    while let Some(next) = clean_with(&mut log, checkpoint, NOW, 5 * 60) {
        assert!(
            checkpoint.is_none_or(|c| next > c),
            "every pass makes progress"
        );
        checkpoint = Some(next);
        passes += 1;
        assert!(passes < 50);
    }
    assert!(passes > 1);
    let latest: BTreeMap<String, String> = contents(&log)
        .into_iter()
        .map(|(_, k, v)| (k, v.unwrap()))
        .collect();
    assert_eq!(latest, expected);
}

#[test]
fn delete_policy_logs_are_never_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(
        dir.path(),
        LogConfig {
            min_cleanable_dirty_ratio: 0.0,
            ..small_config()
        },
    )
    .unwrap();
    for i in 0..60 {
        put(&mut log, "same", Some(&format!("v{i}")));
    }
    assert!(log.prepare_cleaning(None, i64::MAX, NOW).unwrap().is_none());
}

#[test]
fn incremental_pass_swaps_group_by_group_and_stops_when_the_log_changes() {
    let fill = |dir: &std::path::Path| {
        let mut log = PartitionLog::open(dir, compact_config()).unwrap();
        for i in 0..200 {
            put(&mut log, &format!("k{}", i % 17), Some(&format!("v{i}")));
        }
        log
    };
    let latest = |log: &PartitionLog| {
        contents(log)
            .into_iter()
            .map(|(o, k, v)| (k, (o, v)))
            .collect::<BTreeMap<_, _>>()
    };
    let never = AtomicBool::new(false);

    let dir = tempfile::tempdir().unwrap();
    let mut log = fill(dir.path());
    let expected = latest(&log);
    let task = log.prepare_cleaning(None, i64::MAX, NOW).unwrap().unwrap();
    let mut commits = 0;
    let outcome = kavka_storage::cleaner::clean_incrementally(
        &task,
        1 << 20,
        &mut Throttler::new(f64::INFINITY),
        &never,
        &mut |cleaned| {
            commits += 1;
            Ok(log.commit_cleaning(cleaned)?)
        },
    )
    .unwrap();
    assert!(outcome.completed);
    assert!(commits > 1, "one commit per group, got {commits}");
    assert_eq!(latest(&log), expected);
    assert!(leftover_cleaner_files(dir.path()).is_empty());
    // The next pass from the new first dirty offset has nothing to do.
    assert!(log
        .prepare_cleaning(Some(outcome.next_dirty_offset), i64::MAX, NOW)
        .unwrap()
        .is_none());

    // DeleteRecords between the first and the second group: the pass stops, what was
    // swapped in stays, nothing is left behind.
    let dir = tempfile::tempdir().unwrap();
    let mut log = fill(dir.path());
    let expected = latest(&log);
    let task = log.prepare_cleaning(None, i64::MAX, NOW).unwrap().unwrap();
    let mut commits = 0;
    let outcome = kavka_storage::cleaner::clean_incrementally(
        &task,
        1 << 20,
        &mut Throttler::new(f64::INFINITY),
        &never,
        &mut |cleaned| {
            commits += 1;
            if commits == 2 {
                log.delete_records_before(1).unwrap();
            }
            Ok(log.commit_cleaning(cleaned)?)
        },
    )
    .unwrap();
    assert!(!outcome.completed);
    assert_eq!(commits, 2);
    assert_eq!(latest(&log), expected);
    assert!(leftover_cleaner_files(dir.path()).is_empty());
    drop(log);
    let log = PartitionLog::open(dir.path(), compact_config()).unwrap();
    assert_eq!(latest(&log), expected);
}

#[test]
fn max_compaction_lag_forces_cleaning_of_a_barely_dirty_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        min_cleanable_dirty_ratio: 0.5,
        ..compact_config()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    for i in 0..200 {
        put(&mut log, &format!("k{i}"), Some("unique keys stay"));
    }
    let next = clean_once(&mut log, None, NOW).unwrap();
    // A little dirt on a big clean log: far below the ratio.
    for i in 0..12 {
        put(&mut log, &format!("k{i}"), Some("new"));
    }
    let later = NOW + 2 * 3_600_000;
    assert!(log
        .prepare_cleaning(Some(next), i64::MAX, later)
        .unwrap()
        .is_none());
    // With max.compaction.lag.ms of an hour, two-hour-old dirt must go now.
    log.set_config(LogConfig {
        max_compaction_lag_ms: 3_600_000,
        ..config
    });
    let task = log
        .prepare_cleaning(Some(next), i64::MAX, later)
        .unwrap()
        .unwrap();
    assert!(task.range().overdue);
    assert!(task.range().dirty_ratio() < 0.5);
}
