//! Partition logs on disk: segments with sparse offset and time indexes, batch
//! validation and offset assignment, idempotent-producer state, recovery after a
//! crash, and retention. No networking lives here: the broker calls these types.
//!
//! Batches are stored exactly as the producer sent them (still compressed); only the
//! base offset and partition leader epoch are rewritten, neither of which the CRC covers.
//!
//! A partition directory holds `<base offset, 20 digits>.log` / `.index` / `.timeindex`
//! (and `.txnindex` once a transaction aborted there) per segment, plus small crash-safe files: `log-start-offset`, `recovery-point`,
//! `leader-epoch-checkpoint`, `producer-state.json` (and `.kafka_cleanshutdown` while a
//! log used on its own is closed cleanly; a broker keeps one marker for the whole log
//! directory, `log_dir`). Modules: `batch` (header parse, validation, rewriting),
//! `segment` and `index` (one segment and its sparse indexes), `segment_file` (a
//! segment's descriptor, opened on use and closed when idle), `txn_index` (aborted
//! transactions) and `txn_marker` (COMMIT/ABORT control batches), `producer_state` and
//! `epoch_cache` (pure state machines), `checkpoint` (atomic small files), `recovery`
//! (what to trust at open), `log` (`PartitionLog`, tying them together), `cleaner`
//! (compaction: the only code here that decodes records, run off the request path).
//!
//! The cleaner leaves `<base>.log.cleaned` (and index) files and `<base>.cleaner-swap`
//! manifests only while a swap is in flight; `PartitionLog::open` resolves both.

mod batch;
mod checkpoint;
pub mod cleaner;
mod config;
pub mod durable;
mod epoch_cache;
mod error;
mod index;
mod log;
pub mod log_dir;
mod producer_state;
mod recovery;
mod segment;
mod segment_file;
mod txn_index;
mod txn_marker;

pub use batch::{BatchHeader, BATCH_HEADER_LEN};
pub use config::{CleanupPolicy, LogConfig, TimestampType};
pub use error::StorageError;
pub use log::{
    AppendInfo, FetchData, PartitionLog, LEADER_EPOCH_FILE, LOG_START_OFFSET_FILE,
    PRODUCER_STATE_FILE, RECOVERY_POINT_FILE,
};
pub use log_dir::{LogDirShutdown, CLEAN_SHUTDOWN_FILE};
pub use producer_state::ProducerInfo;
pub use segment_file::{open_segment_files, set_segment_file_budget};
pub use txn_index::AbortedTxn;
pub use txn_marker::TxnMarker;
