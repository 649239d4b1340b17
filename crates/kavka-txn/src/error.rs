//! Why a transactional request is refused, as Kafka's error codes.

/// A refusal the client sees; each maps to one Kafka error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// The producer id does not belong to this transactional id (or the id is unknown).
    #[error("INVALID_PRODUCER_ID_MAPPING")]
    InvalidProducerIdMapping,
    /// Another producer with the same transactional id has a newer epoch.
    #[error("PRODUCER_FENCED")]
    ProducerFenced,
    /// A transaction of this id is being completed; retry.
    #[error("CONCURRENT_TRANSACTIONS")]
    ConcurrentTransactions,
    /// The request does not fit the transaction's state.
    #[error("INVALID_TXN_STATE")]
    InvalidTxnState,
    /// `transaction.timeout.ms` is not positive or above `transaction.max.timeout.ms`.
    #[error("INVALID_TRANSACTION_TIMEOUT")]
    InvalidTransactionTimeout,
    /// No producer id could be had right now; retry.
    #[error("COORDINATOR_LOAD_IN_PROGRESS")]
    NoProducerId,
}

impl TxnError {
    /// Kafka's error code.
    pub fn code(self) -> i16 {
        match self {
            TxnError::InvalidProducerIdMapping => 49,
            TxnError::ProducerFenced => 90,
            TxnError::ConcurrentTransactions => 51,
            TxnError::InvalidTxnState => 48,
            TxnError::InvalidTransactionTimeout => 50,
            TxnError::NoProducerId => 14,
        }
    }

    /// The code for a request version from before PRODUCER_FENCED existed (KIP-588):
    /// such clients know INVALID_PRODUCER_EPOCH instead.
    pub fn code_for(self, knows_producer_fenced: bool) -> i16 {
        if self == TxnError::ProducerFenced && !knows_producer_fenced {
            47
        } else {
            self.code()
        }
    }
}
