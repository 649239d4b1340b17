//! Compacted topics through librdkafka against the real binary: retention that
//! respects `cleanup.policy`, the log cleaner keeping the latest value per key,
//! and the cleaner surviving a `kill -9` in the middle of a pass.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
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
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(m.detach()),
            // A restarted broker's port may refuse the first connections; the
            // client reconnects, and the deadline bounds the wait.
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure,
            ))) => {}
            Some(Err(e)) => panic!("consume: {e}"),
            None => {}
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

/// The cleaner's first dirty offset for partition 0 of `topic`, once it has
/// cleaned that log at least once.
fn cleaned_up_to(broker: &TestBroker, topic: &str) -> Option<i64> {
    let text = std::fs::read_to_string(broker.data_dir().join("cleaner-offset-checkpoint")).ok()?;
    text.lines()
        .skip(2)
        .find_map(|l| l.strip_prefix(&format!("{topic} 0 "))?.trim().parse().ok())
}

/// Waits until the cleaner has cleaned `topic` up to at least `offset`.
async fn wait_cleaned(broker: &TestBroker, topic: &str, offset: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while cleaned_up_to(broker, topic).is_none_or(|c| c < offset) {
        assert!(
            Instant::now() < deadline,
            "cleaner did not reach offset {offset} of {topic} (at {:?})",
            cleaned_up_to(broker, topic)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const FAST_CLEANER: &[&str] = &[
    "log.cleaner.backoff.ms=100",
    "log.retention.check.interval.ms=1000",
];

/// Compaction settings that make every closed segment cleanable at once.
const EAGER: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("segment.ms", "300"),
    ("min.cleanable.dirty.ratio", "0.01"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleaner_keeps_only_the_latest_value_of_every_key() {
    let broker = TestBroker::start_with(FAST_CLEANER);
    let bs = broker.bootstrap();
    let topic = "compacted";
    create(&bs, topic, EAGER).await;
    let p = producer(&bs, &[("linger.ms", "0")]);
    let mut model = BTreeMap::new();
    for round in 0..4 {
        for k in 0..50 {
            let key = format!("key-{k:03}");
            let value = format!("round-{round}");
            let (_, offset) = send(&p, topic, Some(key.as_bytes()), Some(value.as_bytes())).await;
            model.insert(key.into_bytes(), (offset, Some(value.into_bytes())));
        }
        // Let segment.ms roll the segment.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    // One more write rolls the last round's segment away from being active.
    let (_, last) = send(&p, topic, Some(b"key-000"), Some(b"final")).await;
    model.insert(b"key-000".to_vec(), (last, Some(b"final".to_vec())));
    wait_cleaned(&broker, topic, 200).await;
    let messages = read_to_end(&bs, topic);
    assert_eq!(latest_per_key(&messages), model);
    // Below the cleaned offset, one record per key is left.
    let below: Vec<_> = messages.iter().filter(|m| m.offset() < 200).collect();
    assert!(
        below.len() <= 50,
        "{} records left below the cleaned offset",
        below.len()
    );
    assert!(messages.windows(2).all(|w| w[0].offset() < w[1].offset()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_cleaning_loses_no_latest_value() {
    // Slow enough that a pass over a few MB takes seconds.
    let mut broker = TestBroker::start_with(&[
        "log.cleaner.backoff.ms=100",
        "log.cleaner.io.max.bytes.per.second=1500000",
    ]);
    let bs = broker.bootstrap();
    let topic = "compacted-crash";
    create(
        &bs,
        topic,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "1048576"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    )
    .await;
    let p = producer(&bs, &[("linger.ms", "5"), ("batch.size", "65536")]);
    let mut model = BTreeMap::new();
    let value_of = |round: usize, k: usize| format!("{round:02}-{k:04}-").repeat(60);
    for round in 0..6 {
        let values: Vec<(String, String)> = (0..1000)
            .map(|k| (format!("key-{k:04}"), value_of(round, k)))
            .collect();
        send_all(
            &p,
            topic,
            values
                .iter()
                .map(|(k, v)| (Some(k.as_bytes()), v.as_bytes())),
        )
        .await;
        for (k, v) in values {
            model.insert(k.into_bytes(), v.into_bytes());
        }
    }
    // Crash in the middle of passes, at different points, restarting each time.
    let dir = broker.data_dir().join(format!("{topic}-0"));
    let cleaner_output = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(".cleaned"))
    };
    for delay_ms in [0, 400, 1200] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cleaner_output(&dir) {
            assert!(Instant::now() < deadline, "the cleaner never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        broker.kill9();
        broker.restart();
    }
    let messages = read_to_end(&bs, topic);
    let latest: BTreeMap<Vec<u8>, Vec<u8>> = latest_per_key(&messages)
        .into_iter()
        .map(|(k, (_, v))| (k, v.unwrap_or_default()))
        .collect();
    assert_eq!(latest.len(), model.len());
    assert!(
        latest == model,
        "a key lost its latest value across the crash"
    );
    assert!(messages.windows(2).all(|w| w[0].offset() < w[1].offset()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_batches_headers_and_timestamps_survive_cleaning() {
    use rdkafka::message::{Header, Headers, OwnedHeaders};
    use rdkafka::producer::FutureRecord;

    let broker = TestBroker::start_with(FAST_CLEANER);
    let bs = broker.bootstrap();
    let topic = "compacted-lz4";
    create(&bs, topic, EAGER).await;
    let p = producer(&bs, &[("compression.type", "lz4"), ("linger.ms", "50")]);
    let base_ts = 1_700_000_000_000i64;
    let mut pending = Vec::new();
    for i in 0..40i64 {
        let key = format!("k{}", i % 10);
        let value = format!("value-{i}");
        let header_value = format!("h{i}");
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "trace",
                value: Some(header_value.as_bytes()),
            })
            .insert(Header {
                key: "trace",
                value: Some(b"again".as_slice()),
            });
        let record = FutureRecord::to(topic)
            .key(key.as_bytes())
            .payload(value.as_bytes())
            .timestamp(base_ts + i)
            .headers(headers);
        pending.push(p.send_result(record).map_err(|(e, _)| e).expect("enqueue"));
    }
    for f in pending {
        f.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    send(&p, topic, Some(b"other"), Some(b"x")).await;
    wait_cleaned(&broker, topic, 40).await;
    let messages = read_to_end(&bs, topic);
    let survivors: Vec<&OwnedMessage> = messages.iter().filter(|m| m.offset() < 40).collect();
    assert_eq!(
        survivors.iter().map(|m| m.offset()).collect::<Vec<_>>(),
        (30..40).collect::<Vec<_>>()
    );
    for m in survivors {
        let i = m.offset();
        assert_eq!(m.payload(), Some(format!("value-{i}").as_bytes()));
        assert_eq!(m.timestamp().to_millis(), Some(base_ts + i));
        let h = m.headers().expect("headers");
        assert_eq!(h.count(), 2, "duplicate header keys survive");
        assert_eq!(h.get(0).value, Some(format!("h{i}").as_bytes()));
        assert_eq!(h.get(1).value, Some(b"again".as_slice()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_continues_after_cleaning_and_a_crash() {
    let mut broker = TestBroker::start_with(FAST_CLEANER);
    let bs = broker.bootstrap();
    let topic = "compacted-idempotent";
    create(&bs, topic, EAGER).await;
    let p = producer(
        &bs,
        &[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "0"),
        ],
    );
    // The same few keys over and over: the cleaner removes most of this
    // producer's batches, including (once superseded) its newest ones.
    for round in 0..5 {
        for k in 0..5 {
            let v = format!("r{round}");
            send(
                &p,
                topic,
                Some(format!("k{k}").as_bytes()),
                Some(v.as_bytes()),
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let other = producer(&bs, &[("linger.ms", "0")]);
    for k in 0..5 {
        send(
            &other,
            topic,
            Some(format!("k{k}").as_bytes()),
            Some(b"other"),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    send(&other, topic, Some(b"roll"), Some(b"x")).await;
    wait_cleaned(&broker, topic, 30).await;
    // The idempotent producer goes on; then the broker crashes and it goes on again.
    for k in 0..5 {
        send(
            &p,
            topic,
            Some(format!("k{k}").as_bytes()),
            Some(b"after-clean"),
        )
        .await;
    }
    broker.kill9();
    broker.restart();
    for k in 0..5 {
        send(
            &p,
            topic,
            Some(format!("k{k}").as_bytes()),
            Some(b"after-crash"),
        )
        .await;
    }
    let latest = latest_per_key(&read_to_end(&bs, topic));
    for k in 0..5 {
        let (_, v) = &latest[format!("k{k}").as_bytes()];
        assert_eq!(v.as_deref(), Some(&b"after-crash"[..]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_throttled_pass_is_prompt_and_leaves_no_cleaner_output() {
    // So slow that the pass would take minutes.
    let mut broker = TestBroker::start_with(&[
        "log.cleaner.backoff.ms=100",
        "log.cleaner.io.max.bytes.per.second=400000",
    ]);
    let bs = broker.bootstrap();
    let topic = "compacted-shutdown";
    create(
        &bs,
        topic,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "1048576"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    )
    .await;
    let p = producer(&bs, &[("linger.ms", "5")]);
    let values: Vec<(String, String)> = (0..3000)
        .map(|i| {
            (
                format!("key-{:03}", i % 300),
                format!("{i:05}-").repeat(170),
            )
        })
        .collect();
    send_all(
        &p,
        topic,
        values
            .iter()
            .map(|(k, v)| (Some(k.as_bytes()), v.as_bytes())),
    )
    .await;
    let dir = broker.data_dir().join(format!("{topic}-0"));
    let cleaner_output = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.ends_with(".cleaned") || name.ends_with(".cleaner-swap")
            })
    };
    // Map building reads ~3 MB at 400 kB/s first; wait until output is written.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cleaner_output(&dir) {
        assert!(
            Instant::now() < deadline,
            "the cleaner never started writing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGTERM; `stop` fails the test if the broker needs more than 15 s.
    broker.stop();
    assert!(
        !cleaner_output(&dir),
        "an aborted pass must remove its output"
    );
    broker.restart();
    let latest: BTreeMap<Vec<u8>, Vec<u8>> = latest_per_key(&read_to_end(&bs, topic))
        .into_iter()
        .map(|(k, (_, v))| (k, v.unwrap_or_default()))
        .collect();
    let expected: BTreeMap<Vec<u8>, Vec<u8>> = values
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
        .collect();
    assert!(latest == expected, "every key keeps its latest value");
}
