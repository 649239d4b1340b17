//! The transaction coordinator of Kafka transactions, as a pure state machine.
//!
//! One [`TxnMetadata`] per `transactional.id`: its producer id and epoch, the
//! state of its current transaction and the partitions in it. The broker steps
//! a [`TxnCoordinator`] with requests (InitProducerId, AddPartitionsToTxn,
//! EndTxn) and timers; each step returns the [`TxnRecord`] to write to
//! `__transaction_state` (Kafka's own `TransactionLogKey`/`TransactionLogValue`
//! schema, so Kafka's tools read Kavka's topic) and, for the end of a
//! transaction, the [`MarkerJob`] of markers to send to the partitions. Nothing
//! here does I/O or reads a clock: time comes in as `now_ms`, fresh producer ids
//! as arguments.

mod coordinator;
mod error;
mod metadata;
mod records;

pub use coordinator::{
    partition_for_transactional_id, EndDecision, InitDecision, InitRequest, MarkerJob,
    PartitionCheck, SavedTxn, TxnConfig, TxnCoordinator,
};
pub use error::TxnError;
pub use metadata::{TopicPartition, TxnMetadata, TxnState, NO_PRODUCER_EPOCH, NO_PRODUCER_ID};
pub use records::{
    decode_key as decode_transaction_log_key, RecordError, TransactionLogValue, TxnRecord,
};

#[cfg(test)]
mod tests;
