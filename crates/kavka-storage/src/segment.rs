//! One log segment: the `.log` file of batches plus its sparse `.index` and
//! `.timeindex`, named by the segment's base offset.
//!
//! The indexes live in memory; their files hold no descriptor. New entries are
//! written to them when the segment is flushed, sealed or closed: the recovery
//! point only moves after a flush, and recovery rebuilds the indexes of every
//! segment past it, so an index file is trusted only once it was written whole.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use crate::batch::{validate_stored_batch, BatchHeader};
use crate::index::{OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use crate::segment_file::SegmentFile;
use crate::txn_index::{AbortedTxn, TxnIndex};
use crate::{StorageError, BATCH_HEADER_LEN};

/// Extension of segment data files.
pub(crate) const LOG_SUFFIX: &str = "log";
const INDEX_SUFFIX: &str = "index";
const TIME_INDEX_SUFFIX: &str = "timeindex";
/// Extension of the aborted transaction index.
pub(crate) const TXN_INDEX_SUFFIX: &str = "txnindex";

/// `00000000000000000042.log`: Kafka's 20-digit zero-padded base offset.
pub(crate) fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}.{suffix}")
}

/// Largest relative offset an index entry can hold; the log rolls before exceeding it.
pub(crate) const MAX_RELATIVE_OFFSET: i64 = i32::MAX as i64;
/// Largest file position an index entry can hold; the log rolls before exceeding it.
pub(crate) const MAX_SEGMENT_BYTES: u64 = u32::MAX as u64;

/// Result of scanning a segment during crash recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecoveryOutcome {
    /// Bytes cut from the end because they were not a whole valid batch.
    pub(crate) truncated_bytes: u64,
}

/// One segment of a partition log.
#[derive(Debug)]
pub(crate) struct LogSegment {
    base_offset: i64,
    index_path: PathBuf,
    time_index_path: PathBuf,
    log: SegmentFile,
    /// Entries of each index already in its file; the rest are written at flush.
    offset_entries_on_disk: usize,
    time_entries_on_disk: usize,
    /// Bytes written (log or indexes) since the last fsync.
    unsynced: bool,
    size: u64,
    next_offset: i64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_last_index: u64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// Wall-clock time of the first append seen by this process, for `segment.ms`.
    first_append_ms: Option<i64>,
    /// Transactions aborted by markers in this segment.
    txn_index: TxnIndex,
}

/// Appends `entries` (already encoded) to the index file at `path`, of which
/// `on_disk_bytes` are valid; a failed write is cut back so no torn entry shifts
/// the ones after it.
fn append_entries(path: &Path, on_disk_bytes: u64, entries: &[u8], sync: bool) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let written = file
        .write_all(entries)
        .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
    if written.is_err() {
        let _ = file.set_len(on_disk_bytes);
    }
    written
}

/// Cuts an index file of `len` bytes to the entries that decoded, so later
/// entries are appended after valid ones.
fn trim_index_file(path: &Path, len: u64, valid_bytes: u64) -> io::Result<()> {
    if len <= valid_bytes {
        return Ok(());
    }
    tracing::warn!(index = %path.display(), valid = valid_bytes, size = len, "dropping stale index entries");
    OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(valid_bytes)
}

impl LogSegment {
    fn open_files(dir: &Path, base_offset: i64, fresh: bool) -> Result<Self, StorageError> {
        Self::open_named(dir, base_offset, fresh, "", true)
    }

    /// Opens the three files, their names ending in `extra` after the usual suffix.
    /// `may_have_txn_index` false: the directory listing showed none, skip the read.
    fn open_named(
        dir: &Path,
        base_offset: i64,
        fresh: bool,
        extra: &str,
        may_have_txn_index: bool,
    ) -> Result<Self, StorageError> {
        let name = |suffix: &str| format!("{}{extra}", file_name(base_offset, suffix));
        let log_path = dir.join(name(LOG_SUFFIX));
        let index_path = dir.join(name(INDEX_SUFFIX));
        let time_index_path = dir.join(name(TIME_INDEX_SUFFIX));
        let log = if fresh {
            // Empty index files exist from the start, as Kafka's do.
            fs::write(&index_path, [])?;
            fs::write(&time_index_path, [])?;
            SegmentFile::create(log_path)?
        } else {
            SegmentFile::new(log_path)
        };
        let txn_index_path = dir.join(name(TXN_INDEX_SUFFIX));
        let txn_index = if fresh && !extra.is_empty() {
            // The cleaner's output always has one, to be renamed into place.
            TxnIndex::create(txn_index_path)?
        } else {
            if fresh {
                match fs::remove_file(&txn_index_path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
            if may_have_txn_index {
                TxnIndex::load(txn_index_path)?
            } else {
                TxnIndex::absent(txn_index_path)
            }
        };
        if fresh {
            // The new files' directory entries must survive a crash like their data.
            crate::durable::sync_dir(dir)?;
        }
        Ok(Self {
            base_offset,
            index_path,
            time_index_path,
            log,
            offset_entries_on_disk: 0,
            time_entries_on_disk: 0,
            unsynced: false,
            size: 0,
            next_offset: base_offset,
            offset_index: OffsetIndex::default(),
            time_index: TimeIndex::default(),
            bytes_since_last_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            first_append_ms: None,
            txn_index,
        })
    }

    /// Creates an empty segment starting at `base_offset`, replacing any files there.
    pub(crate) fn create(dir: &Path, base_offset: i64) -> Result<Self, StorageError> {
        Self::open_files(dir, base_offset, true)
    }

    /// Creates the cleaner's output for a group starting at `base_offset`:
    /// `<base>.log.cleaned` and its indexes, replacing leftovers of an earlier pass.
    pub(crate) fn create_cleaned(dir: &Path, base_offset: i64) -> Result<Self, StorageError> {
        Self::open_named(
            dir,
            base_offset,
            true,
            &format!(".{}", crate::cleaner::CLEANED_SUFFIX),
            true,
        )
    }

    /// Opens a segment after a clean shutdown: trusts the index files and only reads
    /// the batch headers after the last index entry, so opening stays cheap.
    /// `has_txn_index`: whether the directory listing showed a `.txnindex`.
    pub(crate) fn load(
        dir: &Path,
        base_offset: i64,
        has_txn_index: bool,
    ) -> Result<Self, StorageError> {
        let mut seg = Self::open_named(dir, base_offset, false, "", has_txn_index)?;
        seg.size = seg.log.len()?;
        let offset_bytes = read_index(&seg.index_path)?;
        let time_bytes = read_index(&seg.time_index_path)?;
        seg.offset_index = OffsetIndex::decode(&offset_bytes, seg.size);
        seg.time_index = TimeIndex::decode(&time_bytes);
        seg.offset_entries_on_disk = seg.offset_index.len();
        seg.time_entries_on_disk = seg.time_index.len();
        trim_index_file(
            &seg.index_path,
            offset_bytes.len() as u64,
            seg.offset_index.disk_bytes(),
        )?;
        trim_index_file(
            &seg.time_index_path,
            time_bytes.len() as u64,
            seg.time_index.disk_bytes(),
        )?;
        if let Some(last) = seg.time_index.last() {
            seg.max_timestamp = last.timestamp;
            seg.offset_of_max_timestamp = base_offset + i64::from(last.relative_offset);
        }
        let start = seg.offset_index.last().map_or(0, |e| u64::from(e.position));
        let mut pos = start;
        while let Some(header) = seg.header_at(pos)? {
            seg.note_batch(&header);
            pos += header.size() as u64;
        }
        // Bytes no header accounts for would be served as garbage: cut them.
        if pos < seg.size {
            tracing::warn!(
                segment = %seg.log.path().display(),
                valid = pos,
                size = seg.size,
                "clean segment has trailing bytes, truncating"
            );
            seg.log.set_len(pos)?;
            seg.size = pos;
        }
        seg.bytes_since_last_index = seg.size - start;
        // Opening a partition holds no descriptor: the first read or write opens it.
        seg.log.close();
        Ok(seg)
    }

    /// Opens a segment after a crash: validates every batch (length, CRC, counts,
    /// ascending offsets), truncates at the first bad one and rebuilds both indexes.
    /// `on_batch` sees each valid header, for the epoch cache.
    pub(crate) fn recover(
        dir: &Path,
        base_offset: i64,
        index_interval_bytes: u32,
        on_batch: &mut dyn FnMut(&BatchHeader),
    ) -> Result<(Self, RecoveryOutcome), StorageError> {
        let mut seg = Self::open_files(dir, base_offset, false)?;
        let file_len = seg.log.len()?;
        let mut buf = Vec::new();
        let mut pos = 0u64;
        let mut new_offsets = Vec::new();
        let mut new_times = Vec::new();
        while let Some(header) = seg.header_at_with_len(pos, file_len)? {
            let size = header.size() as u64;
            if header.base_offset < seg.next_offset
                || header.last_offset() - base_offset > MAX_RELATIVE_OFFSET
                || pos + size > MAX_SEGMENT_BYTES
            {
                break;
            }
            buf.resize(header.size(), 0);
            seg.log.read_exact_at(&mut buf, pos)?;
            if validate_stored_batch(&header, &buf).is_err() {
                break;
            }
            let (o, t) = seg.track(pos, &header, index_interval_bytes);
            new_offsets.extend(o);
            new_times.extend(t);
            seg.size = pos + size;
            on_batch(&header);
            pos += size;
        }
        let truncated_bytes = file_len - pos;
        if truncated_bytes > 0 {
            tracing::warn!(
                segment = %seg.log.path().display(),
                valid = pos,
                size = file_len,
                "truncating torn or corrupt tail during recovery"
            );
            seg.log.set_len(pos)?;
        }
        // The data came from before the crash, perhaps never fsynced: the next
        // flush must sync it before the recovery point passes it.
        seg.unsynced = true;
        seg.rewrite_index_files(&new_offsets, &new_times)?;
        // Aborts whose markers the crash took away; replaying the producer state
        // re-adds any marker the index missed.
        let next = seg.next_offset;
        seg.txn_index.truncate_to(next)?;
        seg.log.close();
        Ok((seg, RecoveryOutcome { truncated_bytes }))
    }

    fn rewrite_index_files(
        &mut self,
        offsets: &[OffsetEntry],
        times: &[TimeEntry],
    ) -> Result<(), StorageError> {
        let offset_bytes: Vec<u8> = offsets
            .iter()
            .flat_map(|e| OffsetIndex::encode(*e))
            .collect();
        let time_bytes: Vec<u8> = times.iter().flat_map(|e| TimeIndex::encode(*e)).collect();
        fs::write(&self.index_path, offset_bytes)?;
        fs::write(&self.time_index_path, time_bytes)?;
        self.offset_entries_on_disk = offsets.len();
        self.time_entries_on_disk = times.len();
        self.unsynced = true;
        Ok(())
    }

    /// Writes the index entries made since the last call to their files.
    fn persist_indexes(&mut self, sync: bool) -> Result<(), StorageError> {
        let offsets = &self.offset_index.entries()
            [self.offset_entries_on_disk.min(self.offset_index.len())..];
        if !offsets.is_empty() || sync {
            let bytes: Vec<u8> = offsets
                .iter()
                .flat_map(|e| OffsetIndex::encode(*e))
                .collect();
            let on_disk = (self.offset_entries_on_disk * crate::index::OFFSET_ENTRY_LEN) as u64;
            append_entries(&self.index_path, on_disk, &bytes, sync)?;
            self.offset_entries_on_disk = self.offset_index.len();
        }
        let times =
            &self.time_index.entries()[self.time_entries_on_disk.min(self.time_index.len())..];
        if !times.is_empty() || sync {
            let bytes: Vec<u8> = times.iter().flat_map(|e| TimeIndex::encode(*e)).collect();
            let on_disk = (self.time_entries_on_disk * crate::index::TIME_ENTRY_LEN) as u64;
            append_entries(&self.time_index_path, on_disk, &bytes, sync)?;
            self.time_entries_on_disk = self.time_index.len();
        }
        Ok(())
    }

    /// Updates offsets and max timestamp for a batch already in the file.
    fn note_batch(&mut self, header: &BatchHeader) {
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.base_offset;
        }
        self.next_offset = header.last_offset() + 1;
    }

    /// Accounts for a batch at `position`, adding sparse index entries every
    /// `index_interval_bytes`; returns the new entries so the caller can persist them.
    fn track(
        &mut self,
        position: u64,
        header: &BatchHeader,
        index_interval_bytes: u32,
    ) -> (Option<OffsetEntry>, Option<TimeEntry>) {
        let mut entries = (None, None);
        if position > 0 && self.bytes_since_last_index >= u64::from(index_interval_bytes) {
            // Kafka indexes before the batch, so a lookup lands at or before it.
            let entry = OffsetEntry {
                relative_offset: self.relative(header.base_offset),
                position: position as u32,
            };
            self.offset_index.push(entry);
            entries.0 = Some(entry);
            entries.1 = self.maybe_time_entry();
            self.bytes_since_last_index = 0;
        }
        self.note_batch(header);
        self.bytes_since_last_index += header.size() as u64;
        entries
    }

    fn maybe_time_entry(&mut self) -> Option<TimeEntry> {
        if self.max_timestamp < 0 {
            return None;
        }
        let entry = TimeEntry {
            timestamp: self.max_timestamp,
            relative_offset: self.relative(self.offset_of_max_timestamp),
        };
        self.time_index.maybe_push(entry).then_some(entry)
    }

    fn relative(&self, offset: i64) -> u32 {
        // The log rolls before a relative offset leaves this range.
        (offset - self.base_offset).clamp(0, MAX_RELATIVE_OFFSET) as u32
    }

    /// Appends one batch (offsets already assigned) and its index entries.
    pub(crate) fn append(
        &mut self,
        batch: &[u8],
        header: &BatchHeader,
        index_interval_bytes: u32,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        let position = self.size;
        self.unsynced = true;
        if let Err(e) = self.log.append(batch) {
            // Leave no partial batch behind for the next append to follow.
            let _ = self.log.set_len(position);
            return Err(e.into());
        }
        self.size += batch.len() as u64;
        self.first_append_ms.get_or_insert(now_ms);
        // The new index entries reach their files at the next flush.
        self.track(position, header, index_interval_bytes);
        Ok(())
    }

    /// The header of the batch at `position`; None at the end or when what is there
    /// is not a whole plausible batch.
    pub(crate) fn header_at(&self, position: u64) -> Result<Option<BatchHeader>, StorageError> {
        self.header_at_with_len(position, self.size)
    }

    fn header_at_with_len(
        &self,
        position: u64,
        len: u64,
    ) -> Result<Option<BatchHeader>, StorageError> {
        if position + BATCH_HEADER_LEN as u64 > len {
            return Ok(None);
        }
        let mut buf = [0u8; BATCH_HEADER_LEN];
        self.log.read_exact_at(&mut buf, position)?;
        match BatchHeader::parse(&buf) {
            Ok(h) if position + h.size() as u64 <= len => Ok(Some(h)),
            _ => Ok(None),
        }
    }

    /// Position and header of the batch holding `offset` (the first whose last offset
    /// is `>= offset`); None when the segment ends before it.
    pub(crate) fn find_batch(
        &self,
        offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>, StorageError> {
        let mut pos = if offset <= self.base_offset {
            0
        } else {
            u64::from(self.offset_index.lookup(self.relative(offset)))
        };
        while let Some(header) = self.header_at(pos)? {
            if header.last_offset() >= offset {
                return Ok(Some((pos, header)));
            }
            pos += header.size() as u64;
        }
        Ok(None)
    }

    /// Whole batches starting at `position` (the batch holding the fetch offset):
    /// up to `max_bytes` but at least the first, none with base offset `>= max_offset`.
    pub(crate) fn read_batches(
        &self,
        position: u64,
        max_bytes: usize,
        max_offset: i64,
    ) -> Result<Bytes, StorageError> {
        let mut end = position;
        while let Some(header) = self.header_at(end)? {
            let size = header.size() as u64;
            let first = end == position;
            if header.base_offset >= max_offset
                || (!first && (end + size - position) > max_bytes as u64)
            {
                break;
            }
            end += size;
        }
        let mut buf = BytesMut::zeroed((end - position) as usize);
        self.log.read_exact_at(&mut buf, position)?;
        Ok(buf.freeze())
    }

    /// Reads one whole batch whose header is already known.
    pub(crate) fn read_batch(
        &self,
        position: u64,
        header: &BatchHeader,
    ) -> Result<Vec<u8>, StorageError> {
        let mut buf = vec![0u8; header.size()];
        self.log.read_exact_at(&mut buf, position)?;
        Ok(buf)
    }

    /// The first batch whose max timestamp is `>= target`, using the time index to skip.
    pub(crate) fn find_by_timestamp(
        &self,
        target: i64,
    ) -> Result<Option<(u64, BatchHeader)>, StorageError> {
        if self.max_timestamp < target {
            return Ok(None);
        }
        let start_offset = self.base_offset + i64::from(self.time_index.lookup(target));
        let mut pos = u64::from(self.offset_index.lookup(self.relative(start_offset)));
        while let Some(header) = self.header_at(pos)? {
            if header.max_timestamp >= target {
                return Ok(Some((pos, header)));
            }
            pos += header.size() as u64;
        }
        Ok(None)
    }

    /// Calls `f` on every batch header (with its position) from the one holding
    /// `from_offset` to the end.
    pub(crate) fn for_each_header_from(
        &self,
        from_offset: i64,
        f: &mut dyn FnMut(u64, &BatchHeader),
    ) -> Result<(), StorageError> {
        let Some((mut pos, _)) = self.find_batch(from_offset)? else {
            return Ok(());
        };
        while let Some(header) = self.header_at(pos)? {
            f(pos, &header);
            pos += header.size() as u64;
        }
        Ok(())
    }

    /// Cuts the segment so its last batch ends before `offset` (a batch holding
    /// `offset` goes too), then rebuilds the indexes from the remaining headers.
    pub(crate) fn truncate_to(
        &mut self,
        offset: i64,
        index_interval_bytes: u32,
    ) -> Result<(), StorageError> {
        let Some((position, _)) = self.find_batch(offset)? else {
            return Ok(());
        };
        self.log.set_len(position)?;
        let size = position;
        self.size = 0;
        self.next_offset = self.base_offset;
        self.offset_index = OffsetIndex::default();
        self.time_index = TimeIndex::default();
        self.bytes_since_last_index = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        let mut pos = 0;
        let mut offsets = Vec::new();
        let mut times = Vec::new();
        while let Some(header) = self.header_at_with_len(pos, size)? {
            let (o, t) = self.track(pos, &header, index_interval_bytes);
            offsets.extend(o);
            times.extend(t);
            pos += header.size() as u64;
            self.size = pos;
        }
        self.rewrite_index_files(&offsets, &times)?;
        self.txn_index.truncate_to(offset)?;
        Ok(())
    }

    /// Records a transaction aborted by a marker in this segment.
    pub(crate) fn append_aborted(&mut self, txn: AbortedTxn) -> Result<(), StorageError> {
        Ok(self.txn_index.append_if_absent(txn)?)
    }

    /// The transactions aborted by markers in this segment, in marker order.
    pub(crate) fn aborted_txns(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }

    /// Called when the segment stops being active: records its final max timestamp
    /// in the time index (so a clean open knows it) and fsyncs everything.
    pub(crate) fn seal(&mut self) -> Result<(), StorageError> {
        self.maybe_time_entry();
        self.unsynced = true;
        self.flush()?;
        // Writes are over; a read reopens it.
        self.log.close();
        Ok(())
    }

    /// Writes the pending index entries and fsyncs the data and indexes, when
    /// anything was written since the last time.
    pub(crate) fn flush(&mut self) -> Result<(), StorageError> {
        if !self.unsynced {
            return Ok(());
        }
        self.log.sync_data()?;
        self.persist_indexes(true)?;
        self.txn_index.flush()?;
        self.unsynced = false;
        Ok(())
    }

    /// Writes the pending index entries to their files without an fsync, for a
    /// clean stop that syncs the whole file system once afterwards. Returns
    /// whether anything was written since the last fsync (and so needs that sync).
    pub(crate) fn write_pending(&mut self) -> Result<bool, StorageError> {
        if !self.unsynced {
            return Ok(false);
        }
        self.persist_indexes(false)?;
        Ok(true)
    }

    /// Closes the `.log` descriptor if nothing used it since the last call.
    pub(crate) fn close_if_idle(&mut self) -> bool {
        self.log.close_if_idle()
    }

    /// Removes the segment's files.
    pub(crate) fn delete(self) -> Result<(), StorageError> {
        let Self {
            log,
            index_path,
            time_index_path,
            txn_index,
            ..
        } = self;
        let txn_index_path = txn_index.path().to_path_buf();
        let log_path = log.path().to_path_buf();
        drop(log);
        for path in [log_path, index_path, time_index_path, txn_index_path] {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Path of the `.log` file, for the cleaner to read without the log's lock.
    pub(crate) fn log_path(&self) -> &Path {
        self.log.path()
    }

    /// Max timestamp of the first batch, -1 when empty (for `max.compaction.lag.ms`).
    pub(crate) fn first_batch_timestamp(&self) -> Result<i64, StorageError> {
        Ok(self.header_at(0)?.map_or(-1, |h| h.max_timestamp))
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Offset after the last batch in the segment.
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Largest batch max timestamp in the segment, -1 when none.
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// Base offset of the first batch carrying `max_timestamp`.
    pub(crate) fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }

    /// When this process first appended here, starting the clock if unknown.
    pub(crate) fn first_append_ms(&mut self, now_ms: i64) -> i64 {
        *self.first_append_ms.get_or_insert(now_ms)
    }

    /// The first append time, once an append or a roll check has set it.
    pub(crate) fn first_append_known(&self) -> Option<i64> {
        self.first_append_ms
    }

    /// True while the segment's log file is open.
    pub(crate) fn has_open_file(&self) -> bool {
        self.log.is_open()
    }
}

/// An index file's bytes; a missing file is an empty index (Kafka recreates them).
fn read_index(path: &Path) -> io::Result<Vec<u8>> {
    match fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}
