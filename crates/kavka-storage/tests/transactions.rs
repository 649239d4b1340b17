//! Transactions in the log: open transactions hold the last stable offset (LSO)
//! back, markers end them, aborts land in the `.txnindex`, and all of it survives
//! a clean restart, a crash, a truncation and replication to a follower.

mod common;

use std::fs;
use std::path::Path;

use common::{batch, decode, idempotent, small_config, transactional};
use kavka_storage::{AbortedTxn, LogConfig, PartitionLog, StorageError, TxnMarker};

const NOW: i64 = 1_700_000_000_000;

fn config() -> LogConfig {
    LogConfig::default()
}

fn marker(pid: i64, epoch: i16, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: epoch,
        coordinator_epoch: 0,
        commit,
    }
}

fn txn_index_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txnindex"))
        .collect();
    paths.sort();
    for p in paths {
        out.extend(fs::read(p).unwrap());
    }
    out
}

#[test]
fn an_open_transaction_holds_the_lso_until_its_marker_is_replicated() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config()).unwrap();
    log.append(batch(&["a"], NOW), 0, NOW).unwrap(); // 0
    log.append(transactional(&["t1", "t2"], (7, 0, 0)), 0, NOW)
        .unwrap(); // 1-2
    log.append(batch(&["b"], NOW), 0, NOW).unwrap(); // 3
    assert_eq!(log.last_stable_offset(4), 1);
    let info = log.append_marker(&marker(7, 0, true), 0, NOW).unwrap(); // 4
    assert_eq!(info.first_offset, 4);
    // The marker is not below the high watermark yet: still unstable.
    assert_eq!(log.last_stable_offset(4), 1);
    assert_eq!(log.last_stable_offset(5), 5);
    assert!(log.aborted_transactions(0, 5).is_empty());
    // read_committed stops at the LSO.
    log.append(transactional(&["u"], (8, 0, 0)), 0, NOW)
        .unwrap(); // 5
    let lso = log.last_stable_offset(6);
    assert_eq!(lso, 5);
    let read = decode(&log.read(0, 1 << 20, lso).unwrap().records);
    assert_eq!(
        read.last().unwrap().0,
        4,
        "up to the marker, not the open transaction"
    );
}

#[test]
fn aborts_are_indexed_in_kafkas_format_and_listed_for_overlapping_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config()).unwrap();
    log.append(transactional(&["x"], (7, 0, 0)), 0, NOW)
        .unwrap(); // 0
    log.append(transactional(&["y"], (8, 0, 0)), 0, NOW)
        .unwrap(); // 1
    log.append_marker(&marker(7, 0, false), 0, NOW).unwrap(); // 2
    let index = txn_index_bytes(dir.path());
    assert_eq!(index.len(), 34);
    let mut expected = vec![0u8, 0];
    for v in [7i64, 0, 2, 1] {
        expected.extend(v.to_be_bytes());
    }
    // LSO at abort: producer 8's transaction, still open, starts at 1.
    assert_eq!(index, expected);
    assert_eq!(
        log.aborted_transactions(0, 3),
        vec![AbortedTxn {
            producer_id: 7,
            first_offset: 0,
            last_offset: 2,
            last_stable_offset: 1
        }]
    );
    assert!(log.aborted_transactions(3, 10).is_empty());
    log.append_marker(&marker(8, 0, true), 0, NOW).unwrap(); // 3
    assert_eq!(log.last_stable_offset(4), 4);
}

#[test]
fn fencing_follows_producer_and_coordinator_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config()).unwrap();
    log.append(transactional(&["x"], (7, 2, 0)), 0, NOW)
        .unwrap();
    let old_epoch = log.append_marker(&marker(7, 1, false), 0, NOW);
    assert!(matches!(
        old_epoch,
        Err(StorageError::InvalidProducerEpoch { .. })
    ));
    let mut m = marker(7, 2, true);
    m.coordinator_epoch = 5;
    log.append_marker(&m, 0, NOW).unwrap();
    m.coordinator_epoch = 4;
    let fenced = log.append_marker(&m, 0, NOW);
    assert!(matches!(
        fenced,
        Err(StorageError::TransactionCoordinatorFenced { .. })
    ));
    let stale_data = log.append(transactional(&["z"], (7, 1, 0)), 0, NOW);
    assert!(matches!(
        stale_data,
        Err(StorageError::InvalidProducerEpoch { .. })
    ));
    // A producer in a transaction cannot write outside it.
    log.append(transactional(&["t"], (9, 0, 0)), 0, NOW)
        .unwrap();
    let outside = log.append(idempotent(&["n"], (9, 0, 1)), 0, NOW);
    assert!(matches!(outside, Err(StorageError::InvalidTxnState(_))));
    // Clients never write markers themselves.
    let mut forged = TxnMarker { ..m };
    forged.coordinator_epoch = 9;
    let dir2 = tempfile::tempdir().unwrap();
    let mut other = PartitionLog::open(dir2.path(), config()).unwrap();
    other.append_marker(&forged, 0, NOW).unwrap();
    let bytes = other.read(0, 1 << 20, i64::MAX).unwrap().records;
    assert!(matches!(
        log.append(bytes, 0, NOW),
        Err(StorageError::InvalidRecord(_))
    ));
}

#[test]
fn open_transactions_survive_clean_restart_and_crash() {
    for clean in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
        log.append(transactional(&["aborted"], (7, 0, 0)), 0, NOW)
            .unwrap(); // 0
        log.append_marker(&marker(7, 0, false), 0, NOW).unwrap(); // 1
        log.append(batch(&["plain"], NOW), 0, NOW).unwrap(); // 2
        log.append(transactional(&["open"], (8, 0, 0)), 0, NOW)
            .unwrap(); // 3
        for i in 0..10 {
            log.append(batch(&[&format!("filler {i}")], NOW), 0, NOW)
                .unwrap();
        }
        assert!(log.segment_count() > 1, "the test wants several segments");
        let end = log.log_end_offset();
        if clean {
            log.close().unwrap();
        } else {
            drop(log);
            // A crash that also lost the snapshot and the aborted index.
            fs::remove_file(dir.path().join(kavka_storage::PRODUCER_STATE_FILE)).ok();
            for e in fs::read_dir(dir.path()).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|e| e == "txnindex") {
                    fs::remove_file(p).unwrap();
                }
            }
        }
        let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
        assert_eq!(log.last_stable_offset(end), 3, "clean: {clean}");
        assert_eq!(log.aborted_transactions(0, end).len(), 1, "clean: {clean}");
        assert_eq!(
            log.producers()
                .iter()
                .find(|p| p.producer_id == 8)
                .unwrap()
                .current_txn_start_offset,
            3
        );
        log.append_marker(&marker(8, 0, true), 0, NOW).unwrap();
        let end = log.log_end_offset();
        assert_eq!(log.last_stable_offset(end), end);
    }
}

#[test]
fn truncation_reopens_a_transaction_whose_marker_it_removed_and_forgets_one_it_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config()).unwrap();
    log.append(transactional(&["t"], (7, 0, 0)), 0, NOW)
        .unwrap(); // 0
    for i in 0..6 {
        log.append(batch(&[&format!("filler {i}")], NOW), 0, NOW)
            .unwrap(); // 1..=6
    }
    log.append_marker(&marker(7, 0, false), 0, NOW).unwrap(); // 7
    log.append(transactional(&["u"], (8, 0, 0)), 0, NOW)
        .unwrap(); // 8
    assert_eq!(log.last_stable_offset(9), 8);
    log.truncate_to(8).unwrap();
    assert_eq!(log.last_stable_offset(8), 8);
    log.truncate_to(7).unwrap();
    assert_eq!(log.last_stable_offset(7), 0, "the abort marker is gone");
    assert!(log.aborted_transactions(0, 7).is_empty());
    assert!(txn_index_bytes(dir.path()).is_empty());
    // The reopened transaction can still be ended.
    log.append_marker(&marker(7, 0, true), 0, NOW).unwrap();
    assert_eq!(log.last_stable_offset(8), 8);
}

#[test]
fn a_follower_replays_markers_into_the_same_state() {
    let leader_dir = tempfile::tempdir().unwrap();
    let mut leader = PartitionLog::open(leader_dir.path(), config()).unwrap();
    leader
        .append(transactional(&["x"], (7, 0, 0)), 3, NOW)
        .unwrap();
    leader
        .append(transactional(&["y"], (8, 0, 0)), 3, NOW)
        .unwrap();
    leader.append_marker(&marker(7, 0, false), 3, NOW).unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let mut follower = PartitionLog::open(follower_dir.path(), config()).unwrap();
    let records = leader.read(0, 1 << 20, i64::MAX).unwrap().records;
    follower.append_as_follower(records, NOW).unwrap();
    assert_eq!(follower.last_stable_offset(3), leader.last_stable_offset(3));
    assert_eq!(follower.last_stable_offset(3), 1);
    assert_eq!(
        follower.aborted_transactions(0, 3),
        leader.aborted_transactions(0, 3)
    );
    assert_eq!(
        txn_index_bytes(follower_dir.path()),
        txn_index_bytes(leader_dir.path())
    );
    assert_eq!(follower.producers(), leader.producers());
}

/// (offset, key, value, is control) of every record from offset 0.
fn records(log: &PartitionLog) -> Vec<(i64, Option<String>, bool)> {
    let mut buf = log.read(0, 1 << 24, i64::MAX).unwrap().records;
    let sets = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut buf).unwrap();
    sets.into_iter()
        .flat_map(|s| s.records)
        .map(|r| {
            let value = r.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
            (r.offset, value, r.control)
        })
        .collect()
}

#[test]
fn cleaning_keeps_markers_and_never_lets_aborted_records_shadow_committed_ones() {
    use std::sync::atomic::AtomicBool;

    use kavka_storage::cleaner::{clean, Throttler};
    use kavka_storage::CleanupPolicy;

    let config = LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        min_cleanable_dirty_ratio: 0.0,
        ..small_config()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    // The helpers key the records of a batch k0, k1, ...: k1 is written once
    // committed, then in an aborted transaction; k0 goes on being written.
    log.append(batch(&["c0", "c1"], NOW), 0, NOW).unwrap(); // 0-1
    log.append(transactional(&["a0", "a1"], (7, 0, 0)), 0, NOW)
        .unwrap(); // 2-3
    log.append_marker(&marker(7, 0, false), 0, NOW).unwrap(); // 4
    for i in 0..8 {
        log.append(batch(&[&format!("f{i}")], NOW), 0, NOW).unwrap();
    }
    log.append(transactional(&["committed-in-txn"], (8, 0, 0)), 0, NOW)
        .unwrap();
    log.append_marker(&marker(8, 0, true), 0, NOW).unwrap();
    log.append(batch(&["tail"], NOW), 0, NOW).unwrap();
    let end = log.log_end_offset();
    let aborted_before = log.aborted_transactions(0, end);

    let lso = log.last_stable_offset(end);
    let task = log
        .prepare_cleaning(None, lso, NOW)
        .unwrap()
        .expect("cleanable");
    let cleaned = clean(
        &task,
        1 << 20,
        &mut Throttler::new(f64::INFINITY),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert!(log.commit_cleaning(cleaned).unwrap());

    let after = records(&log);
    // Both markers stay (Kafka drops them only after delete.retention.ms).
    assert_eq!(after.iter().filter(|r| r.2).count(), 2);
    let values: Vec<&str> = after.iter().filter_map(|r| r.1.as_deref()).collect();
    // The aborted k1 does not count as k1's latest value: the committed one stays.
    assert!(values.contains(&"c1"), "{values:?}");
    // The aborted record itself stays for read_uncommitted readers, listed as aborted.
    assert!(values.contains(&"a1"), "{values:?}");
    assert!(
        !values.contains(&"c0") && !values.contains(&"a0"),
        "{values:?}"
    );
    assert_eq!(log.aborted_transactions(0, end), aborted_before);
    drop(log);
    let log = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(
        log.aborted_transactions(0, end),
        aborted_before,
        "the index moved with the segment"
    );
    assert_eq!(txn_index_bytes(dir.path()).len(), 34);
}
