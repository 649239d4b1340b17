//! `kafka-producer-perf-test`: sends `--num-records` records of `--record-size`
//! random bytes at up to `--throughput` records/s and prints Kafka's window lines
//! (every `--reporting-interval`, 5 s) and its final line with latency percentiles.

use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::props::Props;

/// Kafka's ProducerPerformance options (the ones Kavka implements).
#[derive(Parser, Debug)]
#[command(
    name = "kafka-producer-perf-test",
    about = "This tool is used to verify the producer performance."
)]
#[command(disable_version_flag = true)]
pub(crate) struct Args {
    /// The server(s) to connect to (or bootstrap.servers in --producer-props).
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// produce messages to this topic
    #[arg(long)]
    topic: String,
    /// number of messages to produce
    #[arg(long)]
    num_records: u64,
    /// message size in bytes.
    #[arg(long)]
    record_size: usize,
    /// throttle maximum message throughput to *approximately* THROUGHPUT messages/sec. Set this to -1 to disable throttling.
    #[arg(long, allow_hyphen_values = true)]
    throughput: f64,
    /// Deprecated: use --command-property.
    #[arg(long, num_args = 1.., value_name = "PROP-NAME=PROP-VALUE")]
    producer_props: Vec<String>,
    /// Kafka producer related configuration properties like client.id, acks, ...
    #[arg(long, num_args = 1.., value_name = "PROP-NAME=PROP-VALUE")]
    command_property: Vec<String>,
    /// Deprecated: use --command-config.
    #[arg(long = "producer.config", value_name = "CONFIG-FILE")]
    producer_config: Option<std::path::PathBuf>,
    /// Producer config properties file.
    #[arg(long, value_name = "CONFIG-FILE")]
    command_config: Option<std::path::PathBuf>,
    /// Interval in milliseconds at which to print progress info.
    #[arg(long, value_name = "INTERVAL-MS", default_value_t = 5000)]
    reporting_interval: u64,
    /// If set, payload is generated based on iteration count instead of randomly.
    #[arg(long)]
    payload_monotonic: bool,
}

/// Latencies and counts, overall and for the current window.
#[derive(Debug)]
struct Stats {
    reporting_interval: Duration,
    start: Instant,
    window_start: Instant,
    count: u64,
    bytes: u64,
    total_latency: u64,
    max_latency: u64,
    latencies: Vec<u64>,
    window_count: u64,
    window_bytes: u64,
    window_total_latency: u64,
    window_max_latency: u64,
}

impl Stats {
    fn new(now: Instant, reporting_interval: Duration) -> Self {
        Self {
            reporting_interval,
            start: now,
            window_start: now,
            count: 0,
            bytes: 0,
            total_latency: 0,
            max_latency: 0,
            latencies: Vec::new(),
            window_count: 0,
            window_bytes: 0,
            window_total_latency: 0,
            window_max_latency: 0,
        }
    }

    /// Counts one delivered record; the window line when the window is over.
    fn record(&mut self, latency_ms: u64, bytes: u64, now: Instant) -> Option<String> {
        self.count += 1;
        self.bytes += bytes;
        self.total_latency += latency_ms;
        self.max_latency = self.max_latency.max(latency_ms);
        self.latencies.push(latency_ms);
        self.window_count += 1;
        self.window_bytes += bytes;
        self.window_total_latency += latency_ms;
        self.window_max_latency = self.window_max_latency.max(latency_ms);
        if now.duration_since(self.window_start) < self.reporting_interval {
            return None;
        }
        let line = self.window_line(now);
        self.window_start = now;
        self.window_count = 0;
        self.window_bytes = 0;
        self.window_total_latency = 0;
        self.window_max_latency = 0;
        Some(line)
    }

    fn window_line(&self, now: Instant) -> String {
        let elapsed = millis(now.duration_since(self.window_start));
        format!(
            "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            self.window_count,
            1000.0 * self.window_count as f64 / elapsed,
            1000.0 * self.window_bytes as f64 / elapsed / (1024.0 * 1024.0),
            self.window_total_latency as f64 / self.window_count.max(1) as f64,
            self.window_max_latency as f64
        )
    }

    /// Kafka's final line: totals and the 50th, 95th, 99th and 99.9th percentiles.
    fn total_line(&mut self, now: Instant) -> String {
        let elapsed = millis(now.duration_since(self.start));
        self.latencies.sort_unstable();
        let percentile = |p: f64| {
            let i = (p * self.latencies.len() as f64) as usize;
            self.latencies.get(i).copied().unwrap_or(0)
        };
        format!(
            "{} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            self.count,
            1000.0 * self.count as f64 / elapsed,
            1000.0 * self.bytes as f64 / elapsed / (1024.0 * 1024.0),
            self.total_latency as f64 / self.count.max(1) as f64,
            self.max_latency as f64,
            percentile(0.5),
            percentile(0.95),
            percentile(0.99),
            percentile(0.999),
        )
    }
}

/// Milliseconds, at least one (a rate over zero time is not a number).
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).floor().max(1.0)
}

/// Delivery reports feed the stats; window lines print as they come, as Kafka's
/// callback does.
struct PerfContext {
    stats: Arc<Mutex<Stats>>,
    failed: Arc<Mutex<Option<String>>>,
}

impl ClientContext for PerfContext {}

impl ProducerContext for PerfContext {
    type DeliveryOpaque = Box<(Instant, u64)>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Self::DeliveryOpaque) {
        let now = Instant::now();
        match result {
            Ok(_) => {
                let latency =
                    u64::try_from(now.duration_since(sent.0).as_millis()).unwrap_or(u64::MAX);
                if let Ok(mut stats) = self.stats.lock() {
                    if let Some(line) = stats.record(latency, sent.1, now) {
                        println!("{line}");
                    }
                }
            }
            Err((e, _)) => {
                if let Ok(mut failed) = self.failed.lock() {
                    failed.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

/// A payload of random upper-case letters, as Kafka's tool makes them, or the
/// iteration number when monotonic.
fn payload(size: usize, monotonic: bool, i: u64, seed: &mut u64) -> Vec<u8> {
    if monotonic {
        return i.to_string().into_bytes();
    }
    (0..size)
        .map(|_| {
            // xorshift: cheap, and the bytes only need to vary.
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            b'A' + (*seed % 26) as u8
        })
        .collect()
}

/// Runs kafka-producer-perf-test.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match crate::parse_args(argv) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    // Kafka 4.4 renamed these options and says so on stdout.
    if !args.producer_props.is_empty() {
        println!("Option --producer-props has been deprecated and will be removed in a future version. Use --command-property instead.");
    }
    if args.producer_config.is_some() {
        println!("Option --producer.config has been deprecated and will be removed in a future version. Use --command-config instead.");
    }
    let file = args
        .command_config
        .as_deref()
        .or(args.producer_config.as_deref());
    let props = match Props::layered(file, &[&args.producer_props, &args.command_property]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    let Some(bootstrap) = args
        .bootstrap_server
        .clone()
        .or_else(|| props.get("bootstrap.servers").map(str::to_string))
    else {
        eprintln!(
            "Either --bootstrap-server or bootstrap.servers in --producer-props must be specified"
        );
        return Ok(1);
    };
    let interval = Duration::from_millis(args.reporting_interval);
    let stats = Arc::new(Mutex::new(Stats::new(Instant::now(), interval)));
    let failed = Arc::new(Mutex::new(None));
    let context = PerfContext {
        stats: Arc::clone(&stats),
        failed: Arc::clone(&failed),
    };
    let config = crate::client::client_config(&bootstrap, &props)?;
    let producer: ThreadedProducer<PerfContext> = match config.create_with_context(context) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Invalid producer configuration: {e}");
            return Ok(1);
        }
    };
    let start = Instant::now();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..args.num_records {
        let value = payload(args.record_size, args.payload_monotonic, i, &mut seed);
        let mut opaque = Box::new((Instant::now(), value.len() as u64));
        loop {
            let record =
                BaseRecord::<(), [u8], _>::with_opaque_to(&args.topic, opaque).payload(&value);
            match producer.send(record) {
                Ok(()) => break,
                Err((e, record)) => {
                    // A full queue: wait for deliveries, as Kafka's send blocks.
                    if !matches!(
                        e.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ) {
                        eprintln!("Error producing to {}: {e}", args.topic);
                        return Ok(1);
                    }
                    opaque = record.delivery_opaque;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        // Kafka's throttler: stay at or below the target rate.
        if args.throughput > 0.0 {
            let due = Duration::from_secs_f64((i + 1) as f64 / args.throughput);
            let elapsed = start.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
    }
    if producer.flush(Duration::from_secs(300)).is_err() {
        eprintln!("Timed out waiting for deliveries");
    }
    if let Some(e) = failed.lock().ok().and_then(|f| f.clone()) {
        eprintln!("Error when sending message to topic {}: {e}", args.topic);
    }
    let line = match stats.lock() {
        Ok(mut s) => s.total_line(Instant::now()),
        Err(_) => return Ok(1),
    };
    println!("{line}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_line_has_kafkas_fields_and_percentiles() {
        let t0 = Instant::now();
        let mut s = Stats::new(t0, Duration::from_secs(5));
        for latency in 1..=100 {
            assert!(s.record(latency, 100, t0).is_none());
        }
        let line = s.total_line(t0 + Duration::from_secs(2));
        assert_eq!(
            line,
            "100 records sent, 50.000000 records/sec (0.00 MB/sec), 50.50 ms avg latency, 100.00 ms max latency, 51 ms 50th, 96 ms 95th, 100 ms 99th, 100 ms 99.9th."
        );
    }

    #[test]
    fn a_window_line_comes_after_five_seconds() {
        let t0 = Instant::now();
        let mut s = Stats::new(t0, Duration::from_secs(5));
        assert!(s.record(3, 10, t0 + Duration::from_secs(1)).is_none());
        let line = s
            .record(5, 10, t0 + Duration::from_secs(5))
            .expect("window");
        assert_eq!(
            line,
            "2 records sent, 0.4 records/sec (0.00 MB/sec), 4.0 ms avg latency, 5.0 ms max latency."
        );
    }
}
