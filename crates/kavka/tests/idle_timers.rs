//! Time-based log upkeep still happens for a partition that went idle: the
//! broker's timers look only at logs with something due, so these pin that a
//! log written once and then left alone is still rolled at `segment.ms` and
//! flushed at `flush.ms`, also after a restart.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// The segment files (`*.log`) in a partition directory.
fn segment_files(partition_dir: &Path) -> usize {
    std::fs::read_dir(partition_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .count()
        })
        .unwrap_or(0)
}

/// The offset the partition's recovery point says is on disk.
fn recovery_point(partition_dir: &Path) -> Option<i64> {
    std::fs::read_to_string(partition_dir.join("recovery-point"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Polls `check` for up to `limit`.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_left_idle_after_one_record_rolls_at_segment_ms() {
    let broker = TestBroker::start_with(&["log.roll.ms=1500"]);
    let bs = broker.bootstrap();
    create_topic(&bs, "rolled", 1).await;
    let dir = broker.data_dir().join("rolled-0");
    send(&producer(&bs, &[]), "rolled", None, Some(b"only")).await;
    assert_eq!(segment_files(&dir), 1);
    assert!(
        eventually(Duration::from_secs(20), || segment_files(&dir) == 2),
        "the idle segment was never rolled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_written_before_a_restart_rolls_at_segment_ms_after_it() {
    let mut broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "restarted", 1).await;
    let dir = broker.data_dir().join("restarted-0");
    send(&producer(&bs, &[]), "restarted", None, Some(b"only")).await;
    broker.stop();
    // Nothing is written after the restart: only the timers can roll it.
    broker.restart_with(&["log.roll.ms=1500"]);
    assert!(
        eventually(Duration::from_secs(20), || segment_files(&dir) == 2),
        "the segment from before the restart was never rolled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_left_unflushed_are_flushed_at_flush_ms() {
    let broker = TestBroker::start_with(&["log.flush.interval.ms=500"]);
    let bs = broker.bootstrap();
    create_topic(&bs, "flushed", 1).await;
    let dir = broker.data_dir().join("flushed-0");
    let p = producer(&bs, &[]);
    for i in 0..3 {
        send(&p, "flushed", None, Some(format!("v{i}").as_bytes())).await;
    }
    assert!(
        eventually(Duration::from_secs(20), || recovery_point(&dir) == Some(3)),
        "recovery point {:?}, not moved past the records by flush.ms",
        recovery_point(&dir)
    );
}
