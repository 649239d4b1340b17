//! Opening and closing many partition logs at once, on Kafka's
//! `num.recovery.threads.per.data.dir` threads, and writing many partitions' new
//! leader epochs together: at a start or a clean stop of a broker with many
//! partitions this file work is most of what it does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kavka_storage::log_dir;
use kavka_storage::{LogConfig, LogDirShutdown, PartitionLog, StagedEpoch, StorageError};
use parking_lot::Mutex;

use crate::partition::{Assignment, Partition};

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

/// Below this many partitions taking a new leader epoch at once, each writes its
/// checkpoint with its own fsyncs: two file-system syncs flush whatever else is
/// dirty on the disk too, which only pays when many small files are waiting.
pub(crate) const BULK_EPOCH_WRITES: usize = 64;

/// Makes the new leader epochs of many partitions durable together before any of
/// them serves in it (a start gives every partition one): each checkpoint is
/// staged, one file-system sync makes the staged files durable, each is renamed
/// into place, and a second sync makes the renames durable. Two syncs in all
/// instead of two fsyncs per partition; a crash anywhere leaves each checkpoint
/// old or new, never torn. A partition whose staging fails is left to
/// [`Partition::apply_assignment`], which writes its epoch the usual way.
///
/// Returns, per role, whether it may be applied: false only when the epoch was
/// put in place but could not be made durable by any means.
pub(crate) fn write_leader_epochs(
    roles: &[(Arc<Partition>, Assignment)],
    threads: usize,
    log_dir: &Path,
) -> Vec<bool> {
    let mut ok = vec![true; roles.len()];
    let leading = roles.iter().filter(|(_, a)| a.leader == a.local_id).count();
    if leading < BULK_EPOCH_WRITES {
        return ok;
    }
    let staged = run_on_threads(roles.iter().collect(), threads, |(p, a)| {
        p.stage_leader_epoch(a).unwrap_or_else(|e| {
            tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "cannot stage the new leader epoch; it is written on its own");
            None
        })
    });
    let Ok(staged) = staged else {
        return ok;
    };
    if let Err(e) = log_dir::sync_file_system(log_dir) {
        tracing::warn!(dir = %log_dir.display(), error = %e, "cannot sync the staged leader epochs; each is written on its own");
        staged.into_iter().flatten().for_each(StagedEpoch::discard);
        return ok;
    }
    let jobs: Vec<(usize, StagedEpoch)> = staged
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .collect();
    let installed = run_on_threads(jobs, threads, |(i, s)| {
        let (p, _) = &roles[i];
        let done = p.install_leader_epoch(s).unwrap_or_else(|e| {
            tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "cannot install the staged leader epoch; it is written on its own");
            false
        });
        (i, done)
    });
    // A panicked install thread leaves it unknown which epochs went in place:
    // then every staged one is treated as installed, so it is made durable.
    let installed: Vec<usize> = match installed {
        Ok(done) => done
            .into_iter()
            .filter_map(|(i, done)| done.then_some(i))
            .collect(),
        Err(_) => (0..roles.len())
            .filter(|&i| roles[i].1.leader == roles[i].1.local_id)
            .collect(),
    };
    if installed.is_empty() {
        return ok;
    }
    tracing::info!(
        partitions = installed.len(),
        "new leader epochs written together (two file-system syncs)"
    );
    if let Err(e) = log_dir::sync_file_system(log_dir) {
        // The epochs are current in memory but their renames may not survive a
        // crash: each checkpoint is written again durably, or its role waits.
        tracing::warn!(dir = %log_dir.display(), error = %e, "cannot sync the installed leader epochs; writing each durably");
        for i in installed {
            let (p, _) = &roles[i];
            if let Err(e) = p.persist_leader_epochs() {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "cannot write the new leader epoch; the partition keeps its old role");
                ok[i] = false;
            }
        }
    }
    ok
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
