//! Acknowledged records survive a clean restart and a `kill -9`.

mod common;

use std::time::Duration;

use common::*;
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
