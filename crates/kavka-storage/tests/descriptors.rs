//! File descriptors held by partition logs: none for a log nobody uses, one per
//! segment in use, none again once idle. One test per binary state: the open-file
//! count is process-wide, so these run one at a time in their own test binary.

mod common;

use common::{batch, decode, small_config};
use kavka_storage::{open_segment_files, PartitionLog};

const NOW: i64 = 1_700_000_000_000;

/// Descriptors of this process pointing at files under `dir`.
fn fds_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

#[test]
fn logs_hold_descriptors_only_for_segments_in_use() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..20)
        .map(|i| root.path().join(format!("t-{i}")))
        .collect();
    for dir in &dirs {
        let mut log = PartitionLog::open(dir, small_config()).unwrap();
        for i in 0..60 {
            let v = format!("value-{i:03}");
            log.append(batch(&[&v, &v], NOW), 0, NOW).unwrap();
        }
        assert!(log.segment_count() >= 5);
        log.close().unwrap();
    }
    assert_eq!(fds_under(root.path()), 0, "a closed log keeps nothing open");

    // A restart opens every log but no segment file.
    let mut logs: Vec<PartitionLog> = dirs
        .iter()
        .map(|d| PartitionLog::open(d, small_config()).unwrap())
        .collect();
    assert_eq!(fds_under(root.path()), 0);
    assert_eq!(open_segment_files(), 0);

    // Reading old data opens that segment only; the index found it from memory.
    let first = decode(&logs[0].read(3, 1, i64::MAX).unwrap().records);
    assert!(first.iter().any(|r| r.0 == 3 && r.1 == "value-001"));
    assert_eq!(fds_under(root.path()), 1);
    // Appending opens the active segment of that partition.
    logs[1].append(batch(&["new"], NOW), 0, NOW).unwrap();
    assert_eq!(fds_under(root.path()), 2);
    assert_eq!(open_segment_files(), 2);

    // Two sweeps without use close both.
    for log in &mut logs {
        log.close_idle_files();
    }
    assert_eq!(fds_under(root.path()), 2, "used since the last sweep: kept");
    let closed: usize = logs.iter_mut().map(PartitionLog::close_idle_files).sum();
    assert_eq!(closed, 2);
    assert_eq!(fds_under(root.path()), 0);
    assert_eq!(open_segment_files(), 0);

    // Closed again, the data is all there: reopened on demand.
    let end = logs[1].log_end_offset();
    let last = decode(&logs[1].read(end - 1, 1, i64::MAX).unwrap().records);
    assert_eq!(last.last().map(|r| r.1.as_str()), Some("new"));
    for log in logs {
        log.close().unwrap();
    }
    assert_eq!(fds_under(root.path()), 0);
}
