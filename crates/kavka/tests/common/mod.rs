//! Test harness: runs the real `kavka` binary on a free port with its own data
//! directory, and builds rdkafka clients pointed at it.
#![allow(dead_code, unreachable_pub)]

pub mod acls;
pub mod txn;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// A broker process; killed when dropped.
pub struct TestBroker {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    extra: Vec<String>,
    /// RLIMIT_NOFILE (soft and hard) the broker runs under, via prlimit(1).
    open_file_limit: Option<u64>,
}

/// A base port with `n` free ports after it, in `KAVKA_TEST_PORTS` (default
/// 20000-31999, below the ephemeral range).
pub fn free_port_block(n: u16) -> u16 {
    let (lo, hi) = kavka_chaos::cluster::port_range().expect("KAVKA_TEST_PORTS");
    let starts = u64::from(hi - lo).saturating_sub(u64::from(n)) + 1;
    let seed = u64::from(std::process::id()) * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
    for i in 0..500u64 {
        let base = lo + ((seed + i * 131) % starts) as u16;
        if (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no {n} free ports");
}

/// A free port in `KAVKA_TEST_PORTS` (default 20000-31999: below Linux's ephemeral
/// range, 32768+, so an outgoing connection of some other test cannot take it
/// between this check and the broker's bind).
pub fn free_port() -> u16 {
    let (lo, hi) = kavka_chaos::cluster::port_range().expect("KAVKA_TEST_PORTS");
    let span = u64::from(hi - lo) + 1;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ u64::from(std::process::id()) << 16;
    for i in 0..1000u64 {
        let n = seed.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed) * 7919 + i);
        let port = lo + (n % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {lo} and {hi}");
}

impl TestBroker {
    /// Starts a broker with a fresh data directory and extra `key=value` overrides.
    pub fn start_with(extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut b = Self {
            child: None,
            port: free_port(),
            dir,
            _tmp: Some(tmp),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            open_file_limit: None,
        };
        b.spawn();
        b
    }

    /// Starts a broker whose open-file limit (soft and hard) is `limit`, as an
    /// operator's `ulimit -n` would set it; restarts keep it.
    pub fn start_with_open_file_limit(limit: u64, extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut b = Self {
            child: None,
            port: free_port(),
            dir,
            _tmp: Some(tmp),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            open_file_limit: Some(limit),
        };
        b.spawn();
        b
    }

    /// What the broker wrote to its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
    }

    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a broker whose first listener is on `port` (e.g. when `extra`
    /// names more listeners in `listeners=` that include it).
    pub fn start_on(port: u16, extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut b = Self {
            child: None,
            port,
            dir,
            _tmp: Some(tmp),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            open_file_limit: None,
        };
        b.spawn();
        b
    }

    fn spawn(&mut self) {
        // prlimit sets the limit, then execs the broker: the PID stays the broker's.
        let mut cmd = match self.open_file_limit {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_kavka"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_kavka")),
        };
        cmd.arg("broker")
            .arg("--override")
            .arg(format!("listeners=PLAINTEXT://127.0.0.1:{}", self.port))
            .arg("--override")
            .arg(format!("log.dirs={}", self.dir.display()))
            // Many brokers run at once: none takes the default HTTP port; a
            // test that wants the listener passes http.listeners itself.
            .arg("--override")
            .arg("http.listeners=");
        for e in &self.extra {
            cmd.arg("--override").arg(e);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.with_extension("log"))
            .expect("log file");
        cmd.stdout(Stdio::null()).stderr(log);
        let mut child = cmd.spawn().expect("spawn kavka");
        wait_for_port(self.port);
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "broker exited at start ({status}); log: {}",
                std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
            );
        }
        self.child = Some(child);
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("broker did not stop within 15 s of SIGTERM");
        }
    }

    /// SIGKILL: a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and data directory.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// Starts again on the same port and data directory with other overrides.
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra = extra.iter().map(|s| s.to_string()).collect();
        self.spawn();
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The broker process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("broker did not listen on {port}");
}

pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "3");
    c
}

pub fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    client_config(bootstrap).create().expect("admin client")
}

pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let results = admin(bootstrap)
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics");
    for r in results {
        r.expect("topic created");
    }
}

pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut c = client_config(bootstrap);
    c.set("linger.ms", "5").set("message.timeout.ms", "20000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("producer")
}

/// Sends one record and returns its (partition, offset).
pub async fn send(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> (i32, i64) {
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
    if let Some(k) = key {
        record = record.key(k);
    }
    if let Some(v) = value {
        record = record.payload(v);
    }
    let d = producer
        .send(record, Duration::from_secs(20))
        .await
        .map_err(|(e, _)| e)
        .expect("delivery");
    (d.partition, d.offset)
}

/// Enqueues every record at once (so batching happens), then waits for all
/// deliveries; panics on the first failed one.
pub async fn send_all<'a>(
    producer: &FutureProducer,
    topic: &str,
    records: impl Iterator<Item = (Option<&'a [u8]>, &'a [u8])>,
) {
    let mut pending = Vec::new();
    for (key, value) in records {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(value);
        if let Some(k) = key {
            record = record.key(k);
        }
        let fut = producer
            .send_result(record)
            .map_err(|(e, _)| e)
            .expect("enqueue");
        pending.push(fut);
    }
    for f in pending {
        f.await
            .expect("delivery future")
            .map_err(|(e, _)| e)
            .expect("delivered");
    }
}

/// A consumer with no group, positioned by hand.
pub fn assigned_consumer(
    bootstrap: &str,
    topic: &str,
    partitions: &[i32],
    offset: Offset,
) -> BaseConsumer {
    let consumer: BaseConsumer = client_config(bootstrap)
        // librdkafka needs a group id even for assign(); nothing is committed to it.
        .set("group.id", "kavka-test-assigned")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        tpl.add_partition_offset(topic, p, offset).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    consumer
}

/// Polls until `n` messages arrived or `timeout` passed.
pub fn consume_n(consumer: &BaseConsumer, n: usize, timeout: Duration) -> Vec<OwnedMessage> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::with_capacity(n);
    while out.len() < n && Instant::now() < deadline {
        if let Some(r) = consumer.poll(Duration::from_millis(100)) {
            let m = r.expect("consume error");
            out.push(m.detach());
        }
    }
    out
}

pub fn payload(m: &OwnedMessage) -> Vec<u8> {
    m.payload().unwrap_or_default().to_vec()
}

/// Sends one framed request and reads the framed answer; None once the broker has
/// closed the connection (what it does with a request it refuses).
pub fn raw_round_trip(
    stream: &mut TcpStream,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &'static str,
    encode_body: impl FnOnce(&mut BytesMut),
) -> Option<Bytes> {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(client_id)));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    encode_body(&mut buf);
    let mut frame = BytesMut::new();
    frame.put_i32(buf.len() as i32);
    frame.extend_from_slice(&buf);
    stream.write_all(&frame).ok()?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let mut response = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut response).ok()?;
    Some(Bytes::from(response))
}

/// One request over a plain socket, for calls whose exact answer matters.
pub fn raw_call<Resp: Decodable>(
    stream: &mut TcpStream,
    key: ApiKey,
    version: i16,
    body: &impl Encodable,
) -> Resp {
    let mut response = raw_round_trip(stream, key, version, 1, "kavka-test", |buf| {
        body.encode(buf, version).unwrap()
    })
    .expect("broker answered");
    response.advance(4); // correlation id
    if key.response_header_version(version) >= 1 {
        response.advance(1); // empty tagged fields
    }
    Resp::decode(&mut response, version).unwrap()
}
