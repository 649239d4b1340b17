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
    disk_errors: DiskErrorLog,
}

/// Says in the broker's log what is wrong with the disk, at most once every
/// 10 s per partition (a full disk fails every produce), with how many were
/// not shown in between.
#[derive(Debug, Default)]
struct DiskErrorLog {
    last_logged_ms: AtomicI64,
    suppressed: AtomicI64,
}

impl DiskErrorLog {
    fn report(&self, topic: &str, partition: i32, e: &StorageError, now_ms: i64) {
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if last != 0 && now_ms - last < 10_000 {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.last_logged_ms.store(now_ms, Ordering::Relaxed);
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        tracing::error!(
            topic,
            partition,
            error = %e,
            similar_errors_not_shown = suppressed,
            "cannot write to the partition log; producers get KAFKA_STORAGE_ERROR and \
             nothing is lost of what was acknowledged. Free disk space (or fix the disk); \
             appends resume by themselves"
        );
    }
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
            disk_errors: DiskErrorLog::default(),
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
        let result = self.log(|log| {
            let info = log.append(records, epoch, now_ms);
            // Single replica: the ISR is just us, so the HW follows the log end.
            // Also after a failed append: whatever whole batches it did write are
            // in the log, and the HW must not stay below them for the next one.
            self.high_watermark
                .store(log.log_end_offset(), Ordering::Release);
            info
        });
        if let Err(PartitionError::Storage(e)) = &result {
            if e.is_disk_failure() {
                self.disk_errors.report(&self.topic, self.index, e, now_ms);
            }
        }
        result
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
