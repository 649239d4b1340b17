//! The log cleaner's threads (`log.cleaner.threads`), Kafka's `LogCleaner`: each
//! picks the dirtiest compacted partition no other thread holds, cleans it off the
//! request path, and records the new first dirty offset in the log directory's
//! `cleaner-offset-checkpoint`. The partition lock is held only to snapshot the
//! task and to swap each cleaned group in; reading, deduplicating and writing run
//! on the cleaner's own thread, throttled by `log.cleaner.io.max.bytes.per.second`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use kavka_storage::cleaner::{self, CleanerCheckpoint, CleanerError, Throttler};
use parking_lot::{Condvar, Mutex};

use crate::config::CleanerSettings;
use crate::partition::{Partition, PartitionError};
use crate::state::{now_ms, BrokerState};

type PartitionKey = (String, i32);

/// State the cleaner threads share.
struct Shared {
    state: Arc<BrokerState>,
    settings: CleanerSettings,
    checkpoint: Mutex<CleanerCheckpoint>,
    /// Partitions a thread is cleaning right now.
    in_progress: Mutex<HashSet<PartitionKey>>,
    stop: AtomicBool,
    /// Wakes sleeping threads at shutdown.
    sleep_lock: Mutex<()>,
    wake: Condvar,
}

/// The running cleaner threads.
pub(crate) struct LogCleaner {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// Why one round of cleaning failed.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error(transparent)]
    Cleaner(#[from] CleanerError),
    #[error(transparent)]
    Partition(#[from] PartitionError),
    #[error("writing the cleaner checkpoint: {0}")]
    Checkpoint(std::io::Error),
}

impl LogCleaner {
    /// Starts the threads, or none when `log.cleaner.enable=false`.
    pub(crate) fn start(state: Arc<BrokerState>) -> Self {
        let settings = state.config.cleaner.clone();
        let checkpoint = CleanerCheckpoint::read(&state.config.log_dir).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the cleaner checkpoint; cleaning starts over");
            CleanerCheckpoint::default()
        });
        let threads = if settings.enable { settings.threads } else { 0 };
        let shared = Arc::new(Shared {
            state,
            settings,
            checkpoint: Mutex::new(checkpoint),
            in_progress: Mutex::new(HashSet::new()),
            stop: AtomicBool::new(false),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let threads = (0..threads)
            .filter_map(|id| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("kafka-log-cleaner-thread-{id}"))
                    .spawn(move || run(&shared))
                    .map_err(|e| tracing::error!(error = %e, "cannot start a log cleaner thread"))
                    .ok()
            })
            .collect();
        Self { shared, threads }
    }

    /// Stops the threads, aborting passes in progress (their output is discarded),
    /// and waits for them.
    pub(crate) fn shutdown(self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        {
            let _guard = self.shared.sleep_lock.lock();
            self.shared.wake.notify_all();
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Nice value of the cleaner threads: cleaning is background work, so when the
/// cores are busy the kernel runs the request threads first.
const CLEANER_NICE: i32 = 10;

fn lower_priority() {
    // On Linux a thread id names one thread for setpriority(PRIO_PROCESS).
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), CLEANER_NICE) {
        tracing::debug!(error = %e, "cannot lower the log cleaner thread's priority");
    }
}

fn run(shared: &Shared) {
    lower_priority();
    let threads = shared.settings.threads.max(1);
    // Kafka divides the dedupe buffer and the I/O budget among the threads.
    let dedupe = shared.settings.dedupe_buffer_size / threads;
    let mut throttler = Throttler::new(shared.settings.io_max_bytes_per_second / threads as f64);
    while !shared.stop.load(Ordering::Relaxed) {
        let worked = match clean_dirtiest(shared, dedupe, &mut throttler) {
            Ok(worked) => worked,
            Err(RoundError::Cleaner(CleanerError::Aborted)) => return,
            Err(e) => {
                tracing::warn!(error = %e, "log cleaning failed; will retry after the backoff");
                false
            }
        };
        if !worked {
            let mut guard = shared.sleep_lock.lock();
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            shared.wake.wait_for(
                &mut guard,
                Duration::from_millis(shared.settings.backoff_ms),
            );
        }
    }
}

/// Removes the partition from the in-progress set however the round ends.
struct InProgress<'a> {
    shared: &'a Shared,
    key: PartitionKey,
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.shared.in_progress.lock().remove(&self.key);
    }
}

/// Cleans the dirtiest log, if any needs it. Returns whether one was cleaned.
fn clean_dirtiest(
    shared: &Shared,
    dedupe: usize,
    throttler: &mut Throttler,
) -> Result<bool, RoundError> {
    let now = now_ms();
    let Some((partition, first_dirty)) = pick(shared, now) else {
        return Ok(false);
    };
    let key = (partition.topic.clone(), partition.index);
    let _claim = InProgress {
        shared,
        key: key.clone(),
    };
    // Never past the LSO: an open transaction may still abort what it wrote.
    let stable = partition.last_stable_offset();
    let Some(task) = partition.log(|log| log.prepare_cleaning(first_dirty, stable, now))? else {
        return Ok(false);
    };
    let range = task.range();
    let started = std::time::Instant::now();
    // Each cleaned group is swapped in under the lock as soon as it is written.
    let mut commit = |cleaned| match partition.log(|log| log.commit_cleaning(cleaned)) {
        Ok(swapped) => Ok(swapped),
        // Closed for shutdown or deletion: nothing to swap into.
        Err(PartitionError::Offline | PartitionError::Replica(_)) => Ok(false),
        Err(PartitionError::Storage(e)) => Err(CleanerError::Storage(e)),
    };
    let outcome =
        cleaner::clean_incrementally(&task, dedupe, throttler, &shared.stop, &mut commit)?;
    let next_dirty = outcome.next_dirty_offset;
    let stats = outcome.stats;
    if !outcome.completed {
        // The log changed underneath (retention, DeleteRecords, truncation): the
        // groups swapped in so far stay, the checkpoint does not move, and the next
        // round starts from a fresh snapshot.
        return Ok(true);
    }
    tracing::info!(
        topic = %key.0,
        partition = key.1,
        first_dirty = range.first_dirty,
        next_dirty,
        dirty_ratio = range.dirty_ratio(),
        bytes_read = stats.bytes_read,
        bytes_written = stats.bytes_written,
        records_read = stats.records_read,
        records_retained = stats.records_retained,
        segments = stats.segments_cleaned,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "cleaned log"
    );
    let hosted: HashSet<PartitionKey> = shared
        .state
        .replicas
        .all()
        .iter()
        .map(|p| (p.topic.clone(), p.index))
        .collect();
    let mut checkpoint = shared.checkpoint.lock();
    checkpoint.offsets.insert(key, next_dirty);
    // Entries of deleted topics would otherwise apply to a later topic of that name.
    checkpoint.offsets.retain(|k, _| hosted.contains(k));
    checkpoint
        .write(&shared.state.config.log_dir)
        .map_err(RoundError::Checkpoint)?;
    Ok(true)
}

/// The hosted compacted partition with the highest dirty ratio that needs cleaning
/// (overdue ones by `max.compaction.lag.ms` first), claimed for this thread.
fn pick(shared: &Shared, now: i64) -> Option<(Arc<Partition>, Option<i64>)> {
    let mut best: Option<(f64, Arc<Partition>, Option<i64>)> = None;
    for p in shared.state.replicas.all() {
        // From the resolved topic settings, without the log: a log looked at
        // is queued for upkeep, and most partitions are not compacted.
        if !p.settings().compacted {
            continue;
        }
        let key = (p.topic.clone(), p.index);
        if shared.in_progress.lock().contains(&key) {
            continue;
        }
        let first_dirty = shared.checkpoint.lock().offsets.get(&key).copied();
        let hw = p.high_watermark();
        let candidate = match p.log(|log| log.cleaning_candidate(first_dirty, hw, now)) {
            Ok(Some(range)) => range,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "cannot judge log for cleaning");
                continue;
            }
        };
        let score = if candidate.overdue {
            f64::INFINITY
        } else {
            candidate.dirty_ratio()
        };
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, p, first_dirty));
        }
    }
    let (_, p, first_dirty) = best?;
    // Another thread may have claimed it meanwhile.
    shared
        .in_progress
        .lock()
        .insert((p.topic.clone(), p.index))
        .then_some((p, first_dirty))
}
