//! `many-partitions`: T topics of P partitions each (10,000 partitions by
//! default) under a light produce load spread over all of them: every record
//! goes to the next partition in turn. Figures: acknowledgement latency
//! (acks=all, librdkafka defaults otherwise), broker CPU and peak RSS over the
//! timed phase, after one untimed record to every partition.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use crate::cluster::Cluster;
use crate::produce::payload;
use crate::report::{percentile, Row};

/// Parameters of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ManyPartitionsSpec {
    pub(crate) topics: u32,
    pub(crate) partitions: i32,
    /// Records per second over all partitions.
    pub(crate) rate: u64,
    pub(crate) duration: Duration,
}

/// Acknowledgement latency of every record, in nanoseconds.
#[derive(Default)]
struct Acks {
    latencies: Mutex<Vec<u64>>,
    failed: AtomicU64,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Instant>) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let ns = sent.elapsed().as_nanos() as u64;
        if let Ok(mut l) = self.latencies.lock() {
            l.push(ns);
        }
    }
}

/// The workload's row name.
pub(crate) fn row_name(spec: &ManyPartitionsSpec) -> String {
    format!(
        "produce {}/s over {} topics x {} partitions acks=all",
        spec.rate, spec.topics, spec.partitions
    )
}

/// Creates the topics (not timed), then sends at the rate for the duration.
pub(crate) fn run(cluster: &Cluster, spec: ManyPartitionsSpec) -> anyhow::Result<Row> {
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let names: Vec<String> = (0..spec.topics)
        .map(|i| format!("bench-many-{run_id}-{i}"))
        .collect();
    // CreateTopics in batches: one request for a thousand topics may outlast
    // the admin client's timeout on a slow broker.
    for chunk in names.chunks(100) {
        cluster
            .create_topics(chunk, spec.partitions)
            .context("creating the topics")?;
    }
    let producer: BaseProducer<Acks> = cluster
        .client_config()
        .set("acks", "all")
        .create_with_context(Acks::default())
        .context("creating the producer")?;
    let targets: Vec<(&str, i32)> = names
        .iter()
        .flat_map(|t| (0..spec.partitions).map(move |p| (t.as_str(), p)))
        .collect();
    let total = spec.rate * spec.duration.as_secs_f64().ceil() as u64;
    let value = payload(100);
    // Untimed: one record to every partition, so the producer has every
    // topic's metadata and a connection before the clock starts.
    for (topic, partition) in &targets {
        let mut record = BaseRecord::with_opaque_to(topic, Box::new(Instant::now()))
            .partition(*partition)
            .payload(&value[..]);
        loop {
            match producer.send::<(), [u8]>(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e).context("sending a warm-up record"),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(120))
        .context("waiting for the warm-up records")?;
    if let Ok(mut l) = producer.context().latencies.lock() {
        l.clear();
    }

    let meter = cluster.meter()?;
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = ((start.elapsed().as_secs_f64() * spec.rate as f64) as u64 + 1).min(total);
        if sent >= due {
            std::thread::sleep(Duration::from_micros(200));
            producer.poll(Duration::ZERO);
            continue;
        }
        let (topic, partition) = targets[(sent % targets.len() as u64) as usize];
        let record = BaseRecord::with_opaque_to(topic, Box::new(Instant::now()))
            .partition(partition)
            .payload(&value[..]);
        match producer.send::<(), [u8]>(record) {
            Ok(()) => sent += 1,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e).context("sending a record"),
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .context("waiting for acknowledgements")?;
    let usage = meter.finish()?;
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{failed} records were not acknowledged");
    }
    let mut latencies = producer
        .context()
        .latencies
        .lock()
        .map(|l| l.clone())
        .map_err(|_| anyhow::anyhow!("a delivery callback panicked"))?;
    if latencies.len() as u64 != total {
        bail!("{} of {total} records acknowledged", latencies.len());
    }
    latencies.sort_unstable();
    let ms = |p: f64| percentile(&latencies, p).map(|ns| ns as f64 / 1e6);
    let mut row = Row::new(row_name(&spec)).with_usage(usage);
    row.p50_ms = ms(50.0);
    row.p99_ms = ms(99.0);
    row.p999_ms = ms(99.9);
    row.max_ms = ms(100.0);
    row.records_per_s = Some(spec.rate as f64);
    Ok(row)
}
