//! `failover`: what a producer sees when a partition leader dies. An acks=all,
//! idempotent producer sends a steady stream to a 1-partition replicated topic;
//! after a warm-up the bench kills the partition's leader with the caller's
//! command and times from the kill to the first acknowledgement of a record sent
//! after it, and the longest gap between acknowledgements. Each trial ends by
//! restarting the node and waiting for a full ISR. At the end every
//! acknowledged record is read back: an acknowledged record that is not in the
//! log is lost.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};

use crate::cluster::{Cluster, PartitionState};
use crate::produce::payload;
use crate::quorum::active_controller;
use crate::report::Row;

/// How long the kill command may run (it should return once the node is dead).
const KILL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the restart command may run (JVM start and cluster join included).
const RESTART_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a full ISR may take to come back after the restart.
const ISR_TIMEOUT: Duration = Duration::from_secs(120);

/// Parameters of the failover workload.
#[derive(Debug, Clone)]
pub(crate) struct FailoverSpec {
    /// Shell command that kills node `{node}` (SIGKILL) and returns once it is dead.
    pub(crate) kill_cmd: String,
    /// Shell command that starts node `{node}` again and returns once it answers.
    pub(crate) restart_cmd: Option<String>,
    pub(crate) trials: u32,
    /// Records per second.
    pub(crate) rate: u64,
    pub(crate) record_size: usize,
    /// Steady sending before each kill.
    pub(crate) warmup: Duration,
    /// Sending after the first acknowledgement that follows a kill.
    pub(crate) settle: Duration,
    /// Longest wait for that acknowledgement before the trial fails.
    pub(crate) trial_timeout: Duration,
    /// Bound on reading the log back.
    pub(crate) time_limit: Duration,
    /// Extra librdkafka settings for the producer, applied last.
    pub(crate) producer_config: Vec<(String, String)>,
}

/// One acknowledgement: which record (its sequence number, also its key), the
/// offset the broker gave it, and when the delivery report arrived.
#[derive(Debug, Clone, Copy)]
struct Ack {
    seq: u64,
    offset: i64,
    at: Instant,
}

/// Delivery reports, shared by the producer's callback and the trial driver.
#[derive(Default)]
struct AckLog {
    acks: Mutex<Vec<Ack>>,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AckLog {
    /// When the first record with a sequence number of at least `seq` was
    /// acknowledged; `from` is where to start looking (moved past what was seen).
    fn first_ack_from(&self, seq: u64, from: &mut usize) -> Option<Instant> {
        let acks = lock(&self.acks);
        let found = acks[*from..].iter().find(|a| a.seq >= seq).map(|a| a.at);
        *from = acks.len();
        found
    }

    /// Times of the acknowledgements that arrived within `[start, end]`.
    fn times_between(&self, start: Instant, end: Instant) -> Vec<Instant> {
        lock(&self.acks)
            .iter()
            .map(|a| a.at)
            .filter(|&t| t >= start && t <= end)
            .collect()
    }
}

/// The producer's context: every delivery report goes into the [`AckLog`];
/// with `verbose`, librdkafka's log lines go to stderr.
struct AckContext {
    log: Arc<AckLog>,
    verbose: bool,
}

impl ClientContext for AckContext {
    /// librdkafka's own log lines (with `--producer-config debug=...`), on stderr
    /// with the time of day, to line them up with the kill and the brokers' logs.
    /// Without `debug` they are dropped: a refused connection to the killed node
    /// is the expected story of every trial.
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        if self.verbose {
            eprintln!("{} librdkafka {level:?} {fac}: {message}", wall_clock());
        }
    }
}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let at = Instant::now();
        match result {
            Ok(m) => lock(&self.log.acks).push(Ack {
                seq: seq as u64,
                offset: m.offset(),
                at,
            }),
            Err((e, _)) => {
                self.log.failed.fetch_add(1, Ordering::Relaxed);
                lock(&self.log.first_error).get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// What the sender thread and the trial driver share.
struct Shared {
    /// Sequence number of the next record to be sent: every record numbered at
    /// or above a value read here was handed to the producer after the read.
    next_seq: AtomicU64,
    stop: AtomicBool,
}

/// The longest time between consecutive instants (sorted), zero for fewer than two.
fn longest_gap(times: &[Instant]) -> Duration {
    times
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .max()
        .unwrap_or_default()
}

/// The middle value (the upper one of the two middles for an even count).
fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Acknowledged records missing from the log read back (`log`: sequence number
/// to the offsets it was found at), and those found only at another offset
/// than the acknowledgement gave.
fn lost_records(acks: &[Ack], log: &HashMap<u64, Vec<i64>>) -> (u64, u64) {
    let (mut lost, mut moved) = (0, 0);
    for a in acks {
        match log.get(&a.seq) {
            None => lost += 1,
            Some(offsets) if !offsets.contains(&a.offset) => moved += 1,
            Some(_) => {}
        }
    }
    (lost, moved)
}

/// The failover workload: trials, then the read-back.
pub(crate) fn run(cluster: &Cluster, spec: &FailoverSpec) -> anyhow::Result<Vec<Row>> {
    if cluster.replication_factor < 2 {
        bail!("failover needs --replication-factor 2 or more (a leader to fail over to)");
    }
    if spec.trials == 0 || spec.rate == 0 {
        bail!("--trials and --rate must be at least 1");
    }
    if spec.trials > 1 && spec.restart_cmd.is_none() {
        bail!("more than one trial needs --restart-cmd to bring the killed node back");
    }
    let topic = cluster.fresh_topic("failover", 1)?;
    let meta = cluster.metadata_client()?;
    let log = Arc::new(AckLog::default());
    let shared = Arc::new(Shared {
        next_seq: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut config = cluster.client_config();
    config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "1")
        // Long enough that no record times out while a slow failover completes.
        .set(
            "message.timeout.ms",
            (spec.trial_timeout.as_millis() * 2).max(30_000).to_string(),
        );
    let mut verbose = false;
    for (k, v) in &spec.producer_config {
        config.set(k, v);
        if k == "debug" {
            // The Rust wrapper drops librdkafka's lines below its own level.
            config.set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
            verbose = true;
        }
    }
    let producer: BaseProducer<AckContext> = config
        .create_with_context(AckContext {
            log: log.clone(),
            verbose,
        })
        .context("creating the producer")?;
    let sender = {
        let (shared, topic) = (shared.clone(), topic.clone());
        let (rate, size) = (spec.rate, spec.record_size.max(8));
        std::thread::Builder::new()
            .name("failover-producer".into())
            .spawn(move || send_steadily(&producer, &topic, rate, size, &shared))
            .context("spawning the producer thread")?
    };

    let mut rows = Vec::new();
    let mut done: Vec<Trial> = Vec::new();
    for n in 1..=spec.trials {
        match trial(cluster, spec, &topic, &meta, &log, &shared, &sender) {
            Ok(t) => {
                let role = match t.controller {
                    Some(c) if c == t.node => "partition leader and active controller",
                    Some(_) => "partition leader, not the controller",
                    None => "partition leader (controller unknown)",
                };
                eprintln!(
                    "kavka-bench: failover trial {n}: node {} ({role}) killed at {}, first ack after {:.0} ms, \
                     longest gap {:.0} ms",
                    t.node, t.killed_wall, t.failover_ms, t.max_gap_ms
                );
                let what = if t.controller == Some(t.node) {
                    "leader+controller"
                } else {
                    "leader"
                };
                let mut row = Row::new(format!(
                    "failover trial {n} (node {} killed, {what})",
                    t.node
                ));
                row.failover_ms = Some(t.failover_ms);
                row.max_gap_ms = Some(t.max_gap_ms);
                row.kill_cmd_ms = Some(t.kill_cmd_ms);
                row.recovery_ms = t.recovery_ms;
                rows.push(row);
                done.push(t);
            }
            Err(e) => {
                // The cluster is in an unknown state: no further trials.
                rows.push(Row::failed(format!("failover trial {n}"), &e));
                break;
            }
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    let sent = sender
        .join()
        .map_err(|_| anyhow::anyhow!("the producer thread panicked"))?;

    let acks = lock(&log.acks).clone();
    let failed = log.failed.load(Ordering::Relaxed);
    let verified = sent.and_then(|sent| {
        let back = read_back(cluster, &topic, spec.time_limit)?;
        let (lost, moved) = lost_records(&acks, &back);
        let dups = back.values().filter(|o| o.len() > 1).count();
        eprintln!(
            "kavka-bench: failover: {sent} records sent, {} acknowledged, {failed} failed \
             (first error: {}), {} distinct in the log, {dups} written twice, {lost} acknowledged \
             but lost, {moved} found only at another offset than acknowledged",
            acks.len(),
            lock(&log.first_error).as_deref().unwrap_or("none"),
            back.len(),
        );
        Ok(lost)
    });
    match verified {
        Ok(lost) if !done.is_empty() => {
            rows.extend(summaries(&done));
            for row in rows
                .iter_mut()
                .filter(|r| r.workload.ends_with("(all trials)"))
            {
                row.acked = Some(acks.len() as f64);
                row.lost = Some(lost as f64);
            }
        }
        Ok(_) => {}
        Err(e) => rows.push(Row::failed("failover read-back", &e)),
    }
    Ok(rows)
}

/// Median and worst over all trials, and the worst of the trials that killed
/// only the partition leader and of those that killed the active controller
/// too (a quorum election then comes first). Names carry no trial counts, so
/// the rows of two runs match for `compare`.
fn summaries(trials: &[Trial]) -> Vec<Row> {
    let worst = |v: &[f64]| v.iter().copied().reduce(f64::max);
    let row = |name: &str, pick: &dyn Fn(&[f64]) -> Option<f64>, of: &[&Trial]| {
        let failover: Vec<f64> = of.iter().map(|t| t.failover_ms).collect();
        let gaps: Vec<f64> = of.iter().map(|t| t.max_gap_ms).collect();
        let mut r = Row::new(format!("failover {name}"));
        r.failover_ms = pick(&failover);
        r.max_gap_ms = pick(&gaps);
        r
    };
    let all: Vec<&Trial> = trials.iter().collect();
    let (with_controller, leader_only): (Vec<&Trial>, Vec<&Trial>) =
        all.iter().partition(|t| t.controller == Some(t.node));
    let mut rows = vec![
        row("median (all trials)", &median, &all),
        row("worst (all trials)", &worst, &all),
    ];
    if !leader_only.is_empty() {
        rows.push(row("worst, leader only", &worst, &leader_only));
    }
    if !with_controller.is_empty() {
        rows.push(row("worst, leader+controller", &worst, &with_controller));
    }
    rows
}

/// What one trial measured.
struct Trial {
    node: i32,
    /// The active controller just before the kill, if DescribeQuorum answered.
    controller: Option<i32>,
    /// Wall-clock time of the kill (to find it in the brokers' logs).
    killed_wall: String,
    failover_ms: f64,
    max_gap_ms: f64,
    kill_cmd_ms: f64,
    recovery_ms: Option<f64>,
}

fn trial(
    cluster: &Cluster,
    spec: &FailoverSpec,
    topic: &str,
    meta: &BaseConsumer,
    log: &AckLog,
    shared: &Shared,
    sender: &JoinHandle<anyhow::Result<u64>>,
) -> anyhow::Result<Trial> {
    cluster.wait_fully_replicated(meta, topic, 1, ISR_TIMEOUT)?;
    let start = Instant::now();
    sleep_while_sending(spec.warmup, sender)?;
    let node = current_leader(meta, topic)?;
    let controller = active_controller(&cluster.bootstrap)
        .map_err(|e| eprintln!("kavka-bench: no active controller from DescribeQuorum: {e:#}"))
        .ok();

    // The clock starts before the command does, so its own start-up counts
    // against the failover (an upper bound); only records handed to the
    // producer after it returned (the node certainly dead) can end the wait.
    let kill_at = Instant::now();
    let killed_wall = wall_clock();
    run_command(&spec.kill_cmd, node, KILL_TIMEOUT).context("the kill command")?;
    let killed_at = Instant::now();
    let first_after = shared.next_seq.load(Ordering::Acquire);
    let mut cursor = 0;
    let first_ack = loop {
        if let Some(at) = log.first_ack_from(first_after, &mut cursor) {
            break at;
        }
        if killed_at.elapsed() > spec.trial_timeout {
            bail!(
                "no record sent after node {node} was killed was acknowledged within {:?}",
                spec.trial_timeout
            );
        }
        if sender.is_finished() {
            bail!("the producer thread stopped during the trial");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    sleep_while_sending(spec.settle, sender)?;
    let gap = longest_gap(&log.times_between(start, Instant::now()));

    let recovery_ms = match &spec.restart_cmd {
        Some(cmd) => {
            let t = Instant::now();
            run_command(cmd, node, RESTART_TIMEOUT).context("the restart command")?;
            cluster.wait_fully_replicated(meta, topic, 1, ISR_TIMEOUT)?;
            Some(ms(t.elapsed()))
        }
        None => None,
    };
    Ok(Trial {
        node,
        controller,
        killed_wall,
        failover_ms: ms(first_ack.saturating_duration_since(kill_at)),
        max_gap_ms: ms(gap),
        kill_cmd_ms: ms(killed_at - kill_at),
        recovery_ms,
    })
}

/// The time of day in UTC with milliseconds, as the brokers' logs write it.
fn wall_clock() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03} UTC",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_millis()
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The partition's leader per a fresh Metadata request (retried for up to 10 s).
fn current_leader(meta: &BaseConsumer, topic: &str) -> anyhow::Result<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state: Option<PartitionState> =
            Cluster::partition_states(meta, topic).and_then(|s| s.into_iter().next());
        match state {
            Some(s) if s.leader >= 0 => return Ok(s.leader),
            _ if Instant::now() > deadline => bail!("topic {topic} has no leader"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Sleeps, failing early if the producer thread has stopped.
fn sleep_while_sending(
    d: Duration,
    sender: &JoinHandle<anyhow::Result<u64>>,
) -> anyhow::Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if sender.is_finished() {
            bail!("the producer thread stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Runs `sh -c cmd` with `{node}` replaced, its output on our stderr; fails on
/// a non-zero exit or after `timeout` (then the shell is killed).
fn run_command(cmd: &str, node: i32, timeout: Duration) -> anyhow::Result<()> {
    let cmd = cmd.replace("{node}", &node.to_string());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .spawn()
        .with_context(|| format!("starting `{cmd}`"))?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("waiting for the command")? {
            if !status.success() {
                bail!("`{cmd}` failed: {status}");
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`{cmd}` did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sends records numbered 0, 1, 2, ... (the number is the key) at `rate` per
/// second until told to stop, then waits for every outstanding delivery report.
fn send_steadily(
    producer: &BaseProducer<AckContext>,
    topic: &str,
    rate: u64,
    record_size: usize,
    shared: &Shared,
) -> anyhow::Result<u64> {
    let value = payload(record_size);
    let start = Instant::now();
    let mut seq = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64 + 1;
        if seq >= due {
            producer.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        let key = seq.to_be_bytes();
        let record = BaseRecord::<[u8], [u8], usize>::with_opaque_to(topic, seq as usize)
            .key(&key[..])
            .payload(&value[..]);
        match producer.send(record) {
            Ok(()) => {
                seq += 1;
                shared.next_seq.store(seq, Ordering::Release);
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e).context("enqueueing a record"),
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(120))
        .context("waiting for the last acknowledgements")?;
    Ok(seq)
}

/// Every record of partition 0 up to its high watermark: sequence number (the
/// key) to the offsets it is stored at.
fn read_back(
    cluster: &Cluster,
    topic: &str,
    time_limit: Duration,
) -> anyhow::Result<HashMap<u64, Vec<i64>>> {
    let consumer: BaseConsumer = cluster
        .client_config()
        // librdkafka refuses assign() without a group.id; the group is never joined.
        .set("group.id", format!("{topic}-verify"))
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the read-back consumer")?;
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .context("reading the high watermark")?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .context("building the assignment")?;
    consumer
        .assign(&assignment)
        .context("assigning the partition")?;
    let mut log: HashMap<u64, Vec<i64>> = HashMap::new();
    let deadline = Instant::now() + time_limit;
    let mut next = 0;
    while next < high {
        if Instant::now() > deadline {
            bail!("read back up to offset {next} of {high} within {time_limit:?}");
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                next = m.offset() + 1;
                let seq = m
                    .key()
                    .and_then(|k| <[u8; 8]>::try_from(k).ok())
                    .map(u64::from_be_bytes)
                    .context("a record without an 8-byte key")?;
                log.entry(seq).or_default().push(m.offset());
            }
            Some(Err(e)) => return Err(e).context("reading back"),
            None => {}
        }
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_gap_is_between_neighbours() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(
            longest_gap(&[at(0), at(10), at(900), at(905)]),
            Duration::from_millis(890)
        );
        assert_eq!(longest_gap(&[at(5)]), Duration::ZERO);
    }

    #[test]
    fn the_first_ack_after_the_kill_skips_earlier_records() {
        let t0 = Instant::now();
        let log = AckLog::default();
        for (seq, ms) in [(0, 0), (1, 1), (2, 2000), (3, 2001)] {
            lock(&log.acks).push(Ack {
                seq,
                offset: seq as i64,
                at: t0 + Duration::from_millis(ms),
            });
        }
        let mut cursor = 0;
        assert_eq!(
            log.first_ack_from(2, &mut cursor),
            Some(t0 + Duration::from_millis(2000))
        );
        assert_eq!(cursor, 4);
        let mut cursor = 0;
        assert_eq!(log.first_ack_from(9, &mut cursor), None);
    }

    #[test]
    fn an_acknowledged_record_missing_from_the_log_is_lost() {
        let at = Instant::now();
        let acks: Vec<Ack> = (0..4)
            .map(|seq| Ack {
                seq,
                offset: seq as i64,
                at,
            })
            .collect();
        let mut log: HashMap<u64, Vec<i64>> = (0..4).map(|s| (s, vec![s as i64])).collect();
        assert_eq!(lost_records(&acks, &log), (0, 0));
        log.remove(&2);
        assert_eq!(lost_records(&acks, &log), (1, 0));
        log.insert(3, vec![7]);
        assert_eq!(lost_records(&acks, &log), (1, 1));
    }

    #[test]
    fn summaries_split_trials_by_what_was_killed() {
        let trial = |node, controller, ms| Trial {
            node,
            controller: Some(controller),
            killed_wall: String::new(),
            failover_ms: ms,
            max_gap_ms: ms,
            kill_cmd_ms: 1.0,
            recovery_ms: None,
        };
        let rows = summaries(&[trial(1, 1, 4000.0), trial(2, 3, 1000.0), trial(3, 1, 900.0)]);
        let get = |name: &str| {
            rows.iter()
                .find(|r| r.workload == format!("failover {name}"))
                .and_then(|r| r.failover_ms)
        };
        assert_eq!(get("median (all trials)"), Some(1000.0));
        assert_eq!(get("worst (all trials)"), Some(4000.0));
        assert_eq!(get("worst, leader only"), Some(1000.0));
        assert_eq!(get("worst, leader+controller"), Some(4000.0));
    }

    #[test]
    fn median_takes_the_middle() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }
}
