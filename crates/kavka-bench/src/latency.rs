//! `latency`: end-to-end latency at a fixed send rate. The producer puts the send
//! time (nanoseconds since an in-process monotonic epoch) in the first 8 bytes of
//! each value; a consumer in the same process subtracts it from the receive time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::cluster::Cluster;
use crate::produce::{payload, DeliveryCounter};
use crate::report::{percentile, Row};

const PARTITIONS: i32 = 6;

/// Parameters of one latency run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatencySpec {
    pub(crate) rate: u64,
    pub(crate) duration: Duration,
    pub(crate) record_size: usize,
}

/// The `latency` workload.
pub(crate) fn run(cluster: &Cluster, name: &str, spec: LatencySpec) -> anyhow::Result<Row> {
    let record_size = spec.record_size.max(8);
    let total = spec.rate * spec.duration.as_secs_f64().ceil() as u64;
    let topic = cluster.fresh_topic("latency", PARTITIONS)?;
    let epoch = Instant::now();

    // Assign at the current end of every partition, resolved before the producer
    // starts, so no record is missed and none from before is counted.
    let consumer: BaseConsumer = cluster
        .client_config()
        // librdkafka refuses assign() without a group.id; the group is never
        // joined (no subscribe) and nothing is committed.
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the consumer")?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        let (_, high) = consumer
            .fetch_watermarks(&topic, p, Duration::from_secs(10))
            .with_context(|| format!("reading the end offset of partition {p}"))?;
        assignment
            .add_partition_offset(&topic, p, Offset::Offset(high))
            .context("building the assignment")?;
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;

    let producer: BaseProducer<DeliveryCounter> = cluster
        .client_config()
        .set("acks", "all")
        .create_with_context(DeliveryCounter::default())
        .context("creating the producer")?;

    let meter = cluster.meter()?;
    let producing = Arc::new(AtomicBool::new(true));
    let receive_deadline = Instant::now() + spec.duration + Duration::from_secs(30);
    let receiver = {
        let producing = producing.clone();
        std::thread::Builder::new()
            .name("latency-consumer".into())
            .spawn(move || receive(consumer, epoch, total, receive_deadline, producing))
            .context("spawning the consumer thread")?
    };

    let sent = send_at_rate(&producer, &topic, epoch, spec, record_size, total);
    let flushed = producer.flush(Duration::from_secs(30));
    producing.store(false, Ordering::Relaxed);
    let latencies = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("the consumer thread panicked"))?;
    let usage = meter.finish()?;
    sent?;
    flushed.context("waiting for acknowledgements")?;
    producer.context().check(total)?;
    let mut latencies = latencies?;
    latencies.sort_unstable();

    let ms = |p: f64| percentile(&latencies, p).map(|ns| ns as f64 / 1e6);
    let mut row = Row::new(name).with_usage(usage);
    row.p50_ms = ms(50.0);
    row.p99_ms = ms(99.0);
    row.p999_ms = ms(99.9);
    row.max_ms = ms(100.0);
    row.records_per_s = Some(spec.rate as f64);
    Ok(row)
}

fn send_at_rate(
    producer: &BaseProducer<DeliveryCounter>,
    topic: &str,
    epoch: Instant,
    spec: LatencySpec,
    record_size: usize,
    total: u64,
) -> anyhow::Result<()> {
    let mut value = payload(record_size);
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        // Records due by now at the target rate; sleep until the next one is due.
        let due = ((start.elapsed().as_secs_f64() * spec.rate as f64) as u64 + 1).min(total);
        if sent >= due {
            std::thread::sleep(Duration::from_micros(200));
            producer.poll(Duration::ZERO);
            continue;
        }
        let sent_at = epoch.elapsed().as_nanos() as u64;
        value[..8].copy_from_slice(&sent_at.to_be_bytes());
        match producer.send(BaseRecord::<(), [u8]>::to(topic).payload(&value)) {
            Ok(()) => sent += 1,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e).context("enqueueing a record"),
        }
        producer.poll(Duration::ZERO);
    }
    Ok(())
}

fn receive(
    consumer: BaseConsumer,
    epoch: Instant,
    total: u64,
    deadline: Instant,
    producing: Arc<AtomicBool>,
) -> anyhow::Result<Vec<u64>> {
    let mut latencies = Vec::with_capacity(total as usize);
    let mut last_record = Instant::now();
    while (latencies.len() as u64) < total {
        if Instant::now() > deadline {
            bail!(
                "received {} of {total} records before the deadline",
                latencies.len()
            );
        }
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                let now = epoch.elapsed().as_nanos() as u64;
                let sent = m
                    .payload()
                    .and_then(|p| p.get(..8))
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .context("a record without an 8-byte timestamp")?;
                latencies.push(now.saturating_sub(sent));
                last_record = Instant::now();
            }
            Some(Err(e)) => return Err(e).context("consuming"),
            None => {
                // Once the producer has given up, nothing more is coming.
                if !producing.load(Ordering::Relaxed)
                    && last_record.elapsed() > Duration::from_secs(5)
                {
                    bail!("received {} of {total} records", latencies.len());
                }
            }
        }
    }
    Ok(latencies)
}
