//! Opening and closing many partition logs at once, on Kafka's
//! `num.recovery.threads.per.data.dir` threads: at a start or a clean stop of a
//! broker with many partitions this file work is most of what it does.

use std::collections::HashMap;
use std::path::PathBuf;

use kavka_storage::{LogConfig, LogDirShutdown, PartitionLog, StorageError};
use parking_lot::Mutex;

/// A log to open: where, with which settings, and for which partition.
#[derive(Debug)]
pub(crate) struct OpenJob {
    pub(crate) topic: String,
    pub(crate) index: i32,
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
}

/// Opened logs by (topic, partition).
pub(crate) type OpenedLogs = HashMap<(String, i32), PartitionLog>;

/// Opens every job's log on up to `threads` threads; the first failure (in job
/// order) is the answer, and the logs opened meanwhile are dropped unclosed, as a
/// crash would leave them.
pub(crate) fn open_logs(
    jobs: Vec<OpenJob>,
    threads: usize,
    shutdown: LogDirShutdown,
) -> Result<OpenedLogs, StorageError> {
    let results = run_on_threads(jobs, threads, |job| {
        let log = PartitionLog::open_in_log_dir(&job.dir, job.config, shutdown);
        (job.topic, job.index, log)
    })?;
    let mut opened = HashMap::with_capacity(results.len());
    for (topic, index, log) in results {
        opened.insert((topic, index), log?);
    }
    Ok(opened)
}

/// Runs `work` on every item on up to `threads` threads and returns the results
/// in the items' order. One item or one thread runs on the caller's thread.
pub(crate) fn run_on_threads<T, R>(
    items: Vec<T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
) -> Result<Vec<R>, StorageError>
where
    T: Send,
    R: Send,
{
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return Ok(items.into_iter().map(work).collect());
    }
    let count = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let worker = || {
        let mut done = Vec::new();
        loop {
            // The lock is held only to take the next item, never during the work.
            let next = queue.lock().next();
            let Some((i, item)) = next else { break };
            done.push((i, work(item)));
        }
        done
    };
    let per_thread: Vec<std::thread::Result<Vec<(usize, R)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut slots: Vec<Option<R>> = (0..count).map(|_| None).collect();
    for done in per_thread {
        let done = done.map_err(|_| {
            StorageError::Io(std::io::Error::other("a log-loading thread panicked"))
        })?;
        for (i, r) in done {
            slots[i] = Some(r);
        }
    }
    slots
        .into_iter()
        .map(|r| r.ok_or_else(|| StorageError::Io(std::io::Error::other("a log was skipped"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_on_any_thread_count() {
        for threads in [1, 2, 7, 100] {
            let out = run_on_threads((0..50).collect(), threads, |i: i32| i * 2).unwrap();
            assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(run_on_threads(Vec::<i32>::new(), 4, |i| i)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_log_that_cannot_open_fails_the_whole_open() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("t-0");
        let bad = dir.path().join("t-1");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join(kavka_storage::LOG_START_OFFSET_FILE), "garbage").unwrap();
        let jobs = [(0, good), (1, bad)]
            .into_iter()
            .map(|(index, dir)| OpenJob {
                topic: "t".into(),
                index,
                dir,
                config: LogConfig::default(),
            })
            .collect();
        let err = open_logs(jobs, 2, LogDirShutdown::Unclean).unwrap_err();
        assert!(err.to_string().contains("log-start-offset"), "{err}");
    }
}
