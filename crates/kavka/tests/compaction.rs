//! Compacted topics through librdkafka against the real binary: retention that
//! respects `cleanup.policy`, the log cleaner keeping the latest value per key,
//! and the cleaner surviving a `kill -9` in the middle of a pass.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::Offset;

async fn create(bs: &str, topic: &str, configs: &[(&str, &str)]) {
    let mut t = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    admin(bs)
        .create_topics(&[t], &AdminOptions::new())
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
}

/// Every record from the log start to the high watermark.
fn read_to_end(bs: &str, topic: &str) -> Vec<OwnedMessage> {
    let c: BaseConsumer = assigned_consumer(bs, topic, &[0], Offset::Beginning);
    let (_, high) = c
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out: Vec<OwnedMessage> = Vec::new();
    while Instant::now() < deadline {
        if out.last().is_some_and(|m| m.offset() + 1 >= high) {
            break;
        }
        if let Some(r) = c.poll(Duration::from_millis(100)) {
            out.push(r.expect("consume").detach());
        }
    }
    out
}

/// Key → (offset, value) of the last record per key, as a consumer sees it.
fn latest_per_key(messages: &[OwnedMessage]) -> BTreeMap<Vec<u8>, (i64, Option<Vec<u8>>)> {
    let mut latest = BTreeMap::new();
    for m in messages {
        let key = m.key().unwrap_or_default().to_vec();
        latest.insert(key, (m.offset(), m.payload().map(<[u8]>::to_vec)));
    }
    latest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topic_keeps_every_key_past_retention_ms() {
    let broker = TestBroker::start_with(&["log.retention.check.interval.ms=1000"]);
    let bs = broker.bootstrap();
    create(
        &bs,
        "compacted-retention",
        &[
            ("cleanup.policy", "compact"),
            ("retention.ms", "2000"),
            ("segment.ms", "1000"),
        ],
    )
    .await;
    let p = producer(&bs, &[("linger.ms", "0")]);
    for (k, v) in [("k1", "v1"), ("k2", "v2"), ("k3", "v3")] {
        send(
            &p,
            "compacted-retention",
            Some(k.as_bytes()),
            Some(v.as_bytes()),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send(&p, "compacted-retention", Some(b"k9"), Some(b"v9")).await;
    // Past retention.ms plus a retention check: a `delete` topic would have lost k1..k3.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    let messages = read_to_end(&bs, "compacted-retention");
    let latest = latest_per_key(&messages);
    let values: Vec<(&[u8], &[u8])> = latest
        .iter()
        .map(|(k, (_, v))| (k.as_slice(), v.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(
        values,
        vec![
            (&b"k1"[..], &b"v1"[..]),
            (b"k2", b"v2"),
            (b"k3", b"v3"),
            (b"k9", b"v9")
        ]
    );
    assert_eq!(messages[0].offset(), 0, "the log start must not move");
}
