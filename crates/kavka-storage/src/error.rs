use std::io;

/// Why the log refused an operation. Each variant maps to one Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// CRC mismatch, bad magic, inconsistent lengths or record counts: CORRUPT_MESSAGE.
    #[error("corrupt record batch: {0}")]
    CorruptMessage(String),
    /// A batch larger than `max.message.bytes`: MESSAGE_TOO_LARGE.
    #[error("record batch of {size} bytes exceeds the limit of {max}")]
    MessageTooLarge { size: usize, max: u32 },
    /// A record set that is not made of whole v2 batches: INVALID_RECORD.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Sequence gap for an idempotent producer: OUT_OF_ORDER_SEQUENCE_NUMBER.
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        got: i32,
    },
    /// Producer epoch older than the one the log knows: INVALID_PRODUCER_EPOCH.
    #[error("producer {producer_id} epoch {got} is older than {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        current: i16,
        got: i16,
    },
    /// A producer with a transaction open wrote outside it: INVALID_TXN_STATE.
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// A marker from an older transaction coordinator: TRANSACTION_COORDINATOR_FENCED.
    #[error(
        "marker for producer {producer_id} from coordinator epoch {got}, older than {current}"
    )]
    TransactionCoordinatorFenced {
        producer_id: i64,
        current: i32,
        got: i32,
    },
    /// Offset below the log start or above the log end: OFFSET_OUT_OF_RANGE.
    #[error("offset {offset} is outside [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    /// Disk trouble: KAFKA_STORAGE_ERROR.
    #[error("storage I/O error: {0}")]
    Io(#[from] io::Error),
    /// A state file that exists but cannot be trusted; the log is not opened.
    #[error(transparent)]
    StateFile(#[from] crate::durable::StateFileError),
}

impl StorageError {
    /// Whether the disk, not the request, is at fault (KAFKA_STORAGE_ERROR).
    pub fn is_disk_failure(&self) -> bool {
        matches!(self, Self::Io(_) | Self::StateFile(_))
    }
}
