//! Kafka error codes for the broker's own error types.

use kafka_protocol::ResponseError;
use kavka_storage::StorageError;

use crate::partition::PartitionError;

/// The error code a client should see for a partition-level failure.
pub(crate) fn partition_error_code(e: &PartitionError) -> i16 {
    match e {
        PartitionError::Offline => ResponseError::NotLeaderOrFollower.code(),
        PartitionError::Storage(s) => storage_error_code(s),
        PartitionError::Replica(r) => r.code(),
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
        StorageError::InvalidTxnState(_) => ResponseError::InvalidTxnState.code(),
        StorageError::TransactionCoordinatorFenced { .. } => {
            ResponseError::TransactionCoordinatorFenced.code()
        }
        StorageError::Io(_) | StorageError::StateFile(_) => ResponseError::KafkaStorageError.code(),
    }
}

/// The error for a request naming leader epoch `requested` when the partition is
/// at `current` (-1 means the client did not say): a newer epoch than ours is
/// UNKNOWN_LEADER_EPOCH (we are behind), an older one FENCED_LEADER_EPOCH.
pub(crate) fn leader_epoch_error(requested: i32, current: i32) -> Option<i16> {
    if requested < 0 || requested == current {
        None
    } else if requested > current {
        Some(ResponseError::UnknownLeaderEpoch.code())
    } else {
        Some(ResponseError::FencedLeaderEpoch.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_epochs_are_fenced_and_newer_ones_unknown() {
        assert_eq!(leader_epoch_error(-1, 3), None);
        assert_eq!(leader_epoch_error(3, 3), None);
        assert_eq!(
            leader_epoch_error(2, 3),
            Some(ResponseError::FencedLeaderEpoch.code())
        );
        assert_eq!(
            leader_epoch_error(4, 3),
            Some(ResponseError::UnknownLeaderEpoch.code())
        );
    }
}
