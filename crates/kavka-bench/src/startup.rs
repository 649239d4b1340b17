//! `startup`: cold start to the first answered Metadata request. The broker is
//! started with a shell command in the foreground; a probe connects in a loop,
//! sends ApiVersions v0 and then Metadata (all topics), and the clock stops when
//! a Metadata response naming at least one broker arrives.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::cluster::Cluster;
use crate::produce::payload;
use crate::report::Row;

/// How the broker is started and stopped.
pub(crate) struct StartupSpec {
    pub(crate) start_cmd: String,
    pub(crate) stop_signal: String,
    pub(crate) timeout: Duration,
    /// When set: start once, create this many partitions (10 per topic) holding a
    /// few records each, stop, then measure the restart.
    pub(crate) prefill_partitions: Option<u32>,
}

/// The `startup` workload: one row for the first start, one for the restart
/// after a prefill when asked for.
pub(crate) fn run(cluster: &Cluster, spec: &StartupSpec) -> Vec<Row> {
    let mut rows = Vec::new();
    let addr = match resolve(&cluster.bootstrap) {
        Ok(a) => a,
        Err(e) => return vec![Row::failed("startup (empty)", &e)],
    };
    let first = match BrokerProcess::start(spec, addr) {
        Ok(b) => b,
        Err(e) => return vec![Row::failed("startup (empty)", &e)],
    };
    let mut row = Row::new("startup (empty)");
    row.startup_ms = Some(first.ready_after.as_secs_f64() * 1e3);
    row.broker_peak_rss_mib = peak_rss_mib(first.child.id());
    rows.push(row);
    let Some(partitions) = spec.prefill_partitions else {
        rows.extend(
            first
                .stop(spec)
                .err()
                .map(|e| Row::failed("startup stop", &e)),
        );
        return rows;
    };
    let label = format!("startup ({partitions} partitions)");
    let prefilled = prefill(cluster, partitions);
    let stopped = first.stop(spec);
    if let Err(e) = prefilled.and(stopped) {
        rows.push(Row::failed(label, &e.context("prefill")));
        return rows;
    }
    match BrokerProcess::start(spec, addr) {
        Ok(again) => {
            let mut row = Row::new(label.clone());
            row.startup_ms = Some(again.ready_after.as_secs_f64() * 1e3);
            row.broker_peak_rss_mib = peak_rss_mib(again.child.id());
            rows.push(row);
            if let Err(e) = again.stop(spec) {
                rows.push(Row::failed(format!("{label} stop"), &e));
            }
        }
        Err(e) => rows.push(Row::failed(label, &e)),
    }
    rows
}

/// The peak resident set (VmHWM) of `pid` so far, in MiB: the broker's when the
/// start command `exec`s it.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn resolve(bootstrap: &str) -> anyhow::Result<SocketAddr> {
    bootstrap
        .to_socket_addrs()
        .with_context(|| format!("resolving {bootstrap}"))?
        .next()
        .with_context(|| format!("{bootstrap} resolves to no address"))
}

/// Creates `partitions` partitions, 10 per topic, and writes 5 records to each.
fn prefill(cluster: &Cluster, partitions: u32) -> anyhow::Result<()> {
    let topics: Vec<String> = (0..partitions.div_ceil(10))
        .map(|i| format!("bench-prefill-{i:04}"))
        .collect();
    // Many topics to a request: with 10,000 topics one request each would make
    // the prefill, not the restart, the long part of the run.
    cluster.create_many_topics(&topics, 10, 200)?;
    // Raw Produce requests, one per topic: at 100,000 partitions librdkafka's
    // producer spends seconds per request walking its partition queues, which
    // would make filling them take hours.
    let addr = resolve(&cluster.bootstrap)?;
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    let value = payload(100);
    for (i, topic) in topics.iter().enumerate() {
        let correlation = i32::try_from(i).unwrap_or(i32::MAX);
        produce_to_topic(&mut stream, topic, 10, &value, correlation)
            .with_context(|| format!("prefilling {topic}"))?;
    }
    Ok(())
}

/// Five records of `value` to each of `partitions` partitions of `topic`, acks=1,
/// retried while the new partitions have no leader yet.
fn produce_to_topic(
    stream: &mut TcpStream,
    topic: &str,
    partitions: i32,
    value: &[u8],
    correlation: i32,
) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let records: Vec<Record> = (0..5)
        .map(|offset| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: -1,
            timestamp: now,
            key: None,
            value: Some(Bytes::copy_from_slice(value)),
            headers: Default::default(),
        })
        .collect();
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .context("encoding the prefill batch")?;
    let batch = batch.freeze();
    // Partitions not written yet: new ones may have no leader for a moment.
    let mut pending: Vec<i32> = (0..partitions).collect();
    let mut attempts = 0;
    while !pending.is_empty() {
        let request = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(
                    pending
                        .iter()
                        .map(|&p| {
                            PartitionProduceData::default()
                                .with_index(p)
                                .with_records(Some(batch.clone()))
                        })
                        .collect(),
                )]);
        let response: ProduceResponse =
            round_trip(stream, ApiKey::Produce, 7, correlation, &request)?;
        let failed: Vec<(i32, i16)> = response
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter())
            .filter(|p| p.error_code != 0)
            .map(|p| (p.index, p.error_code))
            .collect();
        attempts += 1;
        if !failed.is_empty() && attempts >= 50 {
            bail!("Produce answered (partition, error code) {failed:?}");
        }
        pending = failed.into_iter().map(|(p, _)| p).collect();
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// A broker started by us, in its own process group so that a shell wrapper and
/// the broker it runs are stopped together.
struct BrokerProcess {
    child: Child,
    ready_after: Duration,
}

impl BrokerProcess {
    fn start(spec: &StartupSpec, addr: SocketAddr) -> anyhow::Result<Self> {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            bail!("something already listens on {addr}; stop it first");
        }
        let start = Instant::now();
        let child = Command::new("sh")
            .arg("-c")
            .arg(&spec.start_cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("spawning: {}", spec.start_cmd))?;
        let mut broker = Self {
            child,
            ready_after: Duration::ZERO,
        };
        match wait_for_metadata(&mut broker.child, addr, start, spec.timeout) {
            Ok(after) => {
                broker.ready_after = after;
                Ok(broker)
            }
            Err(e) => {
                let _ = broker.stop(spec);
                Err(e)
            }
        }
    }

    /// Signals the process group we created, waits up to 30 s, then SIGKILLs it.
    /// Says on stderr how long the broker took to exit.
    fn stop(mut self, spec: &StartupSpec) -> anyhow::Result<()> {
        let started = Instant::now();
        let group = format!("-{}", self.child.id());
        let signal = format!("-{}", spec.stop_signal);
        let _ = Command::new("kill")
            .args([signal.as_str(), "--", group.as_str()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self
                .child
                .try_wait()
                .context("waiting for the broker")?
                .is_some()
            {
                // The shell may be gone while the broker still shuts down.
                if !group_alive(&group) {
                    eprintln!(
                        "broker exited {:.0} ms after SIG{}",
                        started.elapsed().as_secs_f64() * 1e3,
                        spec.stop_signal
                    );
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", group.as_str()])
            .status();
        let _ = self.child.wait();
        bail!(
            "the broker ignored SIG{} for 30 s and was killed",
            spec.stop_signal
        )
    }
}

fn group_alive(group: &str) -> bool {
    Command::new("kill")
        .args(["-0", "--", group])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_for_metadata(
    child: &mut Child,
    addr: SocketAddr,
    start: Instant,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let mut last_error = String::from("no connection yet");
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().context("checking the broker process")? {
            bail!("the broker exited with {status} before answering Metadata");
        }
        match probe(addr) {
            Ok(()) => return Ok(start.elapsed()),
            Err(e) => last_error = format!("{e:#}"),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!("no Metadata response within {timeout:?} (last attempt: {last_error})")
}

/// One connection: ApiVersions v0, then Metadata at the highest non-flexible
/// version both sides know.
fn probe(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(100))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_nodelay(true)?;

    let versions: ApiVersionsResponse = round_trip(
        &mut stream,
        ApiKey::ApiVersions,
        0,
        1,
        &ApiVersionsRequest::default(),
    )?;
    if versions.error_code != 0 {
        bail!("ApiVersions error code {}", versions.error_code);
    }
    let metadata = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Metadata as i16)
        .context("the broker lists no Metadata API")?;
    let version = metadata.max_version.min(8);
    if version < metadata.min_version || version < 1 {
        bail!(
            "no common Metadata version (broker {}..={})",
            metadata.min_version,
            metadata.max_version
        );
    }
    let request = MetadataRequest::default()
        .with_topics(None)
        .with_allow_auto_topic_creation(false);
    let response: MetadataResponse =
        round_trip(&mut stream, ApiKey::Metadata, version, 2, &request)?;
    if response.brokers.is_empty() {
        bail!("Metadata response names no broker");
    }
    Ok(())
}

/// Sends one request (header v1, non-flexible) and decodes its response (header v0).
pub(crate) fn round_trip<Req: Encodable, Resp: Decodable>(
    stream: &mut TcpStream,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    request: &Req,
) -> anyhow::Result<Resp> {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("kavka-bench")));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, 1)
        .context("encoding the request header")?;
    request
        .encode(&mut body, version)
        .context("encoding the request")?;
    let len = i32::try_from(body.len()).context("request too large")?;
    stream.write_all(&len.to_be_bytes())?;
    stream.write_all(&body)?;

    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = usize::try_from(i32::from_be_bytes(size)).context("negative response size")?;
    if !(4..=64 << 20).contains(&size) {
        bail!("implausible response size {size}");
    }
    let mut response = vec![0u8; size];
    stream.read_exact(&mut response)?;
    let got = i32::from_be_bytes([response[0], response[1], response[2], response[3]]);
    if got != correlation_id {
        bail!("correlation id {got}, expected {correlation_id}");
    }
    let mut body = Bytes::from(response).slice(4..);
    Resp::decode(&mut body, version).context("decoding the response")
}
