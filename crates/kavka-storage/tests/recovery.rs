//! Crash recovery: torn writes at every length, garbage tails, arbitrary input.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::{batch, copy_dir, decode, small_config};
use kavka_storage::{BatchHeader, LogConfig, PartitionLog};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;

fn last_segment(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

fn read_all(log: &PartitionLog) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let records = decode(&log.read(offset, 1 << 20, i64::MAX).unwrap().records);
        offset = records.last().unwrap().0 + 1;
        out.extend(records);
    }
    out
}

/// (end position, next offset) after each whole batch of a segment file.
fn batch_ends(bytes: &[u8]) -> Vec<(usize, i64)> {
    let mut ends = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let header = BatchHeader::parse(&bytes[pos..]).unwrap();
        pos += header.size();
        ends.push((pos, header.last_offset() + 1));
    }
    ends
}

/// Writes a log over several segments and drops it without a clean shutdown.
fn crashed_log(dir: &Path, config: &LogConfig) -> Vec<(i64, String)> {
    let mut log = PartitionLog::open(dir, config.clone()).unwrap();
    for i in 0..30 {
        let values: Vec<String> = (0..(i % 3 + 1)).map(|j| format!("v{i}-{j}")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        log.append(batch(&refs, NOW + i), 0, NOW).unwrap();
    }
    let records = read_all(&log);
    drop(log);
    records
}

#[test]
fn torn_write_at_every_length_recovers_the_whole_batches() {
    let original = tempfile::tempdir().unwrap();
    let config = small_config();
    let records = crashed_log(original.path(), &config);
    let segment = last_segment(original.path());
    let segment_name = segment.file_name().unwrap().to_owned();
    let segment_base: i64 = segment_name.to_str().unwrap()[..20].parse().unwrap();
    let full = fs::read(&segment).unwrap();
    let ends = batch_ends(&full);
    assert!(ends.len() >= 3, "last segment too small to be interesting");
    assert!(segment_base > 0, "want several segments");

    let scratch = tempfile::tempdir().unwrap();
    for len in 0..=full.len() {
        let dir = scratch.path().join(format!("torn-{len}"));
        copy_dir(original.path(), &dir);
        fs::OpenOptions::new()
            .write(true)
            .open(dir.join(&segment_name))
            .unwrap()
            .set_len(len as u64)
            .unwrap();
        let expected_end = ends
            .iter()
            .take_while(|(end, _)| *end <= len)
            .last()
            .map_or(segment_base, |&(_, next)| next);

        let mut log = PartitionLog::open(&dir, config.clone()).unwrap();
        assert_eq!(log.log_end_offset(), expected_end, "torn at {len}");
        let kept: Vec<_> = records
            .iter()
            .filter(|r| r.0 < expected_end)
            .cloned()
            .collect();
        assert_eq!(read_all(&log), kept, "torn at {len}");
        let info = log.append(batch(&["after"], NOW), 0, NOW).unwrap();
        assert_eq!(info.first_offset, expected_end, "torn at {len}");
        let tail = decode(&log.read(expected_end, 1 << 20, i64::MAX).unwrap().records);
        assert_eq!(tail, vec![(expected_end, "after".to_string())]);
        drop(log);
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn corrupt_byte_in_last_segment_truncates_from_that_batch() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let records = crashed_log(dir.path(), &config);
    let segment = last_segment(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let ends = batch_ends(&bytes);
    // Flip a byte inside the records of the second batch: its CRC no longer matches.
    bytes[ends[0].0 + 70] ^= 0x55;
    fs::write(&segment, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(log.log_end_offset(), ends[0].1);
    assert_eq!(
        read_all(&log),
        records
            .into_iter()
            .filter(|r| r.0 < ends[0].1)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_clean_open_of_many_partitions_finds_every_log_whole() {
    let root = tempfile::tempdir().unwrap();
    let partitions = 200;
    for p in 0..partitions {
        let mut log =
            PartitionLog::open(&root.path().join(format!("t-{p}")), LogConfig::default()).unwrap();
        for i in 0..20 {
            log.append(batch(&["some value", "another"], NOW + i), 0, NOW)
                .unwrap();
        }
        log.close().unwrap();
    }
    let start = std::time::Instant::now();
    let logs: Vec<PartitionLog> = (0..partitions)
        .map(|p| {
            PartitionLog::open(&root.path().join(format!("t-{p}")), LogConfig::default()).unwrap()
        })
        .collect();
    // How long it takes is the benchmark's business (`kavka-bench startup`), not a
    // test's: a busy machine would make a timed assertion fail at random.
    eprintln!("opened {partitions} partitions in {:?}", start.elapsed());
    assert!(logs.iter().all(|l| l.log_end_offset() == 40));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_tail_is_truncated_on_recovery(garbage in proptest::collection::vec(any::<u8>(), 1..300)) {
        let dir = tempfile::tempdir().unwrap();
        let config = small_config();
        let records = crashed_log(dir.path(), &config);
        let segment = last_segment(dir.path());
        let mut bytes = fs::read(&segment).unwrap();
        let end = records.last().unwrap().0 + 1;
        bytes.extend_from_slice(&garbage);
        fs::write(&segment, &bytes).unwrap();
        let mut log = PartitionLog::open(dir.path(), config).unwrap();
        prop_assert_eq!(log.log_end_offset(), end);
        prop_assert_eq!(read_all(&log), records);
        prop_assert_eq!(log.append(batch(&["x"], NOW), 0, NOW).unwrap().first_offset, end);
    }

    #[test]
    fn append_never_panics_on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
        let before = log.log_end_offset();
        if log.append(Bytes::from(input), 0, NOW).is_err() {
            prop_assert_eq!(log.log_end_offset(), before);
            prop_assert_eq!(log.size_bytes(), 0);
        }
    }

    #[test]
    fn append_never_panics_on_mutated_batches(
        flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..6),
        cut in 0usize..200,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
        let mut bytes = batch(&["alpha", "beta", "gamma"], NOW).to_vec();
        for (at, value) in flips {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        bytes.truncate(bytes.len().saturating_sub(cut % 8));
        match log.append(Bytes::from(bytes), 0, NOW) {
            Ok(info) => prop_assert_eq!(info.first_offset, 0),
            Err(_) => prop_assert_eq!(log.log_end_offset(), 0),
        }
    }
}
