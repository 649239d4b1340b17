//! Produce and consume through librdkafka (the `rdkafka` crate) against the real binary.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::*;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureRecord, Producer};
use rdkafka::{Offset, Timestamp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_stay_in_order_on_one_partition_and_replay_from_zero() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "order-placed", 3).await;
    let producer = producer(&bs, &[("partitioner", "murmur2_random")]);
    let mut by_key: HashMap<String, Vec<(i32, i64)>> = HashMap::new();
    for i in 0..60 {
        let key = format!("user-{}", i % 6);
        let value = format!("event-{i}");
        let (p, o) = send(
            &producer,
            "order-placed",
            Some(key.as_bytes()),
            Some(value.as_bytes()),
        )
        .await;
        by_key.entry(key).or_default().push((p, o));
    }
    for (key, sends) in &by_key {
        let partitions: HashSet<i32> = sends.iter().map(|s| s.0).collect();
        assert_eq!(partitions.len(), 1, "key {key} spread over {partitions:?}");
        assert!(
            sends.windows(2).all(|w| w[0].1 < w[1].1),
            "offsets of {key} not increasing"
        );
    }

    let consumer = assigned_consumer(&bs, "order-placed", &[0, 1, 2], Offset::Beginning);
    let messages = consume_n(&consumer, 60, Duration::from_secs(20));
    assert_eq!(messages.len(), 60);
    let mut per_partition: HashMap<i32, Vec<i64>> = HashMap::new();
    for m in &messages {
        per_partition
            .entry(m.partition())
            .or_default()
            .push(m.offset());
    }
    for (p, offsets) in per_partition {
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(
            offsets, expected,
            "partition {p} offsets not contiguous from 0"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_timestamps_null_keys_and_tombstones_round_trip() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "t", 1).await;
    let producer = producer(&bs, &[]);
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "trace",
            value: Some("abc"),
        })
        .insert(Header {
            key: "empty",
            value: None::<&[u8]>,
        });
    let record = FutureRecord::to("t")
        .key("k1")
        .payload("v1")
        .timestamp(1_700_000_000_123)
        .headers(headers);
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    send(&producer, "t", None, Some(b"no key")).await;
    send(&producer, "t", Some(b"k1"), None).await;

    let consumer = assigned_consumer(&bs, "t", &[0], Offset::Beginning);
    let m = consume_n(&consumer, 3, Duration::from_secs(15));
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].key(), Some(&b"k1"[..]));
    assert_eq!(m[0].payload(), Some(&b"v1"[..]));
    assert_eq!(m[0].timestamp(), Timestamp::CreateTime(1_700_000_000_123));
    let h = m[0].headers().expect("headers");
    assert_eq!(h.count(), 2);
    assert_eq!(h.get(0).key, "trace");
    assert_eq!(h.get(0).value, Some(&b"abc"[..]));
    assert_eq!(h.get(1).value, None);
    assert_eq!(m[1].key(), None);
    assert_eq!(m[1].payload(), Some(&b"no key"[..]));
    assert_eq!(m[2].key(), Some(&b"k1"[..]));
    assert_eq!(m[2].payload(), None, "tombstone must stay null");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_compression_codec_round_trips() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("c-{codec}");
        create_topic(&bs, &topic, 1).await;
        let producer = producer(&bs, &[("compression.codec", codec), ("linger.ms", "50")]);
        let values: Vec<String> = (0..200)
            .map(|i| format!("{codec}-{i}-").repeat(10))
            .collect();
        send_all(
            &producer,
            &topic,
            values.iter().map(|v| (None, v.as_bytes())),
        )
        .await;
        let consumer = assigned_consumer(&bs, &topic, &[0], Offset::Beginning);
        let m = consume_n(&consumer, 200, Duration::from_secs(15));
        assert_eq!(m.len(), 200, "{codec}");
        for (i, msg) in m.iter().enumerate() {
            assert_eq!(msg.offset(), i as i64);
            assert_eq!(
                payload(msg),
                format!("{codec}-{i}-").repeat(10).into_bytes(),
                "{codec}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_one_and_all_deliver_everything() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "acks", 1).await;
    for acks in ["0", "1", "all"] {
        let producer = producer(&bs, &[("acks", acks)]);
        for i in 0..100 {
            send(
                &producer,
                "acks",
                None,
                Some(format!("{acks}-{i}").as_bytes()),
            )
            .await;
        }
        producer.flush(Duration::from_secs(10)).unwrap();
    }
    let consumer = assigned_consumer(&bs, "acks", &[0], Offset::Beginning);
    let m = consume_n(&consumer, 300, Duration::from_secs(15));
    assert_eq!(m.len(), 300);
    let values: Vec<String> = m
        .iter()
        .map(|m| String::from_utf8(payload(m)).unwrap())
        .collect();
    for acks in ["0", "1", "all"] {
        for i in 0..100 {
            assert!(
                values.contains(&format!("{acks}-{i}")),
                "missing {acks}-{i}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_writes_each_record_once() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "idem", 2).await;
    let producer = producer(&bs, &[("enable.idempotence", "true"), ("linger.ms", "20")]);
    let records: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("k{}", i % 10), i.to_string()))
        .collect();
    send_all(
        &producer,
        "idem",
        records
            .iter()
            .map(|(k, v)| (Some(k.as_bytes()), v.as_bytes())),
    )
    .await;
    let consumer = assigned_consumer(&bs, "idem", &[0, 1], Offset::Beginning);
    let m = consume_n(&consumer, 1000, Duration::from_secs(20));
    assert_eq!(m.len(), 1000);
    let distinct: HashSet<Vec<u8>> = m.iter().map(payload).collect();
    assert_eq!(distinct.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_for_times_finds_first_record_at_or_after() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    // One batch per record, and all ten records in one gzip batch: the answer is
    // the record either way, even inside a compressed batch.
    for (topic, extra) in [
        ("times", [("linger.ms", "0"), ("compression.codec", "none")]),
        (
            "times-gzip",
            [("linger.ms", "200"), ("compression.codec", "gzip")],
        ),
    ] {
        create_topic(&bs, topic, 1).await;
        let producer = producer(&bs, &extra);
        let mut pending = Vec::new();
        for i in 0..10i64 {
            let record = FutureRecord::<str, str>::to(topic)
                .payload("x")
                .timestamp(1_000_000 + i * 1000);
            pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        }
        for f in pending {
            f.await.unwrap().map_err(|(e, _)| e).unwrap();
        }
        let consumer = assigned_consumer(&bs, topic, &[0], Offset::Beginning);
        let mut tpl = rdkafka::TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Offset(1_004_500))
            .unwrap();
        let found =
            rdkafka::consumer::Consumer::offsets_for_times(&consumer, tpl, Duration::from_secs(10))
                .unwrap();
        assert_eq!(
            found.find_partition(topic, 0).unwrap().offset(),
            Offset::Offset(5),
            "{topic}"
        );
        let (low, high) = rdkafka::consumer::Consumer::fetch_watermarks(
            &consumer,
            topic,
            0,
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!((low, high), (0, 10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_records_arrive_without_loss_or_duplicate() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "bulk", 3).await;
    let producer = producer(
        &bs,
        &[
            ("linger.ms", "10"),
            ("queue.buffering.max.messages", "200000"),
        ],
    );
    let total = 100_000u32;
    let records: Vec<([u8; 4], [u8; 4])> = (0..total)
        .map(|i| ((i % 97).to_be_bytes(), i.to_be_bytes()))
        .collect();
    send_all(
        &producer,
        "bulk",
        records.iter().map(|(k, v)| (Some(&k[..]), &v[..])),
    )
    .await;
    let consumer = assigned_consumer(&bs, "bulk", &[0, 1, 2], Offset::Beginning);
    let m = consume_n(&consumer, total as usize, Duration::from_secs(60));
    assert_eq!(m.len(), total as usize);
    let mut seen = vec![false; total as usize];
    for msg in &m {
        let v = u32::from_be_bytes(payload(msg).try_into().unwrap()) as usize;
        assert!(!seen[v], "duplicate {v}");
        seen[v] = true;
    }
}
