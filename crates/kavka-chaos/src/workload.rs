//! The queue workload through librdkafka (`rdkafka`), recorded as a history: an
//! acks=all idempotent producer, a group consumer that commits and reads its
//! commits back, and the final read after the faults healed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset as RdOffset, TopicPartitionList};

use crate::cluster::HarnessError;
use crate::history::{CommitObservation, Offset, Partition, ReadRecord, SendOp, SendOutcome};

/// The logical clock and the operations seen so far, shared by the workload's
/// threads.
#[derive(Default)]
pub struct Recorder {
    clock: AtomicU64,
    sends: Mutex<Vec<SendOp>>,
    commits: Mutex<Vec<CommitObservation>>,
}

impl Recorder {
    /// The next logical time.
    pub fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn push_send(&self, op: SendOp) {
        self.sends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(op);
    }

    fn push_commit(&self, c: CommitObservation) {
        self.commits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(c);
    }

    /// How many commit observations so far.
    pub fn commit_count(&self) -> usize {
        self.commits.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// How many sends completed so far.
    pub fn send_count(&self) -> usize {
        self.sends.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The sends and commit observations, in the order they were recorded.
    pub fn take(&self) -> (Vec<SendOp>, Vec<CommitObservation>) {
        let sends = std::mem::take(&mut *self.sends.lock().unwrap_or_else(|e| e.into_inner()));
        let commits = std::mem::take(&mut *self.commits.lock().unwrap_or_else(|e| e.into_inner()));
        (sends, commits)
    }
}

/// The workload's shape.
#[derive(Debug, Clone)]
pub struct Workload {
    pub topic: String,
    pub partitions: i32,
    pub replication: i32,
    /// Keys `k0..k{keys}`: few enough that each key gets many records to order.
    pub keys: u64,
    /// Sends in flight at once.
    pub window: usize,
    /// Pause between windows, to bound the volume of a long run.
    pub pace: Duration,
    pub group: String,
    /// Run the committing group member beside the producer. Off, the run checks
    /// the log alone (no group coordinator in the picture).
    pub commits: bool,
}

impl Workload {
    pub fn new(replication: i32) -> Self {
        Self {
            topic: "chaos".into(),
            partitions: 3,
            replication,
            keys: 8,
            window: 10,
            pace: Duration::from_millis(20),
            group: "chaos-group".into(),
            commits: true,
        }
    }
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "2");
    c
}

fn rd(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Workload(e.to_string())
}

/// Creates the topic, retrying while the cluster settles.
pub async fn create_topic(bootstrap: &str, w: &Workload) -> Result<(), HarnessError> {
    let admin: AdminClient<DefaultClientContext> = client(bootstrap).create().map_err(rd)?;
    let topic = NewTopic::new(
        &w.topic,
        w.partitions,
        TopicReplication::Fixed(w.replication),
    );
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let mut last = String::new();
    for _ in 0..20 {
        match admin.create_topics([&topic], &opts).await {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) => return Ok(()),
                Some(Err((_, e))) => last = e.to_string(),
                None => last = "no result".into(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(HarnessError::Workload(format!(
        "creating {}: {last}",
        w.topic
    )))
}

/// Sends until `stop`, recording each send's outcome.
pub async fn produce(
    bootstrap: &str,
    w: &Workload,
    stop: &AtomicBool,
    rec: &Recorder,
) -> Result<(), HarnessError> {
    let producer: FutureProducer = client(bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        // Long enough to ride out a restart, short enough to end the run.
        .set("message.timeout.ms", "30000")
        .set("request.timeout.ms", "5000")
        .create()
        .map_err(rd)?;
    let mut id = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let mut pending = Vec::with_capacity(w.window);
        for _ in 0..w.window {
            let key = format!("k{}", id % w.keys);
            let value = format!("{id}");
            let invoked_at = rec.tick();
            let record = FutureRecord::to(&w.topic).key(&key).payload(&value);
            let fut = producer.send_result(record).ok();
            pending.push((id, key, value, invoked_at, fut));
            id += 1;
        }
        for (id, key, value, invoked_at, fut) in pending {
            let outcome = match fut {
                // Never handed to librdkafka: certainly not written.
                None => SendOutcome::Failed,
                Some(f) => match f.await {
                    Ok(Ok(d)) => SendOutcome::Acked {
                        partition: d.partition,
                        offset: d.offset,
                    },
                    // A timeout or a lost connection may still have written it.
                    Ok(Err(_)) | Err(_) => SendOutcome::Indeterminate,
                },
            };
            rec.push_send(SendOp {
                id,
                key: Some(key.into_bytes()),
                value: value.into_bytes(),
                invoked_at,
                completed_at: Some(rec.tick()),
                outcome,
            });
        }
        tokio::time::sleep(w.pace).await;
    }
    Ok(())
}

/// A group member that consumes, commits every few hundred milliseconds and
/// reads each commit back (OffsetFetch). Blocking: run it on its own thread.
pub fn consume_and_commit(
    bootstrap: &str,
    w: &Workload,
    stop: &AtomicBool,
    rec: &Recorder,
) -> Result<(), HarnessError> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", &w.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .create()
        .map_err(rd)?;
    consumer.subscribe(&[&w.topic]).map_err(rd)?;
    let mut last_commit = Instant::now();
    let mut errors = 0u32;
    while !stop.load(Ordering::SeqCst) {
        // Errors are expected while nodes are down; the consumer retries.
        let mut polled = 0;
        while let Some(_m) = consumer.poll(Duration::from_millis(if polled == 0 { 100 } else { 0 }))
        {
            polled += 1;
            if polled >= 1000 {
                break;
            }
        }
        if last_commit.elapsed() < Duration::from_millis(300) {
            continue;
        }
        last_commit = Instant::now();
        let committed = consumer
            .commit_consumer_state(CommitMode::Sync)
            .and_then(|()| consumer.committed(Duration::from_secs(2)));
        let committed = match committed {
            Ok(c) => c,
            Err(e) => {
                errors += 1;
                // A few lines show why, without flooding a long run's output.
                if errors <= 3 {
                    println!("consumer: commit or offset fetch failed: {e}");
                }
                continue;
            }
        };
        let observed_at = rec.tick();
        for e in committed.elements() {
            if let RdOffset::Offset(offset) = e.offset() {
                rec.push_commit(CommitObservation {
                    group: w.group.clone(),
                    partition: e.partition(),
                    offset,
                    observed_at,
                });
            }
        }
    }
    Ok(())
}

/// Reads every partition from the start up to its high watermark; returns the
/// records and the high watermarks.
pub fn final_read(
    bootstrap: &str,
    w: &Workload,
    timeout: Duration,
) -> Result<(Vec<ReadRecord>, BTreeMap<Partition, Offset>), HarnessError> {
    let deadline = Instant::now() + timeout;
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "chaos-final-read")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(rd)?;
    let mut hws = BTreeMap::new();
    for p in 0..w.partitions {
        let hw = loop {
            match consumer.fetch_watermarks(&w.topic, p, Duration::from_secs(5)) {
                Ok((_, high)) => break high,
                Err(e) if Instant::now() >= deadline => {
                    return Err(HarnessError::Workload(format!(
                        "high watermark of partition {p}: {e}"
                    )))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        hws.insert(p, hw);
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..w.partitions {
        tpl.add_partition_offset(&w.topic, p, RdOffset::Beginning)
            .map_err(rd)?;
    }
    consumer.assign(&tpl).map_err(rd)?;
    let mut next: BTreeMap<Partition, Offset> = BTreeMap::new();
    let mut out = Vec::new();
    let done = |next: &BTreeMap<Partition, Offset>| {
        hws.iter()
            .all(|(p, hw)| *hw == 0 || next.get(p).is_some_and(|n| n >= hw))
    };
    while !done(&next) {
        if Instant::now() >= deadline {
            return Err(HarnessError::Workload(format!(
                "final read incomplete after {timeout:?}: read up to {next:?}, high watermarks {hws:?}"
            )));
        }
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        next.insert(m.partition(), m.offset() + 1);
        out.push(ReadRecord {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().unwrap_or_default().to_vec(),
        });
    }
    Ok((out, hws))
}
