//! Connection and request limits behave as Kafka's: a client over
//! `max.connections.per.ip` is closed at once, one over `max.connections` waits
//! for a slot, idle connections are closed after `connections.max.idle.ms`, and a
//! client flooding requests is held back instead of growing the broker's memory.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use common::*;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};

/// One ApiVersions v0 request, framed.
fn api_versions_frame(correlation_id: i32) -> Vec<u8> {
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::ApiVersions as i16)
        .with_request_api_version(0)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("limits-test")));
    let mut body = BytesMut::new();
    header.encode(&mut body, 1).unwrap();
    ApiVersionsRequest::default().encode(&mut body, 0).unwrap();
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    frame.to_vec()
}

/// What became of one ApiVersions request on `stream`.
#[derive(Debug, PartialEq)]
enum Outcome {
    Answered,
    Closed,
    NoAnswerYet,
}

fn ask(stream: &mut TcpStream, wait: Duration) -> Outcome {
    stream.set_read_timeout(Some(wait)).unwrap();
    if stream.write_all(&api_versions_frame(7)).is_err() {
        return Outcome::Closed;
    }
    let mut size = [0u8; 4];
    match stream.read_exact(&mut size) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            return Outcome::NoAnswerYet
        }
        Err(_) => return Outcome::Closed,
    }
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    match stream.read_exact(&mut body) {
        Ok(()) => Outcome::Answered,
        Err(_) => Outcome::Closed,
    }
}

fn connect(broker: &TestBroker) -> TcpStream {
    TcpStream::connect(("127.0.0.1", broker.port)).unwrap()
}

/// Opens `n` connections that each got an answer. The harness's own port probe
/// may hold a slot for a moment after start, so a refused one is retried.
fn answered_connections(broker: &TestBroker, n: usize) -> Vec<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open = Vec::new();
    while open.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} connections answered",
            open.len()
        );
        let mut s = connect(broker);
        if ask(&mut s, Duration::from_secs(5)) == Outcome::Answered {
            open.push(s);
        } else {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    open
}

fn broker_log(broker: &TestBroker) -> String {
    std::fs::read_to_string(broker.dir.with_extension("log")).unwrap_or_default()
}

#[test]
fn a_connection_over_the_per_ip_limit_is_closed_and_the_others_keep_working() {
    let broker = TestBroker::start_with(&["max.connections.per.ip=3"]);
    let mut open = answered_connections(&broker, 3);

    let mut extra = connect(&broker);
    assert_eq!(ask(&mut extra, Duration::from_secs(5)), Outcome::Closed);
    assert!(broker_log(&broker).contains(
        "Rejected connection from 127.0.0.1, address already has the configured maximum of 3 connections."
    ));
    for s in &mut open {
        assert_eq!(ask(s, Duration::from_secs(5)), Outcome::Answered);
    }

    // Closing one makes room for a new one.
    drop(open.pop());
    let again = answered_connections(&broker, 1);
    assert_eq!(again.len(), 1);
}

#[test]
fn an_override_lets_one_address_open_more() {
    let broker = TestBroker::start_with(&[
        "max.connections.per.ip=1",
        "max.connections.per.ip.overrides=127.0.0.1:4",
    ]);
    let _open = answered_connections(&broker, 4);
    let mut fifth = connect(&broker);
    assert_eq!(ask(&mut fifth, Duration::from_secs(5)), Outcome::Closed);
}

#[test]
fn a_client_over_max_connections_waits_for_a_slot_instead_of_being_refused() {
    let broker = TestBroker::start_with(&["max.connections=2"]);
    let mut open = answered_connections(&broker, 2);

    // The third is connected (the kernel's accept queue) but not served.
    let mut waiting = connect(&broker);
    assert_eq!(
        ask(&mut waiting, Duration::from_millis(1500)),
        Outcome::NoAnswerYet
    );
    drop(open.pop());
    // Its request, sent while it waited, is answered once a slot frees.
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut size = [0u8; 4];
    waiting
        .read_exact(&mut size)
        .expect("the waiting client is served once a connection closes");
    assert!(i32::from_be_bytes(size) > 0);
    assert_eq!(ask(&mut open[0], Duration::from_secs(5)), Outcome::Answered);
}

#[test]
fn an_idle_connection_is_closed_after_connections_max_idle_ms() {
    let broker = TestBroker::start_with(&["connections.max.idle.ms=1000"]);
    let mut idle = answered_connections(&broker, 1).remove(0);
    let mut busy = answered_connections(&broker, 1).remove(0);

    // The busy one talks every 300 ms for 2.5 s and stays open throughout.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(ask(&mut busy, Duration::from_secs(5)), Outcome::Answered);
    }
    // The idle one was closed meanwhile: EOF, not a timeout.
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        idle.read(&mut buf).unwrap(),
        0,
        "idle connection still open"
    );
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_flood_of_requests_that_are_never_read_back_is_held_back_by_tcp() {
    let mut broker = TestBroker::start();
    let pid = broker.pid().unwrap();
    let mut flood = answered_connections(&broker, 1).remove(0);
    let before = rss_kib(pid);

    // 256 MiB of pipelined requests whose answers are never read: the broker
    // must stop reading once its answers back up, so the writes stall.
    let frame = api_versions_frame(1);
    let chunk: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 4096)
        .collect();
    flood
        .set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut written = 0usize;
    let stalled = loop {
        if written >= 256 << 20 {
            break false;
        }
        match flood.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break true
            }
            Err(e) => panic!("flood connection failed: {e}"),
        }
    };
    assert!(stalled, "the broker read all {written} bytes of requests");
    let grown_kib = rss_kib(pid).saturating_sub(before);
    assert!(
        grown_kib < 64 * 1024,
        "broker memory grew by {grown_kib} KiB after {written} bytes of requests"
    );
    // Other clients are still served.
    let mut other = answered_connections(&broker, 1).remove(0);
    assert_eq!(ask(&mut other, Duration::from_secs(5)), Outcome::Answered);
    assert!(broker.is_running());
}

#[test]
fn long_polling_fetches_do_not_hold_places_in_the_request_queue() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};

    let broker = TestBroker::start_with(&["queued.max.requests=1"]);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(create_topic(&broker.bootstrap(), "quiet", 1));

    // A consumer waiting up to 15 s for data on an empty partition.
    let mut polling = connect(&broker);
    let started = Instant::now();
    let poll = std::thread::spawn(move || {
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(15_000)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("quiet")))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20)])]);
        raw_round_trip(&mut polling, ApiKey::Fetch, 4, 3, "limits-test", |buf| {
            request.encode(buf, 4).unwrap()
        })
        .is_some()
    });
    std::thread::sleep(Duration::from_millis(500));

    // With the only place taken by the waiting Fetch, this would wait it out.
    let mut other = connect(&broker);
    assert_eq!(ask(&mut other, Duration::from_secs(8)), Outcome::Answered);
    assert!(
        !poll.is_finished(),
        "the Fetch was still waiting when the other request was answered"
    );
    assert!(poll.join().unwrap(), "the long poll is answered too");
    assert!(started.elapsed() >= Duration::from_secs(10));
}
