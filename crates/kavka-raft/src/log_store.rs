//! The durable Raft log of the metadata quorum, in one directory:
//!
//! - `raft.log`: the entries, framed by [`crate::log_file`]; appended and fsynced
//!   before openraft is told they are flushed (and only then may this node count
//!   them towards a quorum or acknowledge them to a leader);
//! - `vote.json`: the vote (term and whom this node voted for), replaced atomically
//!   before a vote is answered, so a node never votes twice in one term;
//! - `committed.json`: the last committed log id, so a restarted node re-applies what
//!   it knows is committed without waiting for a leader;
//! - `purged.json`: the last log id dropped because a snapshot covers it.
//!
//! Entries are also kept in memory: the metadata log is small, and snapshots bound it
//! (the part a snapshot covers is purged from both).
//!
//! The file I/O is blocking (entries are a few KB and rare); on a multi-threaded
//! runtime it runs under `block_in_place` so an fsync does not stall the other tasks
//! of its worker thread.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogState, OptionalSend, RaftLogId, RaftLogReader, StorageIOError};
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;

use crate::error::StoreOpenError;
use crate::log_file::{self, LogFileError};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

// Not `metadata.log`: the single-node broker keeps its `MetadataLog` under that name
// in the same directory, in another format.
const LOG_FILE: &str = "raft.log";
const VOTE_FILE: &str = "vote.json";
const COMMITTED_FILE: &str = "committed.json";
const PURGED_FILE: &str = "purged.json";

/// Entries in memory by index, with where each starts in the file. Shared with the
/// log readers openraft's replication tasks use.
#[derive(Debug, Default)]
struct Entries {
    by_index: BTreeMap<u64, (u64, Entry)>,
}

/// The durable log store handed to openraft.
#[derive(Debug)]
pub(crate) struct LogStore {
    dir: PathBuf,
    log_path: PathBuf,
    file: File,
    /// Length of the valid file; the next entry is written here.
    end: u64,
    entries: Arc<RwLock<Entries>>,
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
    /// Last index a durable snapshot covers, when a state machine is attached.
    snapshot_index: Option<watch::Receiver<Option<u64>>>,
    /// True while a write waits for disk space (see [`retry_while_full`]).
    pub(crate) disk_full: Arc<watch::Sender<bool>>,
}

/// A full disk (ENOSPC, EDQUOT) is waited out rather than reported to openraft,
/// which would stop the node for good: the write is retried until space comes
/// back, with `disk_full` set meanwhile so proposers fail fast instead of
/// waiting, and one error line every 10 s. Other errors are returned at once.
fn retry_while_full<T>(
    disk_full: &watch::Sender<bool>,
    what: &Path,
    mut write: impl FnMut() -> std::io::Result<T>,
) -> std::io::Result<T> {
    let mut last_logged: Option<std::time::Instant> = None;
    loop {
        match write() {
            Err(e) if matches!(e.raw_os_error(), Some(28) | Some(122)) => {
                disk_full.send_replace(true);
                if last_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    last_logged = Some(std::time::Instant::now());
                    tracing::error!(path = %what.display(), error = %e,
                        "metadata log disk is full; metadata changes wait until space is freed");
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            other => {
                disk_full.send_replace(false);
                return other;
            }
        }
    }
}

/// How long a purge waits for the snapshot covering it to reach the disk.
const PURGE_WAIT: Duration = Duration::from_secs(10);

/// A reader of the entries the store holds.
#[derive(Debug, Clone)]
pub(crate) struct LogReader {
    entries: Arc<RwLock<Entries>>,
}

impl LogStore {
    /// Opens (or creates) the store in `dir`, recovering the log file: a torn tail is
    /// cut, corruption before valid entries refuses to open.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreOpenError> {
        let io = |path: &Path, e: std::io::Error| StoreOpenError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        kavka_storage::durable::create_dir_all_durably(dir).map_err(|e| io(dir, e))?;
        let vote: Option<Vote> = read_state(&dir.join(VOTE_FILE))?;
        let committed: Option<LogId> = read_state(&dir.join(COMMITTED_FILE))?;
        let purged: Option<LogId> = read_state(&dir.join(PURGED_FILE))?;

        let log_path = dir.join(LOG_FILE);
        let created = !log_path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(|e| io(&log_path, e))?;
        if created {
            kavka_storage::durable::sync_dir(dir).map_err(|e| io(dir, e))?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io(&log_path, e))?;
        let scan = log_file::scan(&log_path, &bytes)?;
        if scan.valid_len < bytes.len() as u64 {
            tracing::warn!(
                path = %log_path.display(),
                kept = scan.valid_len,
                dropped = bytes.len() as u64 - scan.valid_len,
                "cutting torn tail of the metadata log (an append a crash interrupted)"
            );
            file.set_len(scan.valid_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| io(&log_path, e))?;
        }

        let mut by_index = BTreeMap::new();
        for stored in scan.entries {
            let index = stored.entry.get_log_id().index;
            // A purge records the purged id before rewriting the file; entries it
            // covers may still be there after a crash between the two steps.
            if purged.is_some_and(|p| index <= p.index) {
                continue;
            }
            by_index.insert(index, (stored.offset, stored.entry));
        }
        let first = by_index.keys().next().copied();
        let expected_first = purged.map_or(0, |p| p.index + 1);
        if let Some(first) = first {
            if first != expected_first {
                return Err(LogFileError::Corrupt {
                    path: log_path.clone(),
                    offset: 0,
                    reason: format!(
                        "the log starts at index {first} but the last purged index is {}",
                        purged.map_or("none".to_string(), |p| p.index.to_string())
                    ),
                }
                .into());
            }
        }
        // openraft saves the committed id only for entries already in the log, and
        // never truncates below it: a committed id past the end means the log lost
        // committed entries, and replaying would silently skip them.
        let last = by_index
            .values()
            .next_back()
            .map(|(_, e)| *e.get_log_id())
            .or(purged);
        if let Some(c) = committed {
            if last.is_none_or(|l| l.index < c.index) {
                return Err(LogFileError::Corrupt {
                    path: log_path.clone(),
                    offset: scan.valid_len,
                    reason: format!(
                        "the log ends at {} but entry {} was committed",
                        last.map_or("nothing".to_string(), |l| l.index.to_string()),
                        c.index
                    ),
                }
                .into());
            }
        }
        tracing::info!(
            dir = %dir.display(),
            entries = by_index.len(),
            ?purged,
            ?committed,
            "opened metadata log store"
        );
        Ok(Self {
            dir: dir.to_path_buf(),
            log_path,
            file,
            end: scan.valid_len,
            entries: Arc::new(RwLock::new(Entries { by_index })),
            vote,
            committed,
            purged,
            snapshot_index: None,
            disk_full: Arc::new(watch::channel(false).0),
        })
    }

    /// Makes purges wait until a snapshot covering them is on disk.
    pub(crate) fn purge_after_snapshots(&mut self, durable: watch::Receiver<Option<u64>>) {
        self.snapshot_index = Some(durable);
    }

    fn last_log_id(&self) -> Option<LogId> {
        self.entries
            .read()
            .by_index
            .values()
            .next_back()
            .map(|(_, e)| *e.get_log_id())
            .or(self.purged)
    }

    /// Writes `entries` at the end of the file and fsyncs. On failure the file is cut
    /// back, so a half-written entry is never followed by later ones. The error is a
    /// message; the trait methods wrap it in openraft's (large) error type.
    fn write_entries(&mut self, entries: Vec<Entry>) -> Result<(), String> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let expected = self.last_log_id().map_or(0, |l| l.index + 1);
        if first.get_log_id().index != expected {
            return Err(format!(
                "append at index {} but the log ends before {expected}",
                first.get_log_id().index
            ));
        }
        let mut buf = Vec::new();
        let mut offsets = Vec::with_capacity(entries.len());
        for entry in &entries {
            offsets.push(self.end + buf.len() as u64);
            log_file::encode(entry, &mut buf).map_err(|e| e.to_string())?;
        }
        let (file, end, disk_full) = (&mut self.file, self.end, self.disk_full.clone());
        let written = retry_while_full(&disk_full, &self.log_path, || {
            let result = file.write_all(&buf).and_then(|()| file.sync_data());
            if result.is_err() {
                // Cut the partial write back before trying again (the file
                // appends, so the next write lands at `end`).
                let _ = file.set_len(end).and_then(|()| file.sync_data());
            }
            result
        });
        if let Err(e) = written {
            let _ = self
                .file
                .set_len(self.end)
                .and_then(|()| self.file.sync_data());
            return Err(format!("{}: {e}", self.log_path.display()));
        }
        self.end += buf.len() as u64;
        let mut mem = self.entries.write();
        for (offset, entry) in offsets.into_iter().zip(entries) {
            mem.by_index
                .insert(entry.get_log_id().index, (offset, entry));
        }
        Ok(())
    }

    /// Rewrites the file with only the entries still held, atomically, so the part a
    /// snapshot covers stops taking disk space.
    fn rewrite_file(&mut self) -> Result<(), String> {
        let mut buf = Vec::new();
        let mut mem = self.entries.write();
        for (offset, entry) in mem.by_index.values_mut() {
            *offset = buf.len() as u64;
            log_file::encode(entry, &mut buf).map_err(|e| e.to_string())?;
        }
        let at = |e: std::io::Error| format!("{}: {e}", self.log_path.display());
        kavka_storage::durable::write_atomic(&self.log_path, &buf).map_err(at)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.log_path)
            .map_err(at)?;
        self.end = buf.len() as u64;
        Ok(())
    }
}

/// Reads a small JSON state file; absent is `None`, unreadable or corrupt is an error
/// naming the file (guessing a vote could make this node vote twice in a term).
fn read_state<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreOpenError> {
    let Some(text) = kavka_storage::durable::read_optional(path)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| kavka_storage::durable::StateFileError::corrupt(path, e.to_string()).into())
}

fn write_state<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    kavka_storage::durable::write_atomic(path, &bytes)
}

/// Runs blocking file I/O, telling a multi-threaded runtime to move its other tasks
/// elsewhere meanwhile. (`block_in_place` is not allowed on a current-thread
/// runtime, where there is no other worker to move them to anyway.)
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn write_logs(msg: String) -> StorageError {
    StorageIOError::write_logs(AnyError::error(msg)).into()
}

fn range_entries<RB: RangeBounds<u64>>(entries: &Entries, range: RB) -> Vec<Entry> {
    let start = match range.start_bound() {
        Bound::Included(&s) => Bound::Included(s),
        Bound::Excluded(&s) => Bound::Excluded(s),
        Bound::Unbounded => Bound::Unbounded,
    };
    let end = match range.end_bound() {
        Bound::Included(&s) => Bound::Included(s),
        Bound::Excluded(&s) => Bound::Excluded(s),
        Bound::Unbounded => Bound::Unbounded,
    };
    entries
        .by_index
        .range((start, end))
        .map(|(_, (_, e))| e.clone())
        .collect()
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(range_entries(&self.entries.read(), range))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(range_entries(&self.entries.read(), range))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        Ok(LogState {
            last_purged_log_id: self.purged,
            last_log_id: self.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        LogReader {
            entries: self.entries.clone(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let path = self.dir.join(VOTE_FILE);
        blocking(|| retry_while_full(&self.disk_full, &path, || write_state(&path, vote)))
            .map_err(|e| StorageIOError::write_vote(AnyError::new(&e)))?;
        self.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        if committed == self.committed {
            return Ok(());
        }
        let path = self.dir.join(COMMITTED_FILE);
        blocking(|| retry_while_full(&self.disk_full, &path, || write_state(&path, &committed)))
            .map_err(|e| StorageIOError::write(AnyError::new(&e)))?;
        self.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        match blocking(|| self.write_entries(entries)) {
            Ok(()) => {
                // Only now, with the entries fsynced, may openraft count them.
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.clone())));
                Err(write_logs(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let offset = {
            let mem = self.entries.read();
            match mem.by_index.get(&log_id.index) {
                Some((offset, _)) => *offset,
                None => return Ok(()),
            }
        };
        tracing::info!(from = %log_id, "truncating conflicting metadata log suffix");
        blocking(|| {
            self.file
                .set_len(offset)
                .and_then(|()| self.file.sync_data())
        })
        .map_err(|e| write_logs(format!("{}: {e}", self.log_path.display())))?;
        self.end = offset;
        self.entries.write().by_index.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        if self.purged.is_some_and(|p| p.index >= log_id.index) {
            return Ok(());
        }
        // openraft issues the purge that follows installing a snapshot without
        // waiting for the state machine to write it; purging first would leave a
        // node that stops in between with neither the entries nor the snapshot.
        if let Some(durable) = self.snapshot_index.as_mut() {
            let covered = durable.wait_for(|s| s.is_some_and(|s| s >= log_id.index));
            if !matches!(tokio::time::timeout(PURGE_WAIT, covered).await, Ok(Ok(_))) {
                tracing::warn!(upto = %log_id, "no snapshot covers the log to purge yet; purging anyway");
            }
        }
        // The purged id is durable before any entry leaves the file: after a crash
        // in between, open skips the entries it covers instead of finding a gap.
        blocking(|| write_state(&self.dir.join(PURGED_FILE), &log_id))
            .map_err(|e| write_logs(format!("{PURGED_FILE}: {e}")))?;
        self.purged = Some(log_id);
        {
            let mut mem = self.entries.write();
            let keep = mem.by_index.split_off(&(log_id.index + 1));
            mem.by_index = keep;
        }
        blocking(|| self.rewrite_file()).map_err(write_logs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MetadataBatch;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Normal(MetadataBatch::new(vec![])),
        }
    }

    fn append(store: &mut LogStore, entries: Vec<Entry>) {
        store.write_entries(entries).unwrap();
    }

    fn indexes(store: &LogStore) -> Vec<(u64, u64)> {
        store
            .entries
            .read()
            .by_index
            .values()
            .map(|(_, e)| (e.log_id.leader_id.term, e.log_id.index))
            .collect()
    }

    #[tokio::test]
    async fn entries_vote_and_committed_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (0..5).map(|i| entry(1, i)).collect());
        store.save_vote(&Vote::new(3, 2)).await.unwrap();
        let c = LogId::new(CommittedLeaderId::new(1, 1), 3);
        store.save_committed(Some(c)).await.unwrap();
        drop(store);
        let mut store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&store), (0..5).map(|i| (1, i)).collect::<Vec<_>>());
        assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
        assert_eq!(store.read_committed().await.unwrap(), Some(c));
    }

    #[tokio::test]
    async fn truncate_then_append_replaces_the_conflicting_suffix_durably() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (0..5).map(|i| entry(1, i)).collect());
        store.truncate(*entry(1, 3).get_log_id()).await.unwrap();
        append(&mut store, vec![entry(2, 3)]);
        drop(store);
        let store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&store), vec![(1, 0), (1, 1), (1, 2), (2, 3)]);
    }

    #[tokio::test]
    async fn purge_drops_covered_entries_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (0..6).map(|i| entry(1, i)).collect());
        store.purge(*entry(1, 3).get_log_id()).await.unwrap();
        append(&mut store, vec![entry(1, 6)]);
        drop(store);
        let mut store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&store), vec![(1, 4), (1, 5), (1, 6)]);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(3));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(6));
        // Purging past the end (a snapshot installed from the leader) empties the
        // log, and the next append continues after the snapshot.
        store.purge(*entry(1, 9).get_log_id()).await.unwrap();
        assert!(indexes(&store).is_empty());
        append(&mut store, vec![entry(1, 10)]);
        drop(store);
        let store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&store), vec![(1, 10)]);
    }

    #[tokio::test]
    async fn crash_between_purge_marker_and_rewrite_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (0..4).map(|i| entry(1, i)).collect());
        drop(store);
        // The marker is written, the file not yet rewritten.
        write_state(&dir.path().join(PURGED_FILE), entry(1, 1).get_log_id()).unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&store), vec![(1, 2), (1, 3)]);
    }

    /// Random appends, truncations, purges and reopenings against a model: what the
    /// store holds (in memory and after reopening) is always the model's log.
    #[tokio::test]
    async fn random_operations_match_a_model_log() {
        let mut seed = 0x5eed_u64;
        let mut rand = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        let mut model: Vec<(u64, u64)> = Vec::new(); // (term, index)
        let mut purged: Option<u64> = None;
        let mut term = 1;
        for step in 0..400 {
            match rand(10) {
                0..=4 => {
                    let next = model
                        .last()
                        .map(|&(_, i)| i + 1)
                        .or(purged.map(|p| p + 1))
                        .unwrap_or(0);
                    let n = 1 + rand(4);
                    let batch: Vec<Entry> = (next..next + n).map(|i| entry(term, i)).collect();
                    append(&mut store, batch);
                    model.extend((next..next + n).map(|i| (term, i)));
                }
                5 | 6 if !model.is_empty() => {
                    let at = model[rand(model.len() as u64) as usize];
                    store
                        .truncate(*entry(at.0, at.1).get_log_id())
                        .await
                        .unwrap();
                    model.retain(|&(_, i)| i < at.1);
                    term += 1;
                }
                7 if !model.is_empty() => {
                    let at = model[rand(model.len() as u64) as usize];
                    store.purge(*entry(at.0, at.1).get_log_id()).await.unwrap();
                    model.retain(|&(_, i)| i > at.1);
                    purged = Some(at.1);
                }
                _ => {
                    drop(store);
                    store = LogStore::open(dir.path()).unwrap();
                }
            }
            assert_eq!(indexes(&store), model, "step {step}");
            let state = store.get_log_state().await.unwrap();
            assert_eq!(
                state.last_purged_log_id.map(|l| l.index),
                purged,
                "step {step}"
            );
        }
        drop(store);
        let store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&store), model);
    }

    #[tokio::test]
    async fn purge_waits_for_a_snapshot_on_disk_that_covers_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        let (durable, rx) = watch::channel(Some(2));
        store.purge_after_snapshots(rx);
        append(&mut store, (0..8).map(|i| entry(1, i)).collect());
        let waiting = tokio::time::timeout(
            Duration::from_millis(200),
            store.purge(*entry(1, 5).get_log_id()),
        )
        .await;
        assert!(waiting.is_err(), "purged past the snapshot on disk");
        assert_eq!(indexes(&store).len(), 8);
        durable.send_replace(Some(6));
        store.purge(*entry(1, 5).get_log_id()).await.unwrap();
        assert_eq!(indexes(&store), vec![(1, 6), (1, 7)]);
    }

    #[test]
    fn append_leaving_a_gap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, vec![entry(1, 0)]);
        assert!(store.write_entries(vec![entry(1, 2)]).is_err());
    }

    #[test]
    fn torn_tail_on_disk_is_cut_and_the_log_stays_appendable() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (0..3).map(|i| entry(1, i)).collect());
        drop(store);
        let path = dir.path().join(LOG_FILE);
        let full = std::fs::read(&path).unwrap();
        for cut in 0..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let mut store = LogStore::open(dir.path()).unwrap();
            let kept = indexes(&store).len() as u64;
            assert!(kept < 3, "cut at {cut}");
            append(&mut store, vec![entry(2, kept)]);
            drop(store);
            let store = LogStore::open(dir.path()).unwrap();
            assert_eq!(indexes(&store).len() as u64, kept + 1, "cut at {cut}");
        }
    }

    #[test]
    fn corruption_in_the_middle_refuses_to_open_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (0..3).map(|i| entry(1, i)).collect());
        drop(store);
        let path = dir.path().join(LOG_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[log_file::ENTRY_HEADER + 4] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = LogStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[tokio::test]
    async fn committed_entries_missing_from_the_log_refuse_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (0..3).map(|i| entry(1, i)).collect());
        store
            .save_committed(Some(*entry(1, 2).get_log_id()))
            .await
            .unwrap();
        drop(store);
        // The last entry vanishes (a disk that lied about an fsync).
        let path = dir.path().join(LOG_FILE);
        let len = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len - 1).unwrap();
        let err = LogStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("committed"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn corrupt_vote_file_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        drop(LogStore::open(dir.path()).unwrap());
        std::fs::write(dir.path().join(VOTE_FILE), b"{\"leader_id\":").unwrap();
        let err = LogStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains(VOTE_FILE), "{err}");
    }
}
