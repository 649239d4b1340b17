//! The HTTP listener: `/metrics` parsed as Prometheus parses it, counting what a
//! client really produced and consumed; `/health` and `/ready`; the listener off
//! when `http.listeners` is empty; a bad or taken address stops the start.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use prometheus_parse::{Scrape, Value};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// `GET path` over a fresh connection: (status code, body).
fn get(port: u16, path: &str) -> (u16, String) {
    raw_http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
}

fn raw_http(port: u16, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the HTTP listener");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read the answer");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Scrapes `/metrics` and parses it with a Prometheus text-format parser.
fn scrape(port: u16) -> Scrape {
    let (status, body) = get(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("valid exposition format")
}

/// The value of the sample named `name` (a counter's `_total` suffix may be
/// kept or dropped by the parser) whose labels include `labels`, and no others.
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let bare = name.strip_suffix("_total").unwrap_or(name);
    s.samples
        .iter()
        .filter(|x| x.metric == name || x.metric == bare)
        .filter(|x| x.labels.len() == labels.len())
        .find(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => f64::NAN,
        })
}

fn must(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(s, name, labels).unwrap_or_else(|| panic!("{name}{labels:?} missing"))
}

/// A broker with its HTTP listener on a port of its own, once `/ready` says so.
/// Until then `/ready` answers 503 with a reason (the client port is bound
/// before storage opens, so a broker accepting connections is not yet ready).
fn http_broker(extra: &[&str]) -> (TestBroker, u16) {
    let port = free_port();
    let listener = format!("http.listeners=http://127.0.0.1:{port}");
    let mut args = vec![listener.as_str()];
    args.extend_from_slice(extra);
    let broker = TestBroker::start_with(&args);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(port, "/ready");
        if status == 200 {
            assert_eq!(body, "ready\n");
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(body.starts_with("not ready: "), "{body}");
        assert!(Instant::now() < deadline, "never ready: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (broker, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_clients_produced_and_consumed() {
    const N: usize = 40;
    const SIZE: usize = 100;
    let (broker, http) = http_broker(&["group.initial.rebalance.delay.ms=0"]);
    let b = broker.bootstrap();
    assert_eq!(get(http, "/health"), (200, "ok\n".to_string()));
    assert_eq!(get(http, "/ready").0, 200);

    create_topic(&b, "metered", 1).await;
    let values: Vec<Vec<u8>> = (0..N).map(|i| vec![b'a' + (i % 26) as u8; SIZE]).collect();
    // Held open to the end: the connection counts below include it.
    let writer = producer(&b, &[]);
    send_all(
        &writer,
        "metered",
        values.iter().map(|v| (None, v.as_slice())),
    )
    .await;

    let s = scrape(http);
    let topic = [("topic", "metered")];
    let part = [("topic", "metered"), ("partition", "0")];
    assert_eq!(
        must(
            &s,
            "kafka_server_brokertopicmetrics_messagesin_total",
            &topic
        ),
        N as f64
    );
    assert!(must(&s, "kafka_server_brokertopicmetrics_bytesin_total", &topic) >= (N * SIZE) as f64);
    assert!(must(&s, "kafka_server_brokertopicmetrics_messagesin_total", &[]) >= N as f64);
    assert_eq!(must(&s, "kafka_log_log_logendoffset", &part), N as f64);
    assert_eq!(must(&s, "kafka_log_log_logstartoffset", &part), 0.0);
    assert!(must(&s, "kafka_log_log_size", &part) >= (N * SIZE) as f64);
    let produce_requests: f64 = s
        .samples
        .iter()
        .filter(|x| {
            x.metric
                .starts_with("kafka_network_requestmetrics_requests")
        })
        .filter(|x| x.labels.get("request") == Some("Produce"))
        .map(|x| match x.value {
            Value::Counter(v) | Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum();
    assert!(produce_requests >= 1.0, "no Produce counted");
    assert!(
        must(
            &s,
            "kafka_network_requestmetrics_totaltimems",
            &[("request", "Produce")]
        ) >= 1.0,
        "no Produce latency observed"
    );
    assert_eq!(
        must(
            &s,
            "kafka_controller_kafkacontroller_activecontrollercount",
            &[]
        ),
        1.0
    );
    assert_eq!(
        must(
            &s,
            "kafka_server_replicamanager_underreplicatedpartitions",
            &[]
        ),
        0.0
    );
    assert_eq!(
        must(
            &s,
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            &[]
        ),
        0.0
    );
    assert!(must(&s, "process_open_fds", &[]) > 0.0);
    assert!(must(&s, "process_max_fds", &[]) >= must(&s, "process_open_fds", &[]));
    let listener = [("listener", "PLAINTEXT")];
    assert!(
        must(
            &s,
            "kafka_server_socket_server_metrics_connection_count",
            &listener
        ) >= 1.0
    );
    let created = "kafka_server_socket_server_metrics_connection_creation_total";
    assert!(
        must(&s, created, &listener) >= 2.0,
        "the admin client's and the producer's"
    );

    // The group commits offset 0 before reading: all N records are its lag.
    let consumer: BaseConsumer = client_config(&b)
        .set("group.id", "metered-readers")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let mut start = TopicPartitionList::new();
    start
        .add_partition_offset("metered", 0, Offset::Offset(0))
        .unwrap();
    consumer.commit(&start, CommitMode::Sync).expect("commit 0");
    let s = scrape(http);
    let group = [
        ("group", "metered-readers"),
        ("topic", "metered"),
        ("partition", "0"),
    ];
    assert_eq!(must(&s, "kafka_consumergroup_group_offset", &group), 0.0);
    assert_eq!(must(&s, "kafka_consumergroup_group_lag", &group), N as f64);

    consumer.subscribe(&["metered"]).expect("subscribe");
    let got = consume_n(&consumer, N, Duration::from_secs(30));
    assert_eq!(got.len(), N);
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit");
    let s = scrape(http);
    assert_eq!(
        must(&s, "kafka_consumergroup_group_offset", &group),
        N as f64
    );
    assert_eq!(must(&s, "kafka_consumergroup_group_lag", &group), 0.0);
    assert_eq!(
        must(
            &s,
            "kafka_consumergroup_group_sum_lag",
            &[("group", "metered-readers")]
        ),
        0.0
    );
    assert!(
        must(&s, "kafka_server_brokertopicmetrics_bytesout_total", &topic) >= (N * SIZE) as f64
    );
    assert!(
        must(
            &s,
            "kafka_network_requestmetrics_totaltimems",
            &[("request", "FetchConsumer")]
        ) >= 1.0
    );
    // Producing the same again moves the counters by exactly N more.
    drop(consumer);
    send_all(
        &writer,
        "metered",
        values.iter().map(|v| (None, v.as_slice())),
    )
    .await;
    let s = scrape(http);
    assert_eq!(
        must(
            &s,
            "kafka_server_brokertopicmetrics_messagesin_total",
            &topic
        ),
        (2 * N) as f64
    );
    assert_eq!(must(&s, "kafka_consumergroup_group_lag", &group), N as f64);
}

#[test]
fn malformed_http_gets_an_error_and_the_listener_keeps_serving() {
    let (broker, http) = http_broker(&[]);
    let (status, _) = raw_http(http, "NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(status, 400);
    assert_eq!(get(http, "/no-such-page").0, 404);
    let (status, _) = raw_http(
        http,
        "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert_eq!(get(http, "/health").0, 200);
    assert_eq!(get(http, "/ready").0, 200);
    drop(broker);
}

/// Runs `kavka broker` with `overrides` (and `env`), no HTTP port from the harness.
fn kavka_broker(overrides: &[String], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kavka"));
    cmd.arg("broker");
    for o in overrides {
        cmd.arg("--override").arg(o);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn an_empty_http_listeners_turns_the_listener_off() {
    let dir = tempfile::tempdir().unwrap();
    let (client, http) = (free_port(), free_port());
    // The environment comes last in precedence: its empty value wins.
    let mut child = kavka_broker(
        &[
            format!("listeners=PLAINTEXT://127.0.0.1:{client}"),
            format!("log.dirs={}", dir.path().display()),
            format!("http.listeners=http://127.0.0.1:{http}"),
        ],
        &[("KAFKA_HTTP_LISTENERS", "")],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn kavka");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", client)).is_err() {
        assert!(Instant::now() < deadline, "broker did not start");
        assert!(child.try_wait().unwrap().is_none(), "broker exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = TcpStream::connect(("127.0.0.1", http)).is_err();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        refused,
        "the HTTP port is served although http.listeners is empty"
    );
}

fn refused_start(overrides: &[String]) -> String {
    let out = kavka_broker(overrides, &[]).output().expect("run kavka");
    assert!(!out.status.success(), "broker started");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_bad_or_taken_http_address_stops_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let base = |http: String| {
        vec![
            format!("listeners=PLAINTEXT://127.0.0.1:{}", free_port()),
            format!("log.dirs={}", dir.path().display()),
            format!("http.listeners={http}"),
        ]
    };
    let err = refused_start(&base("https://127.0.0.1:9644".into()));
    assert!(
        err.contains("http.listeners") && err.contains("https"),
        "{err}"
    );
    let err = refused_start(&base("127.0.0.1:9644".into()));
    assert!(err.contains("http.listeners"), "{err}");

    let port = free_port();
    let _taken = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let err = refused_start(&base(format!("http://127.0.0.1:{port}")));
    assert!(
        err.contains("http.listeners") && err.contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
