//! A partition this broker hosts: its log plus the replica state that sits above
//! the log (high watermark, leader epoch). The log itself knows nothing of these.

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};

use bytes::Bytes;
use kavka_storage::{AppendInfo, FetchData, LogConfig, PartitionLog, StorageError};
use parking_lot::Mutex;
use uuid::Uuid;

/// Why a partition could not serve a request right now.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The log was closed for shutdown or deletion.
    #[error("partition is offline")]
    Offline,
}

/// One hosted partition. Invariant: high watermark <= log end offset; on a single
/// node every append is fully replicated at once, so the two move together.
#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub topic_id: Uuid,
    pub index: i32,
    log: Mutex<Option<PartitionLog>>,
    high_watermark: AtomicI64,
    log_start_offset: AtomicI64,
    leader_epoch: AtomicI32,
}

impl Partition {
    /// Wraps an opened log as the leader at `leader_epoch`.
    pub fn new(
        topic: String,
        topic_id: Uuid,
        index: i32,
        log: PartitionLog,
        leader_epoch: i32,
    ) -> Self {
        let hw = log.log_end_offset();
        let start = log.log_start_offset();
        Self {
            topic,
            topic_id,
            index,
            log: Mutex::new(Some(log)),
            high_watermark: AtomicI64::new(hw),
            log_start_offset: AtomicI64::new(start),
            leader_epoch: AtomicI32::new(leader_epoch),
        }
    }

    /// Runs `f` on the log (appends, offset lookups, retention, deletion of
    /// records) and keeps the cached log start offset current.
    pub fn log<T>(
        &self,
        f: impl FnOnce(&mut PartitionLog) -> Result<T, StorageError>,
    ) -> Result<T, PartitionError> {
        let mut guard = self.log.lock();
        let log = guard.as_mut().ok_or(PartitionError::Offline)?;
        let out = f(log)?;
        self.log_start_offset
            .store(log.log_start_offset(), Ordering::Release);
        Ok(out)
    }

    /// Appends a producer's record set as leader and advances the high watermark.
    pub fn append(&self, records: Bytes, now_ms: i64) -> Result<AppendInfo, PartitionError> {
        let epoch = self.leader_epoch();
        self.log(|log| {
            let info = log.append(records, epoch, now_ms)?;
            // Single replica: the ISR is just us, so the HW follows the log end.
            self.high_watermark
                .store(log.log_end_offset(), Ordering::Release);
            Ok(info)
        })
    }

    /// Reads committed batches (below the high watermark) from `offset`.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<FetchData, PartitionError> {
        let hw = self.high_watermark();
        let guard = self.log.lock();
        let log = guard.as_ref().ok_or(PartitionError::Offline)?;
        Ok(log.read(offset, max_bytes, hw)?)
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::Acquire)
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    /// Applies a changed topic config to the log.
    pub fn set_config(&self, config: LogConfig) {
        if let Some(log) = self.log.lock().as_mut() {
            log.set_config(config);
        }
    }

    /// Takes the log out for a clean close or deletion; later calls see Offline.
    pub fn take_log(&self) -> Option<PartitionLog> {
        self.log.lock().take()
    }
}
