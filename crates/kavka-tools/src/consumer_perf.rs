//! `kafka-consumer-perf-test`: consumes `--num-records` records in a group and prints
//! Kafka's CSV-like header and result line (or a line per `--reporting-interval`
//! with `--show-detailed-stats`), rebalance time counted apart from fetch time.

use std::ffi::OsString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::ClientContext;

use crate::props::Props;

/// The only `--date-format` implemented: Kafka's default.
const DEFAULT_DATE_FORMAT: &str = "yyyy-MM-dd HH:mm:ss:SSS";
const MB: f64 = 1024.0 * 1024.0;

/// Kafka's ConsumerPerformance options (the ones Kavka implements).
#[derive(Parser, Debug)]
#[command(
    name = "kafka-consumer-perf-test",
    about = "This tool is used to verify the consumer performance."
)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// REQUIRED: The server(s) to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// The topic to consume from.
    #[arg(long)]
    topic: Option<String>,
    /// The group id to consume on.
    #[arg(long)]
    group: Option<String>,
    /// REQUIRED: The number of records to consume.
    #[arg(long)]
    num_records: Option<u64>,
    /// (DEPRECATED) The number of records to consume. Use --num-records.
    #[arg(long)]
    messages: Option<u64>,
    /// If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message.
    #[arg(long)]
    from_latest: bool,
    /// If set, stats are reported for each reporting interval as configured by reporting-interval
    #[arg(long)]
    show_detailed_stats: bool,
    /// Interval in milliseconds at which to print progress info.
    #[arg(long, default_value_t = 5000)]
    reporting_interval: u64,
    /// The maximum allowed time in milliseconds between returned records.
    #[arg(long, default_value_t = 10_000)]
    timeout: u64,
    /// If set, skips printing the header for the stats
    #[arg(long)]
    hide_header: bool,
    /// The date format to use for formatting the time field (only Kafka's default).
    #[arg(long, default_value = DEFAULT_DATE_FORMAT)]
    date_format: String,
    /// The maximum amount of data to fetch in a single request.
    #[arg(long, default_value_t = 1024 * 1024)]
    fetch_size: u64,
    /// Kafka consumer related configuration properties.
    #[arg(long, num_args = 1.., value_name = "prop1=val1")]
    command_property: Vec<String>,
    /// Config properties file.
    #[arg(long)]
    command_config: Option<std::path::PathBuf>,
    /// (DEPRECATED) Consumer config properties file. Use --command-config.
    #[arg(long = "consumer.config")]
    consumer_config: Option<std::path::PathBuf>,
}

/// Rebalance time: from the start (or a revocation) to the next assignment.
struct PerfContext {
    join_start_ms: AtomicU64,
    join_ms: Arc<AtomicU64>,
    join_ms_in_round: Arc<AtomicU64>,
}

impl ClientContext for PerfContext {}

impl ConsumerContext for PerfContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if matches!(rebalance, Rebalance::Revoke(_)) {
            self.join_start_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if matches!(rebalance, Rebalance::Assign(_)) {
            let elapsed = now_ms().saturating_sub(self.join_start_ms.load(Ordering::Relaxed));
            self.join_ms.fetch_add(elapsed, Ordering::Relaxed);
            self.join_ms_in_round.fetch_add(elapsed, Ordering::Relaxed);
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Kafka's default date format, `yyyy-MM-dd HH:mm:ss:SSS`, in UTC.
fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}:{:03}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        ms % 1000
    )
}

/// The totals line of a run without `--show-detailed-stats`.
fn total_line(start_ms: u64, end_ms: u64, bytes: u64, records: u64, join_ms: u64) -> String {
    let elapsed_sec = (end_ms.saturating_sub(start_ms)) as f64 / 1000.0;
    let fetch_ms = end_ms.saturating_sub(start_ms) as i64 - join_ms as i64;
    let mb = bytes as f64 / MB;
    format!(
        "{}, {}, {:.4}, {:.4}, {}, {:.4}, {}, {}, {:.4}, {:.4}",
        format_ms(start_ms),
        format_ms(end_ms),
        mb,
        mb / elapsed_sec,
        records,
        records as f64 / elapsed_sec,
        join_ms,
        fetch_ms,
        mb / (fetch_ms as f64 / 1000.0),
        records as f64 / (fetch_ms as f64 / 1000.0),
    )
}

/// A `--show-detailed-stats` line for the interval from `start_ms` to `end_ms`.
fn progress_line(
    (bytes, last_bytes): (u64, u64),
    (records, last_records): (u64, u64),
    (start_ms, end_ms): (u64, u64),
    join_ms_in_round: u64,
) -> String {
    let elapsed = end_ms.saturating_sub(start_ms) as f64;
    let interval_mb = bytes.saturating_sub(last_bytes) as f64 / MB;
    let interval_records = records.saturating_sub(last_records);
    let fetch_ms = end_ms.saturating_sub(start_ms) as i64 - join_ms_in_round as i64;
    let per_fetch_sec = |x: f64| {
        if fetch_ms <= 0 {
            0.0
        } else {
            1000.0 * x / fetch_ms as f64
        }
    };
    format!(
        "{}, 0, {:.4}, {:.4}, {records}, {:.4}, {join_ms_in_round}, {fetch_ms}, {:.4}, {:.4}",
        format_ms(end_ms),
        bytes as f64 / MB,
        1000.0 * interval_mb / elapsed,
        interval_records as f64 / elapsed * 1000.0,
        per_fetch_sec(interval_mb),
        per_fetch_sec(interval_records as f64),
    )
}

/// Runs kafka-consumer-perf-test.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match crate::parse_args(argv) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    if args.messages.is_some() {
        println!("Warning: --messages is deprecated. Use --num-records instead.");
    }
    if args.consumer_config.is_some() {
        println!("Warning: --consumer.config is deprecated. Use --command-config instead.");
    }
    let Some(bootstrap) = args.bootstrap_server.clone() else {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[bootstrap-server]\"",
        ));
    };
    let Some(topic) = args.topic.clone() else {
        return Ok(crate::usage::<Args>(
            "Exactly one of the following arguments is required: [topic], [include]",
        ));
    };
    let Some(wanted) = args.num_records.or(args.messages) else {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[num-records]\"",
        ));
    };
    if args.reporting_interval == 0 {
        eprintln!("Reporting interval must be greater than 0.");
        return Ok(1);
    }
    if args.date_format != DEFAULT_DATE_FORMAT {
        eprintln!("Only the default --date-format ({DEFAULT_DATE_FORMAT}) is supported by Kavka's kafka-consumer-perf-test");
        return Ok(1);
    }
    let file = args
        .command_config
        .as_deref()
        .or(args.consumer_config.as_deref());
    let props = match Props::layered(file, &[&args.command_property]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    // Kafka's default group: perf-consumer- and a random number below 100000.
    let group = args
        .group
        .clone()
        .unwrap_or_else(|| format!("perf-consumer-{}", now_ms() % 100_000));
    let mut config = crate::client::client_config(&bootstrap, &props)?;
    config
        .set("group.id", &group)
        .set(
            "auto.offset.reset",
            if args.from_latest {
                "latest"
            } else {
                "earliest"
            },
        )
        .set("max.partition.fetch.bytes", args.fetch_size.to_string())
        .set("check.crcs", "false");
    if props.get("client.id").is_none() {
        config.set("client.id", "perf-consumer-client");
    }
    if !args.hide_header {
        let extra = ", rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";
        if args.show_detailed_stats {
            println!("time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec{extra}");
        } else {
            println!("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec{extra}");
        }
    }
    let start_ms = now_ms();
    let join_ms = Arc::new(AtomicU64::new(0));
    let join_ms_in_round = Arc::new(AtomicU64::new(0));
    let context = PerfContext {
        join_start_ms: AtomicU64::new(start_ms),
        join_ms: Arc::clone(&join_ms),
        join_ms_in_round: Arc::clone(&join_ms_in_round),
    };
    let consumer: BaseConsumer<PerfContext> = match config.create_with_context(context) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Invalid consumer configuration: {e}");
            return Ok(1);
        }
    };
    if let Err(e) = consumer.subscribe(&[&topic]) {
        eprintln!("{e}");
        return Ok(1);
    }
    let (mut bytes, mut records) = (0u64, 0u64);
    let (mut last_bytes, mut last_records) = (0u64, 0u64);
    let mut now = now_ms();
    let mut last_report = now;
    let mut last_consumed = now;
    while records < wanted && now.saturating_sub(last_consumed) <= args.timeout {
        let polled = consumer.poll(Duration::from_millis(100));
        now = now_ms();
        let Some(result) = polled else {
            continue;
        };
        let message = match result {
            Ok(m) => m,
            // Partition EOF and transient errors: keep polling, as Kafka's consumer does.
            Err(_) => continue,
        };
        last_consumed = now;
        records += 1;
        bytes += message.key().map_or(0, |k| k.len() as u64);
        bytes += message.payload().map_or(0, |v| v.len() as u64);
        if now.saturating_sub(last_report) >= args.reporting_interval {
            if args.show_detailed_stats {
                println!(
                    "{}",
                    progress_line(
                        (bytes, last_bytes),
                        (records, last_records),
                        (last_report, now),
                        join_ms_in_round.swap(0, Ordering::Relaxed),
                    )
                );
            } else {
                join_ms_in_round.store(0, Ordering::Relaxed);
            }
            last_report = now;
            last_records = records;
            last_bytes = bytes;
        }
    }
    if records < wanted {
        println!("WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded. You can use the --timeout option to increase the timeout.", args.timeout);
    }
    let end_ms = now_ms();
    drop(consumer);
    if !args.show_detailed_stats {
        println!(
            "{}",
            total_line(
                start_ms,
                end_ms,
                bytes,
                records,
                join_ms.load(Ordering::Relaxed)
            )
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_in_kafkas_default_format() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00:000");
        assert_eq!(format_ms(1_796_275_793_907), "2026-12-03 05:29:53:907");
    }

    #[test]
    fn totals_line_splits_rebalance_from_fetch_time() {
        let line = total_line(0, 2000, 2 * 1024 * 1024, 100, 1000);
        assert_eq!(
            line,
            "1970-01-01 00:00:00:000, 1970-01-01 00:00:02:000, 2.0000, 1.0000, 100, 50.0000, 1000, 1000, 2.0000, 100.0000"
        );
    }

    #[test]
    fn progress_line_reports_the_interval() {
        let line = progress_line((1024 * 1024, 0), (10, 0), (0, 1000), 0);
        assert_eq!(
            line,
            "1970-01-01 00:00:01:000, 0, 1.0000, 1.0000, 10, 10.0000, 0, 1000, 1.0000, 10.0000"
        );
    }
}
