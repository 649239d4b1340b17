//! `txn-produce` and `consume-committed`: a transactional producer (records sent
//! in transactions of a fixed size, each committed before the next begins), and
//! read_uncommitted against read_committed consumers of a topic written that way.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::cluster::Cluster;
use crate::consume::{read_all, PARTITIONS};
use crate::produce::{payload, DeliveryCounter};
use crate::report::Row;

/// Parameters of one transactional run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxnSpec {
    pub(crate) records: u64,
    pub(crate) record_size: usize,
    /// Records per transaction (the last transaction may hold fewer).
    pub(crate) per_txn: u64,
    /// Give up after this long.
    pub(crate) time_limit: Duration,
}

/// How a consumer treats records of open and aborted transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isolation {
    ReadUncommitted,
    ReadCommitted,
}

impl Isolation {
    /// The value of the consumer's `isolation.level` setting.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Isolation::ReadUncommitted => "read_uncommitted",
            Isolation::ReadCommitted => "read_committed",
        }
    }
}

/// The sizes of the transactions that carry `records` records, at most
/// `per_txn` each (a `per_txn` of 0 counts as 1, so the loop always ends).
pub(crate) fn transaction_sizes(records: u64, per_txn: u64) -> impl Iterator<Item = u64> {
    let per_txn = per_txn.max(1);
    let mut left = records;
    std::iter::from_fn(move || {
        (left > 0).then(|| {
            let n = left.min(per_txn);
            left -= n;
            n
        })
    })
}

/// Row name of the transactional produce workload.
pub(crate) fn produce_row_name(spec: &TxnSpec) -> String {
    format!(
        "txn-produce {} B, {}/txn, acks=all",
        spec.record_size, spec.per_txn
    )
}

/// Row name of a consume of a transactionally written topic.
pub(crate) fn consume_row_name(record_size: usize, isolation: Isolation) -> String {
    format!(
        "consume {record_size} B txn-written, {}",
        isolation.as_str()
    )
}

/// Sends `spec.records` records in transactions of `spec.per_txn` from one
/// transactional producer, committing each; returns the seconds from the first
/// `begin_transaction` to the last commit. `init_transactions` (finding the
/// coordinator, getting a producer id) is not timed: it happens once per producer.
pub(crate) fn produce_transactions(
    cluster: &Cluster,
    topic: &str,
    spec: TxnSpec,
) -> anyhow::Result<f64> {
    // A fresh transactional.id per run, so no earlier run's producer is fenced
    // or waited for.
    let txn_id = format!("{topic}-txn");
    let mut config = cluster.client_config();
    // The same batching as `produce`; acks=all is what transactions require
    // (idempotence), and librdkafka would refuse anything else.
    config
        .set("transactional.id", &txn_id)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("compression.type", "none")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "1048576");
    let producer: BaseProducer<DeliveryCounter> = config
        .create_with_context(DeliveryCounter::default())
        .context("creating the transactional producer")?;
    let timeout = spec.time_limit.min(Duration::from_secs(60));
    producer
        .init_transactions(timeout)
        .context("init_transactions")?;

    let value = payload(spec.record_size);
    let start = Instant::now();
    let deadline = start + spec.time_limit;
    let mut sent = 0u64;
    for size in transaction_sizes(spec.records, spec.per_txn) {
        if Instant::now() > deadline {
            bail!(
                "time limit of {:?} reached after {sent} of {} records",
                spec.time_limit,
                spec.records
            );
        }
        producer.begin_transaction().context("begin_transaction")?;
        let mut in_txn = 0u64;
        while in_txn < size {
            match producer.send(BaseRecord::<(), [u8]>::to(topic).payload(&value)) {
                Ok(()) => {
                    in_txn += 1;
                    producer.poll(Duration::ZERO);
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e).context("enqueueing a record"),
            }
        }
        // Wait for every acknowledgement here: commit_transaction flushes first,
        // and rdkafka's flush polls in slices that each last the full 100 ms,
        // which would add 100 ms to every transaction on any broker. A timed
        // poll spins for its whole slice, so poll without waiting and sleep
        // briefly instead, leaving the shared cores to the broker.
        while producer.in_flight_count() > 0 {
            if Instant::now() > deadline {
                bail!(
                    "time limit of {:?} reached waiting for acknowledgements after {sent} records",
                    spec.time_limit
                );
            }
            producer.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_micros(200));
        }
        // Nothing left to flush, so this is EndTxn and the wait for its answer.
        producer
            .commit_transaction(timeout)
            .with_context(|| format!("committing the transaction after {sent} records"))?;
        sent += size;
    }
    let seconds = start.elapsed().as_secs_f64();
    producer.context().check(spec.records)?;
    Ok(seconds)
}

/// The `txn-produce` workload on a fresh 6-partition topic.
pub(crate) fn run_produce(cluster: &Cluster, spec: TxnSpec) -> anyhow::Result<Row> {
    let topic = cluster.fresh_topic("txn-produce", PARTITIONS)?;
    let meter = cluster.meter()?;
    let seconds = produce_transactions(cluster, &topic, spec)?;
    let usage = meter.finish()?;
    Ok(Row::new(produce_row_name(&spec))
        .with_throughput(
            spec.records,
            spec.records * spec.record_size as u64,
            seconds,
        )
        .with_usage(usage))
}

/// The `consume-committed` workload: fills a topic transactionally (not timed),
/// then times a read_uncommitted and a read_committed consumer reading it all,
/// one after the other, each with its own row. Both see the same data records
/// (every transaction committed), so the difference is the cost of isolation.
pub(crate) fn run_consume(cluster: &Cluster, spec: TxnSpec) -> Vec<Row> {
    let names = [Isolation::ReadUncommitted, Isolation::ReadCommitted]
        .map(|i| consume_row_name(spec.record_size, i));
    let prefill = cluster
        .fresh_topic("consume-txn", PARTITIONS)
        .and_then(|topic| {
            produce_transactions(cluster, &topic, spec)
                .context("prefilling the topic transactionally")?;
            Ok(topic)
        });
    let topic = match prefill {
        Ok(t) => t,
        Err(e) => return names.iter().map(|n| Row::failed(n, &e)).collect(),
    };
    [Isolation::ReadUncommitted, Isolation::ReadCommitted]
        .into_iter()
        .zip(names)
        .map(|(isolation, name)| {
            let read = || -> anyhow::Result<Row> {
                let meter = cluster.meter()?;
                let (records, bytes, seconds) = read_all(
                    cluster,
                    &topic,
                    spec.records,
                    Some(isolation.as_str()),
                    &[],
                    spec.time_limit,
                )?;
                let usage = meter.finish()?;
                Ok(Row::new(&name)
                    .with_throughput(records, bytes, seconds)
                    .with_usage(usage))
            };
            read().unwrap_or_else(|e| Row::failed(&name, &e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_into_full_transactions_and_a_short_last_one() {
        assert_eq!(
            transaction_sizes(250, 100).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        assert_eq!(
            transaction_sizes(200, 100).collect::<Vec<_>>(),
            vec![100, 100]
        );
        assert_eq!(transaction_sizes(0, 100).count(), 0);
    }

    #[test]
    fn zero_records_per_transaction_still_terminates() {
        assert_eq!(transaction_sizes(3, 0).collect::<Vec<_>>(), vec![1, 1, 1]);
    }

    #[test]
    fn every_record_is_in_some_transaction() {
        for (records, per_txn) in [(100_000, 100), (99_999, 100), (7, 3), (1, 1000)] {
            assert_eq!(transaction_sizes(records, per_txn).sum::<u64>(), records);
            assert!(transaction_sizes(records, per_txn).all(|n| n <= per_txn));
        }
    }

    #[test]
    fn row_names_say_what_was_measured() {
        let spec = TxnSpec {
            records: 1,
            record_size: 100,
            per_txn: 100,
            time_limit: Duration::from_secs(1),
        };
        assert_eq!(
            produce_row_name(&spec),
            "txn-produce 100 B, 100/txn, acks=all"
        );
        assert_eq!(
            consume_row_name(100, Isolation::ReadCommitted),
            "consume 100 B txn-written, read_committed"
        );
        assert_eq!(Isolation::ReadUncommitted.as_str(), "read_uncommitted");
    }
}
