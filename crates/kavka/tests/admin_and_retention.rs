//! Admin operations through librdkafka: config sources, dynamic broker configs,
//! partitions growing, DeleteRecords, and retention actually deleting old data.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{
    AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

async fn topic_config(bs: &str, topic: &str, name: &str) -> (String, String) {
    let r = admin(bs)
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .unwrap();
    let resource = r.into_iter().next().unwrap().unwrap();
    let e = resource.get(name).unwrap_or_else(|| panic!("no {name}"));
    (
        e.value.clone().unwrap_or_default(),
        format!("{:?}", e.source),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_report_values_and_sources_like_kafka() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "plain", 1).await;
    assert_eq!(
        topic_config(&bs, "plain", "retention.ms").await,
        ("604800000".into(), "Default".into())
    );
    assert_eq!(
        topic_config(&bs, "plain", "cleanup.policy").await,
        ("delete".into(), "Default".into())
    );
    // Kafka 4.x formats a cluster with min.insync.replicas as a dynamic default.
    assert_eq!(
        topic_config(&bs, "plain", "min.insync.replicas").await,
        ("1".into(), "DynamicDefaultBroker".into())
    );

    let mut with_config = NewTopic::new("tuned", 1, TopicReplication::Fixed(1));
    with_config = with_config.set("retention.ms", "3600000");
    admin(&bs)
        .create_topics(&[with_config], &AdminOptions::new())
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    assert_eq!(
        topic_config(&bs, "tuned", "retention.ms").await,
        ("3600000".into(), "DynamicTopic".into())
    );

    // A dynamic broker config becomes every topic's default without a restart.
    let alter = AlterConfig::new(ResourceSpecifier::Broker(1)).set("log.retention.ms", "7200000");
    let r = admin(&bs)
        .alter_configs(&[alter], &AdminOptions::new())
        .await
        .unwrap();
    r[0].as_ref().unwrap();
    assert_eq!(
        topic_config(&bs, "plain", "retention.ms").await,
        ("7200000".into(), "DynamicBroker".into())
    );
    assert_eq!(
        topic_config(&bs, "tuned", "retention.ms").await,
        ("3600000".into(), "DynamicTopic".into())
    );

    // Invalid values and non-dynamic broker settings are refused and change nothing.
    // (The rdkafka crate drops per-resource AlterConfigs errors, so check the effect.)
    let bad = AlterConfig::new(ResourceSpecifier::Topic("plain")).set("retention.ms", "soon");
    admin(&bs)
        .alter_configs(&[bad], &AdminOptions::new())
        .await
        .unwrap();
    assert_eq!(
        topic_config(&bs, "plain", "retention.ms").await,
        ("7200000".into(), "DynamicBroker".into())
    );
    let not_dynamic =
        AlterConfig::new(ResourceSpecifier::Broker(1)).set("log.segment.bytes", "many");
    admin(&bs)
        .alter_configs(&[not_dynamic], &AdminOptions::new())
        .await
        .unwrap();
    assert_eq!(
        topic_config(&bs, "plain", "segment.bytes").await,
        ("1073741824".into(), "Default".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_grow_and_delete_records_moves_the_log_start() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "grow", 2).await;
    let r = admin(&bs)
        .create_partitions(&[NewPartitions::new("grow", 5)], &AdminOptions::new())
        .await
        .unwrap();
    r[0].as_ref().unwrap();
    let p = producer(&bs, &[]);
    let (partition, _) = send(&p, "grow", None, Some(b"x")).await;
    assert!(partition < 5);
    let md = rdkafka::producer::Producer::client(&p)
        .fetch_metadata(Some("grow"), Duration::from_secs(5))
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 5);

    create_topic(&bs, "trim", 1).await;
    let values: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    send_all(&p, "trim", values.iter().map(|v| (None, v.as_bytes()))).await;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("trim", 0, Offset::Offset(4))
        .unwrap();
    admin(&bs)
        .delete_records(&tpl, &AdminOptions::new())
        .await
        .unwrap();
    let c = assigned_consumer(&bs, "trim", &[0], Offset::Beginning);
    let (low, high) = c
        .fetch_watermarks("trim", 0, Duration::from_secs(5))
        .unwrap();
    assert_eq!((low, high), (4, 10));
    let m = consume_n(&c, 6, Duration::from_secs(10));
    assert_eq!(
        m.iter().map(payload).collect::<Vec<_>>(),
        (4..10)
            .map(|i| i.to_string().into_bytes())
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_segments_and_consumers_skip_the_gap() {
    let broker = TestBroker::start_with(&["log.retention.check.interval.ms=1000"]);
    let bs = broker.bootstrap();
    let topic = NewTopic::new("short-lived", 1, TopicReplication::Fixed(1))
        .set("segment.bytes", "1048576") // the smallest Kafka allows
        .set("retention.ms", "2000");
    admin(&bs)
        .create_topics(&[topic], &AdminOptions::new())
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    let p = producer(&bs, &[("linger.ms", "0")]);
    // About 3 MB: three segments' worth.
    for i in 0..30 {
        send(
            &p,
            "short-lived",
            None,
            Some(format!("old-{i:04}-").repeat(10_000).as_bytes()),
        )
        .await;
    }
    // Wait past retention; a fresh record keeps the active segment current.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    send(&p, "short-lived", None, Some(b"new")).await;
    // Watermarks from one client; the reading consumer is made only afterwards, so
    // nothing it prefetched before retention ran can come back from before `low`.
    let watcher: BaseConsumer = assigned_consumer(&bs, "short-lived", &[0], Offset::End);
    let deadline = Instant::now() + Duration::from_secs(20);
    let low = loop {
        let (low, _) = watcher
            .fetch_watermarks("short-lived", 0, Duration::from_secs(5))
            .unwrap();
        if low > 0 || Instant::now() > deadline {
            break low;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(low > 0, "retention never deleted a segment");
    let c: BaseConsumer = assigned_consumer(&bs, "short-lived", &[0], Offset::Beginning);
    // Reading from the beginning starts at the new log start and still reaches the end.
    let m = consume_n(&c, 1, Duration::from_secs(10));
    assert!(!m.is_empty());
    assert!(rdkafka::message::Message::offset(&m[0]) >= low);
}
