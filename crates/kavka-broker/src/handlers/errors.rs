//! Kafka error codes for the broker's own error types.

use kafka_protocol::ResponseError;
use kavka_storage::StorageError;

use crate::partition::PartitionError;

/// The error code a client should see for a partition-level failure.
pub(crate) fn partition_error_code(e: &PartitionError) -> i16 {
    match e {
        PartitionError::Offline => ResponseError::NotLeaderOrFollower.code(),
        PartitionError::Storage(s) => storage_error_code(s),
    }
}

fn storage_error_code(e: &StorageError) -> i16 {
    match e {
        StorageError::CorruptMessage(_) => ResponseError::CorruptMessage.code(),
        StorageError::MessageTooLarge { .. } => ResponseError::MessageTooLarge.code(),
        StorageError::InvalidRecord(_) => ResponseError::InvalidRecord.code(),
        StorageError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber.code(),
        StorageError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch.code(),
        StorageError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange.code(),
        StorageError::Io(_) => ResponseError::KafkaStorageError.code(),
    }
}
