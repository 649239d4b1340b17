//! CONTRACT STUB: the broker codes against these signatures; the implementation fills them.
use std::path::Path;

use bytes::Bytes;

use crate::{LogConfig, StorageError};

/// One partition's log: a directory of segments named by base offset.
#[derive(Debug)]
pub struct PartitionLog {}

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

#[allow(unused_variables)]
impl PartitionLog {
    /// Opens (creating if missing) the partition directory. Recovers after a crash:
    /// scans segments written since the last clean shutdown, keeps every complete valid
    /// batch, truncates a torn tail, rebuilds indexes, reloads producer state.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Self, StorageError> {
        todo!()
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
        todo!()
    }
    /// Whole batches from the one holding `offset`, up to `max_bytes` but at least one
    /// batch, never including a batch whose base offset is `>= max_offset` (the HW).
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
    ) -> Result<FetchData, StorageError> {
        todo!()
    }
    pub fn log_start_offset(&self) -> i64 {
        todo!()
    }
    pub fn log_end_offset(&self) -> i64 {
        todo!()
    }
    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        todo!()
    }
    /// First offset whose batch max timestamp >= `timestamp`, with that record's
    /// timestamp; None when no record is that new.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, StorageError> {
        todo!()
    }
    /// Offset and timestamp of the record with the largest timestamp (ListOffsets -3).
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, StorageError> {
        todo!()
    }
    /// (epoch, end offset) for OffsetForLeaderEpoch: the largest epoch <= `epoch`
    /// and the start offset of the next larger epoch (or the log end).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        todo!()
    }
    /// The newest leader epoch stamped into the log, -1 when empty.
    pub fn latest_epoch(&self) -> i32 {
        todo!()
    }
    /// DeleteRecords: moves the log start offset forward (persisted), deleting
    /// segments wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, StorageError> {
        todo!()
    }
    /// Retention by time and size over closed segments; never the active one.
    /// Returns how many segments were deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize, StorageError> {
        todo!()
    }
    /// Rolls the active segment if `segment.ms` has passed (called by a timer).
    pub fn maybe_roll(&mut self, now_ms: i64) -> Result<(), StorageError> {
        todo!()
    }
    /// fsync per `flush.messages` / `flush.ms`, or always when `force`.
    pub fn flush(&mut self, force: bool, now_ms: i64) -> Result<(), StorageError> {
        todo!()
    }
    /// Replaces the config (topic config changed at runtime).
    pub fn set_config(&mut self, config: LogConfig) {
        todo!()
    }
    /// Flushes everything and records a clean shutdown so the next open skips recovery.
    pub fn close(self) -> Result<(), StorageError> {
        todo!()
    }
    /// Removes the partition directory (topic deleted).
    pub fn delete(self) -> Result<(), StorageError> {
        todo!()
    }
    /// Truncates the log so `offset` becomes the log end (replication, later issue).
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), StorageError> {
        todo!()
    }
}
