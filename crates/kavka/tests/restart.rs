//! Acknowledged records survive a clean restart and a `kill -9`.

mod common;

use std::time::Duration;

use common::*;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::Consumer;
use rdkafka::Offset;

async fn produce_acked(bs: &str, topic: &str, from: usize, n: usize) {
    let producer = producer(bs, &[("acks", "all"), ("enable.idempotence", "true")]);
    for i in from..from + n {
        send(
            &producer,
            topic,
            Some(format!("k{}", i % 3).as_bytes()),
            Some(format!("v{i}").as_bytes()),
        )
        .await;
    }
}

fn all_values(bs: &str, topic: &str, n: usize) -> Vec<String> {
    let consumer = assigned_consumer(bs, topic, &[0, 1, 2], Offset::Beginning);
    let mut v: Vec<String> = consume_n(&consumer, n, Duration::from_secs(20))
        .iter()
        .map(|m| String::from_utf8(payload(m)).unwrap())
        .collect();
    v.sort();
    v
}

fn expected(n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_keeps_every_acknowledged_record() {
    let mut broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "durable", 3).await;
    produce_acked(&bs, "durable", 0, 300).await;
    broker.stop();
    broker.restart();
    assert_eq!(all_values(&bs, "durable", 300), expected(300));
    // The log keeps going with the next offsets after the restart.
    produce_acked(&bs, "durable", 300, 30).await;
    assert_eq!(all_values(&bs, "durable", 330), expected(330));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_keeps_every_acknowledged_record() {
    let mut broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "crashy", 3).await;
    produce_acked(&bs, "crashy", 0, 300).await;
    broker.kill9();
    broker.restart();
    assert_eq!(all_values(&bs, "crashy", 300), expected(300));
    produce_acked(&bs, "crashy", 300, 30).await;
    assert_eq!(all_values(&bs, "crashy", 330), expected(330));
    // Topics and their partition counts come back from the metadata log.
    broker.kill9();
    broker.restart();
    assert_eq!(all_values(&bs, "crashy", 330), expected(330));
}

/// A data directory from before the metadata quorum (one `metadata.log`) keeps
/// its topics, ids and records: the log moves into the quorum once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_metadata_log_moves_into_the_quorum() {
    use kavka_metadata::controller::{create_topic, NewTopic};
    use kavka_metadata::{MetadataImage, MetadataLog, MetadataRecord};

    let mut broker = TestBroker::start();
    broker.stop();
    let dir = broker.data_dir().to_path_buf();
    std::fs::remove_dir_all(&dir).unwrap();
    let meta_dir = dir.join("__cluster_metadata-0");
    let (mut log, _) = MetadataLog::open(&meta_dir.join("metadata.log")).unwrap();
    let mut image = MetadataImage::default();
    let register = MetadataRecord::RegisterBroker {
        broker_id: 1,
        host: "127.0.0.1".into(),
        port: i32::from(broker.port),
        rack: None,
        incarnation_id: None,
        broker_epoch: 0,
        fenced: false,
    };
    image.apply(&register).unwrap();
    log.append(&[register]).unwrap();
    let topic = NewTopic {
        name: "old-topic".into(),
        num_partitions: 2,
        replication_factor: 1,
        assignments: None,
        configs: Default::default(),
    };
    let records = create_topic(&image, &topic, &[1]).unwrap();
    let Some(MetadataRecord::Topic { topic_id, .. }) = records.first().cloned() else {
        panic!("no topic record");
    };
    log.append(&records).unwrap();
    drop(log);

    broker.restart();
    let bs = broker.bootstrap();
    produce_acked(&bs, "old-topic", 0, 20).await;
    let consumer = assigned_consumer(&bs, "old-topic", &[0, 1], Offset::Beginning);
    assert_eq!(consume_n(&consumer, 20, Duration::from_secs(20)).len(), 20);
    let metadata = consumer
        .fetch_metadata(Some("old-topic"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 2);
    assert!(
        !meta_dir.join("metadata.log").exists(),
        "the old log is renamed once moved"
    );
    // The topic keeps its id: clients that cached it see the same topic.
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", broker.port)).unwrap();
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default()
            .with_name(Some(TopicName(StrBytes::from_static_str("old-topic"))))]));
    let response: MetadataResponse = raw_call(&mut conn, ApiKey::Metadata, 12, &request);
    assert_eq!(response.topics[0].topic_id, topic_id);

    // A second restart applies nothing twice.
    broker.stop();
    broker.restart();
    let consumer = assigned_consumer(&bs, "old-topic", &[0, 1], Offset::Beginning);
    assert_eq!(consume_n(&consumer, 20, Duration::from_secs(20)).len(), 20);
}

/// The next offset after the last whole batch of a segment file, parsed by hand
/// (v2 batch: base offset at 0, length at 8, last offset delta at 23).
fn end_of_whole_batches(bytes: &[u8]) -> (usize, i64) {
    let (mut pos, mut next) = (0usize, 0i64);
    while pos + 27 <= bytes.len() {
        let base = i64::from_be_bytes(bytes[pos..pos + 8].try_into().unwrap());
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        let delta = i32::from_be_bytes(bytes[pos + 23..pos + 27].try_into().unwrap());
        if pos + 12 + len > bytes.len() {
            break;
        }
        next = base + i64::from(delta) + 1;
        pos += 12 + len;
    }
    (pos, next)
}

/// Kafka's one clean-shutdown marker per log directory: a clean stop writes it,
/// the next start takes it away, so a crash in the middle of writes after that
/// clean restart is recovered (a torn tail cut) and not trusted because of an
/// old marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_write_after_a_clean_restart_is_recovered() {
    let mut broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "cycle", 1).await;
    produce_acked(&bs, "cycle", 0, 50).await;
    broker.stop();
    let marker = broker.data_dir().join(".kafka_cleanshutdown");
    let partition_dir = broker.data_dir().join("cycle-0");
    assert!(marker.exists(), "a clean stop marks the log directory");
    assert!(!partition_dir.join(".kafka_cleanshutdown").exists());

    broker.restart();
    // The port is bound before the logs open: wait for the start to finish.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while marker.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!marker.exists(), "the start takes the marker");
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = {
        let (bs, acked) = (bs.clone(), acked.clone());
        tokio::spawn(async move {
            let producer = producer(&bs, &[("acks", "all"), ("linger.ms", "0")]);
            for i in 50.. {
                let value = format!("v{i}");
                let record =
                    rdkafka::producer::FutureRecord::<(), str>::to("cycle").payload(value.as_str());
                if producer.send(record, Duration::from_secs(5)).await.is_err() {
                    return;
                }
                acked.lock().unwrap().push(value);
            }
        })
    };
    while acked.lock().unwrap().len() < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    broker.kill9();
    writer.abort();
    let acked: Vec<String> = acked.lock().unwrap().clone();

    // What a write torn by the crash leaves: a batch whose header fits but whose
    // records do not match its CRC. Only recovery notices.
    let segment = partition_dir.join("00000000000000000000.log");
    let mut bytes = std::fs::read(&segment).unwrap();
    let (whole, log_end) = end_of_whole_batches(&bytes);
    bytes.truncate(whole);
    let last_start = {
        let mut pos = 0;
        let mut last = 0;
        while pos < whole {
            last = pos;
            pos += 12 + i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        }
        last
    };
    let mut torn = bytes[last_start..whole].to_vec();
    torn[..8].copy_from_slice(&log_end.to_be_bytes());
    let end = torn.len() - 1;
    torn[end] ^= 0x5a;
    bytes.extend_from_slice(&torn);
    std::fs::write(&segment, &bytes).unwrap();

    broker.restart();
    let consumer = assigned_consumer(&bs, "cycle", &[0], Offset::Beginning);
    let (_, high) = consumer
        .fetch_watermarks("cycle", 0, Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        high, log_end,
        "the torn batch is cut, nothing whole is lost"
    );
    let read: Vec<String> = consume_n(&consumer, log_end as usize, Duration::from_secs(20))
        .iter()
        .map(|m| String::from_utf8(payload(m)).unwrap())
        .collect();
    assert_eq!(read.len() as i64, log_end);
    for value in (0..50).map(|i| format!("v{i}")).chain(acked) {
        assert!(read.contains(&value), "acknowledged {value} lost");
    }
    let producer = producer(&bs, &[("acks", "all")]);
    let (_, offset) = send(&producer, "cycle", None, Some(b"after")).await;
    assert_eq!(
        offset, log_end,
        "writes continue after the last whole batch"
    );
}

/// Sends one record to partition `p` and waits for its acknowledgement.
async fn send_to_partition(
    producer: &rdkafka::producer::FutureProducer,
    topic: &str,
    p: i32,
    value: &[u8],
) {
    let record: rdkafka::producer::FutureRecord<'_, [u8], [u8]> =
        rdkafka::producer::FutureRecord::to(topic)
            .partition(p)
            .payload(value);
    producer
        .send(record, Duration::from_secs(20))
        .await
        .map_err(|(e, _)| e)
        .expect("delivered");
}

/// Each partition's leader epoch as the broker's Metadata answer gives it.
fn leader_epochs(port: u16, topic: &'static str) -> Vec<(i32, i32)> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default()
            .with_name(Some(TopicName(StrBytes::from_static_str(topic))))]));
    let response: MetadataResponse = raw_call(&mut conn, ApiKey::Metadata, 12, &request);
    let mut epochs: Vec<(i32, i32)> = response.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.leader_epoch))
        .collect();
    epochs.sort();
    epochs
}

/// The last (epoch, start offset) entry of a partition's leader-epoch checkpoint
/// on disk (Kafka's format: version, count, then one entry per line).
fn last_checkpointed_epoch(dir: &std::path::Path) -> (i32, i64) {
    let text = std::fs::read_to_string(dir.join("leader-epoch-checkpoint")).unwrap();
    let last = text.lines().last().unwrap();
    let (epoch, offset) = last.split_once(' ').unwrap();
    (epoch.parse().unwrap(), offset.parse().unwrap())
}

/// A restart gives every partition a new leader epoch. Its checkpoint is written
/// with the epoch's first record, not at the start (that was most of a start's
/// work with many partitions), so each must be on disk, where it starts, once the
/// partition took a write in it, and a crash right after must keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_many_partitions_puts_every_new_leader_epoch_on_disk() {
    const PARTITIONS: i32 = 80;
    let mut broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "many", PARTITIONS).await;
    let first = producer(&bs, &[("acks", "all")]);
    for p in 0..PARTITIONS {
        send_to_partition(&first, "many", p, b"before").await;
    }
    let before = leader_epochs(broker.port, "many");
    broker.stop();
    broker.restart();
    let after = leader_epochs(broker.port, "many");
    assert_eq!(after.len(), PARTITIONS as usize);
    let second = producer(&bs, &[("acks", "all")]);
    for p in 0..PARTITIONS {
        send_to_partition(&second, "many", p, b"after").await;
    }
    for ((p, old), (_, new)) in before.iter().zip(&after) {
        assert!(new > old, "partition {p}: epoch {old} then {new}");
        let dir = broker.data_dir().join(format!("many-{p}"));
        assert_eq!(
            last_checkpointed_epoch(&dir),
            (*new, 1),
            "partition {p}: the new epoch starts at the log end it had"
        );
    }
    // And a crash right after leaves every checkpoint readable.
    broker.kill9();
    broker.restart();
    let consumer = assigned_consumer(
        &bs,
        "many",
        &(0..PARTITIONS).collect::<Vec<_>>(),
        Offset::Beginning,
    );
    let got = consume_n(&consumer, 2 * PARTITIONS as usize, Duration::from_secs(30));
    assert_eq!(got.len(), 2 * PARTITIONS as usize);
}
