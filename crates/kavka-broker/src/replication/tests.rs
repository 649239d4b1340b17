//! Replication inside one process: a leader partition driven by simulated follower
//! fetches, and real brokers on 127.0.0.1 whose roles come from hand-made images.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kavka_metadata::{MetadataImage, MetadataRecord};
use kavka_replica::{
    Acks, BrokerStatus, FollowerFetch, FollowerFetchOutcome, ReplicaConfig, ReplicaError,
};
use kavka_storage::{LogConfig, PartitionLog};
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::partition::{AckWait, Assignment, Partition, PartitionError, ReplicaSignals};
use crate::partition_watch::{was_woken, Waiter};
use crate::server::Broker;

const NOW: i64 = 1_700_000_000_000;

fn one_record(value: &str) -> bytes::Bytes {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
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
        key: Some(bytes::Bytes::from_static(b"k")),
        value: Some(bytes::Bytes::from(value.to_string())),
        headers: Default::default(),
    };
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [record].iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

fn assignment(
    leader: i32,
    replicas: &[i32],
    isr: &[i32],
    epoch: i32,
    min_isr: usize,
) -> Assignment {
    Assignment {
        local_id: 1,
        local_broker_epoch: 10,
        leader,
        leader_epoch: epoch,
        partition_epoch: epoch,
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
        brokers: replicas
            .iter()
            .map(|&r| (r, BrokerStatus::alive(10 + i64::from(r))))
            .collect::<BTreeMap<_, _>>(),
        config: ReplicaConfig {
            replica_lag_time_max_ms: 30_000,
            min_insync_replicas: min_isr,
        },
        leader_endpoint: (leader != 1 && leader >= 0).then(|| ("127.0.0.1".to_string(), 1)),
    }
}

/// A partition on broker 1 with the given role.
fn partition(dir: &std::path::Path, a: &Assignment) -> Partition {
    let log = PartitionLog::open(dir, LogConfig::default()).unwrap();
    let (signals, _queue) = ReplicaSignals::new();
    let p = Partition::new("t".into(), Uuid::new_v4(), 0, log, None, Arc::new(signals));
    p.apply_assignment(a, NOW).unwrap();
    p
}

fn follower_fetch(p: &Partition, replica: i32, offset: i64, now: i64) {
    let fetch = FollowerFetch {
        replica_id: replica,
        fetch_offset: offset,
        last_fetched_epoch: None,
        current_leader_epoch: Some(p.leader_epoch()),
        broker_epoch: 10 + i64::from(replica),
    };
    match p.on_follower_fetch(fetch, now) {
        Ok(FollowerFetchOutcome::Read(_)) => {}
        other => panic!("fetch {replica}@{offset}: {other:?}"),
    }
}

fn pending(wait: AckWait) -> tokio::sync::oneshot::Receiver<Result<(), ReplicaError>> {
    match wait {
        AckWait::Pending(_, rx) => rx,
        AckWait::Done(r) => panic!("completed at once: {r:?}"),
    }
}

#[test]
fn a_lone_leader_moves_the_high_watermark_with_every_append() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1], &[1], 0, 2));
    assert_eq!(p.high_watermark(), 0);
    let (info, wait) = p
        .append_records(one_record("a"), Acks::All, NOW, NOW + 1000)
        .unwrap();
    assert_eq!(info.first_offset, 0);
    assert!(
        matches!(wait, AckWait::Done(Ok(()))),
        "min ISR capped at one replica"
    );
    assert_eq!(p.high_watermark(), 1);
    p.append(one_record("b"), NOW).unwrap();
    assert_eq!(p.high_watermark(), 2);
}

#[test]
fn acks_all_completes_only_when_the_follower_fetched_past_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1, 2], &[1, 2], 3, 2));
    follower_fetch(&p, 2, 0, NOW);
    let (_, wait) = p
        .append_records(one_record("a"), Acks::All, NOW, NOW + 30_000)
        .unwrap();
    let mut rx = pending(wait);
    assert_eq!(p.high_watermark(), 0, "follower has not fetched the record");
    assert!(
        p.read(0, 1 << 20).unwrap().records.is_empty(),
        "consumers see nothing yet"
    );
    assert!(!p.read_for_follower(0, 1 << 20).unwrap().records.is_empty());
    follower_fetch(&p, 2, 0, NOW + 1);
    assert!(rx.try_recv().is_err(), "still waiting");
    follower_fetch(&p, 2, 1, NOW + 2);
    assert_eq!(p.high_watermark(), 1);
    assert_eq!(rx.try_recv(), Ok(Ok(())));
    // acks=1 answers at once but the HW still waits for the follower.
    let (_, wait) = p
        .append_records(one_record("b"), Acks::Leader, NOW, NOW)
        .unwrap();
    assert!(matches!(wait, AckWait::Done(Ok(()))));
    assert_eq!(p.high_watermark(), 1);
}

#[test]
fn acks_all_times_out_when_the_follower_never_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1, 2], &[1, 2], 0, 2));
    let (_, wait) = p
        .append_records(one_record("a"), Acks::All, NOW, NOW + 500)
        .unwrap();
    let mut rx = pending(wait);
    p.expire_produces(NOW + 499);
    assert!(rx.try_recv().is_err());
    p.expire_produces(NOW + 500);
    assert_eq!(rx.try_recv(), Ok(Err(ReplicaError::RequestTimedOut)));
    assert_eq!(p.high_watermark(), 0);
}

#[test]
fn acks_all_below_min_isr_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1, 2, 3], &[1], 0, 2));
    let refused = p.append_records(one_record("a"), Acks::All, NOW, NOW + 500);
    assert!(matches!(
        refused,
        Err(PartitionError::Replica(ReplicaError::NotEnoughReplicas))
    ));
    assert_eq!(p.log_end_offset(), 0, "nothing written");
    p.append_records(one_record("a"), Acks::Leader, NOW, NOW)
        .unwrap();
    assert_eq!(p.log_end_offset(), 1);
}

#[test]
fn losing_leadership_fails_waiting_produces_and_stops_appends() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1, 2], &[1, 2], 0, 2));
    let (_, wait) = p
        .append_records(one_record("a"), Acks::All, NOW, NOW + 30_000)
        .unwrap();
    let mut rx = pending(wait);
    p.apply_assignment(&assignment(2, &[1, 2], &[2], 1, 2), NOW + 1)
        .unwrap();
    assert_eq!(rx.try_recv(), Ok(Err(ReplicaError::NotLeaderOrFollower)));
    assert!(!p.is_leader());
    assert!(matches!(
        p.append_records(one_record("b"), Acks::Leader, NOW, NOW),
        Err(PartitionError::Replica(ReplicaError::NotLeaderOrFollower))
    ));
    assert_eq!(
        p.follower_view().map(|v| (v.leader_id, v.leader_epoch)),
        Some((2, 1))
    );
}

#[test]
fn a_new_leader_records_its_epoch_at_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1], &[1], 0, 1));
    p.append(one_record("a"), NOW).unwrap();
    p.apply_assignment(&assignment(1, &[1], &[1], 4, 1), NOW)
        .unwrap();
    assert_eq!(p.leader_epoch(), 4);
    let epochs = p.log(|log| Ok(log.leader_epochs().to_vec())).unwrap();
    assert_eq!(epochs, vec![(0, 0), (4, 1)]);
}

// --- Two real brokers, roles from hand-made images ---

fn broker_config(dir: &std::path::Path, node: i32) -> BrokerConfig {
    BrokerConfig::load(
        None,
        &[
            format!("log.dirs={}", dir.display()),
            format!("node.id={node}"),
            "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
            // Tests run side by side: none takes the default HTTP port.
            "http.listeners=".to_string(),
            "replica.fetch.wait.max.ms=100".to_string(),
            "replica.fetch.backoff.ms=50".to_string(),
        ],
        std::iter::empty(),
    )
    .unwrap()
}

/// An image where brokers 1 and 2 (at `ports`) share topic `t`'s partition 0, led
/// by `leader` in `epoch`. Padded with `pad` records so it is newer than what the
/// brokers applied before.
fn image(
    topic_id: Uuid,
    ports: [u16; 2],
    leader: i32,
    epoch: i32,
    isr: &[i32],
    pad: usize,
) -> MetadataImage {
    let mut image = MetadataImage::default();
    for i in 0..pad {
        image
            .apply(&MetadataRecord::Config {
                resource: kavka_metadata::ConfigResource::Broker(None),
                name: "padding".into(),
                value: Some(i.to_string()),
            })
            .unwrap();
    }
    for (id, port) in [(1, ports[0]), (2, ports[1])] {
        image
            .apply(&MetadataRecord::RegisterBroker {
                broker_id: id,
                host: "127.0.0.1".into(),
                port: i32::from(port),
                rack: None,
                incarnation_id: None,
                broker_epoch: 0,
                fenced: false,
            })
            .unwrap();
    }
    image
        .apply(&MetadataRecord::Topic {
            name: "t".into(),
            topic_id,
        })
        .unwrap();
    image
        .apply(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1, 2],
            isr: isr.to_vec(),
            leader,
            leader_epoch: epoch,
            partition_epoch: epoch,
            adding_replicas: vec![],
            removing_replicas: vec![],
        })
        .unwrap();
    image
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn acks_all(p: &Partition, value: &str) -> Result<(), ReplicaError> {
    let now = crate::state::now_ms();
    let (_, wait) = p
        .append_records(one_record(value), Acks::All, now, now + 10_000)
        .unwrap();
    match wait {
        AckWait::Done(r) => r,
        AckWait::Pending(_, rx) => tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("acks=all answered in time")
            .expect("waiter kept"),
    }
}

fn all_bytes(p: &Partition) -> bytes::Bytes {
    p.read_for_follower(0, 1 << 20).unwrap().records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_brokers_copy_the_leader_and_truncate_what_a_deposed_leader_wrote() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b1 = Broker::start(broker_config(dirs.0.path(), 1))
        .await
        .unwrap();
    let b2 = Broker::start(broker_config(dirs.1.path(), 2))
        .await
        .unwrap();
    let ports = [b1.local_port().unwrap(), b2.local_port().unwrap()];
    let (s1, s2) = (b1.state(), b2.state());
    let topic_id = Uuid::new_v4();
    let apply = |img: &MetadataImage, to: &[&Arc<crate::state::BrokerState>]| {
        for s in to {
            s.replicas.reconcile(img, &s.config).unwrap();
        }
    };
    apply(&image(topic_id, ports, 1, 0, &[1, 2], 50), &[&s1, &s2]);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let run = |b: Broker| {
        let mut stop = stop_rx.clone();
        tokio::spawn(b.run(async move {
            let _ = stop.changed().await;
        }))
    };
    let (t1, t2) = (run(b1), run(b2));
    let p1 = s1.replicas.get("t", 0).unwrap();
    let p2 = s2.replicas.get("t", 0).unwrap();
    assert!(p1.is_leader());
    assert_eq!(p2.follower_view().map(|v| v.leader_id), Some(1));

    // Broker 1 leads epoch 0: acks=all completes once broker 2 fetched past it.
    for i in 0..5 {
        assert_eq!(acks_all(&p1, &format!("v{i}")).await, Ok(()));
    }
    assert_eq!(p1.high_watermark(), 5);
    until("the follower has the leader's HW", || {
        p2.high_watermark() == 5
    })
    .await;
    assert_eq!(all_bytes(&p2), all_bytes(&p1), "byte-identical replica");

    // Broker 2 loses its leader (no fetching); broker 1 writes a record alone.
    apply(&image(topic_id, ports, -1, 1, &[1, 2], 60), &[&s2]);
    until("the follower stopped", || p2.follower_view().is_none()).await;
    p1.append(one_record("never replicated"), crate::state::now_ms())
        .unwrap();
    assert_eq!((p1.log_end_offset(), p1.high_watermark()), (6, 5));

    // Broker 2 leads epoch 2 from its log end 5; broker 1 must drop offset 5.
    apply(&image(topic_id, ports, 2, 2, &[1, 2], 70), &[&s1, &s2]);
    assert!(p2.is_leader());
    assert_eq!(p1.follower_view().map(|v| v.leader_id), Some(2));
    assert_eq!(acks_all(&p2, "new leader").await, Ok(()));
    until("broker 1 caught up with broker 2", || {
        p1.high_watermark() == 6 && p1.log_end_offset() == 6
    })
    .await;
    assert_eq!(all_bytes(&p1), all_bytes(&p2), "diverged record replaced");
    assert_eq!(
        p1.log(|l| Ok(l.leader_epochs().to_vec())).unwrap(),
        vec![(0, 0), (2, 5)]
    );
    // A consumer fetch is not served by the follower.
    assert!(!p1.is_leader());

    let _ = stop_tx.send(true);
    let _ = tokio::join!(t1, t2);
}

/// Starts `brokers` serving until the returned sender says stop.
fn serve(
    brokers: Vec<Broker>,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tasks = brokers
        .into_iter()
        .map(|b| {
            let mut stop = stop_rx.clone();
            tokio::spawn(b.run(async move {
                let _ = stop.changed().await;
            }))
        })
        .collect();
    (stop_tx, tasks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_leaders_log_start_starts_over_there() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b1 = Broker::start(broker_config(dirs.0.path(), 1))
        .await
        .unwrap();
    let b2 = Broker::start(broker_config(dirs.1.path(), 2))
        .await
        .unwrap();
    let ports = [b1.local_port().unwrap(), b2.local_port().unwrap()];
    let (s1, s2) = (b1.state(), b2.state());
    let topic_id = Uuid::new_v4();
    // Broker 1 leads alone (ISR [1]) and its log start moves to 3.
    let img = image(topic_id, ports, 1, 0, &[1], 50);
    s1.replicas.reconcile(&img, &s1.config).unwrap();
    let p1 = s1.replicas.get("t", 0).unwrap();
    for i in 0..5 {
        p1.append(one_record(&format!("v{i}")), crate::state::now_ms())
            .unwrap();
    }
    assert_eq!(p1.high_watermark(), 5);
    p1.log(|l| l.delete_records_before(3)).unwrap();

    s2.replicas.reconcile(&img, &s2.config).unwrap();
    let (stop, tasks) = serve(vec![b1, b2]);
    let p2 = s2.replicas.get("t", 0).unwrap();
    until("the follower restarted at the leader's log start", || {
        p2.log_start_offset() == 3 && p2.log_end_offset() == 5 && p2.high_watermark() == 5
    })
    .await;
    assert_eq!(
        p2.read_for_follower(3, 1 << 20).unwrap().records,
        p1.read_for_follower(3, 1 << 20).unwrap().records
    );
    // Caught up, it is proposed for the ISR; the controller is not there yet, so
    // the ISR stays as it is and the leader keeps serving.
    assert_eq!(p1.high_watermark(), 5);
    assert!(p1.is_leader());
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_list_offsets_and_epochs_answer_by_role_on_the_wire() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::{BrokerId, FetchRequest, ListOffsetsRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::client::LeaderConnection;

    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b1 = Broker::start(broker_config(dirs.0.path(), 1))
        .await
        .unwrap();
    let b2 = Broker::start(broker_config(dirs.1.path(), 2))
        .await
        .unwrap();
    let ports = [b1.local_port().unwrap(), b2.local_port().unwrap()];
    let (s1, s2) = (b1.state(), b2.state());
    let topic_id = Uuid::new_v4();
    // Broker 2 is in the ISR but never fetches (not told yet): the HW stays at 0.
    let img = image(topic_id, ports, 1, 3, &[1, 2], 50);
    s1.replicas.reconcile(&img, &s1.config).unwrap();
    let p1 = s1.replicas.get("t", 0).unwrap();
    p1.append(one_record("a"), crate::state::now_ms()).unwrap();
    s2.replicas
        .reconcile(&image(topic_id, ports, 1, 3, &[1, 2], 50), &s2.config)
        .unwrap();
    // Broker 2 follows but its fetcher is not running: only broker 1 serves.
    let (stop, tasks) = serve(vec![b1]);
    let timeout = Duration::from_secs(5);
    let fetch = |replica: i32, epoch: i32, offset: i64| {
        FetchRequest::default()
            .with_replica_state(
                ReplicaState::default()
                    .with_replica_id(BrokerId(replica))
                    .with_replica_epoch(0),
            )
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(epoch)
                    .with_fetch_offset(offset)
                    .with_last_fetched_epoch(-1)
                    .with_partition_max_bytes(1 << 20)])])
    };
    let mut c1 = LeaderConnection::connect("127.0.0.1", ports[0], 9, timeout, 1 << 24, None)
        .await
        .unwrap();
    // A leader of this version: the newest Fetch the fetcher speaks.
    assert_eq!(
        c1.version_for(kafka_protocol::messages::ApiKey::Fetch, 13..=17)
            .unwrap(),
        17
    );
    let answer = |r: kafka_protocol::messages::FetchResponse| {
        let p = &r.responses[0].partitions[0];
        (
            p.error_code,
            p.high_watermark,
            p.records.as_ref().map_or(0, |b| b.len()),
        )
    };
    // A consumer sees nothing above the HW; the follower gets the record.
    let consumer = c1.call(&fetch(-1, 3, 0), 15, timeout).await.unwrap();
    assert_eq!(answer(consumer), (0, 0, 0));
    let follower = c1.call(&fetch(2, 3, 0), 15, timeout).await.unwrap();
    let (code, _, len) = answer(follower);
    assert_eq!(code, 0);
    assert!(len > 0, "a follower reads up to the log end");
    // Its next fetch from offset 1 moves the HW.
    let next = c1.call(&fetch(2, 3, 1), 15, timeout).await.unwrap();
    assert_eq!(answer(next), (0, 1, 0));
    // Stale and future leader epochs.
    let stale = c1.call(&fetch(2, 2, 1), 15, timeout).await.unwrap();
    assert_eq!(answer(stale).0, ReplicaError::FencedLeaderEpoch.code());
    let future = c1.call(&fetch(2, 4, 1), 15, timeout).await.unwrap();
    assert_eq!(answer(future).0, ReplicaError::UnknownLeaderEpoch.code());

    // ListOffsets latest: the HW for consumers, the log end for replicas.
    p1.append(one_record("b"), crate::state::now_ms()).unwrap();
    let list = |replica: i32| {
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(replica))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_current_leader_epoch(3)
                    .with_timestamp(-1)])])
    };
    let latest = |r: kafka_protocol::messages::ListOffsetsResponse| {
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.offset)
    };
    assert_eq!(
        latest(c1.call(&list(-1), 7, timeout).await.unwrap()),
        (0, 1)
    );
    assert_eq!(latest(c1.call(&list(2), 7, timeout).await.unwrap()), (0, 2));

    // The follower broker serves no consumer (KIP-392 follower fetching is not
    // implemented), and answers no ListOffsets for it.
    let (stop2, tasks2) = serve(vec![b2]);
    let mut c2 = LeaderConnection::connect("127.0.0.1", ports[1], 9, timeout, 1 << 24, None)
        .await
        .unwrap();
    let consumer = c2.call(&fetch(-1, 3, 0), 15, timeout).await.unwrap();
    assert_eq!(answer(consumer).0, ReplicaError::NotLeaderOrFollower.code());
    let listed = latest(c2.call(&list(-1), 7, timeout).await.unwrap());
    assert_eq!(listed.0, ReplicaError::NotLeaderOrFollower.code());
    until("the follower caught up", || {
        s2.replicas
            .get("t", 0)
            .is_some_and(|p| p.log_end_offset() == 2)
    })
    .await;
    let _ = stop.send(true);
    let _ = stop2.send(true);
    for t in tasks.into_iter().chain(tasks2) {
        let _ = t.await;
    }
}

#[test]
fn a_restarted_leader_starts_from_the_checkpointed_high_watermark() {
    use crate::replica_manager::ReplicaManager;
    let dir = tempfile::tempdir().unwrap();
    let config = broker_config(dir.path(), 1);
    let img = image(Uuid::new_v4(), [1, 2], 1, 0, &[1, 2], 5);
    let open = || {
        let replicas = ReplicaManager::default();
        replicas.reconcile(&img, &config).unwrap();
        let p = replicas.get("t", 0).unwrap();
        (replicas, p)
    };
    let (replicas, p) = open();
    for i in 0..4 {
        p.append(one_record(&format!("v{i}")), NOW).unwrap();
    }
    follower_fetch(&p, 2, 3, NOW);
    assert_eq!(p.high_watermark(), 3);
    replicas.close_all();

    let (replicas, p) = open();
    assert_eq!(p.log_end_offset(), 4);
    assert_eq!(p.high_watermark(), 3, "not 0, not the unreplicated log end");
    replicas.close_all();

    std::fs::remove_file(dir.path().join(crate::hw_checkpoint::HW_CHECKPOINT_FILE)).unwrap();
    let (_replicas, p) = open();
    assert_eq!(p.high_watermark(), 0, "without it: wait for the follower");
}

#[test]
fn isr_changes_go_to_the_queue_and_the_answer_commits_them() {
    use kavka_metadata::cluster::{AlterPartitionResult, ControlError};
    use kavka_replica::{AlterPartitionError, AlterPartitionOutcome};

    use super::isr::to_response;

    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    let (signals, mut queue) = ReplicaSignals::new();
    let p = Partition::new("t".into(), Uuid::new_v4(), 0, log, None, Arc::new(signals));
    p.apply_assignment(&assignment(1, &[1, 2], &[1], 0, 1), NOW)
        .unwrap();
    p.append(one_record("a"), NOW).unwrap();
    assert_eq!(p.high_watermark(), 1, "ISR is the leader alone");

    // The follower reaches the log end: proposed for the ISR.
    follower_fetch(&p, 2, 1, NOW + 1);
    let job = queue.try_recv().expect("expansion proposed");
    let ids: Vec<i32> = job.request.new_isr.iter().map(|m| m.broker_id).collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(
        job.request.new_isr[0].broker_epoch, 10,
        "the leader's own broker epoch"
    );
    assert!(p.is_proposal_pending(job.request.id));
    // The controller's answer, as the ISR task converts it.
    let answer = AlterPartitionResult {
        error: None,
        leader: 1,
        leader_epoch: 0,
        isr: vec![1, 2],
        partition_epoch: 1,
    };
    let outcome = p.on_alter_partition_response(job.request.id, to_response(1, answer), NOW + 2);
    assert_eq!(outcome, AlterPartitionOutcome::Committed);
    assert!(!p.is_proposal_pending(job.request.id));

    // It stops fetching while records arrive: after replica.lag.time.max.ms the
    // leader proposes dropping it.
    p.append(one_record("b"), NOW + 3).unwrap();
    p.leader_tick(NOW + 20_000);
    assert!(queue.try_recv().is_err(), "still within the lag time");
    p.leader_tick(NOW + 40_000);
    let shrink = queue.try_recv().expect("shrink proposed");
    let ids: Vec<i32> = shrink.request.new_isr.iter().map(|m| m.broker_id).collect();
    assert_eq!(ids, vec![1]);
    // A stale partition epoch: wait for metadata, nothing changes meanwhile.
    let refused = AlterPartitionResult {
        error: Some(ControlError::InvalidUpdateVersion),
        leader: 1,
        leader_epoch: 0,
        isr: vec![1, 2],
        partition_epoch: 2,
    };
    assert_eq!(
        to_response(1, refused.clone()),
        Err(AlterPartitionError::InvalidUpdateVersion)
    );
    let outcome =
        p.on_alter_partition_response(shrink.request.id, to_response(1, refused), NOW + 40_001);
    assert_eq!(outcome, AlterPartitionOutcome::AwaitingMetadata);
    // Another broker leads now, the controller says.
    let moved = AlterPartitionResult {
        error: None,
        leader: 2,
        leader_epoch: 1,
        isr: vec![2],
        partition_epoch: 3,
    };
    assert_eq!(
        to_response(1, moved),
        Err(AlterPartitionError::NewLeaderElected)
    );
}

#[tokio::test]
async fn a_consumer_waiting_on_one_partition_is_not_woken_by_an_append_to_another() {
    let (dir0, dir1) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let p0 = partition(dir0.path(), &assignment(1, &[1], &[1], 0, 1));
    let p1 = partition(dir1.path(), &assignment(1, &[1], &[1], 0, 1));
    let waiter = Waiter::new();
    p0.watch_high_watermark(&waiter);
    p1.append(one_record("elsewhere"), NOW).unwrap();
    assert!(
        !was_woken(&waiter).await,
        "woken by another partition's append"
    );
    p0.append(one_record("here"), NOW).unwrap();
    assert!(
        was_woken(&waiter).await,
        "not woken by its own partition's append"
    );
}

#[tokio::test]
async fn a_follower_waits_for_the_log_end_and_a_consumer_for_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1, 2], &[1, 2], 0, 1));
    follower_fetch(&p, 2, 0, NOW);
    let (follower, consumer) = (Waiter::new(), Waiter::new());
    p.watch_log_end(&follower);
    p.watch_high_watermark(&consumer);
    p.append(one_record("a"), NOW).unwrap();
    assert!(
        was_woken(&follower).await,
        "the follower has records to fetch"
    );
    assert!(
        !was_woken(&consumer).await,
        "nothing new below the high watermark yet"
    );
    follower_fetch(&p, 2, 1, NOW + 1);
    assert_eq!(p.high_watermark(), 1);
    assert!(was_woken(&consumer).await, "the record is committed now");
}

#[tokio::test]
async fn waiting_requests_wake_when_leadership_moves_away() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1, 2], &[1, 2], 0, 1));
    let waiter = Waiter::new();
    p.watch_high_watermark(&waiter);
    p.apply_assignment(&assignment(1, &[1, 2], &[1, 2], 0, 1), NOW)
        .unwrap();
    assert!(!was_woken(&waiter).await, "nothing changed");
    p.apply_assignment(&assignment(2, &[1, 2], &[1, 2], 1, 1), NOW)
        .unwrap();
    assert!(
        was_woken(&waiter).await,
        "a consumer of a partition this broker no longer leads must answer now"
    );
}

#[test]
fn topic_settings_follow_each_config_the_metadata_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path(), &assignment(1, &[1], &[1], 0, 1));
    assert!(!p.settings().compacted);
    let config = LogConfig {
        cleanup_policy: kavka_storage::CleanupPolicy::parse("compact,delete"),
        ..LogConfig::default()
    };
    p.set_config(config);
    assert!(
        p.settings().compacted,
        "keyless records must now be refused"
    );
    p.set_config(LogConfig::default());
    assert!(!p.settings().compacted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_that_fsyncs_still_answers_with_its_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(partition(dir.path(), &assignment(1, &[1], &[1], 0, 1)));
    p.set_config(LogConfig {
        flush_messages: Some(1),
        ..LogConfig::default()
    });
    for expected in 0..3 {
        let (info, wait) = p
            .append_records_for_request(one_record("x"), Acks::All, NOW, NOW + 1000)
            .await
            .unwrap();
        assert_eq!(info.first_offset, expected);
        assert!(matches!(wait, AckWait::Done(Ok(()))));
    }
    assert_eq!(p.high_watermark(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_of_a_topic_that_fsyncs_every_record_copies_the_leader() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b1 = Broker::start(broker_config(dirs.0.path(), 1))
        .await
        .unwrap();
    let b2 = Broker::start(broker_config(dirs.1.path(), 2))
        .await
        .unwrap();
    let ports = [b1.local_port().unwrap(), b2.local_port().unwrap()];
    let (s1, s2) = (b1.state(), b2.state());
    let mut img = image(Uuid::new_v4(), ports, 1, 0, &[1, 2], 50);
    img.apply(&MetadataRecord::Config {
        resource: kavka_metadata::ConfigResource::Topic("t".into()),
        name: "flush.messages".into(),
        value: Some("1".into()),
    })
    .unwrap();
    for s in [&s1, &s2] {
        s.replicas.reconcile(&img, &s.config).unwrap();
    }
    let (stop, tasks) = serve(vec![b1, b2]);
    let p1 = s1.replicas.get("t", 0).unwrap();
    let p2 = s2.replicas.get("t", 0).unwrap();
    assert!(p2.settings().flushes_on_append, "the follower fsyncs too");
    for i in 0..5 {
        assert_eq!(acks_all(&p1, &format!("v{i}")).await, Ok(()));
    }
    until("the follower has the leader's HW", || {
        p2.high_watermark() == 5
    })
    .await;
    assert_eq!(all_bytes(&p2), all_bytes(&p1), "byte-identical replica");
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
}

/// A partition on broker 1 with the given role, and the signals it shares with
/// the broker's timer tasks.
fn partition_with_signals(
    dir: &std::path::Path,
    a: &Assignment,
) -> (Partition, Arc<ReplicaSignals>) {
    let log = PartitionLog::open(dir, LogConfig::default()).unwrap();
    let (signals, _queue) = ReplicaSignals::new();
    let signals = Arc::new(signals);
    let p = Partition::new("t".into(), Uuid::new_v4(), 0, log, None, signals.clone());
    p.apply_assignment(a, NOW).unwrap();
    (p, signals)
}

#[test]
fn a_waiting_acks_all_produce_is_due_for_expiry_at_its_deadline_and_no_sooner() {
    let dir = tempfile::tempdir().unwrap();
    let (p, signals) = partition_with_signals(dir.path(), &assignment(1, &[1, 2], &[1, 2], 0, 2));
    let deadlines = &signals.timers.produce_deadlines;
    assert_eq!(
        deadlines.lock().pop_due(i64::MAX),
        Vec::new(),
        "nothing waits"
    );
    let (_, first) = p
        .append_records(one_record("a"), Acks::All, NOW, NOW + 500)
        .unwrap();
    let (_, second) = p
        .append_records(one_record("b"), Acks::All, NOW, NOW + 900)
        .unwrap();
    let (mut first, mut second) = (pending(first), pending(second));
    assert_eq!(deadlines.lock().pop_due(NOW + 499), Vec::new());
    assert_eq!(
        deadlines.lock().pop_due(NOW + 500),
        vec![("t".to_string(), 0)]
    );
    p.expire_produces(NOW + 500);
    assert_eq!(first.try_recv(), Ok(Err(ReplicaError::RequestTimedOut)));
    assert!(second.try_recv().is_err(), "not due yet");
    // The later one is timed in its turn.
    assert_eq!(deadlines.lock().pop_due(NOW + 899), Vec::new());
    assert_eq!(
        deadlines.lock().pop_due(NOW + 900),
        vec![("t".to_string(), 0)]
    );
    p.expire_produces(NOW + 900);
    assert_eq!(second.try_recv(), Ok(Err(ReplicaError::RequestTimedOut)));
    assert_eq!(deadlines.lock().pop_due(i64::MAX), Vec::new(), "none left");
}

#[test]
fn only_a_leader_with_other_replicas_is_checked_for_isr_shrink() {
    let dir = tempfile::tempdir().unwrap();
    let (p, signals) = partition_with_signals(dir.path(), &assignment(1, &[1], &[1], 0, 1));
    let timers = &signals.timers;
    assert!(timers.replicated_leaders().is_empty(), "a lone replica");
    // Reassigned to three replicas, still led here.
    p.apply_assignment(&assignment(1, &[1, 2, 3], &[1], 1, 1), NOW)
        .unwrap();
    assert_eq!(timers.replicated_leaders(), vec![("t".to_string(), 0)]);
    // Another broker leads now.
    p.apply_assignment(&assignment(2, &[1, 2, 3], &[1, 2], 2, 1), NOW)
        .unwrap();
    assert!(timers.replicated_leaders().is_empty(), "a follower");
    p.apply_assignment(&assignment(1, &[1, 2, 3], &[1, 2], 3, 1), NOW)
        .unwrap();
    assert_eq!(timers.replicated_leaders(), vec![("t".to_string(), 0)]);
    drop(p.take_log());
    assert!(timers.replicated_leaders().is_empty(), "deleted");
}

#[test]
fn the_high_watermark_checkpoint_is_due_only_after_a_high_watermark_moved() {
    let dir = tempfile::tempdir().unwrap();
    let (p, signals) = partition_with_signals(dir.path(), &assignment(1, &[1], &[1], 0, 1));
    let timers = &signals.timers;
    timers.take_hw_changed();
    assert!(!timers.take_hw_changed(), "nothing moved");
    p.append(one_record("a"), NOW).unwrap();
    assert!(timers.take_hw_changed(), "a lone leader's append moves it");
    assert!(!timers.take_hw_changed());
}
