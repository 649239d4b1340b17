//! The runtime with a toy coordinator (a key-value map whose keys name their
//! partition) over in-memory logs whose high watermark the test moves: loading,
//! unloading, ownership errors, and answers only once records are replicated.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};
use kavka_replica::{Acks, ReplicaError};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::batch::coordinator_batch;
use super::log::{CoordinatorLog, CoordinatorLogs};
use super::*;
use crate::partition::PartitionError;
use crate::partition_watch::{Waiter as WatchWaiter, WatchList};

/// Keys are `"<partition>/<name>"`; values are strings, None a tombstone.
#[derive(Default)]
struct Toy {
    values: BTreeMap<String, String>,
}

fn partition_of(key: &str) -> i32 {
    key.split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(-1)
}

impl CoordinatorShard for Toy {
    type Loader = BTreeMap<String, String>;

    fn loader(&self) -> Self::Loader {
        BTreeMap::new()
    }

    fn replay(loader: &mut Self::Loader, _partition: i32, r: &Record, _now_ms: i64) -> bool {
        let Some(key) = &r.key else { return false };
        let key = String::from_utf8_lossy(key).into_owned();
        match &r.value {
            Some(v) => loader.insert(key, String::from_utf8_lossy(v).into_owned()),
            None => loader.remove(&key),
        };
        true
    }

    fn adopt(&mut self, _partition: i32, _epoch: i32, loader: Self::Loader) -> Vec<Entry> {
        self.values.extend(loader);
        Vec::new()
    }

    fn unload(&mut self, partition: i32) {
        self.values.retain(|k, _| partition_of(k) != partition);
    }
}

type Waiter = (i64, oneshot::Sender<Result<(), ReplicaError>>);

/// One in-memory partition: its batches, high watermark and role.
struct ToyLog {
    state: Mutex<ToyState>,
    hw_watch: WatchList,
}

struct ToyState {
    leader_epoch: Option<i32>,
    batches: Vec<(i64, Vec<Record>)>,
    end: i64,
    hw: i64,
    waiters: Vec<Waiter>,
}

impl ToyLog {
    fn new() -> Arc<Self> {
        Arc::new(ToyLog {
            state: Mutex::new(ToyState {
                leader_epoch: None,
                batches: Vec::new(),
                end: 0,
                hw: 0,
                waiters: Vec::new(),
            }),
            hw_watch: WatchList::default(),
        })
    }

    fn lead(&self, epoch: Option<i32>) {
        let mut s = self.state.lock();
        s.leader_epoch = epoch;
        if epoch.is_none() {
            for (_, tx) in s.waiters.drain(..) {
                let _ = tx.send(Err(ReplicaError::NotLeaderOrFollower));
            }
        }
        drop(s);
        self.hw_watch.wake();
    }

    /// Followers caught up to the log end.
    fn replicate(&self) {
        let mut s = self.state.lock();
        s.hw = s.end;
        let hw = s.hw;
        let (done, waiting): (Vec<Waiter>, Vec<Waiter>) =
            s.waiters.drain(..).partition(|(last, _)| *last < hw);
        s.waiters = waiting;
        drop(s);
        for (_, tx) in done {
            let _ = tx.send(Ok(()));
        }
        self.hw_watch.wake();
    }
}

impl CoordinatorLog for ToyLog {
    fn leadership(&self) -> Option<i32> {
        self.state.lock().leader_epoch
    }

    fn log_start_offset(&self) -> i64 {
        0
    }

    fn log_end_offset(&self) -> i64 {
        self.state.lock().end
    }

    fn high_watermark(&self) -> i64 {
        self.state.lock().hw
    }

    fn read(&self, offset: i64, _max_bytes: usize) -> Result<Bytes, PartitionError> {
        let s = self.state.lock();
        let mut buf = BytesMut::new();
        for (_, records) in s.batches.iter().filter(|(base, _)| *base >= offset) {
            RecordBatchEncoder::encode(
                &mut buf,
                records.iter(),
                &RecordEncodeOptions {
                    version: 2,
                    compression: Compression::None,
                },
            )
            .map_err(|_| PartitionError::Offline)?;
        }
        Ok(buf.freeze())
    }

    fn append(
        self: &Arc<Self>,
        batch: Bytes,
        acks: Acks,
        _now_ms: i64,
        _deadline_ms: i64,
    ) -> Result<(i64, ReplicationWait), PartitionError> {
        let mut s = self.state.lock();
        if s.leader_epoch.is_none() {
            return Err(PartitionError::Replica(ReplicaError::NotLeaderOrFollower));
        }
        let mut buf = batch;
        let set = RecordBatchDecoder::decode(&mut buf).map_err(|_| PartitionError::Offline)?;
        let base = s.end;
        let records: Vec<Record> = set
            .records
            .into_iter()
            .map(|mut r| {
                r.offset += base;
                r
            })
            .collect();
        let last = base + records.len() as i64 - 1;
        s.end = last + 1;
        s.batches.push((base, records));
        if acks != Acks::All {
            return Ok((last, ReplicationWait::Done(Ok(()))));
        }
        let (tx, rx) = oneshot::channel();
        s.waiters.push((last, tx));
        Ok((
            last,
            ReplicationWait::Pending {
                rx,
                abandon: Box::new(|| {}),
            },
        ))
    }

    fn watch_high_watermark(&self, waiter: &Arc<WatchWaiter>) {
        self.hw_watch.watch(waiter);
    }
}

struct ToyLogs {
    logs: Vec<Arc<ToyLog>>,
}

impl ToyLogs {
    fn new(partitions: usize) -> Self {
        ToyLogs {
            logs: (0..partitions).map(|_| ToyLog::new()).collect(),
        }
    }
}

impl CoordinatorLogs for ToyLogs {
    type Log = ToyLog;

    fn log(&self, partition: i32) -> Option<Arc<ToyLog>> {
        self.logs.get(usize::try_from(partition).ok()?).cloned()
    }
}

type Runtime = CoordinatorRuntime<Toy, ToyLog>;

fn runtime(write_timeout_ms: u64) -> Runtime {
    CoordinatorRuntime::new(
        Toy::default(),
        "__toy",
        2,
        Duration::from_millis(write_timeout_ms),
    )
}

fn entry(key: &str, value: &str) -> Entry {
    (
        Bytes::from(key.to_string()),
        Some(Bytes::from(value.to_string())),
    )
}

/// Writes `key=value` through the runtime as acks=all; the wait for it.
fn write(rt: &Runtime, logs: &ToyLogs, key: &str, value: &str) -> Result<Replication, WriteError> {
    let mut session = rt.lock();
    session
        .check(partition_of(key))
        .map_err(|_| WriteError::NotHosted(-1))?;
    let appended = session.append(
        logs,
        partition_of(key),
        vec![entry(key, value)],
        Acks::All,
        None,
    )?;
    session
        .shard_mut()
        .values
        .insert(key.to_string(), value.to_string());
    Ok(session.replication(vec![appended.wait]))
}

fn value(rt: &Runtime, key: &str) -> Option<String> {
    rt.read(|toy, _| toy.values.get(key).cloned())
}

fn check(rt: &Runtime, partition: i32) -> Result<(), OwnershipError> {
    rt.read(|_, ownership| ownership.check(partition))
}

/// Leads partition `p` in `epoch`, loading it to the end.
fn lead_and_load(rt: &Runtime, logs: &ToyLogs, p: usize, epoch: i32) {
    logs.logs[p].lead(Some(epoch));
    for job in rt.follow_leadership(logs) {
        rt.load(logs, job);
    }
}

#[test]
fn a_newly_led_partition_is_loading_until_its_log_is_replayed() {
    let rt = runtime(1000);
    let logs = ToyLogs::new(2);
    let log = &logs.logs[1];
    log.lead(Some(0));
    let Ok((_, ReplicationWait::Done(Ok(())))) = log.append(
        coordinator_batch(vec![entry("1/a", "old"), entry("1/b", "x")], 0, None).unwrap(),
        Acks::Leader,
        0,
        0,
    ) else {
        panic!("seeding the log failed")
    };
    log.append(
        coordinator_batch(vec![entry("1/a", "new"), ("1/b".into(), None)], 0, None).unwrap(),
        Acks::Leader,
        0,
        0,
    )
    .unwrap();
    log.lead(Some(3));

    let jobs = rt.follow_leadership(&logs);
    assert_eq!(jobs.len(), 1);
    assert_eq!(check(&rt, 1), Err(OwnershipError::LoadInProgress));
    assert_eq!(check(&rt, 0), Err(OwnershipError::NotCoordinator));
    assert!(rt.read(|_, o| o.any_loading()));

    rt.load(&logs, jobs[0]);
    assert_eq!(check(&rt, 1), Ok(()));
    assert!(!rt.read(|_, o| o.any_loading()));
    assert_eq!(value(&rt, "1/a").as_deref(), Some("new"));
    assert_eq!(value(&rt, "1/b"), None, "the tombstone is replayed");
}

#[test]
fn losing_leadership_refuses_at_once_and_unloads_on_the_next_image() {
    let rt = runtime(1000);
    let logs = ToyLogs::new(2);
    lead_and_load(&rt, &logs, 0, 1);
    rt.lock()
        .shard_mut()
        .values
        .insert("0/k".into(), "v".into());

    logs.logs[0].lead(None);
    // Before the metadata follower unloads it, the role itself already refuses.
    assert_eq!(check(&rt, 0), Err(OwnershipError::NotCoordinator));
    assert!(rt.follow_leadership(&logs).is_empty());
    assert_eq!(value(&rt, "0/k"), None, "the partition's state is dropped");
    assert_eq!(check(&rt, 0), Err(OwnershipError::NotCoordinator));
}

#[test]
fn a_new_leader_epoch_unloads_and_loads_again() {
    let rt = runtime(1000);
    let logs = ToyLogs::new(2);
    lead_and_load(&rt, &logs, 0, 1);
    rt.lock()
        .shard_mut()
        .values
        .insert("0/unwritten".into(), "v".into());

    logs.logs[0].lead(Some(2));
    let jobs = rt.follow_leadership(&logs);
    assert_eq!(
        jobs.len(),
        1,
        "the partition is loaded again in the new epoch"
    );
    assert_eq!(check(&rt, 0), Err(OwnershipError::LoadInProgress));
    rt.load(&logs, jobs[0]);
    assert_eq!(check(&rt, 0), Ok(()));
    assert_eq!(
        value(&rt, "0/unwritten"),
        None,
        "state not in the log is gone"
    );
}

#[test]
fn a_load_overtaken_by_a_newer_one_is_dropped() {
    let rt = runtime(1000);
    let logs = ToyLogs::new(2);
    logs.logs[0].lead(Some(1));
    let first = rt.follow_leadership(&logs);
    logs.logs[0].lead(Some(2));
    let second = rt.follow_leadership(&logs);

    rt.load(&logs, first[0]);
    assert_eq!(check(&rt, 0), Err(OwnershipError::LoadInProgress));
    rt.load(&logs, second[0]);
    assert_eq!(check(&rt, 0), Ok(()));
}

#[test]
fn a_load_that_lost_leadership_while_replaying_serves_nothing() {
    let rt = runtime(1000);
    let logs = ToyLogs::new(2);
    logs.logs[0].lead(Some(1));
    let jobs = rt.follow_leadership(&logs);
    logs.logs[0].lead(None);
    rt.load(&logs, jobs[0]);
    assert_eq!(check(&rt, 0), Err(OwnershipError::NotCoordinator));
    assert!(!rt.read(|_, o| o.any_loading()));
}

#[tokio::test]
async fn a_write_is_answered_only_once_replicated() {
    let rt = runtime(5000);
    let logs = ToyLogs::new(2);
    lead_and_load(&rt, &logs, 1, 0);

    let replication = write(&rt, &logs, "1/k", "v").unwrap();
    let mut answered = tokio::spawn(replication.wait());
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut answered)
            .await
            .is_err(),
        "answered before the high watermark passed the record"
    );
    logs.logs[1].replicate();
    assert!(answered.await.unwrap().is_ok());
}

#[tokio::test]
async fn a_write_not_replicated_in_time_is_a_retriable_timeout() {
    let rt = runtime(30);
    let logs = ToyLogs::new(2);
    lead_and_load(&rt, &logs, 0, 0);

    let err = write(&rt, &logs, "0/k", "v")
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        WriteError::NotReplicated(ReplicaError::RequestTimedOut)
    ));
    assert!(!err.lost_leadership());
}

#[tokio::test]
async fn a_write_whose_leader_steps_down_is_lost_leadership() {
    let rt = runtime(5000);
    let logs = ToyLogs::new(2);
    lead_and_load(&rt, &logs, 0, 0);

    let replication = write(&rt, &logs, "0/k", "v").unwrap();
    logs.logs[0].lead(None);
    assert!(replication.wait().await.unwrap_err().lost_leadership());
    let refused = rt
        .lock()
        .append(&logs, 0, vec![entry("0/k", "w")], Acks::All, None)
        .err()
        .unwrap();
    assert!(refused.lost_leadership());
    let unhosted = rt
        .lock()
        .append(&logs, 7, vec![entry("7/k", "w")], Acks::All, None)
        .err()
        .unwrap();
    assert!(matches!(unhosted, WriteError::NotHosted(7)));
}

#[tokio::test]
async fn a_replicated_read_waits_for_the_writes_before_it() {
    let rt = Arc::new(runtime(5000));
    let logs = Arc::new(ToyLogs::new(2));
    lead_and_load(&rt, &logs, 0, 0);
    let _unreplicated = write(&rt, &logs, "0/k", "v").unwrap();

    let (rt2, logs2) = (Arc::clone(&rt), Arc::clone(&logs));
    let mut read = tokio::spawn(async move {
        rt2.read_replicated(logs2.as_ref(), [0], |toy, _| toy.values.get("0/k").cloned())
            .await
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut read)
            .await
            .is_err(),
        "a write not yet replicated was read"
    );
    logs.logs[0].replicate();
    assert_eq!(read.await.unwrap(), Ok(Some("v".to_string())));

    let _unreplicated = write(&rt, &logs, "0/k", "w").unwrap();
    let (rt2, logs2) = (Arc::clone(&rt), Arc::clone(&logs));
    let read = tokio::spawn(async move {
        rt2.read_replicated(logs2.as_ref(), [0], |toy, _| toy.values.get("0/k").cloned())
            .await
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    logs.logs[0].lead(None);
    assert_eq!(read.await.unwrap(), Err(ReadError::NotCoordinator));
}
