//! `produce`: N records of S bytes as fast as a tuned librdkafka producer sends them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use crate::cluster::Cluster;
use crate::report::Row;

/// Parameters of one produce run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProduceSpec {
    pub(crate) records: u64,
    pub(crate) record_size: usize,
    /// `"1"` or `"all"`.
    pub(crate) acks: &'static str,
    /// Give up sending new records after this long.
    pub(crate) time_limit: Duration,
}

/// Counts acknowledged and failed deliveries from librdkafka's callbacks.
#[derive(Default)]
pub(crate) struct DeliveryCounter {
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) first_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_error.lock() {
                    first.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

impl DeliveryCounter {
    /// Fails if any record was not acknowledged.
    pub(crate) fn check(&self, expected: u64) -> anyhow::Result<()> {
        let delivered = self.delivered.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        if delivered != expected {
            let first = self
                .first_error
                .lock()
                .ok()
                .and_then(|f| f.clone())
                .unwrap_or_default();
            bail!("{delivered} of {expected} records acknowledged, {failed} failed (first error: {first})");
        }
        Ok(())
    }
}

/// A payload of `size` bytes that is not trivially compressible.
pub(crate) fn payload(size: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends `spec.records` records with a high-throughput configuration and waits for
/// every acknowledgement; returns the seconds from first send to last ack.
pub(crate) fn produce_records(
    cluster: &Cluster,
    topic: &str,
    spec: ProduceSpec,
) -> anyhow::Result<f64> {
    let mut config = cluster.client_config();
    config
        .set("acks", spec.acks)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("compression.type", "none")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "1048576");
    let producer: BaseProducer<DeliveryCounter> = config
        .create_with_context(DeliveryCounter::default())
        .context("creating the producer")?;
    let value = payload(spec.record_size);
    let start = Instant::now();
    let deadline = start + spec.time_limit;
    let mut sent = 0u64;
    while sent < spec.records {
        if Instant::now() > deadline {
            bail!(
                "time limit of {:?} reached after sending {sent} of {} records",
                spec.time_limit,
                spec.records
            );
        }
        match producer.send(BaseRecord::<(), [u8]>::to(topic).payload(&value)) {
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
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(10));
    producer
        .flush(remaining)
        .context("waiting for acknowledgements")?;
    let seconds = start.elapsed().as_secs_f64();
    producer.context().check(spec.records)?;
    Ok(seconds)
}

/// The `produce` workload on a fresh 6-partition topic.
pub(crate) fn run(cluster: &Cluster, name: &str, spec: ProduceSpec) -> anyhow::Result<Row> {
    let topic = cluster.fresh_topic("produce", 6)?;
    let meter = cluster.meter()?;
    let seconds = produce_records(cluster, &topic, spec)?;
    let usage = meter.finish()?;
    Ok(Row::new(name)
        .with_throughput(
            spec.records,
            spec.records * spec.record_size as u64,
            seconds,
        )
        .with_usage(usage))
}
