//! `kavka-bench`: throughput, CPU, memory, latency and startup figures for any
//! Kafka-compatible broker, driven through librdkafka.

mod broker_stats;
mod cluster;
mod compaction;
mod consume;
mod failover;
mod groups;
mod idle_connections;
mod latency;
mod many_partitions;
mod produce;
mod quorum;
mod report;
mod scraper;
mod startup;
mod txn;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::cluster::Cluster;
use crate::latency::LatencySpec;
use crate::produce::ProduceSpec;
use crate::report::Row;
use crate::startup::StartupSpec;

#[derive(Parser)]
#[command(
    name = "kavka-bench",
    version,
    about = "Benchmark a Kafka-compatible broker"
)]
struct Cli {
    /// The broker to measure.
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT"
    )]
    bootstrap: String,
    /// The broker's PID, to sample its CPU time and RSS from /proc. For a
    /// cluster, one per node (`--broker-pid 1,2,3` or repeated): CPU and RSS are
    /// then reported per node and summed.
    #[arg(long, global = true, value_name = "PID", value_delimiter = ',')]
    broker_pid: Vec<u32>,
    /// Replication factor of every topic a workload creates; workloads wait
    /// until every partition has a leader and this many in-sync replicas.
    #[arg(long, global = true, default_value_t = 1, value_name = "N")]
    replication_factor: i32,
    /// Append every result row to this TSV file (for `compare`).
    #[arg(long, global = true, value_name = "FILE")]
    out: Option<PathBuf>,
    /// A librdkafka setting for every client the workloads make (repeatable),
    /// e.g. `security.protocol=ssl` and `ssl.ca.location=ca.pem` to measure
    /// over TLS.
    #[arg(long = "client-config", global = true, value_name = "KEY=VALUE")]
    client_config: Vec<String>,
    /// Upper bound on any one timed phase, in seconds.
    #[arg(long, global = true, default_value_t = 300)]
    time_limit: u64,
    #[command(subcommand)]
    command: Workload,
}

#[derive(Clone, Copy, ValueEnum)]
enum Acks {
    #[value(name = "1")]
    One,
    All,
}

impl Acks {
    fn as_str(self) -> &'static str {
        match self {
            Acks::One => "1",
            Acks::All => "all",
        }
    }
}

#[derive(Subcommand)]
enum Workload {
    /// Produce N records of S bytes as fast as possible.
    Produce {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, default_value_t = 100)]
        record_size: usize,
        #[arg(long, value_enum, default_value = "1")]
        acks: Acks,
        /// Scrape this URL (e.g. `http://127.0.0.1:9644/metrics`) while producing,
        /// as a Prometheus server would; compare with a run without it.
        #[arg(long, value_name = "URL")]
        scrape_url: Option<String>,
        /// How often to scrape `--scrape-url`.
        #[arg(long, default_value_t = 1_000, value_name = "MS")]
        scrape_interval_ms: u64,
    },
    /// Prefill N records of S bytes, then time a default consumer reading them all.
    Consume {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, default_value_t = 100)]
        record_size: usize,
        /// A librdkafka setting for the timed consumer (repeatable), e.g.
        /// `debug=fetch`; the row name then lists it.
        #[arg(long = "consumer-config", value_name = "KEY=VALUE")]
        consumer_config: Vec<String>,
    },
    /// End-to-end latency at a fixed rate (acks=all).
    Latency {
        #[arg(long, default_value_t = 20_000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        record_size: usize,
    },
    /// N idle connections (each asked ApiVersions once) beside a busy
    /// producer/consumer pair: the broker's RSS per idle connection and the
    /// pair's end-to-end latency. Needs one `--broker-pid`.
    IdleConnections {
        #[arg(long, default_value_t = 5_000)]
        connections: usize,
        /// Records per second of the busy pair (100 B, acks=all).
        #[arg(long, default_value_t = 5_000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// T topics of P partitions (10,000 partitions) with a light acks=all
    /// produce load spread over all of them: acknowledgement latency, broker
    /// CPU and RSS.
    ManyPartitions {
        #[arg(long, default_value_t = 1_000)]
        topics: u32,
        #[arg(long, default_value_t = 10)]
        partitions: i32,
        /// Records per second over all partitions (100 B each).
        #[arg(long, default_value_t = 2_000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// G consumer groups of M members on one topic: time from subscribing to
    /// every group fully assigned (per group and in total), then the
    /// end-to-end latency of a light acks=all producer's records in every
    /// group. The rebalance phase is bounded by `--time-limit`.
    Groups {
        #[arg(long, default_value_t = 200)]
        groups: usize,
        #[arg(long, default_value_t = 2)]
        members: usize,
        #[arg(long, default_value_t = 6)]
        partitions: i32,
        /// Records per second of the producer (100 B); each group reads them all.
        #[arg(long, default_value_t = 100)]
        rate: u64,
        /// Seconds of the timed latency phase (after 2 s of warm-up).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Transactional produce: one producer with a `transactional.id` sends N
    /// records of S bytes in transactions of `--per-txn`, committing each.
    TxnProduce {
        #[arg(long, default_value_t = 200_000)]
        records: u64,
        #[arg(long, default_value_t = 100)]
        record_size: usize,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        per_txn: u64,
    },
    /// Fill a topic transactionally (not timed), then time a read_uncommitted
    /// and a read_committed consumer reading it all (two rows).
    ConsumeCommitted {
        #[arg(long, default_value_t = 200_000)]
        records: u64,
        #[arg(long, default_value_t = 100)]
        record_size: usize,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        per_txn: u64,
    },
    /// txn-produce and consume-committed, 100 B records, 100 per transaction.
    Txn {
        /// 50k records per workload instead of 200k.
        #[arg(long)]
        quick: bool,
    },
    /// Cold start to the first answered Metadata request.
    Startup {
        /// Shell command that runs the broker in the foreground (use `exec`).
        #[arg(long)]
        start_cmd: String,
        #[arg(long, default_value = "TERM")]
        stop_signal: String,
        /// Start, create this many partitions with a few records, stop, then time the restart.
        #[arg(long)]
        prefill_partitions: Option<u32>,
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// produce (100 B acks=1, 100 B acks=all, 1 KiB acks=all), consume and latency.
    All {
        /// 100k records per throughput workload and a 5 s latency run.
        #[arg(long)]
        quick: bool,
    },
    /// Log cleaner throughput on a keyed log, and produce latency on another topic
    /// while it runs vs idle. The broker needs a short `log.cleaner.backoff.ms`.
    Compaction {
        /// The broker's `log.dirs`, where `cleaner-offset-checkpoint` shows progress.
        #[arg(long)]
        log_dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, default_value_t = 100)]
        record_size: usize,
        /// Distinct keys (10 % of the records by default).
        #[arg(long, default_value_t = 100_000)]
        keys: u64,
        /// Records per second of the latency probe.
        #[arg(long, default_value_t = 2_000)]
        probe_rate: u64,
        /// Seconds the probe runs with the cleaner idle.
        #[arg(long, default_value_t = 5)]
        idle_seconds: u64,
    },
    /// Failover seen by an acks=all idempotent producer: kill -9 the leader of a
    /// 1-partition topic (through `--kill-cmd`) while it sends at a steady rate;
    /// time from the kill to the first acknowledgement of a record sent after
    /// it. Repeated `--trials` times (the node restarted in between); at the end
    /// every acknowledged record is read back. Needs `--replication-factor` >= 2.
    Failover {
        /// Kills one node; `{node}` becomes the leader's node id (e.g.
        /// `kavka cluster --dir D kill {node}`). Must return once it is dead.
        #[arg(long)]
        kill_cmd: String,
        /// Starts the killed node again and returns once it answers
        /// (`{node}` as above). Required for more than one trial.
        #[arg(long)]
        restart_cmd: Option<String>,
        #[arg(long, default_value_t = 3)]
        trials: u32,
        /// Records per second the producer sends.
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        #[arg(long, default_value_t = 100)]
        record_size: usize,
        /// Seconds of steady sending before each kill.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// Seconds to keep sending after the first acknowledgement following a kill.
        #[arg(long, default_value_t = 2)]
        settle: u64,
        /// Seconds to wait for that first acknowledgement before the trial fails.
        #[arg(long, default_value_t = 60)]
        trial_timeout: u64,
        /// A librdkafka setting for the producer (repeatable), e.g.
        /// `debug=metadata,broker` to see how it finds the new leader.
        #[arg(long = "producer-config", value_name = "KEY=VALUE")]
        producer_config: Vec<String>,
    },
    /// Print the tables of an `--out` file.
    Show { file: PathBuf },
    /// Ratios of two `--out` files, as a Markdown table; a workload measured in
    /// several rounds counts by its median.
    Compare {
        #[arg(long, default_value = "Kavka")]
        a_name: String,
        a: PathBuf,
        #[arg(long, default_value = "Kafka")]
        b_name: String,
        b: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Workload::Compare {
            a_name,
            a,
            b_name,
            b,
        } => {
            let (ra, rb) = (
                report::median_per_workload(report::read_tsv(a)?),
                report::median_per_workload(report::read_tsv(b)?),
            );
            print!("{}", report::ratio_table(a_name, &ra, b_name, &rb));
            return Ok(());
        }
        Workload::Show { file } => {
            print!("{}", report::markdown(&report::read_tsv(file)?));
            return Ok(());
        }
        _ => {}
    }
    let ticks = broker_stats::clock_ticks_per_second();
    if cli.replication_factor < 1 {
        anyhow::bail!("--replication-factor must be at least 1");
    }
    let mut client_settings = Vec::new();
    for kv in &cli.client_config {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--client-config {kv}: expected KEY=VALUE"))?;
        client_settings.push((k.to_string(), v.to_string()));
    }
    let mut cluster = Cluster::new(
        cli.bootstrap.clone(),
        cli.broker_pid.clone(),
        cli.replication_factor,
        ticks,
    )?;
    cluster.client_settings = client_settings;
    let limit = Duration::from_secs(cli.time_limit);
    let mut rows = run(&cluster, cli.command, limit);
    if cli.replication_factor > 1 {
        // Rows name the replication factor, so files from RF 1 and RF 3 runs
        // are never compared row by row.
        for r in &mut rows {
            if !r.workload.starts_with("startup") {
                r.workload = format!("{}, RF {}", r.workload, cli.replication_factor);
            }
        }
    }
    print!("{}", report::markdown(&rows));
    if let Some(out) = &cli.out {
        report::append_tsv(out, &rows).with_context(|| format!("writing {}", out.display()))?;
    }
    if rows.iter().any(|r| r.failure.is_some()) {
        // The failure is already in the table; exit non-zero without a backtrace.
        std::process::exit(1);
    }
    Ok(())
}

/// Runs a workload; a failure becomes a row saying so, and `all` carries on.
fn run(cluster: &Cluster, workload: Workload, time_limit: Duration) -> Vec<Row> {
    let produce = |name: &str, records, record_size, acks: &'static str| {
        let spec = ProduceSpec {
            records,
            record_size,
            acks,
            time_limit,
        };
        let row = produce::run(cluster, name, spec).unwrap_or_else(|e| Row::failed(name, &e));
        progress(&row);
        row
    };
    let consume = |name: &str, records, record_size, config: &[(String, String)]| {
        let spec = ProduceSpec {
            records,
            record_size,
            acks: "1",
            time_limit,
        };
        let row =
            consume::run(cluster, name, spec, config).unwrap_or_else(|e| Row::failed(name, &e));
        progress(&row);
        row
    };
    let latency = |name: &str, spec: LatencySpec| {
        let row = latency::run(cluster, name, spec).unwrap_or_else(|e| Row::failed(name, &e));
        progress(&row);
        row
    };
    let txn_spec = |records, record_size, per_txn| txn::TxnSpec {
        records,
        record_size,
        per_txn,
        time_limit,
    };
    let txn_produce = |spec: txn::TxnSpec| {
        let row = txn::run_produce(cluster, spec)
            .unwrap_or_else(|e| Row::failed(txn::produce_row_name(&spec), &e));
        progress(&row);
        row
    };
    let txn_consume = |spec: txn::TxnSpec| {
        let rows = txn::run_consume(cluster, spec);
        rows.iter().for_each(progress);
        rows
    };
    match workload {
        Workload::TxnProduce {
            records,
            record_size,
            per_txn,
        } => vec![txn_produce(txn_spec(records, record_size, per_txn))],
        Workload::ConsumeCommitted {
            records,
            record_size,
            per_txn,
        } => txn_consume(txn_spec(records, record_size, per_txn)),
        Workload::Txn { quick } => {
            // Each transaction costs a few round trips (AddPartitionsToTxn,
            // EndTxn, the markers), so these sizes are smaller than `all`'s.
            let records = if quick { 50_000 } else { 200_000 };
            let spec = txn_spec(records, 100, 100);
            let mut rows = vec![txn_produce(spec)];
            rows.extend(txn_consume(spec));
            rows
        }
        Workload::Produce {
            records,
            record_size,
            acks,
            scrape_url,
            scrape_interval_ms,
        } => {
            let mut name = format!("produce {} B acks={}", record_size, acks.as_str());
            let Some(url) = scrape_url else {
                return vec![produce(&name, records, record_size, acks.as_str())];
            };
            name = format!("{name}, scraped every {scrape_interval_ms} ms");
            let every = Duration::from_millis(scrape_interval_ms.max(1));
            let scraper = match scraper::Scraper::start(&url, every) {
                Ok(s) => s,
                Err(e) => return vec![Row::failed(name, &e)],
            };
            let row = produce(&name, records, record_size, acks.as_str());
            eprintln!("{url}: {}", scraper.finish().summary());
            vec![row]
        }
        Workload::Consume {
            records,
            record_size,
            consumer_config,
        } => {
            let config = match parse_settings(&consumer_config, "--consumer-config") {
                Ok(c) => c,
                Err(e) => return vec![Row::failed("consume", &e)],
            };
            let mut name = format!("consume {record_size} B");
            if !consumer_config.is_empty() {
                name = format!("{name}, {}", consumer_config.join(" "));
            }
            vec![consume(&name, records, record_size, &config)]
        }
        Workload::Latency {
            rate,
            seconds,
            record_size,
        } => {
            let spec = LatencySpec {
                rate,
                duration: Duration::from_secs(seconds),
                record_size,
            };
            vec![latency(&format!("latency {rate}/s acks=all"), spec)]
        }
        Workload::IdleConnections {
            connections,
            rate,
            seconds,
        } => {
            let spec = idle_connections::IdleSpec {
                connections,
                busy: LatencySpec {
                    rate,
                    duration: Duration::from_secs(seconds),
                    record_size: 100,
                },
                time_limit,
            };
            let rows = idle_connections::run(cluster, spec);
            rows.iter().for_each(progress);
            rows
        }
        Workload::ManyPartitions {
            topics,
            partitions,
            rate,
            seconds,
        } => {
            let spec = many_partitions::ManyPartitionsSpec {
                topics,
                partitions,
                rate,
                duration: Duration::from_secs(seconds),
            };
            let row = many_partitions::run(cluster, spec)
                .unwrap_or_else(|e| Row::failed(many_partitions::row_name(&spec), &e));
            progress(&row);
            vec![row]
        }
        Workload::Groups {
            groups,
            members,
            partitions,
            rate,
            seconds,
        } => {
            let spec = groups::GroupsSpec {
                groups,
                members,
                partitions,
                rate,
                duration: Duration::from_secs(seconds),
                time_limit,
            };
            let rows = groups::run(cluster, spec);
            rows.iter().for_each(progress);
            rows
        }
        Workload::Startup {
            start_cmd,
            stop_signal,
            prefill_partitions,
            timeout,
        } => {
            let spec = StartupSpec {
                start_cmd,
                stop_signal,
                timeout: Duration::from_secs(timeout),
                prefill_partitions,
            };
            startup::run(cluster, &spec)
        }
        Workload::All { quick } => {
            let (small, large, seconds) = if quick {
                (100_000, 100_000, 5)
            } else {
                (1_000_000, 200_000, 10)
            };
            let rate = 20_000;
            vec![
                produce("produce 100 B acks=1", small, 100, "1"),
                produce("produce 100 B acks=all", small, 100, "all"),
                produce("produce 1 KiB acks=all", large, 1024, "all"),
                consume("consume 100 B", small, 100, &[]),
                latency(
                    &format!("latency {rate}/s acks=all"),
                    LatencySpec {
                        rate,
                        duration: Duration::from_secs(seconds),
                        record_size: 100,
                    },
                ),
            ]
        }
        Workload::Compaction {
            log_dir,
            records,
            record_size,
            keys,
            probe_rate,
            idle_seconds,
        } => {
            let spec = compaction::CompactionSpec {
                records,
                record_size,
                keys,
                log_dir,
                probe_rate,
                idle: Duration::from_secs(idle_seconds),
                time_limit,
            };
            let rows = compaction::run(cluster, &spec)
                .unwrap_or_else(|e| vec![Row::failed("compaction", &e)]);
            rows.iter().for_each(progress);
            rows
        }
        Workload::Failover {
            kill_cmd,
            restart_cmd,
            trials,
            rate,
            record_size,
            warmup,
            settle,
            trial_timeout,
            producer_config,
        } => {
            let producer_config = match parse_settings(&producer_config, "--producer-config") {
                Ok(c) => c,
                Err(e) => return vec![Row::failed("failover", &e)],
            };
            let spec = failover::FailoverSpec {
                producer_config,
                kill_cmd,
                restart_cmd,
                trials,
                rate,
                record_size,
                warmup: Duration::from_secs(warmup),
                settle: Duration::from_secs(settle),
                trial_timeout: Duration::from_secs(trial_timeout),
                time_limit,
            };
            let rows =
                failover::run(cluster, &spec).unwrap_or_else(|e| vec![Row::failed("failover", &e)]);
            rows.iter().for_each(progress);
            rows
        }
        Workload::Compare { .. } | Workload::Show { .. } => Vec::new(),
    }
}

/// `KEY=VALUE` client settings from a repeatable flag.
fn parse_settings(settings: &[String], flag: &str) -> anyhow::Result<Vec<(String, String)>> {
    settings
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("{flag} {kv}: expected KEY=VALUE"))
        })
        .collect()
}

/// One line on stderr per finished workload, so a long run shows progress.
fn progress(row: &Row) {
    match &row.failure {
        Some(e) => eprintln!("kavka-bench: {} failed: {e}", row.workload),
        None => eprintln!("kavka-bench: {} done", row.workload),
    }
}
