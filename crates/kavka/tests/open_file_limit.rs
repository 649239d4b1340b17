//! A broker under a low open-file limit: segment files are held open only within
//! a budget below the limit, so the broker hosts, writes and reads more partitions
//! than the limit, keeps writing its metadata, and restarts with them.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::*;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset, TopicPartitionList};

const LIMIT: u64 = 512;
/// The segment files the broker keeps open under `LIMIT`: the limit less its
/// reserve of 128 for the metadata log, coordinators and connections.
const SEGMENT_FILE_BUDGET: usize = 384;
/// 60 topics of 10: 600 partitions, more than the limit itself.
const TOPICS: usize = 60;
const PARTITIONS: i32 = 10;

/// CreateTopics for one topic; the answer's (error code, message).
fn create(stream: &mut TcpStream, name: &str, partitions: i32) -> (i16, Option<String>) {
    let request = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_string())))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(30_000);
    let response: CreateTopicsResponse = raw_call(stream, ApiKey::CreateTopics, 5, &request);
    let topic = &response.topics[0];
    (
        topic.error_code,
        topic.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// Names of the topics the broker reports.
fn topic_names(bootstrap: &str) -> Vec<String> {
    let mut stream = TcpStream::connect(bootstrap).expect("connect");
    let response: MetadataResponse = raw_call(
        &mut stream,
        ApiKey::Metadata,
        8,
        &MetadataRequest::default().with_topics(None),
    );
    response
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect()
}

async fn produce_to_every_partition(bootstrap: &str, topics: &[String], value: &[u8]) {
    let producer = producer(bootstrap, &[("acks", "all")]);
    let mut pending = Vec::new();
    for topic in topics {
        for p in 0..PARTITIONS {
            let record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(topic).partition(p).payload(value);
            pending.push(
                producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("enqueue"),
            );
        }
    }
    for f in pending {
        f.await
            .expect("delivery future")
            .map_err(|(e, _)| e)
            .expect("delivered");
    }
}

/// Every partition's values, read from the beginning, by (topic, partition).
fn values_of_every_partition(
    bootstrap: &str,
    topics: &[String],
    per_partition: usize,
) -> Vec<Vec<u8>> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "kavka-test-assigned")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .expect("tpl");
        }
    }
    consumer.assign(&tpl).expect("assign");
    let expected = topics.len() * PARTITIONS as usize * per_partition;
    let mut got: Vec<_> = consume_n(&consumer, expected, Duration::from_secs(60))
        .iter()
        .map(|m| (m.topic().to_string(), m.partition(), m.offset(), payload(m)))
        .collect();
    got.sort();
    got.into_iter().map(|(_, _, _, v)| v).collect()
}

/// Descriptors of process `pid` open on segment (`.log`) files of the topics
/// named `many-*` under `dir` (the metadata log is held apart).
fn segment_files_open(pid: u32, dir: &std::path::Path) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the broker's descriptors")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| {
            let partition = target.parent().and_then(|p| p.strip_prefix(dir).ok());
            partition.is_some_and(|p| p.to_string_lossy().starts_with("many-"))
                && target.extension().is_some_and(|x| x == "log")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn more_partitions_than_the_open_file_limit_are_written_read_and_kept() {
    let mut broker = TestBroker::start_with_open_file_limit(LIMIT, &[]);
    let bs = broker.bootstrap();
    let mut stream = TcpStream::connect(&bs).expect("connect");
    let created: Vec<String> = (0..TOPICS).map(|i| format!("many-{i:03}")).collect();
    for name in &created {
        let (code, message) = create(&mut stream, name, PARTITIONS);
        assert_eq!(code, 0, "{name}: {message:?}");
    }

    // All 600 written at once: segment files past the budget are opened for
    // each write alone, and the descriptors held stay within it.
    produce_to_every_partition(&bs, &created, b"first").await;
    let pid = broker.pid().expect("running");
    let held = segment_files_open(pid, broker.data_dir());
    assert!(
        held <= SEGMENT_FILE_BUDGET,
        "{held} segment files open, over the budget of {SEGMENT_FILE_BUDGET}"
    );

    // Metadata writes go on: a topic more, and a deletion.
    let (code, message) = create(&mut stream, "one-more", 1);
    assert_eq!(code, 0, "{message:?}");
    let deleted = admin(&bs)
        .delete_topics(&["one-more"], &rdkafka::admin::AdminOptions::new())
        .await
        .expect("delete_topics");
    assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");
    drop(stream);
    let values = values_of_every_partition(&bs, &created, 1);
    assert_eq!(values.len(), TOPICS * PARTITIONS as usize);
    assert!(values.iter().all(|v| v == b"first"));

    // A restart with all those partitions, under the same limit.
    broker.stop();
    broker.restart();
    let names = topic_names(&bs);
    for name in &created {
        assert!(names.contains(name), "{name} lost over the restart");
    }
    produce_to_every_partition(&bs, &created, b"second").await;
    let values = values_of_every_partition(&bs, &created, 2);
    assert_eq!(values.len(), 2 * TOPICS * PARTITIONS as usize);
    for pair in values.chunks(2) {
        assert_eq!(pair, [b"first".to_vec(), b"second".to_vec()]);
    }
    broker.stop();
}
