//! A partition log: the segments of one partition directory, tied to its producer
//! state, leader epoch cache and checkpoints.
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use crate::batch::{self, BatchHeader};
use crate::checkpoint;
use crate::cleaner::plan::{self, RangeSettings, SegmentInfo};
use crate::cleaner::{self, CleanableRange, CleanedLog, CleaningTask};
use crate::durable::{self, StateFileError};
use crate::epoch_cache::LeaderEpochCache;
use crate::log_dir::{LogDirShutdown, CLEAN_SHUTDOWN_FILE};
use crate::producer_state::{
    check_marker, check_sequence, check_txn_data, ProducerEntry, ProducerInfo, ProducerSnapshot,
    ProducerStateManager, SequenceCheck,
};
use crate::recovery::{self, DirListing};
use crate::segment::{LogSegment, MAX_RELATIVE_OFFSET, MAX_SEGMENT_BYTES};
use crate::txn_index::{self, AbortedTxn};
use crate::txn_marker::{encode_marker_batch, parse_marker, TxnMarker};
use crate::{LogConfig, StorageError, TimestampType};

/// The persisted log start offset (moved by retention and DeleteRecords).
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset";
/// Offset below which all data was fsynced; crash recovery scans only after it.
pub const RECOVERY_POINT_FILE: &str = "recovery-point";
/// Leader epoch → start offset, in Kafka's checkpoint text format.
pub const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";
/// Idempotent-producer state as JSON, with the offset it covers.
pub const PRODUCER_STATE_FILE: &str = "producer-state.json";

/// One partition's log: a directory of segments named by base offset.
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    /// Ascending by base offset, never empty; the last one is the active segment.
    segments: Vec<LogSegment>,
    log_start_offset: i64,
    epochs: LeaderEpochCache,
    /// The newest entry of `epochs` is not in the checkpoint yet: an epoch taken
    /// on becoming leader, written before its first record. An epoch that holds
    /// no record is dropped at every open anyway, so a crash before that write
    /// loses nothing, and a restart writes no checkpoint for its new epochs.
    epochs_unwritten: bool,
    producers: ProducerStateManager,
    /// Offset of the producer snapshot on disk, if one was read or written: a
    /// clean stop writes a new one only when the log moved past it.
    snapshot_offset: Option<i64>,
    unflushed_records: u64,
    last_flush_ms: Option<i64>,
    /// Bumped whenever closed segments are removed or replaced (retention,
    /// DeleteRecords, truncation, a cleaner swap), so a cleaning pass prepared
    /// before can tell its snapshot is stale.
    generation: u64,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record appended (or of the original, for a duplicate).
    pub first_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// The timestamp the broker stamped with LogAppendTime, else -1.
    pub log_append_time: i64,
    /// Log start offset after the append.
    pub log_start_offset: i64,
    /// Number of records appended (0 for a duplicate).
    pub record_count: u64,
    /// True when an idempotent producer's batch was a retry of one already stored:
    /// nothing was written and the offsets are those of the original.
    pub duplicate: bool,
}

/// Whole batches read from the log, ready to go into a Fetch response.
#[derive(Debug, Clone)]
pub struct FetchData {
    /// Whole batches, starting with the one that holds the requested offset.
    pub records: Bytes,
    pub log_start_offset: i64,
}

impl PartitionLog {
    /// Opens (creating if missing) a partition directory used on its own. Recovers
    /// after a crash: scans segments written since the last clean shutdown, keeps
    /// every complete valid batch, truncates a torn tail, rebuilds indexes, reloads
    /// producer state. Only the partition's own marker (written by [`Self::close`])
    /// counts as a clean shutdown.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Self, StorageError> {
        Self::open_in_log_dir(dir, config, LogDirShutdown::Unclean)
    }

    /// Opens a partition of a log directory whose start found it `shutdown`
    /// (`log_dir::take_clean_shutdown_marker`). After a clean stop every file is
    /// trusted: nothing is scanned past the index files and nothing is fsynced.
    /// Otherwise, as [`Self::open`], the segments past the recovery point are
    /// scanned. A marker in the partition directory itself (written by `close`,
    /// and by Kavka before it kept one per log directory) also counts as clean, and
    /// is removed durably.
    pub fn open_in_log_dir(
        dir: &Path,
        config: LogConfig,
        shutdown: LogDirShutdown,
    ) -> Result<Self, StorageError> {
        let mut listing = DirListing::read(dir)?;
        if listing.has_cleaner_leftovers() {
            // A cleaner swap interrupted by a crash is finished (or its output
            // dropped) before the segments are listed, so they are one consistent set.
            cleaner::swap::recover(dir)?;
            listing = DirListing::read(dir)?;
        }
        let own_marker = listing.has(CLEAN_SHUTDOWN_FILE);
        let clean = own_marker || shutdown == LogDirShutdown::Clean;
        let recovery_point = if clean {
            i64::MAX
        } else {
            read_offset_if(&listing, dir, RECOVERY_POINT_FILE)?.unwrap_or(i64::MIN)
        };
        let epoch_path = dir.join(LEADER_EPOCH_FILE);
        let stored_epochs = match listing.has(LEADER_EPOCH_FILE) {
            true => match checkpoint::read_optional(&epoch_path)? {
                Some(text) => LeaderEpochCache::decode(&text)
                    .map_err(|reason| StateFileError::corrupt(&epoch_path, reason))?,
                None => LeaderEpochCache::default(),
            },
            false => LeaderEpochCache::default(),
        };
        let mut epochs = stored_epochs.clone();
        let mut segments = recovery::load_segments(
            dir,
            &listing,
            clean,
            recovery_point,
            config.index_interval_bytes,
            &mut epochs,
        )?;
        let stored_start = read_offset_if(&listing, dir, LOG_START_OFFSET_FILE)?;
        if segments.is_empty() {
            segments.push(LogSegment::create(dir, stored_start.unwrap_or(0).max(0))?);
        }
        let first_base = segments.first().map_or(0, LogSegment::base_offset);
        let log_end = segments.last().map_or(0, LogSegment::next_offset);
        let log_start_offset = stored_start
            .unwrap_or(first_base)
            .max(first_base)
            .min(log_end);

        epochs.truncate_from_end(log_end);
        let mut log = Self {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset,
            epochs,
            epochs_unwritten: false,
            producers: ProducerStateManager::default(),
            snapshot_offset: None,
            unflushed_records: 0,
            last_flush_ms: None,
            generation: 0,
        };
        // Entries the recovery found in batches are written; entries only dropped
        // (an epoch led without writes, starting at the log end) are not: every
        // open drops them again, and the next epoch change rewrites the file. A
        // restart would otherwise fsync every partition's checkpoint twice.
        if !stored_epochs.entries().starts_with(log.epochs.entries()) {
            log.write_epochs()?;
        }
        log.load_producer_state(listing.has(PRODUCER_STATE_FILE))?;
        if own_marker {
            // Durably: a marker that came back after a crash would make the next
            // open trust files the crash may have torn.
            durable::remove_durably(&dir.join(CLEAN_SHUTDOWN_FILE))?;
        }
        Ok(log)
    }

    /// Loads the producer snapshot (when the directory may hold one) and replays
    /// the batch headers written after it.
    fn load_producer_state(&mut self, snapshot_may_exist: bool) -> Result<(), StorageError> {
        let log_end = self.log_end_offset();
        let first_base = self.segments.first().map_or(0, LogSegment::base_offset);
        let snapshot_path = self.dir.join(PRODUCER_STATE_FILE);
        let stored = match snapshot_may_exist {
            true => checkpoint::read_optional(&snapshot_path)?,
            false => None,
        };
        let snapshot = stored
            .and_then(
                |text| match serde_json::from_str::<ProducerSnapshot>(&text) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        // Like Kafka with a corrupt producer snapshot: rebuild the state
                        // from the batches in the log instead of trusting the file.
                        tracing::warn!(file = %snapshot_path.display(), error = %e,
                        "corrupt producer state snapshot; rebuilding it from the log");
                        None
                    }
                },
            )
            // A snapshot past the log end describes batches a crash took away.
            .filter(|s| s.offset <= log_end && s.offset >= first_base);
        let replay_from = match snapshot {
            Some(s) => {
                let offset = s.offset;
                self.snapshot_offset = Some(offset);
                self.producers = ProducerStateManager::from_snapshot(s);
                offset
            }
            None => first_base,
        };
        if replay_from >= log_end {
            return Ok(());
        }
        for i in 0..self.segments.len() {
            if self.segments[i].next_offset() > replay_from {
                self.replay_segment(i, replay_from)?;
            }
        }
        Ok(())
    }

    /// Replays one segment's batches from `from` into the producer state, re-adding
    /// any abort its transaction index lacks (a crash can lose the last entries).
    fn replay_segment(&mut self, index: usize, from: i64) -> Result<(), StorageError> {
        let segment = &mut self.segments[index];
        let mut headers = Vec::new();
        segment.for_each_header_from(from, &mut |pos, h| {
            if h.producer_id >= 0 {
                headers.push((pos, *h));
            }
        })?;
        for (pos, header) in headers {
            let marker = if header.is_control() {
                parse_marker(&header, &segment.read_batch(pos, &header)?)
            } else {
                None
            };
            apply_producer_batch(&mut self.producers, segment, &header, marker)?;
        }
        Ok(())
    }

    /// Validates every batch in `records` (magic 2, CRC-32C, lengths, record counts,
    /// size limit), checks idempotent producer sequences, assigns offsets by rewriting
    /// base offsets, stamps `leader_epoch` and (LogAppendTime) the timestamp, writes.
    /// On any error nothing is written.
    pub fn append(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        self.append_from(records, leader_epoch, now_ms, false)
    }

    /// Writes a transaction marker as leader (WriteTxnMarkers): COMMIT or ABORT
    /// ends the producer's open transaction; an ABORT is recorded in the active
    /// segment's aborted transaction index. A marker from an older producer epoch
    /// is INVALID_PRODUCER_EPOCH, from an older coordinator epoch
    /// TRANSACTION_COORDINATOR_FENCED; nothing is written then.
    pub fn append_marker(
        &mut self,
        marker: &TxnMarker,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        check_marker(
            self.producers.get(marker.producer_id),
            marker.producer_id,
            marker.producer_epoch,
            marker.coordinator_epoch,
        )?;
        self.append_from(
            encode_marker_batch(marker, now_ms),
            leader_epoch,
            now_ms,
            true,
        )
    }

    /// `append`; control batches only when the coordinator writes them.
    fn append_from(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
        from_coordinator: bool,
    ) -> Result<AppendInfo, StorageError> {
        let mut batches = batch::split_and_validate(&records, self.config.max_message_bytes)?;

        // Assign offsets and check producers before touching the disk.
        let mut staged: HashMap<i64, ProducerEntry> = HashMap::new();
        let mut next_offset = self.log_end_offset();
        for (_, header) in batches.iter_mut() {
            header.base_offset = next_offset;
            next_offset = header.last_offset() + 1;
            if header.is_control() {
                if !from_coordinator {
                    // As Kafka: only the transaction coordinator writes markers.
                    return Err(StorageError::InvalidRecord(
                        "clients cannot produce control batches".into(),
                    ));
                }
                continue;
            }
            if header.producer_id >= 0 {
                let known = staged.get(&header.producer_id);
                check_txn_data(
                    known.or_else(|| self.producers.get(header.producer_id)),
                    header,
                )?;
            }
            if !header.is_idempotent() {
                continue;
            }
            let pid = header.producer_id;
            let known = staged.get(&pid).or_else(|| self.producers.get(pid));
            let verdict = check_sequence(
                known,
                pid,
                header.producer_epoch,
                header.base_sequence,
                header.last_sequence(),
            )?;
            if let SequenceCheck::Duplicate(original) = verdict {
                return Ok(AppendInfo {
                    first_offset: original.first_offset,
                    last_offset: original.last_offset,
                    log_append_time: -1,
                    log_start_offset: self.log_start_offset,
                    record_count: 0,
                    duplicate: true,
                });
            }
            let mut entry = known
                .cloned()
                .unwrap_or_else(|| ProducerEntry::new(pid, header.producer_epoch));
            entry.apply_data(header);
            staged.insert(pid, entry);
        }

        let log_append_time = match self.config.timestamp_type {
            TimestampType::LogAppendTime => now_ms,
            TimestampType::CreateTime => -1,
        };
        let mut buf = BytesMut::from(&records[..]);
        for (pos, header) in batches.iter_mut() {
            let bytes = &mut buf[*pos..*pos + header.size()];
            batch::assign_offset_and_epoch(bytes, header.base_offset, leader_epoch);
            header.partition_leader_epoch = leader_epoch;
            if log_append_time >= 0 {
                header.crc = batch::stamp_log_append_time(bytes, now_ms);
                header.attributes |= 0x08;
                header.base_timestamp = now_ms;
                header.max_timestamp = now_ms;
            }
        }

        let first_offset = self.log_end_offset();
        if leader_epoch >= 0 && leader_epoch > self.epochs.latest_epoch() {
            // Only a persisted epoch counts: if the checkpoint cannot be written the
            // append fails and the next one tries again.
            let mut epochs = self.epochs.clone();
            epochs.assign(leader_epoch, first_offset);
            write_epoch_file(&self.dir, &epochs)?;
            self.epochs = epochs;
            self.epochs_unwritten = false;
        } else if self.epochs_unwritten {
            // The epoch taken on becoming leader gets its first record: on disk
            // before the record, or the record's epoch could be lost in a crash.
            self.write_epochs()?;
        }
        let mut record_count = 0u64;
        for (pos, header) in &batches {
            if self.should_roll(header, now_ms)? {
                self.roll()?;
            }
            let interval = self.config.index_interval_bytes;
            let bytes = &buf[*pos..*pos + header.size()];
            self.active_mut()?.append(bytes, header, interval, now_ms)?;
            // Committed per batch so a roll's snapshot mid-append covers what precedes it.
            let marker = parse_marker(header, bytes);
            self.apply_to_active(header, marker)?;
            record_count += header.record_count as u64;
        }

        self.unflushed_records += record_count;
        self.last_flush_ms.get_or_insert(now_ms);
        if self
            .config
            .flush_messages
            .is_some_and(|n| self.unflushed_records >= n)
        {
            self.flush_now(now_ms)?;
        }
        Ok(AppendInfo {
            first_offset,
            last_offset: self.log_end_offset() - 1,
            log_append_time,
            log_start_offset: self.log_start_offset,
            record_count,
            duplicate: false,
        })
    }

    /// Appends batches fetched from the partition leader (the follower's path). The
    /// batches are validated as on the leader path (magic, lengths, CRC-32C; see
    /// `batch::split_and_validate_replicated` for what is looser) but keep the
    /// leader's offsets and partition leader epochs. Offsets must increase: a batch
    /// whose base offset is below the log end, or below the end of the batch before
    /// it, refuses the whole set (INVALID_RECORD); a base offset above the log end is
    /// a gap the leader's cleaner left and is kept. Each new leader epoch gets an
    /// epoch-cache entry at its first batch; producer state follows the batches
    /// without sequence checks (the leader made them), so an idempotent producer
    /// continues after this replica becomes leader. A disk failure part-way keeps the
    /// whole batches written before it, as the leader path does.
    pub fn append_as_follower(
        &mut self,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        let batches = batch::split_and_validate_replicated(&records)?;
        let log_end = self.log_end_offset();
        let mut next = log_end;
        let mut epochs = self.epochs.clone();
        for (_, header) in &batches {
            if header.base_offset < next {
                return Err(StorageError::InvalidRecord(format!(
                    "replicated batch at offset {} is below the next offset {next}",
                    header.base_offset
                )));
            }
            next = header.last_offset() + 1;
            epochs.assign(header.partition_leader_epoch, header.base_offset);
        }
        let first_offset = batches.first().map_or(log_end, |(_, h)| h.base_offset);
        if epochs != self.epochs || self.epochs_unwritten {
            // Persisted before the data, as on the leader path: an entry past the log
            // end after a failure is dropped below, and at the next open.
            write_epoch_file(&self.dir, &epochs)?;
            self.epochs = epochs;
            self.epochs_unwritten = false;
        }
        let mut record_count = 0u64;
        let mut outcome = Ok(());
        for (pos, header) in &batches {
            outcome =
                self.append_replicated_batch(&records[*pos..*pos + header.size()], header, now_ms);
            if outcome.is_err() {
                break;
            }
            record_count += header.record_count.max(0) as u64;
        }
        if let Err(e) = outcome {
            // Epochs of batches that did not make it must not claim offsets.
            if self.epochs.truncate_from_end(self.log_end_offset()) {
                let _ = self.write_epochs();
            }
            return Err(e);
        }
        self.unflushed_records += record_count;
        self.last_flush_ms.get_or_insert(now_ms);
        if self
            .config
            .flush_messages
            .is_some_and(|n| self.unflushed_records >= n)
        {
            self.flush_now(now_ms)?;
        }
        Ok(AppendInfo {
            first_offset,
            last_offset: self.log_end_offset() - 1,
            log_append_time: -1,
            log_start_offset: self.log_start_offset,
            record_count,
            duplicate: false,
        })
    }

    fn append_replicated_batch(
        &mut self,
        bytes: &[u8],
        header: &BatchHeader,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        let active = self.active_mut()?;
        // A gap wider than a segment's relative offsets needs a segment of its own.
        let overflows = header.last_offset() - active.base_offset() > MAX_RELATIVE_OFFSET;
        if self.should_roll(header, now_ms)? || overflows {
            self.roll_at(header.base_offset)?;
        }
        let interval = self.config.index_interval_bytes;
        self.active_mut()?.append(bytes, header, interval, now_ms)?;
        // The leader's transactions, markers and aborts hold here too, so this
        // replica serves the same LSO and aborted transactions once it leads.
        self.apply_to_active(header, parse_marker(header, bytes))
    }

    /// Applies a batch just written to the active segment to the producer state,
    /// recording an abort in that segment's transaction index.
    fn apply_to_active(
        &mut self,
        header: &BatchHeader,
        marker: Option<(bool, i32)>,
    ) -> Result<(), StorageError> {
        let Some(active) = self.segments.last_mut() else {
            return Ok(());
        };
        apply_producer_batch(&mut self.producers, active, header, marker)
    }

    /// The last stable offset given the high watermark: read_committed consumers
    /// read only below it.
    pub fn last_stable_offset(&mut self, high_watermark: i64) -> i64 {
        // A transaction whose start retention or DeleteRecords removed holds the
        // LSO at the log start, as in Kafka, not below what can be read.
        let floor = self.log_start_offset.min(high_watermark);
        self.producers.last_stable_offset(high_watermark).max(floor)
    }

    /// The aborted transactions overlapping `[from, upper)`, in marker order, for
    /// a read_committed fetch of that range.
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        let mut out = Vec::new();
        let first = self.segments.partition_point(|s| s.next_offset() <= from);
        for segment in &self.segments[first..] {
            if txn_index::collect_overlapping(segment.aborted_txns(), from, upper, &mut out) {
                break;
            }
        }
        out
    }

    /// Whether `producer_id` has a transaction open on this partition (a
    /// transactional batch with no marker after it yet).
    pub fn has_ongoing_transaction(&self, producer_id: i64) -> bool {
        self.producers
            .get(producer_id)
            .is_some_and(|e| e.current_txn_first_offset.is_some())
    }

    /// The producers this partition knows (DescribeProducers).
    pub fn producers(&self) -> Vec<ProducerInfo> {
        self.producers.producer_infos()
    }

    /// Records that leader epoch `epoch` starts at the log end (Kafka's
    /// `maybeAssignEpochStartOffset`, on becoming leader), so a follower asking for
    /// the end of an older epoch learns it ended here even before the first append.
    /// Older or equal epochs change nothing. The checkpoint is written with the
    /// epoch's first record (see `epochs_unwritten`): a restart gives every
    /// partition a new epoch, and writing each durably was most of a start's work.
    pub fn assign_leader_epoch(&mut self, epoch: i32) {
        // `assign` ignores negative, older and equal epochs itself.
        if self.epochs.assign(epoch, self.log_end_offset()) {
            self.epochs_unwritten = true;
        }
    }

    /// The leader-epoch cache: (epoch, start offset) pairs, ascending.
    pub fn leader_epochs(&self) -> &[(i32, i64)] {
        self.epochs.entries()
    }

    /// Empties the log and starts it at `offset` (Kafka's `truncateFullyAndStartAt`):
    /// a follower whose log ends below the leader's log start can fetch nothing it
    /// has, so it drops everything, epochs and producer state included.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), StorageError> {
        let start = offset.max(0);
        self.generation += 1;
        for segment in self.segments.drain(..) {
            segment.delete()?;
        }
        self.segments.push(LogSegment::create(&self.dir, start)?);
        self.log_start_offset = start;
        self.write_log_start()?;
        if self.epochs.clear() {
            self.write_epochs()?;
        }
        self.producers.clear();
        self.write_producer_snapshot()?;
        self.unflushed_records = 0;
        checkpoint::write_offset(&self.dir.join(RECOVERY_POINT_FILE), start)?;
        Ok(())
    }

    /// Whole batches from the one holding `offset`, up to `max_bytes` but at least one
    /// batch, never including a batch whose base offset is `>= max_offset` (the HW).
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
    ) -> Result<FetchData, StorageError> {
        let log_end = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        let empty = FetchData {
            records: Bytes::new(),
            log_start_offset: self.log_start_offset,
        };
        if offset == log_end || offset >= max_offset {
            return Ok(empty);
        }
        let first = self
            .segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        // Past the end of one segment (a gap), the next segment holds the next batch.
        for segment in &self.segments[first..] {
            if let Some((position, header)) = segment.find_batch(offset)? {
                if header.base_offset >= max_offset {
                    return Ok(empty);
                }
                return Ok(FetchData {
                    records: segment.read_batches(position, max_bytes, max_offset)?,
                    log_start_offset: self.log_start_offset,
                });
            }
        }
        Ok(empty)
    }

    /// The first offset that is still readable.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next appended record gets (LEO).
    pub fn log_end_offset(&self) -> i64 {
        self.segments.last().map_or(0, LogSegment::next_offset)
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(LogSegment::size).sum()
    }

    /// Number of segments, the active one included.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// First offset whose batch max timestamp >= `timestamp`, with that record's
    /// timestamp; None when no record is that new.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, StorageError> {
        for segment in &self.segments {
            if let Some((position, header)) = segment.find_by_timestamp(timestamp)? {
                let found = self.locate_record(segment, position, &header, timestamp)?;
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Offset and timestamp of the record with the largest timestamp (ListOffsets -3).
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, StorageError> {
        let mut newest: Option<&LogSegment> = None;
        for segment in self.segments.iter().filter(|s| !s.is_empty()) {
            if newest.is_none_or(|n| segment.max_timestamp() > n.max_timestamp()) {
                newest = Some(segment);
            }
        }
        let Some(segment) = newest else {
            return Ok(None);
        };
        let Some((position, header)) = segment.find_batch(segment.offset_of_max_timestamp())?
        else {
            return Ok(None);
        };
        let found = self.locate_record(segment, position, &header, header.max_timestamp)?;
        Ok(Some(found))
    }

    /// The first record of a batch with timestamp `>= target`: exact for uncompressed
    /// CreateTime batches, else the batch's base offset and max timestamp, since the
    /// log never decompresses.
    fn locate_record(
        &self,
        segment: &LogSegment,
        position: u64,
        header: &BatchHeader,
        target: i64,
    ) -> Result<(i64, i64), StorageError> {
        let mut found = None;
        if !header.is_compressed() && !header.is_log_append_time() {
            let bytes = segment.read_batch(position, header)?;
            found = batch::first_record_at_or_after(header, &bytes, target);
        }
        let (offset, ts) = found.unwrap_or((header.base_offset, header.max_timestamp));
        Ok((offset.max(self.log_start_offset), ts))
    }

    /// (epoch, end offset) for OffsetForLeaderEpoch: the largest epoch <= `epoch`
    /// and the start offset of the next larger epoch (or the log end).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// The newest leader epoch stamped into the log, -1 when empty.
    pub fn latest_epoch(&self) -> i32 {
        self.epochs.latest_epoch()
    }

    /// DeleteRecords: moves the log start offset forward (persisted), deleting
    /// segments wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, StorageError> {
        let target = offset.min(self.log_end_offset());
        if target <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.log_start_offset = target;
        self.generation += 1;
        while self.segments.len() > 1 && self.segments[0].next_offset() <= target {
            self.segments.remove(0).delete()?;
        }
        self.write_log_start()?;
        Ok(self.log_start_offset)
    }

    /// Retention by time and size over closed segments; never the active one.
    /// Only for `cleanup.policy` containing `delete`: a `compact`-only log keeps
    /// every segment and is trimmed by the cleaner alone. Returns how many segments
    /// were deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize, StorageError> {
        if !self.config.cleanup_policy.delete {
            return Ok(0);
        }
        let mut total = self.size_bytes();
        let mut deleted = 0;
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            // A segment without timestamps cannot be judged by age; an empty closed
            // one (the cleaner removed every record) holds nothing to keep.
            let expired = self.config.retention_ms.is_some_and(|ms| {
                oldest.is_empty()
                    || (oldest.max_timestamp() >= 0
                        && oldest.max_timestamp() < now_ms.saturating_sub(ms))
            });
            let oversize = self
                .config
                .retention_bytes
                .is_some_and(|max| total - oldest.size() >= max);
            if !expired && !oversize {
                break;
            }
            let segment = self.segments.remove(0);
            total -= segment.size();
            segment.delete()?;
            deleted += 1;
            let next_base = self.segments[0].base_offset();
            self.log_start_offset = self.log_start_offset.max(next_base);
        }
        if deleted > 0 {
            self.generation += 1;
            tracing::debug!(dir = %self.dir.display(), deleted, "retention deleted segments");
            self.write_log_start()?;
        }
        Ok(deleted)
    }

    /// What the cleaner could clean now and how dirty it is, given the first dirty
    /// offset from the cleaner checkpoint. None unless `cleanup.policy` has
    /// `compact` and the log needs cleaning (`min.cleanable.dirty.ratio` reached, or
    /// a record waited longer than `max.compaction.lag.ms`).
    pub fn cleaning_candidate(
        &self,
        checkpoint: Option<i64>,
        high_watermark: i64,
        now_ms: i64,
    ) -> Result<Option<CleanableRange>, StorageError> {
        if !self.config.cleanup_policy.compact {
            return Ok(None);
        }
        // The first batch's timestamp costs a read per segment: only for max lag.
        let forced_by_lag = self.config.max_compaction_lag_ms != i64::MAX;
        let infos = self
            .segments
            .iter()
            .map(|s| segment_info(s, forced_by_lag))
            .collect::<Result<Vec<_>, _>>()?;
        let range = plan::cleanable_range(
            &infos,
            self.log_start_offset,
            high_watermark,
            checkpoint,
            RangeSettings {
                now_ms,
                min_compaction_lag_ms: self.config.min_compaction_lag_ms,
                max_compaction_lag_ms: self.config.max_compaction_lag_ms,
            },
        );
        Ok(plan::needs_cleaning(&range, self.config.min_cleanable_dirty_ratio).then_some(range))
    }

    /// Snapshots what a cleaning pass needs (phase 1 of 3, under the lock; cheap).
    /// None when the log does not need cleaning. Run the task with
    /// [`cleaner::clean`] without the lock, then hand the result to
    /// [`PartitionLog::commit_cleaning`].
    pub fn prepare_cleaning(
        &self,
        checkpoint: Option<i64>,
        high_watermark: i64,
        now_ms: i64,
    ) -> Result<Option<CleaningTask>, StorageError> {
        let Some(range) = self.cleaning_candidate(checkpoint, high_watermark, now_ms)? else {
            return Ok(None);
        };
        let closed = &self.segments[..self.segments.len().saturating_sub(1)];
        let segments = closed
            .iter()
            .filter(|s| s.base_offset() < range.first_uncleanable)
            .map(|s| Ok((segment_info(s, false)?, s.log_path().to_path_buf())))
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(Some(CleaningTask {
            dir: self.dir.clone(),
            generation: self.generation,
            segments,
            range,
            producer_last_offsets: self.producers.last_offsets(),
            aborted: self
                .segments
                .iter()
                .flat_map(|s| s.aborted_txns().iter().copied())
                .collect(),
            segment_bytes: self.config.segment_bytes.min(MAX_SEGMENT_BYTES),
            index_interval_bytes: self.config.index_interval_bytes,
            delete_retention_ms: self.config.delete_retention_ms,
            now_ms,
        }))
    }

    /// Swaps cleaned segments in (phase 3 of 3, under the lock: renames only).
    /// Returns false, discarding the work, when the segments it replaces changed
    /// since [`PartitionLog::prepare_cleaning`].
    pub fn commit_cleaning(&mut self, cleaned: CleanedLog) -> Result<bool, StorageError> {
        self.commit_cleaning_steps(cleaned, None)
    }

    /// `commit_cleaning`, stopping after `step_limit` file-system steps of the swap
    /// to leave the state a crash would (tests only).
    pub(crate) fn commit_cleaning_steps(
        &mut self,
        mut cleaned: CleanedLog,
        step_limit: Option<usize>,
    ) -> Result<bool, StorageError> {
        if cleaned.generation != self.generation || cleaned.dir != self.dir {
            tracing::info!(dir = %self.dir.display(), "log changed during cleaning; discarding the cleaned segments");
            return Ok(false);
        }
        // Check every group before touching anything, so a mismatch swaps nothing.
        for group in &cleaned.groups {
            let Some(first) = self.segment_position(group.manifest.new_base) else {
                return Ok(false);
            };
            let bases = &group.manifest.old_bases;
            let current: Vec<i64> = self
                .segments
                .iter()
                .skip(first)
                .take(bases.len())
                .map(LogSegment::base_offset)
                .collect();
            // The active segment is never replaced.
            if &current != bases || first + bases.len() >= self.segments.len() {
                return Ok(false);
            }
        }
        let mut budget = step_limit;
        for group in std::mem::take(&mut cleaned.groups) {
            let cleaner::CleanedGroup { manifest, segment } = group;
            drop(segment);
            let mut steps = cleaner::swap::steps(&self.dir, &manifest, true);
            if let Some(left) = budget.as_mut() {
                steps.truncate(*left);
                *left -= steps.len();
            }
            if let Err(e) = cleaner::swap::execute(&self.dir, &steps) {
                self.finish_failed_swap(&manifest)?;
                return Err(e.into());
            }
            if step_limit.is_some() && budget == Some(0) {
                // A simulated crash: the in-memory log is now stale and must be dropped.
                return Ok(false);
            }
            let first = self.segment_position(manifest.new_base).ok_or_else(|| {
                StorageError::Io(std::io::Error::other("swapped segment vanished"))
            })?;
            let replaced: Vec<LogSegment> = self
                .segments
                .splice(
                    first..first + manifest.old_bases.len(),
                    [LogSegment::load(&self.dir, manifest.new_base, true)?],
                )
                .collect();
            // Their files are gone already; dropping closes the handles.
            drop(replaced);
        }
        self.generation += 1;
        Ok(true)
    }

    /// After a swap step failed: before the manifest the old segments are intact
    /// and the cleaned files are dropped; after it the swap must finish, so its
    /// (idempotent) remaining steps are tried once more and the segment reloaded.
    /// Either way the generation moves, so no pass prepared before can commit.
    fn finish_failed_swap(
        &mut self,
        manifest: &cleaner::swap::SwapManifest,
    ) -> Result<(), StorageError> {
        self.generation += 1;
        if !manifest.path(&self.dir).exists() {
            cleaner::swap::discard_cleaned(&self.dir, manifest.new_base)?;
            return Ok(());
        }
        cleaner::swap::execute(&self.dir, &cleaner::swap::steps(&self.dir, manifest, false))?;
        let position = self
            .segment_position(manifest.new_base)
            .filter(|first| first + manifest.old_bases.len() <= self.segments.len());
        if let Some(first) = position {
            let reloaded = LogSegment::load(&self.dir, manifest.new_base, true)?;
            self.segments
                .splice(first..first + manifest.old_bases.len(), [reloaded]);
        }
        Ok(())
    }

    fn segment_position(&self, base: i64) -> Option<usize> {
        self.segments.iter().position(|s| s.base_offset() == base)
    }

    /// Rolls the active segment if `segment.ms` has passed (called by a timer).
    pub fn maybe_roll(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let segment_ms = self.config.segment_ms;
        let active = self.active_mut()?;
        if !active.is_empty() && now_ms - active.first_append_ms(now_ms) >= segment_ms {
            self.roll()?;
        }
        Ok(())
    }

    /// fsync per `flush.messages` / `flush.ms`, or always when `force`.
    pub fn flush(&mut self, force: bool, now_ms: i64) -> Result<(), StorageError> {
        let due = self.unflushed_records > 0
            && self
                .config
                .flush_ms
                .is_some_and(|ms| self.last_flush_ms.is_none_or(|last| now_ms - last >= ms));
        if force || due {
            self.flush_now(now_ms)?;
        }
        Ok(())
    }

    /// When [`Self::maybe_roll`] or [`Self::flush`] (not forced) may next have
    /// something to do, if ever while nothing is appended: the time-based roll
    /// of a non-empty active segment, the `flush.ms` of unflushed records. A
    /// timer calls them then instead of polling every log.
    pub fn next_upkeep_ms(&self, now_ms: i64) -> Option<i64> {
        let roll = self
            .segments
            .last()
            .filter(|active| !active.is_empty())
            .map(|active| {
                active
                    .first_append_known()
                    .unwrap_or(now_ms)
                    .saturating_add(self.config.segment_ms)
            });
        let flush = self
            .config
            .flush_ms
            .filter(|_| self.unflushed_records > 0)
            .map(|ms| {
                self.last_flush_ms
                    .map_or(now_ms, |last| last.saturating_add(ms))
            });
        match (roll, flush) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True while some segment holds an open file ([`Self::close_idle_files`]
    /// has something to look at).
    pub fn has_open_files(&self) -> bool {
        self.segments.iter().any(LogSegment::has_open_file)
    }

    /// The settings in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Closes the segment files nobody read or wrote since the previous call, so
    /// an idle partition holds no descriptor; returns how many were closed.
    pub fn close_idle_files(&mut self) -> usize {
        self.segments
            .iter_mut()
            .map(LogSegment::close_if_idle)
            .filter(|closed| *closed)
            .count()
    }

    /// Replaces the config (topic config changed at runtime).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// Flushes everything and records a clean shutdown in the partition directory
    /// so the next [`Self::open`] skips recovery (a log used on its own; a broker
    /// closes its logs with [`Self::close_in_log_dir`]).
    pub fn close(mut self) -> Result<(), StorageError> {
        let now = self.last_flush_ms.unwrap_or(0);
        self.flush_now(now)?;
        self.write_producer_snapshot()?;
        checkpoint::write_atomic(&self.dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
        Ok(())
    }

    /// Closes the log as one of all the logs of a log directory stopping cleanly:
    /// writes what is pending (index entries; a producer snapshot when the log
    /// moved past the last one) without an fsync of its own and writes no marker.
    /// The caller then makes the file system durable once and marks the whole
    /// directory clean (`log_dir::mark_clean_shutdown`); until it has, a crash
    /// leaves an unclean directory, recovered as usual. A partition nothing was
    /// written to since it was opened or flushed costs no write at all.
    pub fn close_in_log_dir(mut self) -> Result<(), StorageError> {
        self.active_mut()?.write_pending()?;
        let log_end = self.log_end_offset();
        if self.snapshot_offset != Some(log_end) {
            let json = self.snapshot_json()?;
            // Its loss in a crash before the sync is harmless: a damaged snapshot
            // is rebuilt from the log.
            durable::write_replace_unsynced(&self.dir.join(PRODUCER_STATE_FILE), &json)?;
        }
        Ok(())
    }

    /// Removes the partition directory (topic deleted).
    pub fn delete(self) -> Result<(), StorageError> {
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(dir)?;
        Ok(())
    }

    /// Truncates the log so `offset` becomes the log end, with its epoch cache and
    /// producer state. At the log end itself only epoch-cache entries starting there
    /// go: an epoch this replica led without writing must not claim offsets that a
    /// later leader wrote in another epoch.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), StorageError> {
        let log_end = self.log_end_offset();
        if offset > log_end {
            return Ok(());
        }
        if offset == log_end {
            if self.epochs.truncate_from_end(log_end) {
                self.write_epochs()?;
            }
            return Ok(());
        }
        self.generation += 1;
        let first_base = self.segments.first().map_or(0, LogSegment::base_offset);
        if offset <= first_base {
            for segment in self.segments.drain(..) {
                segment.delete()?;
            }
            let start = offset.max(0);
            self.segments.push(LogSegment::create(&self.dir, start)?);
            self.log_start_offset = start;
            self.write_log_start()?;
        } else {
            while self.segments.len() > 1
                && self
                    .segments
                    .last()
                    .is_some_and(|s| s.base_offset() >= offset)
            {
                if let Some(segment) = self.segments.pop() {
                    segment.delete()?;
                }
            }
            let interval = self.config.index_interval_bytes;
            self.active_mut()?.truncate_to(offset, interval)?;
            let log_end = self.log_end_offset();
            if self.log_start_offset > log_end {
                self.log_start_offset = log_end;
                self.write_log_start()?;
            }
        }
        let log_end = self.log_end_offset();
        if self.epochs.truncate_from_end(log_end) {
            self.write_epochs()?;
        }
        // Rebuilt from the log, as Kafka reloads from a snapshot: a truncated marker
        // reopens its transaction, a truncated first batch forgets one.
        self.producers.clear();
        self.snapshot_offset = None;
        self.load_producer_state(true)?;
        self.write_producer_snapshot()?;
        checkpoint::write_offset(&self.dir.join(RECOVERY_POINT_FILE), log_end)?;
        Ok(())
    }

    /// The segment appends go to. Only a failed `truncate_to` can leave none.
    fn active_mut(&mut self) -> Result<&mut LogSegment, StorageError> {
        self.segments.last_mut().ok_or_else(|| {
            StorageError::Io(std::io::Error::other("partition log has no active segment"))
        })
    }

    fn should_roll(&mut self, header: &BatchHeader, now_ms: i64) -> Result<bool, StorageError> {
        let segment_bytes = self.config.segment_bytes.min(MAX_SEGMENT_BYTES);
        let segment_ms = self.config.segment_ms;
        let active = self.active_mut()?;
        if active.is_empty() {
            return Ok(false);
        }
        Ok(active.size() + header.size() as u64 > segment_bytes
            || header.last_offset() - active.base_offset() > MAX_RELATIVE_OFFSET
            || now_ms - active.first_append_ms(now_ms) >= segment_ms)
    }

    /// Seals the active segment and starts a new one at the log end. The sealed
    /// segment is fsynced so recovery after a crash need only scan past it.
    fn roll(&mut self) -> Result<(), StorageError> {
        let log_end = self.log_end_offset();
        self.roll_at(log_end)
    }

    /// `roll`, starting the new segment at `base` (≥ the log end: a replicated batch
    /// after a compaction gap starts its segment at its own offset).
    fn roll_at(&mut self, base: i64) -> Result<(), StorageError> {
        let log_end = self.log_end_offset();
        let base = base.max(log_end);
        let active = self.active_mut()?;
        if active.is_empty() && active.base_offset() == base {
            return Ok(());
        }
        active.seal()?;
        self.segments.push(LogSegment::create(&self.dir, base)?);
        checkpoint::write_offset(&self.dir.join(RECOVERY_POINT_FILE), log_end)?;
        self.write_producer_snapshot()?;
        tracing::debug!(dir = %self.dir.display(), base_offset = base, "rolled segment");
        Ok(())
    }

    fn flush_now(&mut self, now_ms: i64) -> Result<(), StorageError> {
        self.active_mut()?.flush()?;
        self.unflushed_records = 0;
        self.last_flush_ms = Some(now_ms);
        checkpoint::write_offset(&self.dir.join(RECOVERY_POINT_FILE), self.log_end_offset())?;
        Ok(())
    }

    fn write_producer_snapshot(&mut self) -> Result<(), StorageError> {
        let json = self.snapshot_json()?;
        checkpoint::write_atomic(&self.dir.join(PRODUCER_STATE_FILE), &json)?;
        self.snapshot_offset = Some(self.log_end_offset());
        Ok(())
    }

    fn snapshot_json(&self) -> Result<Vec<u8>, StorageError> {
        let snapshot = self.producers.snapshot(self.log_end_offset());
        serde_json::to_vec(&snapshot).map_err(|e| StorageError::Io(std::io::Error::other(e)))
    }

    fn write_epochs(&mut self) -> Result<(), StorageError> {
        write_epoch_file(&self.dir, &self.epochs)?;
        self.epochs_unwritten = false;
        Ok(())
    }

    fn write_log_start(&self) -> Result<(), StorageError> {
        checkpoint::write_offset(&self.dir.join(LOG_START_OFFSET_FILE), self.log_start_offset)?;
        Ok(())
    }
}

/// A one-offset state file, read only when the directory listing has it.
fn read_offset_if(
    listing: &DirListing,
    dir: &Path,
    name: &str,
) -> Result<Option<i64>, StorageError> {
    if !listing.has(name) {
        return Ok(None);
    }
    Ok(checkpoint::read_offset(&dir.join(name))?)
}

fn write_epoch_file(dir: &Path, epochs: &LeaderEpochCache) -> Result<(), StorageError> {
    checkpoint::write_atomic(&dir.join(LEADER_EPOCH_FILE), epochs.encode().as_bytes())?;
    Ok(())
}

/// What the cleaner's planner needs of a segment; the first batch's timestamp only
/// when asked, since reading it is I/O.
fn segment_info(
    segment: &LogSegment,
    first_batch_timestamp: bool,
) -> Result<SegmentInfo, StorageError> {
    Ok(SegmentInfo {
        base_offset: segment.base_offset(),
        next_offset: segment.next_offset(),
        size: segment.size(),
        max_timestamp: segment.max_timestamp(),
        first_batch_timestamp: if first_batch_timestamp {
            segment.first_batch_timestamp()?
        } else {
            -1
        },
    })
}

/// Applies one batch of `segment` to the producer state; an ABORT goes into the
/// segment's transaction index with the LSO right after it.
fn apply_producer_batch(
    producers: &mut ProducerStateManager,
    segment: &mut LogSegment,
    header: &BatchHeader,
    marker: Option<(bool, i32)>,
) -> Result<(), StorageError> {
    if let Some(done) = producers.apply(header, marker) {
        if done.aborted {
            segment.append_aborted(AbortedTxn {
                producer_id: done.producer_id,
                first_offset: done.first_offset,
                last_offset: done.last_offset,
                last_stable_offset: producers.lso_after(&done),
            })?;
        }
    }
    Ok(())
}
