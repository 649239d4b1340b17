//! A broker under a low open-file limit: partitions hold descriptors only while
//! used, creation past what the limit allows is refused with a clear error before
//! the limit is hit, and the broker keeps writing metadata, serving its topics and
//! restarting.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::*;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

const LIMIT: u64 = 512;

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

async fn produce_to_every_partition(bootstrap: &str, topics: &[String], partitions: i32) {
    let producer = producer(bootstrap, &[("acks", "all")]);
    let mut pending = Vec::new();
    for topic in topics {
        for p in 0..partitions {
            let record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(topic).partition(p).payload(b"x");
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

#[tokio::test(flavor = "multi_thread")]
async fn creation_past_the_open_file_limit_is_refused_and_the_broker_keeps_working() {
    let mut broker = TestBroker::start_with_open_file_limit(LIMIT, &[]);
    let bs = broker.bootstrap();
    create_topic(&bs, "existing", 1).await;
    let producer = producer(&bs, &[("acks", "all")]);
    for i in 0..5 {
        send(
            &producer,
            "existing",
            None,
            Some(format!("before-{i}").as_bytes()),
        )
        .await;
    }

    // Topics of 10 partitions until the broker refuses one. Three descriptors per
    // partition (Kavka before) would have run out at about 170 partitions.
    let mut stream = TcpStream::connect(&bs).expect("connect");
    let mut created = Vec::new();
    let refusal = loop {
        let name = format!("many-{:03}", created.len());
        let (code, message) = create(&mut stream, &name, 10);
        if code != 0 {
            break (name, code, message.unwrap_or_default());
        }
        created.push(name);
        assert!(created.len() < 60, "never refused: the limit is {LIMIT}");
    };
    let (refused_name, code, message) = refusal;
    assert_eq!(code, 44, "POLICY_VIOLATION, got {code}: {message}");
    assert!(message.contains("RLIMIT_NOFILE 512"), "{message}");
    assert!(message.contains("open-file limit"), "{message}");
    assert!(
        created.len() >= 30,
        "only {} topics of 10 fit under {LIMIT} descriptors",
        created.len()
    );
    assert!(!topic_names(&bs).contains(&refused_name));
    assert!(
        broker.log_text().contains("refused creating partitions"),
        "the broker says why in its log"
    );

    // Every partition in use at once still fits: one descriptor each.
    produce_to_every_partition(&bs, &created, 10).await;

    // Metadata writes go on: a partition that fits, and a deletion.
    let (code, message) = create(&mut stream, "one-more", 1);
    assert_eq!(code, 0, "{message:?}");
    let deleted = admin(&bs)
        .delete_topics(&["one-more"], &rdkafka::admin::AdminOptions::new())
        .await
        .expect("delete_topics");
    assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");

    let consumer = assigned_consumer(&bs, "existing", &[0], Offset::Beginning);
    assert_eq!(consume_n(&consumer, 5, Duration::from_secs(20)).len(), 5);
    drop(consumer);
    drop(stream);

    // A restart with all those partitions, under the same limit.
    broker.stop();
    broker.restart();
    let names = topic_names(&bs);
    for name in &created {
        assert!(names.contains(name), "{name} lost over the restart");
    }
    send(&producer, "existing", None, Some(b"after")).await;
    let consumer = assigned_consumer(&bs, "existing", &[0], Offset::Beginning);
    let values: Vec<Vec<u8>> = consume_n(&consumer, 6, Duration::from_secs(20))
        .iter()
        .map(payload)
        .collect();
    assert_eq!(values.len(), 6);
    assert_eq!(values[5], b"after");
    produce_to_every_partition(&bs, &created, 10).await;
    broker.stop();
}
