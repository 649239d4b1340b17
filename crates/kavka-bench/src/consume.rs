//! `consume`: read N records of S bytes from a prefilled topic with a consumer on
//! librdkafka's defaults (all partitions assigned from the beginning, no group joined).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::cluster::Cluster;
use crate::produce::{produce_records, ProduceSpec};
use crate::report::Row;

/// Partitions of every benchmark topic.
const PARTITIONS: i32 = 6;

/// The `consume` workload: prefill (not timed), then time reading everything back.
pub(crate) fn run(cluster: &Cluster, name: &str, spec: ProduceSpec) -> anyhow::Result<Row> {
    let topic = cluster.fresh_topic("consume", PARTITIONS)?;
    produce_records(cluster, &topic, ProduceSpec { acks: "1", ..spec })
        .context("prefilling the topic")?;

    let meter = cluster.meter()?;
    let start = Instant::now();
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
        assignment
            .add_partition_offset(&topic, p, Offset::Beginning)
            .context("building the assignment")?;
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;

    let deadline = start + spec.time_limit;
    let (mut records, mut bytes) = (0u64, 0u64);
    while records < spec.records {
        if Instant::now() > deadline {
            bail!(
                "time limit of {:?} reached after {records} of {} records",
                spec.time_limit,
                spec.records
            );
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
    let seconds = start.elapsed().as_secs_f64();
    let usage = meter.finish()?;
    Ok(Row::new(name)
        .with_throughput(records, bytes, seconds)
        .with_usage(usage))
}
