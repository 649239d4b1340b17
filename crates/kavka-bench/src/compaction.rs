//! `compaction`: how fast the broker's log cleaner compacts a dirty log, and what
//! it does to produce latency on another topic meanwhile.
//!
//! A compacted topic is filled with keyed records while cleaning is held back
//! (`min.cleanable.dirty.ratio=1`, which no log exceeds); a fixed-rate producer on a
//! second topic measures acknowledgement latency with the cleaner idle; then the
//! ratio is lowered and the clock runs until the broker records the log as cleaned
//! in `cleaner-offset-checkpoint` (both Kafka and Kavka write it, in one format).
//! Throughput is the closed segments' bytes (the dirty log) over that time. Needs
//! the broker's `log.dirs` and a short `log.cleaner.backoff.ms`, or the wait for the
//! cleaner's next look is counted too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use crate::cluster::Cluster;
use crate::produce::payload;
use crate::report::{percentile, Row};

/// Probe time discarded before the idle window.
const WARM_UP: Duration = Duration::from_secs(3);

/// Parameters of one compaction run.
#[derive(Debug, Clone)]
pub(crate) struct CompactionSpec {
    pub(crate) records: u64,
    pub(crate) record_size: usize,
    /// Distinct keys; records cycle through them.
    pub(crate) keys: u64,
    /// The broker's `log.dirs`.
    pub(crate) log_dir: PathBuf,
    /// Records per second of the latency probe on the other topic.
    pub(crate) probe_rate: u64,
    /// How long the probe runs before cleaning starts.
    pub(crate) idle: Duration,
    pub(crate) time_limit: Duration,
}

/// Send time and acknowledgement latency of every probe record.
#[derive(Default)]
struct Probe {
    samples: Mutex<Vec<(Instant, u64)>>,
    failed: std::sync::atomic::AtomicU64,
}

impl ClientContext for Probe {}

impl ProducerContext for Probe {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Instant>) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let ns = sent.elapsed().as_nanos() as u64;
        if let Ok(mut s) = self.samples.lock() {
            s.push((*sent, ns));
        }
    }
}

/// The `compaction` workload: a cleaner row and two produce-latency rows.
pub(crate) fn run(cluster: &Cluster, spec: &CompactionSpec) -> anyhow::Result<Vec<Row>> {
    let held = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "16777216"),
        ("min.cleanable.dirty.ratio", "1"),
    ];
    let topic = cluster.fresh_topic_with("compaction", &held)?;
    fill(cluster, &topic, spec)?;
    let partition_dir = spec.log_dir.join(format!("{topic}-0"));
    let dirty_bytes = closed_segment_bytes(&partition_dir)?;
    if dirty_bytes == 0 {
        bail!("no closed segment in {}", partition_dir.display());
    }

    let probe_topic = cluster.fresh_topic("compaction-probe", 1)?;
    let producer: BaseProducer<Probe> = cluster
        .client_config()
        .set("acks", "1")
        .set("linger.ms", "0")
        .create_with_context(Probe::default())
        .context("creating the probe producer")?;
    let producer = Arc::new(producer);
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (producer, stop, topic, rate) = (
            producer.clone(),
            stop.clone(),
            probe_topic.clone(),
            spec.probe_rate,
        );
        std::thread::Builder::new()
            .name("compaction-probe".into())
            .spawn(move || probe(&producer, &topic, rate, &stop))
            .context("spawning the probe thread")?
    };
    // The probe's first seconds (connections, metadata, a JVM's warm-up) are not
    // the steady state either window should see.
    std::thread::sleep(WARM_UP);
    let idle_from = Instant::now();
    std::thread::sleep(spec.idle);

    let meter = cluster.meter()?;
    let started = Instant::now();
    let mut released = held;
    released[2].1 = "0.01";
    cluster.set_topic_configs(&topic, &released)?;
    // The admin change itself (a metadata commit) is not the cleaner's doing: the
    // latency window starts once it is answered.
    let altered = Instant::now();
    let cleaned = wait_for_checkpoint(&spec.log_dir, &topic, started + spec.time_limit);
    let finished = Instant::now();
    let usage = meter.finish()?;
    // A little more probing after, so the last in-flight sends are acknowledged.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let probed = prober
        .join()
        .map_err(|_| anyhow::anyhow!("the probe thread panicked"))?;
    producer
        .flush(Duration::from_secs(30))
        .context("flushing the probe")?;
    probed?;
    cleaned?;
    let seconds = (finished - started).as_secs_f64();

    let samples = producer
        .context()
        .samples
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    let window = |from: Instant, to: Instant| {
        let mut v: Vec<u64> = samples
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, ns)| *ns)
            .collect();
        v.sort_unstable();
        v
    };
    let latency_row = |name: &str, v: Vec<u64>| {
        let ms = |p: f64| percentile(&v, p).map(|ns| ns as f64 / 1e6);
        let mut row = Row::new(name);
        row.p50_ms = ms(50.0);
        row.p99_ms = ms(99.0);
        row.p999_ms = ms(99.9);
        row.max_ms = ms(100.0);
        row.records_per_s = Some(spec.probe_rate as f64);
        row
    };
    let idle = window(idle_from, started);
    let during = window(altered, finished);
    if during.is_empty() {
        bail!("no probe record was sent while the cleaner ran ({seconds:.3} s)");
    }
    // The same name on every broker, so `compare` pairs the rows up.
    eprintln!(
        "kavka-bench: compaction: {} MB of closed segments cleaned in {seconds:.2} s",
        dirty_bytes / 1_000_000
    );
    let mut cleaner_row = Row::new("compaction: cleaner (dirty log MB/s)").with_usage(usage);
    // Records in the closed segments are not known from outside; MB/s is the figure.
    cleaner_row.mb_per_s = Some(dirty_bytes as f64 / seconds / 1e6);
    Ok(vec![
        cleaner_row,
        latency_row("latency produce, cleaner idle", idle),
        latency_row("latency produce, while cleaning", during),
    ])
}

/// Fills `topic` with `spec.records` keyed records cycling through `spec.keys` keys.
fn fill(cluster: &Cluster, topic: &str, spec: &CompactionSpec) -> anyhow::Result<()> {
    let mut config = cluster.client_config();
    config
        .set("acks", "1")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("compression.type", "none")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "1048576");
    let producer: BaseProducer<crate::produce::DeliveryCounter> = config
        .create_with_context(Default::default())
        .context("creating the producer")?;
    let value = payload(spec.record_size);
    let deadline = Instant::now() + spec.time_limit;
    let mut sent = 0u64;
    while sent < spec.records {
        if Instant::now() > deadline {
            bail!("time limit reached after sending {sent} records");
        }
        let key = format!("key-{:08}", sent % spec.keys.max(1));
        match producer.send(BaseRecord::to(topic).key(&key).payload(&value[..])) {
            Ok(()) => {
                sent += 1;
                producer.poll(Duration::ZERO);
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(e).context("enqueueing a record"),
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .context("waiting for acknowledgements")?;
    producer.context().check(spec.records)
}

/// Bytes of every segment but the newest (the active one, never cleaned).
fn closed_segment_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut logs: Vec<(String, u64)> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let len = e.metadata().ok()?.len();
            name.ends_with(".log").then_some((name, len))
        })
        .collect();
    logs.sort();
    logs.pop();
    Ok(logs.iter().map(|(_, len)| len).sum())
}

/// Waits until `cleaner-offset-checkpoint` in `log_dir` has an entry for `topic`.
fn wait_for_checkpoint(log_dir: &Path, topic: &str, deadline: Instant) -> anyhow::Result<()> {
    let path = log_dir.join("cleaner-offset-checkpoint");
    let prefix = format!("{topic} 0 ");
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().any(|l| l.starts_with(&prefix)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{topic} was not cleaned before the time limit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends probe records at `rate` per second until `stop`.
fn probe(
    producer: &BaseProducer<Probe>,
    topic: &str,
    rate: u64,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let value = payload(100);
    let start = Instant::now();
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64 + 1;
        if sent >= due {
            std::thread::sleep(Duration::from_micros(200));
            producer.poll(Duration::ZERO);
            continue;
        }
        let record =
            BaseRecord::with_opaque_to(topic, Box::new(Instant::now())).payload(&value[..]);
        match producer.send::<(), [u8]>(record) {
            Ok(()) => sent += 1,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {}
            Err((e, _)) => return Err(e).context("sending a probe record"),
        }
        producer.poll(Duration::ZERO);
    }
    if producer.context().failed.load(Ordering::Relaxed) > 0 {
        bail!("probe records failed");
    }
    Ok(())
}
