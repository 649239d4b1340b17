//! `groups`: G consumer groups of M members each, all subscribed to one topic.
//! Figures: rebalance time, from a group's first subscribe to every partition
//! being assigned across its members (p50/p99/max over groups, and the total
//! until the last group is done), then the end-to-end latency (produce
//! timestamp to receipt) of every record in every group under a light acks=all
//! producer, with broker CPU and peak RSS for each phase.
//!
//! Members poll from a few threads, each owning whole groups, so a group's
//! completion is seen by one thread without locking. librdkafka serves the
//! rebalance callbacks (which assign) only from poll, so every member is
//! polled round-robin from the moment it subscribes.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::cluster::Cluster;
use crate::produce::{payload, DeliveryCounter};
use crate::report::{percentile, Row};

/// Threads polling the members; few, as the machine may have two cores.
const POLLERS: usize = 4;
/// Untimed sending before the latency phase, so first fetches and offset
/// resets are not counted.
const WARM_UP: Duration = Duration::from_secs(2);

/// Parameters of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupsSpec {
    pub(crate) groups: usize,
    pub(crate) members: usize,
    pub(crate) partitions: i32,
    /// Records per second of the producer during the latency phase.
    pub(crate) rate: u64,
    pub(crate) duration: Duration,
    /// Bound on the rebalance phase.
    pub(crate) time_limit: Duration,
}

/// Row names: per-group rebalance, total rebalance, fetch latency.
pub(crate) fn row_names(spec: &GroupsSpec) -> [String; 3] {
    let shape = format!(
        "{} groups x {} members, {} partitions",
        spec.groups, spec.members, spec.partitions
    );
    [
        format!("rebalance per group, {shape}"),
        format!("rebalance total (first subscribe to last group), {shape}"),
        format!("fetch latency {}/s acks=all, {shape}", spec.rate),
    ]
}

/// State shared by the main thread and the pollers.
struct Shared {
    epoch: Instant,
    groups_done: AtomicUsize,
    /// Records sent before this (ns since `epoch`) are not timed; `u64::MAX`
    /// until the timed phase starts.
    timed_from_ns: AtomicU64,
    received_timed: AtomicU64,
    stop: AtomicBool,
}

/// What one poller measured.
#[derive(Default)]
struct PollerResult {
    /// ns from each of its groups' first subscribe to full assignment.
    rebalance_ns: Vec<u64>,
    /// ns since `epoch` of its last group completing.
    last_done_ns: u64,
    /// End-to-end latencies of timed records, ns.
    latencies: Vec<u64>,
    /// Errors polled (and retried by librdkafka).
    errors: u64,
}

/// Three rows (see [`row_names`]); a failure fails all three.
pub(crate) fn run(cluster: &Cluster, spec: GroupsSpec) -> Vec<Row> {
    let names = row_names(&spec);
    match run_inner(cluster, spec, &names) {
        Ok(rows) => rows,
        Err(e) => names.iter().map(|n| Row::failed(n, &e)).collect(),
    }
}

fn run_inner(cluster: &Cluster, spec: GroupsSpec, names: &[String; 3]) -> anyhow::Result<Vec<Row>> {
    if spec.groups == 0 || spec.members == 0 {
        bail!("--groups and --members must be at least 1");
    }
    let topic = cluster.fresh_topic("groups", spec.partitions)?;
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        groups_done: AtomicUsize::new(0),
        timed_from_ns: AtomicU64::new(u64::MAX),
        received_timed: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let pollers = POLLERS.min(spec.groups);
    // Every poller and the main thread meet once all consumers exist, so
    // creating them (librdkafka's threads) is not timed; their first
    // connections open in the background and may still be under way.
    let start = Arc::new(Barrier::new(pollers + 1));
    let mut handles = Vec::with_capacity(pollers);
    for t in 0..pollers {
        let groups: Vec<usize> = (t..spec.groups).step_by(pollers).collect();
        let (shared, start, topic) = (shared.clone(), start.clone(), topic.clone());
        let mut config = cluster.client_config();
        // The topic is empty until the producer starts, so reading from the
        // beginning misses nothing whenever a member's first fetch happens.
        config.set("auto.offset.reset", "earliest");
        let handle = std::thread::Builder::new()
            .name(format!("groups-poller-{t}"))
            .spawn(move || {
                let members = create_members(&config, &topic, &groups, spec.members);
                // Always meet the barrier, even after a failure, or main waits forever.
                start.wait();
                poll_members(members?, &topic, spec, &shared)
            })
            .context("spawning a poller thread")?;
        handles.push(handle);
    }

    let meter = cluster.meter();
    start.wait();
    let meter = match meter {
        Ok(m) => m,
        Err(e) => {
            shared.stop.store(true, Ordering::Relaxed);
            return Err(e);
        }
    };
    let join_start_ns = shared.epoch.elapsed().as_nanos() as u64;
    let deadline = Instant::now() + spec.time_limit;
    let mut phase: anyhow::Result<()> = Ok(());
    while shared.groups_done.load(Ordering::Relaxed) < spec.groups {
        if Instant::now() > deadline || handles.iter().any(|h| h.is_finished()) {
            phase = Err(anyhow::anyhow!(
                "{} of {} groups fully assigned within {:?}",
                shared.groups_done.load(Ordering::Relaxed),
                spec.groups,
                spec.time_limit
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let join_usage = meter.finish();
    let latency_usage = match &phase {
        Ok(()) => Some(measure_latency(cluster, &topic, spec, &shared)),
        Err(_) => None,
    };
    shared.stop.store(true, Ordering::Relaxed);
    let mut results = Vec::with_capacity(pollers);
    for h in handles {
        let r = h
            .join()
            .map_err(|_| anyhow::anyhow!("a poller thread panicked"))?;
        results.push(r?);
    }
    phase?;
    let join_usage = join_usage?;
    // A failed latency phase keeps the rebalance figures.
    let latency_usage = match latency_usage.context("no latency phase")? {
        Ok(u) => u,
        Err(e) => {
            let (per_group, total) = rebalance_rows(names, &results, join_start_ns, join_usage);
            return Ok(vec![per_group, total, Row::failed(&names[2], &e)]);
        }
    };
    let (per_group, total) = rebalance_rows(names, &results, join_start_ns, join_usage);
    let ms = |v: &[u64], p: f64| percentile(v, p).map(|ns| ns as f64 / 1e6);
    let mut latencies: Vec<u64> = results
        .into_iter()
        .flat_map(|r| r.latencies.into_iter())
        .collect();
    latencies.sort_unstable();
    let mut fetch = Row::new(&names[2]).with_usage(latency_usage);
    fetch.p50_ms = ms(&latencies, 50.0);
    fetch.p99_ms = ms(&latencies, 99.0);
    fetch.p999_ms = ms(&latencies, 99.9);
    fetch.max_ms = ms(&latencies, 100.0);
    fetch.records_per_s = Some(spec.rate as f64);
    Ok(vec![per_group, total, fetch])
}

/// The per-group and total rebalance rows.
fn rebalance_rows(
    names: &[String; 3],
    results: &[PollerResult],
    join_start_ns: u64,
    join_usage: crate::broker_stats::Usage,
) -> (Row, Row) {
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    if errors > 0 {
        eprintln!("kavka-bench: groups: {errors} consumer errors polled in all");
    }
    let mut rebalance: Vec<u64> = results
        .iter()
        .flat_map(|r| r.rebalance_ns.iter().copied())
        .collect();
    rebalance.sort_unstable();
    let ms = |v: &[u64], p: f64| percentile(v, p).map(|ns| ns as f64 / 1e6);
    let mut per_group = Row::new(&names[0]).with_usage(join_usage.clone());
    per_group.p50_ms = ms(&rebalance, 50.0);
    per_group.p99_ms = ms(&rebalance, 99.0);
    per_group.max_ms = ms(&rebalance, 100.0);
    let last_done = results.iter().map(|r| r.last_done_ns).max().unwrap_or(0);
    let mut total = Row::new(&names[1]).with_usage(join_usage);
    // One sample: every percentile is the total, so `compare` (which shows
    // p50 and p99, not max) gives its ratio too.
    let total_ms = Some(last_done.saturating_sub(join_start_ns) as f64 / 1e6);
    (total.p50_ms, total.p99_ms, total.max_ms) = (total_ms, total_ms, total_ms);

    (per_group, total)
}

/// The members of `groups`, created but not yet subscribed.
fn create_members(
    config: &rdkafka::ClientConfig,
    topic: &str,
    groups: &[usize],
    members: usize,
) -> anyhow::Result<Vec<(usize, Vec<BaseConsumer>)>> {
    groups
        .iter()
        .map(|&g| {
            let consumers = (0..members)
                .map(|_| {
                    config
                        .clone()
                        .set("group.id", format!("{topic}-g{g}"))
                        .create::<BaseConsumer>()
                        .with_context(|| format!("creating a member of group {g}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok((g, consumers))
        })
        .collect()
}

/// Subscribes every member, then polls them all until `stop`: recording when
/// each group is fully assigned, and the latency of every timed record.
fn poll_members(
    groups: Vec<(usize, Vec<BaseConsumer>)>,
    topic: &str,
    spec: GroupsSpec,
    shared: &Shared,
) -> anyhow::Result<PollerResult> {
    let mut result = PollerResult::default();
    let mut started = Vec::with_capacity(groups.len());
    for (g, members) in &groups {
        started.push(Instant::now());
        for m in members {
            m.subscribe(&[topic])
                .with_context(|| format!("subscribing a member of group {g}"))?;
        }
    }
    let mut done = vec![false; groups.len()];
    let mut pending = groups.len();
    while !shared.stop.load(Ordering::Relaxed) {
        let mut idle = true;
        for (_, members) in &groups {
            for m in members {
                // One message at most per member per pass, so none starves the others.
                match m.poll(Duration::ZERO) {
                    Some(Ok(msg)) => {
                        idle = false;
                        let now = shared.epoch.elapsed().as_nanos() as u64;
                        let sent = msg
                            .payload()
                            .and_then(|p| p.get(..8))
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                            .map(u64::from_be_bytes)
                            .context("a record without an 8-byte timestamp")?;
                        if sent >= shared.timed_from_ns.load(Ordering::Relaxed) {
                            result.latencies.push(now.saturating_sub(sent));
                            shared.received_timed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    // librdkafka reports connection trouble (e.g. AllBrokersDown
                    // while 400 clients connect at once) and retries by itself;
                    // a member that never recovers shows up as a missing group
                    // or missing records, so errors are only logged.
                    Some(Err(e)) => {
                        result.errors += 1;
                        if result.errors <= 3 {
                            eprintln!("kavka-bench: groups: consumer error (retried): {e}");
                        }
                    }
                    None => {}
                }
            }
        }
        if pending > 0 {
            for (i, (_, members)) in groups.iter().enumerate() {
                if !done[i] && fully_assigned(members, spec.partitions) {
                    done[i] = true;
                    pending -= 1;
                    result
                        .rebalance_ns
                        .push(started[i].elapsed().as_nanos() as u64);
                    result.last_done_ns = shared.epoch.elapsed().as_nanos() as u64;
                    shared.groups_done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if idle {
            // Bounds the latency this loop adds to about a millisecond.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Closing (LeaveGroup) happens here, in parallel across pollers.
    drop(groups);
    Ok(result)
}

/// Every partition assigned to exactly one member, and (when there are enough
/// partitions) every member holding at least one: the rebalance is over, not
/// just the first member's solo generation.
fn fully_assigned(members: &[BaseConsumer], partitions: i32) -> bool {
    let mut seen = vec![false; partitions as usize];
    for m in members {
        let Ok(assignment) = m.assignment() else {
            return false;
        };
        let elements = assignment.elements();
        if elements.is_empty() && members.len() <= partitions as usize {
            return false;
        }
        for e in elements {
            match seen.get_mut(e.partition() as usize) {
                Some(s) if !*s => *s = true,
                _ => return false,
            }
        }
    }
    seen.iter().all(|s| *s)
}

/// Sends at the rate for the warm-up and the duration, and waits until every
/// group has received every timed record. Returns the broker's usage over it.
fn measure_latency(
    cluster: &Cluster,
    topic: &str,
    spec: GroupsSpec,
    shared: &Shared,
) -> anyhow::Result<crate::broker_stats::Usage> {
    let producer: BaseProducer<DeliveryCounter> = cluster
        .client_config()
        .set("acks", "all")
        .create_with_context(DeliveryCounter::default())
        .context("creating the producer")?;
    let warm_total = spec.rate * WARM_UP.as_secs();
    let timed_total = spec.rate * spec.duration.as_secs_f64().ceil() as u64;
    let mut value = payload(100);
    let mut meter = None;
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < warm_total + timed_total {
        let due = ((start.elapsed().as_secs_f64() * spec.rate as f64) as u64 + 1)
            .min(warm_total + timed_total);
        if sent >= due {
            std::thread::sleep(Duration::from_micros(200));
            producer.poll(Duration::ZERO);
            continue;
        }
        if sent == warm_total && meter.is_none() {
            let now = shared.epoch.elapsed().as_nanos() as u64;
            shared.timed_from_ns.store(now, Ordering::Relaxed);
            meter = Some(cluster.meter()?);
        }
        let sent_at = shared.epoch.elapsed().as_nanos() as u64;
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
    producer
        .flush(Duration::from_secs(60))
        .context("waiting for acknowledgements")?;
    producer.context().check(warm_total + timed_total)?;
    let meter = meter.context("no timed records were sent")?;
    let expected = timed_total * spec.groups as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.received_timed.load(Ordering::Relaxed) < expected {
        if Instant::now() > deadline {
            bail!(
                "groups received {} of {expected} timed records",
                shared.received_timed.load(Ordering::Relaxed)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    meter.finish()
}
