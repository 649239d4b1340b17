//! State a user cannot rebuild is never lost, reset or exposed: a secured Kafka
//! configuration does not start open, a damaged state file stops the start, and a
//! full disk loses nothing that was acknowledged.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, GroupId, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use common::*;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

/// Runs `kavka broker` with these overrides and expects it to refuse to start.
fn start_refused(overrides: &[String]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kavka"));
    // No HTTP port: several refused starts may run at once.
    cmd.arg("broker").arg("--override").arg("http.listeners=");
    for o in overrides {
        cmd.arg("--override").arg(o);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kavka");
    let out = child.wait_with_output().expect("wait");
    assert!(
        !out.status.success(),
        "broker started although it should refuse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_local_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

#[test]
fn secured_kafka_configuration_never_starts_open() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_local_port();
    let config = dir.path().join("server.properties");
    std::fs::write(
        &config,
        format!(
            "listeners=SASL_SSL://127.0.0.1:{port}\n\
             sasl.kerberos.service.name=kafka\n\
             ssl.keystore.location=/etc/kafka/secrets/broker.keystore.jks\n\
             ssl.keystore.password=changeit\n\
             authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
             super.users=User:admin\n\
             log.dirs={}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("broker")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run kavka");
    assert!(!out.status.success(), "a secured configuration started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // TLS, SASL_SSL and the authorizer are served; Kerberos (GSSAPI) is not.
    for key in ["sasl.kerberos.service.name", "PLAIN and SCRAM"] {
        assert!(stderr.contains(key), "{key} not named in: {stderr}");
    }
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something listens on the secured port"
    );
    assert!(!dir.path().join("data").exists(), "data dir touched");

    // Plain keys Kavka does not know stay warnings.
    let mut plain = TestBroker::start_with(&["some.unknown.key=1"]);
    assert!(plain.is_running());
}

/// Starts a broker, writes one record to `topic`, stops it cleanly; returns its
/// data directory (kept by the returned broker handle).
async fn broker_with_one_record(topic: &str) -> TestBroker {
    let mut broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, topic, 1).await;
    let producer = producer(&bs, &[("enable.idempotence", "true")]);
    send(&producer, topic, Some(b"k"), Some(b"v")).await;
    drop(producer);
    broker.stop();
    broker
}

fn refused_with_file_named(broker: &TestBroker, file: &Path) {
    let out = start_refused(&[
        format!("listeners=PLAINTEXT://127.0.0.1:{}", broker.port),
        format!("log.dirs={}", broker.data_dir().display()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&file.display().to_string()),
        "{} not named in: {stderr}",
        file.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_state_files_stop_the_start_naming_the_file() {
    let mut broker = broker_with_one_record("stateful").await;
    let dir = broker.data_dir().to_path_buf();
    let partition = dir.join("stateful-0");
    for (file, garbage) in [
        (dir.join("producer-id-block"), "not-a-number"),
        (partition.join("log-start-offset"), "12abc"),
        (partition.join("leader-epoch-checkpoint"), "0\n3\n0 0\n"),
        (dir.join("meta.properties"), "version=1\n"),
    ] {
        // log-start-offset exists only once retention or DeleteRecords moved it.
        let original = std::fs::read(&file).ok();
        std::fs::write(&file, garbage).unwrap();
        refused_with_file_named(&broker, &file);
        match original {
            Some(bytes) => std::fs::write(&file, bytes).unwrap(),
            None => std::fs::remove_file(&file).unwrap(),
        }
    }
    // Untouched again, it starts and still has the record; producer ids move on.
    broker.restart();
    let consumer = assigned_consumer(&broker.bootstrap(), "stateful", &[0], Offset::Beginning);
    assert_eq!(consume_n(&consumer, 1, Duration::from_secs(10)).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_of_another_node_is_refused() {
    let broker = broker_with_one_record("mine").await;
    let out = start_refused(&[
        format!("listeners=PLAINTEXT://127.0.0.1:{}", broker.port),
        format!("log.dirs={}", broker.data_dir().display()),
        "node.id=7".to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("node.id=7"), "{stderr}");
}

/// A size-limited tmpfs that the test mounts and unmounts itself.
struct SmallDisk {
    path: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a {size} tmpfs needs root (CI runs as root)"
        );
        Self {
            path,
            _parent: parent,
        }
    }

    fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_answers_storage_error_and_loses_nothing_acknowledged() {
    let disk = SmallDisk::mount("2m");
    let mut broker = TestBroker::start_with(&[&format!("log.dirs={}", disk.path.display())]);
    let bs = broker.bootstrap();
    create_topic(&bs, "filling", 1).await;
    let producer = producer(
        &bs,
        &[
            ("acks", "all"),
            ("message.send.max.retries", "0"),
            ("linger.ms", "0"),
        ],
    );

    // 8 KiB records until the disk is full and a few appends have been refused.
    let value = |i: usize| format!("{i:08}").repeat(1024);
    let mut acked: Vec<(i64, usize)> = Vec::new();
    let mut storage_errors = 0;
    for i in 0..1000 {
        let v = value(i);
        let record = FutureRecord::<[u8], [u8]>::to("filling")
            .key(b"k")
            .payload(v.as_bytes());
        match producer.send(record, Duration::from_secs(10)).await {
            Ok(d) => acked.push((d.offset, i)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::KafkaStorageError), _)) => {
                storage_errors += 1;
                if storage_errors >= 5 {
                    break;
                }
            }
            Err((e, _)) => panic!("record {i}: unexpected error {e}"),
        }
    }
    assert!(storage_errors >= 5, "the 2 MiB disk never filled");
    assert!(acked.len() > 50, "too few records fitted: {}", acked.len());
    assert!(broker.is_running(), "broker died on a full disk");
    let log = std::fs::read_to_string(broker.data_dir().with_extension("log")).unwrap();
    assert!(
        log.contains("cannot write to the partition log"),
        "the broker log does not say what is wrong: {log}"
    );

    // Reads go on while the disk is full, and refused appends left no gap or garbage.
    let read_back = |bs: &str, n: usize| {
        let consumer = assigned_consumer(bs, "filling", &[0], Offset::Beginning);
        consume_n(&consumer, n, Duration::from_secs(20))
            .iter()
            .map(|m| {
                // (offset, record number), the number checked against the whole value
                // so that a torn or foreign record shows as a mismatch.
                let text = String::from_utf8(payload(m)).unwrap_or_default();
                let number = text.get(..8).and_then(|n| n.parse::<usize>().ok());
                match number.filter(|&i| text == value(i)) {
                    Some(i) => (m.offset(), i as i64),
                    None => (m.offset(), -1),
                }
            })
            .collect::<Vec<_>>()
    };
    let expected = |acked: &[(i64, usize)]| {
        acked
            .iter()
            .map(|&(o, i)| (o, i as i64))
            .collect::<Vec<_>>()
    };
    assert_eq!(read_back(&bs, acked.len()), expected(&acked));

    // Space comes back: appends resume by themselves, and after a crash and a
    // restart every acknowledged record is there.
    disk.grow("64m");
    for i in 1000..1010 {
        let v = value(i);
        let record = FutureRecord::<[u8], [u8]>::to("filling")
            .key(b"k")
            .payload(v.as_bytes());
        let d = producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("append after space returned");
        acked.push((d.offset, i));
    }
    drop(producer);
    broker.kill9();
    broker.restart();
    let offsets: Vec<i64> = acked.iter().map(|&(o, _)| o).collect();
    assert_eq!(
        offsets,
        (0..acked.len() as i64).collect::<Vec<_>>(),
        "acknowledged offsets are contiguous"
    );
    assert_eq!(
        read_back(&broker.bootstrap(), acked.len()),
        expected(&acked)
    );
}

/// Commits `offset` for partition 0 of `topic` as a standalone consumer; the error code.
fn commit(stream: &mut TcpStream, group: &str, topic: &str, offset: i64) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    let response: OffsetCommitResponse = raw_call(stream, ApiKey::OffsetCommit, 8, &request);
    response.topics[0].partitions[0].error_code
}

/// The committed offset of partition 0 of `topic` (-1: none).
fn committed(stream: &mut TcpStream, group: &str, topic: &str) -> i64 {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_indexes(vec![0])]));
    let response: OffsetFetchResponse = raw_call(stream, ApiKey::OffsetFetch, 7, &request);
    assert_eq!(response.error_code, 0);
    response.topics[0].partitions[0].committed_offset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_cannot_be_written_is_refused_and_undone() {
    let disk = SmallDisk::mount("2m");
    let mut broker = TestBroker::start_with(&[
        &format!("log.dirs={}", disk.path.display()),
        "offsets.topic.num.partitions=4",
    ]);
    let bs = broker.bootstrap();
    create_topic(&bs, "consumed", 1).await;
    create_topic(&bs, "filler", 1).await;
    let mut conn = TcpStream::connect(("127.0.0.1", broker.port)).unwrap();
    // "early" and "late" land on different __consumer_offsets partitions, so
    // "late" needs a fresh page of the full disk for its first record.
    assert_eq!(commit(&mut conn, "early", "consumed", 5), 0);

    let producer = producer(
        &bs,
        &[("message.send.max.retries", "0"), ("linger.ms", "0")],
    );
    let chunk = vec![b'x'; 8192];
    let mut refused = 0;
    for _ in 0..1000 {
        let record = FutureRecord::<[u8], [u8]>::to("filler").payload(&chunk);
        if producer
            .send(record, Duration::from_secs(10))
            .await
            .is_err()
        {
            refused += 1;
            if refused == 3 {
                break;
            }
        }
    }
    assert_eq!(refused, 3, "the disk never filled");

    let code = commit(&mut conn, "late", "consumed", 9);
    assert_eq!(code, 15, "COORDINATOR_NOT_AVAILABLE, so the client retries");
    assert_eq!(
        committed(&mut conn, "late", "consumed"),
        -1,
        "failed commit undone"
    );
    assert_eq!(committed(&mut conn, "early", "consumed"), 5);

    // After space returns and a crash, neither the refused commit nor a lost
    // acknowledged one shows up.
    disk.grow("64m");
    drop(conn);
    broker.kill9();
    broker.restart();
    let mut conn = TcpStream::connect(("127.0.0.1", broker.port)).unwrap();
    assert_eq!(committed(&mut conn, "late", "consumed"), -1);
    assert_eq!(committed(&mut conn, "early", "consumed"), 5);
    assert_eq!(commit(&mut conn, "late", "consumed", 9), 0);
    assert_eq!(committed(&mut conn, "late", "consumed"), 9);
}
