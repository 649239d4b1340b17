//! The log cleaner: compaction of `cleanup.policy=compact` logs, Kafka's way.
//!
//! A pass over one log has three phases, only the first and last under the log's
//! lock, both short:
//!
//! 1. [`PartitionLog::prepare_cleaning`](crate::PartitionLog::prepare_cleaning)
//!    decides what is cleanable (closed segments only, below the high watermark and
//!    `min.compaction.lag.ms`) and snapshots it as a [`CleaningTask`];
//! 2. [`clean_incrementally`] (or [`clean`], all groups at once) reads those
//!    segments from their files, builds the key → latest offset map over the dirty
//!    part (`offset_map`), and writes each group of segments
//!    (`plan::group_segments`) as one `.cleaned` segment holding only the records
//!    `plan::filter_batch` keeps, each at its original offset;
//! 3. [`PartitionLog::commit_cleaning`](crate::PartitionLog::commit_cleaning) swaps
//!    each cleaned group in (`swap`) if the log did not change underneath
//!    (retention, DeleteRecords, truncation), else throws the work away.
//!
//! The next pass starts at the first dirty offset the broker keeps in
//! `cleaner-offset-checkpoint` (`offset_checkpoint`).

mod offset_checkpoint;
mod offset_map;
pub(crate) mod plan;
pub(crate) mod records;
pub(crate) mod swap;
mod throttle;

#[cfg(test)]
mod crash_tests;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};

pub use offset_checkpoint::{CleanerCheckpoint, CLEANER_OFFSET_CHECKPOINT_FILE};
pub use plan::CleanableRange;
pub use throttle::Throttler;

use crate::batch::{validate_stored_batch, BatchHeader};
use crate::segment::LogSegment;
use crate::{StorageError, BATCH_HEADER_LEN};
use offset_map::OffsetMap;
use plan::{BatchOutcome, FilterContext, SegmentInfo};
use swap::SwapManifest;
pub(crate) use swap::CLEANED_SUFFIX;

/// Why a cleaning pass stopped without a result.
#[derive(Debug, thiserror::Error)]
pub enum CleanerError {
    /// Disk trouble reading segments or writing the cleaned ones.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored batch that cannot be cleaned; the log is left as it is.
    #[error("cannot clean the batch at offset {offset}: {reason}")]
    Corrupt { offset: i64, reason: String },
    /// `log.cleaner.dedupe.buffer.size` cannot hold a single key.
    #[error(
        "the cleaner's offset map cannot hold a single key; raise log.cleaner.dedupe.buffer.size"
    )]
    OffsetMapTooSmall,
    /// The broker is shutting down.
    #[error("cleaning aborted")]
    Aborted,
}

impl From<io::Error> for CleanerError {
    fn from(e: io::Error) -> Self {
        Self::Storage(StorageError::Io(e))
    }
}

/// A snapshot of what one pass may clean, taken under the log's lock and used
/// without it.
#[derive(Debug, Clone)]
pub struct CleaningTask {
    pub(crate) dir: PathBuf,
    /// The log's structure generation when the task was taken; the commit checks it.
    pub(crate) generation: u64,
    /// Closed segments from the first one up to the first uncleanable offset.
    pub(crate) segments: Vec<(SegmentInfo, PathBuf)>,
    pub(crate) range: CleanableRange,
    pub(crate) producer_last_offsets: HashMap<i64, i64>,
    /// Aborted transactions of the segments: their records never shadow a
    /// committed record of the same key.
    pub(crate) aborted: Vec<crate::txn_index::AbortedTxn>,
    pub(crate) segment_bytes: u64,
    pub(crate) index_interval_bytes: u32,
    pub(crate) delete_retention_ms: i64,
    pub(crate) now_ms: i64,
}

impl CleaningTask {
    /// The range the pass covers and how dirty it is.
    pub fn range(&self) -> CleanableRange {
        self.range
    }
}

/// What a pass did, for the log line that follows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanerStats {
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_read: u64,
    pub records_retained: u64,
    pub segments_cleaned: usize,
    pub keys_mapped: usize,
}

/// One cleaned segment waiting to be swapped in.
#[derive(Debug)]
pub(crate) struct CleanedGroup {
    pub(crate) manifest: SwapManifest,
    pub(crate) segment: LogSegment,
}

/// Cleaned segments ready for [`PartitionLog::commit_cleaning`](crate::PartitionLog::commit_cleaning).
/// Dropped uncommitted, its files are removed.
#[derive(Debug)]
pub struct CleanedLog {
    pub(crate) dir: PathBuf,
    pub(crate) generation: u64,
    pub(crate) groups: Vec<CleanedGroup>,
    /// Where the next pass starts: everything before it is clean.
    pub next_dirty_offset: i64,
    pub stats: CleanerStats,
}

impl Drop for CleanedLog {
    fn drop(&mut self) {
        for group in std::mem::take(&mut self.groups) {
            let base = group.manifest.new_base;
            drop(group.segment);
            if let Err(e) = swap::discard_cleaned(&self.dir, base) {
                tracing::warn!(dir = %self.dir.display(), base, error = %e, "cannot remove unused cleaner output");
            }
        }
    }
}

/// Reads the batches of one segment file front to back, checking each.
struct BatchReader {
    file: BufReader<File>,
    pos: u64,
    end: u64,
}

impl BatchReader {
    fn open(path: &Path, size: u64) -> Result<Self, CleanerError> {
        Ok(Self {
            file: BufReader::with_capacity(1 << 20, File::open(path)?),
            pos: 0,
            end: size,
        })
    }

    fn next_batch(&mut self) -> Result<Option<(BatchHeader, Bytes)>, CleanerError> {
        if self.pos + BATCH_HEADER_LEN as u64 > self.end {
            return Ok(None);
        }
        let mut head = [0u8; BATCH_HEADER_LEN];
        self.file.read_exact(&mut head)?;
        let header = BatchHeader::parse(&head)?;
        let size = header.size();
        if self.pos + size as u64 > self.end {
            return Err(CleanerError::Corrupt {
                offset: header.base_offset,
                reason: "batch runs past the segment end".into(),
            });
        }
        let mut batch = BytesMut::zeroed(size);
        batch[..BATCH_HEADER_LEN].copy_from_slice(&head);
        self.file.read_exact(&mut batch[BATCH_HEADER_LEN..])?;
        validate_stored_batch(&header, &batch)?;
        self.pos += size as u64;
        Ok(Some((header, batch.freeze())))
    }
}

fn check_stop(stop: &AtomicBool) -> Result<(), CleanerError> {
    if stop.load(Ordering::Relaxed) {
        Err(CleanerError::Aborted)
    } else {
        Ok(())
    }
}

/// How a whole pass ended, for [`clean_incrementally`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassOutcome {
    /// Every group was swapped in: the log is clean up to `next_dirty_offset`, which
    /// may go into the checkpoint. False when the log changed in between and the
    /// pass stopped early (the groups swapped in so far stay; they are valid).
    pub completed: bool,
    pub next_dirty_offset: i64,
    pub stats: CleanerStats,
}

/// Phase 2 of a pass, without the log's lock: builds the offset map over the dirty
/// range (bounded by `dedupe_buffer_bytes`) and writes every cleaned segment, all
/// returned at once for one [`PartitionLog::commit_cleaning`](crate::PartitionLog::commit_cleaning).
/// Throttled by `throttler`; returns [`CleanerError::Aborted`] soon after `stop`.
pub fn clean(
    task: &CleaningTask,
    dedupe_buffer_bytes: usize,
    throttler: &mut Throttler,
    stop: &AtomicBool,
) -> Result<CleanedLog, CleanerError> {
    // Collected into the result as they come, so an error drops (and removes) them.
    let mut cleaned = CleanedLog {
        dir: task.dir.clone(),
        generation: task.generation,
        groups: Vec::new(),
        next_dirty_offset: -1,
        stats: CleanerStats::default(),
    };
    let (next_dirty_offset, stats) =
        run_pass(task, dedupe_buffer_bytes, (throttler, stop), &mut |group| {
            cleaned.groups.push(group);
            Ok(true)
        })?;
    cleaned.next_dirty_offset = next_dirty_offset;
    cleaned.stats = stats;
    Ok(cleaned)
}

/// Phase 2 and 3 interleaved, as Kafka does: each group is handed to `commit`
/// (which takes the log's lock and calls
/// [`PartitionLog::commit_cleaning`](crate::PartitionLog::commit_cleaning)) as soon
/// as it is written, so a lock is held for one group's renames at a time, at most
/// one group's output is on disk besides the log, and a crash keeps the groups
/// already swapped in. `commit` returns false when the log changed; the pass then
/// stops.
pub fn clean_incrementally(
    task: &CleaningTask,
    dedupe_buffer_bytes: usize,
    throttler: &mut Throttler,
    stop: &AtomicBool,
    commit: &mut dyn FnMut(CleanedLog) -> Result<bool, CleanerError>,
) -> Result<PassOutcome, CleanerError> {
    // A successful commit moves the log's generation on by exactly one.
    let mut generation = task.generation;
    let mut completed = true;
    let (next_dirty_offset, stats) =
        run_pass(task, dedupe_buffer_bytes, (throttler, stop), &mut |group| {
            let cleaned = CleanedLog {
                dir: task.dir.clone(),
                generation,
                groups: vec![group],
                next_dirty_offset: -1,
                stats: CleanerStats::default(),
            };
            if commit(cleaned)? {
                generation += 1;
                Ok(true)
            } else {
                completed = false;
                Ok(false)
            }
        })?;
    Ok(PassOutcome {
        completed,
        next_dirty_offset,
        stats,
    })
}

/// Where each cleaned group goes; false stops the pass.
type GroupSink<'a> = dyn FnMut(CleanedGroup) -> Result<bool, CleanerError> + 'a;

/// Builds the map, then writes the groups one by one into `sink`. Returns the next
/// first dirty offset and the pass's figures.
fn run_pass(
    task: &CleaningTask,
    dedupe_buffer_bytes: usize,
    (throttler, stop): (&mut Throttler, &AtomicBool),
    sink: &mut GroupSink<'_>,
) -> Result<(i64, CleanerStats), CleanerError> {
    let mut stats = CleanerStats::default();
    let range = task.range;
    let mut map = OffsetMap::new(dedupe_buffer_bytes);
    let mut full = false;
    'segments: for (info, path) in &task.segments {
        if info.next_offset <= range.first_dirty {
            continue;
        }
        let mut reader = BatchReader::open(path, info.size)?;
        while let Some((header, batch)) = reader.next_batch()? {
            check_stop(stop)?;
            throttler.charge(batch.len(), stop);
            stats.bytes_read += batch.len() as u64;
            if header.last_offset() < range.first_dirty
                || records::is_control(&header)
                || is_aborted(&task.aborted, &header)
            {
                continue;
            }
            for record in records::decode(&header, &batch)? {
                if record.offset < range.first_dirty || record.offset >= range.first_uncleanable {
                    continue;
                }
                if let Some(key) = &record.key {
                    if !map.put(key, record.offset) {
                        full = true;
                        break 'segments;
                    }
                }
            }
        }
    }
    if full && map.len() == 0 {
        return Err(CleanerError::OffsetMapTooSmall);
    }
    stats.keys_mapped = map.len();
    // A full map covers the dirty range only up to its last offset; the rest of the
    // range is left for the next pass.
    let end = if full {
        map.latest_offset() + 1
    } else {
        range.first_uncleanable
    };
    let to_clean: Vec<&(SegmentInfo, PathBuf)> = task
        .segments
        .iter()
        .filter(|(info, _)| info.base_offset < end)
        .collect();
    let infos: Vec<SegmentInfo> = to_clean.iter().map(|(info, _)| *info).collect();
    let ctx = FilterContext {
        map: &map,
        now_ms: task.now_ms,
        delete_retention_ms: task.delete_retention_ms,
        producer_last_offsets: &task.producer_last_offsets,
        round_end: range.first_uncleanable,
    };
    for group in plan::group_segments(&infos, task.segment_bytes) {
        let base = infos[group.start].base_offset;
        let mut out = LogSegment::create_cleaned(&task.dir, base)?;
        let written = clean_group(
            &to_clean[group.clone()],
            &ctx,
            task.index_interval_bytes,
            &mut out,
            (throttler, stop),
            &mut stats,
        );
        if let Err(e) = written {
            drop(out);
            // Best effort: a leftover is also removed when the log is next opened.
            let _ = swap::discard_cleaned(&task.dir, base);
            return Err(e);
        }
        stats.segments_cleaned += group.len();
        let cleaned = CleanedGroup {
            manifest: SwapManifest {
                new_base: base,
                old_bases: infos[group].iter().map(|i| i.base_offset).collect(),
            },
            segment: out,
        };
        if !sink(cleaned)? {
            break;
        }
    }
    Ok((end, stats))
}

/// True for a data batch of a transaction that was aborted. Such records stay in
/// the log (read_committed consumers skip them by the aborted index, which moves
/// with them) but never count as the latest value of their key. Kafka removes
/// them, and their markers, after `delete.retention.ms`; Kavka keeps both.
fn is_aborted(aborted: &[crate::txn_index::AbortedTxn], header: &BatchHeader) -> bool {
    header.is_transactional()
        && aborted.iter().any(|a| {
            a.producer_id == header.producer_id
                && a.first_offset <= header.base_offset
                && header.base_offset < a.last_offset
        })
}

/// Writes the kept batches of one group of segments into `out`, then seals it.
fn clean_group(
    segments: &[&(SegmentInfo, PathBuf)],
    ctx: &FilterContext<'_>,
    interval: u32,
    out: &mut LogSegment,
    (throttler, stop): (&mut Throttler, &AtomicBool),
    stats: &mut CleanerStats,
) -> Result<(), CleanerError> {
    for (info, path) in segments {
        // The aborts recorded with these segments move into the cleaned one.
        let txn_path = path.with_extension(crate::segment::TXN_INDEX_SUFFIX);
        for txn in crate::txn_index::TxnIndex::load(txn_path)?.entries() {
            out.append_aborted(*txn)?;
        }
        let mut reader = BatchReader::open(path, info.size)?;
        while let Some((header, batch)) = reader.next_batch()? {
            check_stop(stop)?;
            throttler.charge(batch.len(), stop);
            stats.bytes_read += batch.len() as u64;
            let decoded = if records::is_control(&header) {
                Vec::new()
            } else {
                records::decode(&header, &batch)?
            };
            stats.records_read += decoded.len() as u64;
            let rewritten: Option<Vec<u8>> = match plan::filter_batch(&header, &decoded, ctx) {
                BatchOutcome::Original => {
                    stats.records_retained += decoded.len() as u64;
                    None
                }
                BatchOutcome::Rewrite {
                    keep,
                    delete_horizon,
                } => {
                    stats.records_retained += keep.len() as u64;
                    let kept: Vec<&records::CleanRecord> =
                        keep.iter().map(|&i| &decoded[i]).collect();
                    Some(records::encode(&header, &kept, delete_horizon)?)
                }
                BatchOutcome::Empty => Some(records::encode_empty(&header)),
                BatchOutcome::Drop => continue,
            };
            let (bytes, new_header) = match &rewritten {
                Some(b) => (&b[..], BatchHeader::parse(b)?),
                None => (&batch[..], header),
            };
            throttler.charge(bytes.len(), stop);
            stats.bytes_written += bytes.len() as u64;
            out.append(bytes, &new_header, interval, ctx.now_ms)?;
        }
    }
    out.seal()?;
    Ok(())
}
