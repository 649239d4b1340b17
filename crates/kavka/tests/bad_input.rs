//! Bad input is refused with Kafka's errors and never disturbs other clients.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_megabyte_record_is_refused_as_too_large() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "big", 1).await;
    // A client limit above the broker's, so the broker is the one refusing.
    let producer = producer(&bs, &[("message.max.bytes", "10000000")]);
    let value = vec![7u8; 2 * 1024 * 1024];
    let err = producer
        .send(
            FutureRecord::<[u8], [u8]>::to("big").payload(&value[..]),
            Duration::from_secs(10),
        )
        .await
        .expect_err("2 MB must be refused");
    assert_eq!(
        err.0,
        KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)
    );
    // Nothing was stored, and the topic still works.
    let (_, offset) = send(&producer, "big", None, Some(b"small")).await;
    assert_eq!(offset, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_hostile_frames_leave_the_broker_serving() {
    let mut broker = TestBroker::start();
    let bs = broker.bootstrap();
    create_topic(&bs, "t", 1).await;
    let producer = producer(&bs, &[]);
    send(&producer, "t", None, Some(b"before")).await;

    let hostile: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        (-5i32).to_be_bytes().to_vec(),
        i32::MAX.to_be_bytes().to_vec(),
        // A Metadata v12 header that claims more bytes than it has.
        [
            &20i32.to_be_bytes()[..],
            &[0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff][..],
        ]
        .concat(),
        // An unknown api key.
        [
            &12i32.to_be_bytes()[..],
            &[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0][..],
        ]
        .concat(),
        // Produce v9 with a truncated body.
        [
            &14i32.to_be_bytes()[..],
            &[0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff][..],
        ]
        .concat(),
    ];
    for bytes in hostile {
        let mut s = TcpStream::connect(("127.0.0.1", broker.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(&bytes);
        let mut buf = [0u8; 16];
        // The broker closes the connection (EOF) rather than answering or hanging.
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "broker answered garbage {bytes:?}");
    }
    assert!(broker.is_running());
    send(&producer, "t", None, Some(b"after")).await;
    let consumer = assigned_consumer(&bs, "t", &[0], Offset::Beginning);
    let m = consume_n(&consumer, 2, Duration::from_secs(10));
    assert_eq!(
        m.iter().map(payload).collect::<Vec<_>>(),
        vec![b"before".to_vec(), b"after".to_vec()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_topic_names_and_duplicates_get_kafka_errors() {
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    let admin = admin(&bs);
    let opts = rdkafka::admin::AdminOptions::new();
    use rdkafka::admin::{NewTopic, TopicReplication};
    let r = admin
        .create_topics(
            &[NewTopic::new("bad name!", 1, TopicReplication::Fixed(1))],
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().1, RDKafkaErrorCode::InvalidTopic);
    create_topic(&bs, "dup", 1).await;
    let r = admin
        .create_topics(
            &[NewTopic::new("dup", 1, TopicReplication::Fixed(1))],
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(
        r[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::TopicAlreadyExists
    );
    let r = admin
        .create_topics(&[NewTopic::new("rf", 1, TopicReplication::Fixed(3))], &opts)
        .await
        .unwrap();
    assert_eq!(
        r[0].as_ref().unwrap_err().1,
        RDKafkaErrorCode::InvalidReplicationFactor
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topic_refuses_records_without_a_key() {
    use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    let topic =
        NewTopic::new("compacted", 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact");
    admin(&bs)
        .create_topics(&[topic], &AdminOptions::new())
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    let p = producer(&bs, &[("message.timeout.ms", "5000"), ("retries", "0")]);
    let err = p
        .send(
            FutureRecord::<[u8], [u8]>::to("compacted").payload(&b"no key"[..]),
            Duration::from_secs(10),
        )
        .await
        .expect_err("a keyless record must be refused");
    assert_eq!(
        err.0,
        KafkaError::MessageProduction(RDKafkaErrorCode::InvalidRecord)
    );
    let (_, offset) = send(&p, "compacted", Some(b"k"), Some(b"keyed")).await;
    assert_eq!(offset, 0, "the refused record must not have been stored");
}
