//! Client quotas as a Kafka user meets them: `kafka-configs` sets and shows
//! them exactly as Apache Kafka's tool does, a producer or consumer over its
//! byte rate is throttled (librdkafka reports throttle time) and held near the
//! quota, CreateTopics over `controller_mutation_rate` gets
//! THROTTLING_QUOTA_EXCEEDED, and quotas survive a restart.

mod common;

use std::net::TcpStream;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, CreateTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};

/// Runs `kavka configs --bootstrap-server B <args>`.
fn configs(broker: &TestBroker, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("configs")
        .arg("--bootstrap-server")
        .arg(broker.bootstrap())
        .args(args)
        .output()
        .expect("run kavka configs")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "kavka configs failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What librdkafka tells a client: the largest throttle time it was given,
/// and (for producers) the bytes delivered.
#[derive(Default)]
struct Observed {
    max_throttle_ms: AtomicI64,
    delivered_bytes: AtomicU64,
}

#[derive(Clone, Default)]
struct Watch(Arc<Observed>);

impl ClientContext for Watch {
    fn stats(&self, stats: Statistics) {
        for b in stats.brokers.values() {
            if let Some(t) = &b.throttle {
                self.0.max_throttle_ms.fetch_max(t.max, Ordering::Relaxed);
            }
        }
    }
}

impl ConsumerContext for Watch {}

impl ProducerContext for Watch {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Ok(m) = result {
            let n = m.payload().map_or(0, <[u8]>::len);
            self.0
                .delivered_bytes
                .fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

const QUOTA: u64 = 50 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn producer_over_its_client_quota_is_throttled_to_about_the_quota() {
    let broker = TestBroker::start();
    create_topic(&broker.bootstrap(), "limited", 1).await;
    let out = configs(
        &broker,
        &[
            "--alter",
            "--entity-type",
            "clients",
            "--entity-name",
            "slow-producer",
            "--add-config",
            &format!("producer_byte_rate={QUOTA}"),
        ],
    );
    assert_eq!(
        stdout(&out),
        "Completed updating config for client slow-producer.\n"
    );

    let watch = Watch::default();
    let producer: ThreadedProducer<Watch> = client_config(&broker.bootstrap())
        .set("client.id", "slow-producer")
        .set("linger.ms", "5")
        .set("batch.size", "16384")
        .set("statistics.interval.ms", "200")
        .set("message.timeout.ms", "60000")
        .create_with_context(watch.clone())
        .expect("producer");
    let value = vec![b'x'; 1024];
    let start = Instant::now();
    let mut at_one_second = None;
    while start.elapsed() < Duration::from_secs(4) {
        if at_one_second.is_none() && start.elapsed() >= Duration::from_secs(1) {
            at_one_second = Some(watch.0.delivered_bytes.load(Ordering::Relaxed));
        }
        let record: BaseRecord<'_, (), [u8]> = BaseRecord::to("limited").payload(&value[..]);
        match producer.send(record) {
            Ok(()) => {}
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err((e, _)) => panic!("send: {e}"),
        }
    }
    let total = watch.0.delivered_bytes.load(Ordering::Relaxed);
    let after_first_second = total - at_one_second.unwrap_or(0);
    // Kafka's rate counts a new client's bytes over ten one-second windows, so
    // up to about ten seconds' worth goes through at first; after that the
    // client gets about the quota. Unthrottled, this loop moves tens of MB.
    assert!(
        total < 10 * QUOTA + 4 * QUOTA + 64 * 1024,
        "delivered {total} bytes in 4 s against a {QUOTA} B/s quota"
    );
    assert!(
        after_first_second < 3 * 3 * QUOTA,
        "delivered {after_first_second} bytes in the last 3 s"
    );
    assert!(total > 0, "nothing delivered at all");
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        watch.0.max_throttle_ms.load(Ordering::Relaxed) > 0,
        "librdkafka saw no throttle time"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn consumer_over_its_quota_is_throttled() {
    let broker = TestBroker::start();
    create_topic(&broker.bootstrap(), "big", 1).await;
    // Small batches: a fetch returns at least one whole batch, and a batch larger
    // than ten seconds of quota would be throttled on every try (in Kafka too).
    let p = producer(&broker.bootstrap(), &[("batch.size", "16384")]);
    let value = vec![b'y'; 1024];
    send_all(&p, "big", (0..2048).map(|_| (None, &value[..]))).await;
    stdout(&configs(
        &broker,
        &[
            "--alter",
            "--entity-type",
            "clients",
            "--entity-name",
            "slow-consumer",
            "--add-config",
            &format!("consumer_byte_rate={QUOTA}"),
        ],
    ));

    let watch = Watch::default();
    let consumer: BaseConsumer<Watch> = client_config(&broker.bootstrap())
        .set("client.id", "slow-consumer")
        .set("group.id", "quota-test")
        .set("enable.auto.commit", "false")
        .set("statistics.interval.ms", "200")
        .create_with_context(watch.clone())
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("big", 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let start = Instant::now();
    let mut bytes = 0u64;
    while start.elapsed() < Duration::from_secs(4) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            bytes += m.payload().map_or(0, <[u8]>::len) as u64;
        }
    }
    // A fetch may return at most what the quota allows over the window less
    // one sample (ten seconds' worth); the next one is throttled and empty.
    // Unthrottled, all 2 MiB arrive within the first second.
    assert!(bytes > 0, "nothing consumed");
    assert!(
        bytes <= 10 * QUOTA + 64 * 1024,
        "consumed {bytes} bytes in 4 s against a {QUOTA} B/s quota"
    );
    assert!(
        watch.0.max_throttle_ms.load(Ordering::Relaxed) > 0,
        "librdkafka saw no throttle time"
    );
}

fn create_topics(
    stream: &mut TcpStream,
    version: i16,
    name: &str,
    partitions: i32,
) -> CreateTopicsResponse {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_string())))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    raw_call(stream, ApiKey::CreateTopics, version, &request)
}

#[test]
fn create_topics_over_the_mutation_rate_is_refused_then_allowed_again() {
    let broker = TestBroker::start();
    stdout(&configs(
        &broker,
        &[
            "--alter",
            "--entity-type",
            "clients",
            "--entity-default",
            "--add-config",
            "controller_mutation_rate=2",
        ],
    ));
    let mut stream = TcpStream::connect(("127.0.0.1", broker.port)).expect("connect");
    // A burst of 11 × 2 partitions is allowed; this takes the bucket below zero.
    let first = create_topics(&mut stream, 7, "burst", 30);
    assert_eq!(first.topics[0].error_code, 0);
    // Strict from CreateTopics v6: refused while the bucket is below zero.
    let second = create_topics(&mut stream, 7, "refused", 1);
    assert_eq!(second.topics[0].error_code, 89, "THROTTLING_QUOTA_EXCEEDED");
    assert_eq!(
        second.topics[0].error_message.as_deref(),
        Some("The throttling quota has been exceeded.")
    );
    assert!(second.throttle_time_ms > 0);
    // Older versions are not refused, only throttled: the topic is created.
    let old = create_topics(&mut stream, 5, "permissive", 1);
    assert_eq!(old.topics[0].error_code, 0);
    assert!(old.throttle_time_ms > 0);
}

#[test]
fn kafka_configs_shows_quotas_as_kafka_does_and_they_survive_restart() {
    let mut broker = TestBroker::start();
    for args in [
        &[
            "--entity-type",
            "clients",
            "--entity-name",
            "c1",
            "--add-config",
            "producer_byte_rate=1024,consumer_byte_rate=2048",
        ][..],
        &[
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--add-config",
            "producer_byte_rate=4096",
        ],
        &[
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--entity-type",
            "clients",
            "--entity-name",
            "c1",
            "--add-config",
            "request_percentage=12.5",
        ],
        &[
            "--entity-type",
            "users",
            "--entity-default",
            "--add-config",
            "controller_mutation_rate=10",
        ],
        &[
            "--entity-type",
            "clients",
            "--entity-default",
            "--add-config",
            "consumer_byte_rate=100000",
        ],
    ] {
        let mut full = vec!["--alter"];
        full.extend_from_slice(args);
        stdout(&configs(&broker, &full));
    }
    // Apache Kafka 4.4's kafka-configs printed exactly these for the same quotas.
    let expected = [
        (
            &["--entity-type", "clients", "--entity-name", "c1"][..],
            "Quota configs for client-id 'c1' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0\n",
        ),
        (
            &["--entity-type", "clients"],
            "Quota configs for the default client-id are consumer_byte_rate=100000.0\nQuota configs for client-id 'c1' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0\n",
        ),
        (
            &["--entity-type", "users"],
            "Quota configs for the default user-principal are controller_mutation_rate=10.0\nQuota configs for user-principal 'alice' are producer_byte_rate=4096.0\n",
        ),
        (
            &["--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients", "--entity-name", "c1"],
            "Quota configs for user-principal 'alice', client-id 'c1' are request_percentage=12.5\n",
        ),
        (
            &["--entity-type", "users", "--entity-type", "clients"],
            "Quota configs for user-principal 'alice', client-id 'c1' are request_percentage=12.5\n",
        ),
        (&["--entity-type", "users", "--entity-name", "bob"], ""),
    ];
    let check = |broker: &TestBroker| {
        for (args, want) in &expected {
            let mut full = vec!["--describe"];
            full.extend_from_slice(args);
            assert_eq!(stdout(&configs(broker, &full)), *want, "{args:?}");
        }
    };
    check(&broker);
    broker.restart();
    check(&broker);

    // Kafka's refusals.
    let bad = configs(
        &broker,
        &[
            "--alter",
            "--entity-type",
            "clients",
            "--entity-name",
            "c1",
            "--add-config",
            "foo=1",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: foo\n"
    );
    let fractional = configs(
        &broker,
        &[
            "--alter",
            "--entity-type",
            "clients",
            "--entity-name",
            "c1",
            "--add-config",
            "producer_byte_rate=1.5",
        ],
    );
    assert_eq!(fractional.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&fractional.stderr)
        .contains("producer_byte_rate cannot be a fractional value."));
    // Deleting removes the key only.
    stdout(&configs(
        &broker,
        &[
            "--alter",
            "--entity-type",
            "clients",
            "--entity-name",
            "c1",
            "--delete-config",
            "consumer_byte_rate",
        ],
    ));
    assert_eq!(
        stdout(&configs(
            &broker,
            &[
                "--describe",
                "--entity-type",
                "clients",
                "--entity-name",
                "c1"
            ]
        )),
        "Quota configs for client-id 'c1' are producer_byte_rate=1024.0\n"
    );
}
