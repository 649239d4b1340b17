//! The web console's JSON API against a real broker: what the pages show
//! (cluster, topics, records, groups and lag) and the errors a person would
//! meet (an unknown topic, a bad offset, resetting an active group).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

/// One HTTP exchange over a fresh connection: (status, body as JSON or Null).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    http_with(
        port,
        method,
        path,
        "Content-Type: application/json\r\n",
        body,
    )
}

/// [`http`] with `headers` (each line ending in CRLF) instead of the JSON content type.
fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    http_for_host(
        port,
        &format!("127.0.0.1:{port}"),
        method,
        path,
        headers,
        body,
    )
}

/// [`http_with`] naming `host` in the Host header, as a browser names the site.
fn http_for_host(
    port: u16,
    host: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         {headers}Content-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the HTTP listener");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
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
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn get(port: u16, path: &str) -> (u16, Value) {
    http(port, "GET", path, None)
}

fn console_broker() -> (TestBroker, u16) {
    let port = free_port();
    let listener = format!("http.listeners=http://127.0.0.1:{port}");
    let broker = TestBroker::start_with(&[&listener, "group.initial.rebalance.delay.ms=0"]);
    // The Kafka port listens before the broker is registered; the console, like
    // a person, waits for /ready.
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(port, "GET", "/ready", None).0 != 200 {
        assert!(Instant::now() < deadline, "the broker never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    (broker, port)
}

fn user_topics(port: u16) -> Vec<Value> {
    let (status, topics) = get(port, "/api/v1/topics");
    assert_eq!(status, 200, "{topics}");
    topics
        .as_array()
        .expect("a list")
        .iter()
        .filter(|t| t["internal"] == json!(false))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_can_be_created_browsed_configured_and_deleted() {
    let (broker, port) = console_broker();
    let bs = broker.bootstrap();

    // An empty cluster: one active broker that is the controller, no topics.
    let (status, cluster) = get(port, "/api/v1/cluster");
    assert_eq!(status, 200, "{cluster}");
    let brokers = cluster["brokers"].as_array().expect("brokers");
    assert_eq!(brokers.len(), 1, "{cluster}");
    assert_eq!(brokers[0]["fenced"], json!(false));
    assert_eq!(brokers[0]["active_controller"], json!(true));
    assert_eq!(brokers[0]["port"], json!(i64::from(broker.port)));
    assert!(
        cluster["controllers"]
            .as_array()
            .expect("controllers")
            .iter()
            .any(|c| c["active"] == json!(true)),
        "{cluster}"
    );
    assert!(user_topics(port).is_empty());

    // Create, and Kafka's errors for a duplicate and a bad name.
    let new = json!({"name": "orders", "partitions": 3, "configs": {"retention.ms": "3600000"}});
    assert_eq!(http(port, "POST", "/api/v1/topics", Some(&new)).0, 201);
    let (status, err) = http(port, "POST", "/api/v1/topics", Some(&new));
    assert_eq!(
        (status, &err["kafka_error"]),
        (409, &json!("TOPIC_ALREADY_EXISTS"))
    );
    let (status, err) = http(
        port,
        "POST",
        "/api/v1/topics",
        Some(&json!({"name": "a b"})),
    );
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("topic name"),
        "{err}"
    );
    let (status, _) = http(port, "POST", "/api/v1/topics", Some(&json!({"nme": "x"})));
    assert_eq!(status, 400);

    // Another web site cannot make a visitor's browser change anything: a form
    // post is not JSON, and a script's request carries a foreign Origin.
    let evil = json!({"name": "planted"});
    let (status, _) = http_with(
        port,
        "POST",
        "/api/v1/topics",
        "Content-Type: text/plain\r\n",
        Some(&evil),
    );
    assert_eq!(status, 415);
    let (status, _) = http_with(
        port,
        "POST",
        "/api/v1/topics",
        "Content-Type: application/json\r\nOrigin: http://evil.example\r\n",
        Some(&evil),
    );
    assert_eq!(status, 403);
    let (status, _) = http_with(
        port,
        "POST",
        "/api/v1/topics",
        &format!("Content-Type: application/json\r\nOrigin: http://127.0.0.1:{port}\r\n"),
        Some(&json!({"name": "same-origin"})),
    );
    assert_eq!(status, 201);
    assert_eq!(
        http(port, "DELETE", "/api/v1/topics/same-origin", None).0,
        200
    );
    // Nor through DNS rebinding: a site that points its own name at 127.0.0.1
    // sends that name as Host and as Origin, so the two agree; a listener bound to
    // loopback answers only loopback names, reads included.
    let rebound = format!("evil.example:{port}");
    let (status, _) = http_for_host(port, &rebound, "GET", "/api/v1/topics", "", None);
    assert_eq!(status, 403);
    let (status, _) = http_for_host(
        port,
        &rebound,
        "POST",
        "/api/v1/topics",
        &format!("Content-Type: application/json\r\nOrigin: http://{rebound}\r\n"),
        Some(&evil),
    );
    assert_eq!(status, 403);
    let (status, _) = http_for_host(
        port,
        &format!("localhost:{port}"),
        "GET",
        "/api/v1/topics",
        "",
        None,
    );
    assert_eq!(status, 200);

    let listed = user_topics(port);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], json!("orders"));
    assert_eq!(listed[0]["partitions"], json!(3));
    assert_eq!(listed[0]["under_replicated"], json!(0));

    // Records: JSON values, a binary key, headers; and one produced by the console.
    let p = producer(&bs, &[("partitioner", "murmur2_random")]);
    for i in 0..30 {
        let value = format!(r#"{{"order":{i},"item":"<b>tea</b>"}}"#);
        let key = [0xff, 0x00, i as u8];
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to("orders")
            .partition(0)
            .key(&key[..])
            .payload(value.as_bytes())
            .headers(OwnedHeaders::new().insert(Header {
                key: "source",
                value: Some("shop"),
            }));
        p.send(record, Duration::from_secs(20))
            .await
            .map_err(|(e, _)| e)
            .expect("delivered");
    }
    let (status, produced) = http(
        port,
        "POST",
        "/api/v1/topics/orders/messages",
        Some(&json!({"key": "1003", "value": "hello", "headers": [{"key": "h", "value": "v"}]})),
    );
    assert_eq!(status, 200, "{produced}");
    // Where Java's partitioner puts key 1003 among 3 partitions.
    assert_eq!(produced, json!({"partition": 1, "offset": 0}));

    let (status, topic) = get(port, "/api/v1/topics/orders");
    assert_eq!(status, 200, "{topic}");
    let parts = topic["partitions"].as_array().expect("partitions");
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0]["log_start"], json!(0));
    assert_eq!(parts[0]["log_end"], json!(30));
    assert_eq!(parts[1]["log_end"], json!(1));
    assert!(
        parts[0]["size_bytes"].as_i64().unwrap_or(-1) > 30 * 30,
        "{topic}"
    );
    let retention = topic["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!("retention.ms"))
        .cloned()
        .expect("retention.ms listed");
    assert_eq!(retention["value"], json!("3600000"));
    assert_eq!(retention["source"], json!("DYNAMIC_TOPIC_CONFIG"));

    // The browser: from an offset, pretty JSON, hex keys, headers.
    let (status, page) = get(
        port,
        "/api/v1/topics/orders/messages?partition=0&from=offset&offset=10&limit=5",
    );
    assert_eq!(status, 200, "{page}");
    let records = page["records"].as_array().unwrap();
    let offsets: Vec<i64> = records
        .iter()
        .map(|r| r["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(offsets, vec![10, 11, 12, 13, 14]);
    assert_eq!(
        records[0]["key"],
        json!({"encoding": "hex", "text": "ff000a"})
    );
    assert_eq!(records[0]["value"]["encoding"], json!("json"));
    assert_eq!(
        records[0]["value"]["text"],
        json!("{\n  \"item\": \"<b>tea</b>\",\n  \"order\": 10\n}")
    );
    assert_eq!(records[0]["headers"][0]["key"], json!("source"));
    assert_eq!(records[0]["headers"][0]["value"]["text"], json!("shop"));
    assert_eq!(page["next"]["0"], json!(15));

    // From a time: the first record at or after it (records may share a millisecond).
    let ts = records[0]["timestamp"].as_i64().unwrap();
    let (status, page) = get(
        port,
        &format!(
            "/api/v1/topics/orders/messages?partition=0&from=timestamp&timestamp={ts}&limit=1"
        ),
    );
    assert_eq!(status, 200, "{page}");
    let first = &page["records"][0];
    assert_eq!(first["timestamp"], json!(ts), "{page}");
    assert!(first["offset"].as_i64().unwrap() <= 10, "{page}");
    let later = ts + 3_600_000;
    let (_, page) = get(
        port,
        &format!("/api/v1/topics/orders/messages?partition=0&from=timestamp&timestamp={later}"),
    );
    assert!(page["records"].as_array().unwrap().is_empty(), "{page}");

    // All partitions from the end; a text filter; a key filter in hex.
    let (_, page) = get(port, "/api/v1/topics/orders/messages?from=end&limit=3");
    let shown: Vec<(i64, i64)> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shown, vec![(0, 28), (0, 29), (1, 0)]);
    let (_, page) = get(
        port,
        "/api/v1/topics/orders/messages?from=beginning&text=%22order%22%3A2",
    );
    let matched: Vec<i64> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(matched, vec![2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    let (_, page) = get(
        port,
        "/api/v1/topics/orders/messages?from=beginning&key=ff0007",
    );
    assert_eq!(page["records"].as_array().unwrap().len(), 1);

    // A live tail asks from its cursor and sees only what came after.
    let (_, page) = get(port, "/api/v1/topics/orders/messages?cursor=0:30,1:1,2:0");
    assert!(page["records"].as_array().unwrap().is_empty(), "{page}");
    send(&p, "orders", Some(b"1003"), Some(b"later")).await;
    let (_, page) = get(port, "/api/v1/topics/orders/messages?cursor=0:30,1:1,2:0");
    let tail = page["records"].as_array().unwrap();
    assert_eq!(tail.len(), 1, "{page}");
    assert_eq!(
        tail[0]["value"],
        json!({"encoding": "text", "text": "later"})
    );
    assert_eq!(page["next"]["1"], json!(2));

    // Bad input is a 4xx with a sentence, never a crash.
    for (path, status, words) in [
        (
            "/api/v1/topics/orders/messages?from=offset&offset=abc",
            400,
            "whole number",
        ),
        (
            "/api/v1/topics/orders/messages?from=offset&offset=-3",
            400,
            "0 or more",
        ),
        (
            "/api/v1/topics/orders/messages?partition=7",
            404,
            "no partition 7",
        ),
        ("/api/v1/topics/orders/messages?limit=100000", 400, "limit"),
        (
            "/api/v1/topics/nope/messages",
            404,
            "UNKNOWN_TOPIC_OR_PARTITION",
        ),
        ("/api/v1/topics/nope", 404, "UNKNOWN_TOPIC_OR_PARTITION"),
        ("/api/v1/topics/%3Cscript%3E", 400, "topic name"),
        ("/api/v1/nothing-here", 404, "no such API"),
    ] {
        let (got, body) = get(port, path);
        assert_eq!(got, status, "{path}: {body}");
        let text = body["error"].as_str().unwrap_or_default();
        assert!(text.contains(words), "{path}: {body}");
    }
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/topics/orders/messages",
        Some(&json!({"partition": 9, "value": "x"})),
    );
    assert_eq!(status, 400, "{body}");

    // Configs: set, then back to the default.
    let (status, body) = http(
        port,
        "PATCH",
        "/api/v1/topics/orders/configs",
        Some(&json!({"set": {"cleanup.policy": "compact"}, "delete": ["retention.ms"]})),
    );
    assert_eq!(status, 200, "{body}");
    let (_, topic) = get(port, "/api/v1/topics/orders");
    let config = |name: &str| {
        topic["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == json!(name))
            .cloned()
            .unwrap()
    };
    assert_eq!(config("cleanup.policy")["value"], json!("compact"));
    assert_ne!(
        config("retention.ms")["source"],
        json!("DYNAMIC_TOPIC_CONFIG")
    );
    let (status, body) = http(
        port,
        "PATCH",
        "/api/v1/topics/orders/configs",
        Some(&json!({"set": {"retention.ms": "soon"}})),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["kafka_error"], json!("INVALID_CONFIG"), "{body}");

    // Delete; then it is gone.
    assert_eq!(http(port, "DELETE", "/api/v1/topics/orders", None).0, 200);
    assert_eq!(get(port, "/api/v1/topics/orders").0, 404);
    assert_eq!(http(port, "DELETE", "/api/v1/topics/orders", None).0, 404);
}

/// A consumer in `group` that commits by hand.
fn member(bootstrap: &str, group: &str) -> BaseConsumer {
    client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_lag_shows_and_only_an_empty_group_is_reset() {
    let (broker, port) = console_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "events", 2).await;
    let p = producer(&bs, &[]);
    for i in 0..10u8 {
        let value = [b'a' + i];
        let record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to("events").partition(0).payload(&value[..]);
        p.send(record, Duration::from_secs(20))
            .await
            .map_err(|(e, _)| e)
            .expect("delivered");
    }

    let c = member(&bs, "billing");
    c.subscribe(&["events"]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.assignment().map(|a| a.count()).unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "never assigned");
        let _ = c.poll(Duration::from_millis(100));
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("events", 0, Offset::Offset(4))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).expect("commit");

    let (status, groups) = get(port, "/api/v1/groups");
    assert_eq!(status, 200, "{groups}");
    let billing = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group_id"] == json!("billing"))
        .cloned()
        .expect("billing listed");
    assert_eq!(billing["state"], json!("Stable"));
    assert_eq!(billing["lag"], json!(6));

    let (status, group) = get(port, "/api/v1/groups/billing");
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["members"].as_array().unwrap().len(), 1, "{group}");
    assert_eq!(
        group["members"][0]["assignment"],
        json!({"events": [0, 1]}),
        "{group}"
    );
    let p0 = group["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["partition"] == json!(0))
        .cloned()
        .expect("partition 0");
    assert_eq!(
        (&p0["committed"], &p0["log_end"], &p0["lag"]),
        (&json!(4), &json!(10), &json!(6))
    );

    // While the consumer is a member, Kafka's coordinator refuses the reset.
    let (status, err) = http(
        port,
        "POST",
        "/api/v1/groups/billing/reset-offsets",
        Some(&json!({"to": "earliest"})),
    );
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["kafka_error"], json!("UNKNOWN_MEMBER_ID"));
    assert!(
        err["error"].as_str().unwrap().contains("active members"),
        "{err}"
    );

    // Once it has left, the reset goes through.
    c.unsubscribe();
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, g) = get(port, "/api/v1/groups/billing");
        if g["state"] == json!("Empty") {
            break;
        }
        assert!(Instant::now() < deadline, "the group never emptied: {g}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/groups/billing/reset-offsets",
        Some(&json!({"to": "offset", "offset": 2, "topic": "events"})),
    );
    assert_eq!(status, 200, "{body}");
    let (_, group) = get(port, "/api/v1/groups/billing");
    assert_eq!(group["lag"], json!(8), "{group}");

    for (body, words) in [
        (json!({"to": "sometime"}), "earliest, latest"),
        (json!({"to": "offset"}), "needs an offset"),
        (json!({"to": "timestamp", "timestamp": -5}), "timestamp"),
    ] {
        let (status, err) = http(
            port,
            "POST",
            "/api/v1/groups/billing/reset-offsets",
            Some(&body),
        );
        assert_eq!(status, 400, "{body}: {err}");
        assert!(err["error"].as_str().unwrap().contains(words), "{err}");
    }
    let (status, err) = get(port, "/api/v1/groups/nobody");
    assert_eq!(status, 404, "{err}");
}

#[test]
fn the_console_page_and_its_assets_are_served_beside_metrics() {
    let (_broker, port) = console_broker();
    let raw = |path: &str| -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, text)
    };
    let (status, page) = raw("/console/");
    assert_eq!(status, 200);
    assert!(page.contains("<title>Kavka console</title>"));
    assert!(page
        .to_ascii_lowercase()
        .contains("content-security-policy: default-src 'self'"));
    assert_eq!(raw("/console/console.js").0, 200);
    assert_eq!(raw("/console/console.css").0, 200);
    let (status, redirect) = raw("/");
    assert_eq!(status, 303, "{redirect}");
    assert!(redirect
        .to_ascii_lowercase()
        .contains("location: /console/"));
    assert_eq!(raw("/health").0, 200);
    assert_eq!(raw("/metrics").0, 200);
    assert_eq!(raw("/nothing").0, 404);
}
