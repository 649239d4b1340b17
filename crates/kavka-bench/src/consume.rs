//! `consume`: read N records of S bytes from a prefilled topic with a consumer on
//! librdkafka's defaults (all partitions assigned from the beginning, no group joined).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use crate::cluster::Cluster;
use crate::produce::{produce_records, ProduceSpec};
use crate::report::Row;

/// Partitions of every benchmark topic.
pub(crate) const PARTITIONS: i32 = 6;

/// The `consume` workload: prefill (not timed), then time reading everything back.
/// `consumer_config` overrides librdkafka defaults of the timed consumer
/// (e.g. `debug=fetch` or `fetch.queue.backoff.ms=0`, to study the client).
pub(crate) fn run(
    cluster: &Cluster,
    name: &str,
    spec: ProduceSpec,
    consumer_config: &[(String, String)],
) -> anyhow::Result<Row> {
    let topic = cluster.fresh_topic("consume", PARTITIONS)?;
    produce_records(cluster, &topic, ProduceSpec { acks: "1", ..spec })
        .context("prefilling the topic")?;

    let meter = cluster.meter()?;
    let (records, bytes, seconds) = read_all(
        cluster,
        &topic,
        spec.records,
        None,
        consumer_config,
        spec.time_limit,
    )?;
    let usage = meter.finish()?;
    Ok(Row::new(name)
        .with_throughput(records, bytes, seconds)
        .with_usage(usage))
}

/// Reads `expected` records of `topic` from the beginning of all its partitions
/// with a consumer on librdkafka's defaults, except `isolation.level` when given
/// (librdkafka's default is read_committed). Returns records, value bytes and the
/// seconds from creating the consumer to the last record.
pub(crate) fn read_all(
    cluster: &Cluster,
    topic: &str,
    expected: u64,
    isolation_level: Option<&str>,
    consumer_config: &[(String, String)],
    time_limit: Duration,
) -> anyhow::Result<(u64, u64, f64)> {
    let start = Instant::now();
    let mut config = cluster.client_config();
    // librdkafka refuses assign() without a group.id; the group is never
    // joined (no subscribe) and nothing is committed.
    config
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false");
    if let Some(level) = isolation_level {
        config.set("isolation.level", level);
    }
    for (key, value) in consumer_config {
        config.set(key, value);
        if key == "debug" {
            config.set_log_level(RDKafkaLogLevel::Debug);
        }
    }
    let consumer: BaseConsumer<StderrLog> = config
        .create_with_context(StderrLog(start))
        .context("creating the consumer")?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .context("building the assignment")?;
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;

    let deadline = start + time_limit;
    let (mut records, mut bytes) = (0u64, 0u64);
    while records < expected {
        if Instant::now() > deadline {
            bail!("time limit of {time_limit:?} reached after {records} of {expected} records");
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                records += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => return Err(e).context("consuming"),
            None => {}
        }
    }
    Ok((records, bytes, start.elapsed().as_secs_f64()))
}

/// librdkafka's log lines (all of them with `debug=fetch`) on stderr, with the
/// seconds since the consumer was created, to see where a read waits.
struct StderrLog(Instant);

impl ClientContext for StderrLog {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        eprintln!(
            "{:>8.3} {level:?} {fac}: {log_message}",
            self.0.elapsed().as_secs_f64()
        );
    }
}

impl ConsumerContext for StderrLog {}
