//! KIP-890 part 1, the partition leader's side: before appending the first
//! transactional batch of a producer that has no transaction open on a partition,
//! the leader asks the transaction coordinator whether the partition was added to
//! that producer's transaction (AddPartitionsToTxn v4 `verify_only`), in-process
//! when this broker is the coordinator, else over the coordinator's inter-broker
//! listener. A partition never added is refused with INVALID_TXN_STATE, so a
//! producer cannot leave a transaction open that no coordinator will ever end.
//!
//! Unlike Kafka, no verification guard is kept between the answer and the append:
//! a marker landing in between is not detected (the coordinator could only write
//! one after the client's EndTxn, which waits for this produce).

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, ProducerId, TopicName,
    TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_txn::partition_for_transactional_id;

use crate::handlers::{self, RequestContext};
use crate::replication::client::LeaderConnection;
use crate::security::Session;
use crate::state::BrokerState;
use crate::txn_service::TXN_TOPIC;

/// The first AddPartitionsToTxn version with `verify_only`.
const VERIFY_VERSION: i16 = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Kafka's `request.timeout.ms`.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a transactional batch may not be appended: the produce error code and,
/// when Kafka sends one, its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: i16,
    pub(crate) message: Option<String>,
}

impl Refusal {
    /// The refusal as a producer of this Produce version is answered: Kafka gives
    /// clients that know TRANSACTION_ABORTABLE (Produce v11+, KIP-890) that error
    /// where older clients get INVALID_TXN_STATE.
    pub(crate) fn for_produce_version(self, version: i16) -> Refusal {
        if version >= 11 && self.code == ResponseError::InvalidTxnState.code() {
            Refusal {
                code: ResponseError::TransactionAbortable.code(),
                message: self.message,
            }
        } else {
            self
        }
    }
}

/// Asks the coordinator of `transactional_id` whether `topic`-`partition` is in the
/// producer's ongoing transaction. Ok when it is.
pub(crate) async fn verify(
    state: &BrokerState,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    topic: &str,
    partition: i32,
) -> Result<(), Refusal> {
    let request = AddPartitionsToTxnRequest::default().with_transactions(vec![
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(
                transactional_id.to_string(),
            )))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(producer_epoch)
            .with_verify_only(true)
            .with_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![partition])]),
    ]);
    let shard = partition_for_transactional_id(transactional_id, state.txns.partitions());
    let image = state.metadata.image();
    let leader = image
        .topic(TXN_TOPIC)
        .and_then(|t| t.partitions.get(&shard))
        .map_or(-1, |p| p.leader);
    let response = if leader < 0 {
        Err(ResponseError::CoordinatorNotAvailable.code())
    } else if leader == state.config.node_id {
        in_process(state, request).await
    } else {
        remote(state, &image, leader, request).await
    };
    let response = response.map_err(refusal)?;
    let Some(result) = response.results_by_transaction.first() else {
        return Err(refusal(ResponseError::CoordinatorNotAvailable.code()));
    };
    // Kafka answers a producer the coordinator refuses wholesale (cluster
    // authorization) as a partition not in the transaction.
    if response.error_code == ResponseError::ClusterAuthorizationFailed.code() {
        return Err(refusal(ResponseError::InvalidTxnState.code()));
    }
    if response.error_code != 0 {
        return Err(refusal(response.error_code));
    }
    let code = result
        .topic_results
        .iter()
        .flat_map(|t| &t.results_by_partition)
        .find(|p| p.partition_index == partition)
        .map_or(ResponseError::InvalidTxnState.code(), |p| {
            p.partition_error_code
        });
    if code == 0 {
        Ok(())
    } else {
        Err(refusal(code))
    }
}

/// The produce error for a coordinator's answer, as Kafka translates it for
/// producers: not in the transaction stays INVALID_TXN_STATE with Kafka's message;
/// a fenced producer is INVALID_PRODUCER_EPOCH; an abortable transaction is
/// INVALID_TXN_STATE for clients before transaction version 2; a coordinator that
/// cannot answer now becomes NOT_ENOUGH_REPLICAS, which every client retries.
fn refusal(code: i16) -> Refusal {
    let name = ResponseError::try_from_code(code).map(|e| format!("{e:?}"));
    match ResponseError::try_from_code(code) {
        Some(ResponseError::InvalidTxnState) | Some(ResponseError::TransactionAbortable) => {
            Refusal {
                code: ResponseError::InvalidTxnState.code(),
                message: Some("Partition was not added to the transaction".to_string()),
            }
        }
        Some(ResponseError::ProducerFenced) => Refusal {
            code: ResponseError::InvalidProducerEpoch.code(),
            message: None,
        },
        Some(
            ResponseError::ConcurrentTransactions
            | ResponseError::NetworkException
            | ResponseError::CoordinatorLoadInProgress
            | ResponseError::CoordinatorNotAvailable
            | ResponseError::NotCoordinator,
        ) => Refusal {
            code: ResponseError::NotEnoughReplicas.code(),
            message: Some(format!(
                "Unable to verify the partition has been added to the transaction. \
                 Underlying error: {}",
                kafka_error_name(code, name.as_deref())
            )),
        },
        _ => Refusal {
            code,
            message: None,
        },
    }
}

/// Kafka's `Errors` enum name for the codes a verification can meet.
fn kafka_error_name(code: i16, fallback: Option<&str>) -> String {
    match code {
        51 => "CONCURRENT_TRANSACTIONS",
        13 => "NETWORK_EXCEPTION",
        14 => "COORDINATOR_LOAD_IN_PROGRESS",
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        _ => return fallback.unwrap_or("UNKNOWN_SERVER_ERROR").to_string(),
    }
    .to_string()
}

/// This broker coordinates the id: the same handler a remote leader's request meets
/// (called directly: the generic dispatch would make Produce recursive).
async fn in_process(
    state: &BrokerState,
    request: AddPartitionsToTxnRequest,
) -> Result<AddPartitionsToTxnResponse, i16> {
    let session = Session::internal();
    let ctx = RequestContext {
        state,
        peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        client_id: Some(StrBytes::from_static_str("txn-verification")),
        session: &session,
    };
    Ok(handlers::add_partitions_to_txn::handle(&ctx, request, VERIFY_VERSION).await)
}

/// Another broker coordinates the id: over its inter-broker listener.
async fn remote(
    state: &BrokerState,
    image: &kavka_metadata::MetadataImage,
    leader: i32,
    request: AddPartitionsToTxnRequest,
) -> Result<AddPartitionsToTxnResponse, i16> {
    let unreachable = ResponseError::NetworkException.code();
    let (host, port) = image
        .broker(leader)
        .and_then(|b| Some((b.host.clone(), u16::try_from(b.port).ok()?)))
        .ok_or(ResponseError::CoordinatorNotAvailable.code())?;
    let mut conn = LeaderConnection::connect(
        &host,
        port,
        state.config.node_id,
        CONNECT_TIMEOUT,
        16 << 20,
        state.config.inter_broker_tls.as_ref(),
    )
    .await
    .map_err(|e| {
        tracing::debug!(leader, error = %e, "cannot reach the transaction coordinator to verify");
        unreachable
    })?;
    let version = conn
        .version_for(ApiKey::AddPartitionsToTxn, VERIFY_VERSION..=VERIFY_VERSION)
        .map_err(|_| unreachable)?;
    conn.call(&request, version, CALL_TIMEOUT)
        .await
        .map_err(|e| {
            tracing::debug!(leader, error = %e, "transaction verification not answered");
            unreachable
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_answers_become_kafkas_produce_errors() {
        assert_eq!(
            refusal(ResponseError::InvalidTxnState.code()),
            Refusal {
                code: 48,
                message: Some("Partition was not added to the transaction".into())
            }
        );
        assert_eq!(refusal(ResponseError::ProducerFenced.code()).code, 47);
        let not_added = refusal(ResponseError::TransactionAbortable.code());
        assert_eq!(not_added.clone().for_produce_version(10).code, 48);
        assert_eq!(not_added.for_produce_version(11).code, 120);
        let fenced = refusal(ResponseError::ProducerFenced.code());
        assert_eq!(fenced.for_produce_version(11).code, 47);
        let retry = refusal(ResponseError::ConcurrentTransactions.code());
        assert_eq!(retry.code, ResponseError::NotEnoughReplicas.code());
        assert_eq!(
            retry.message.as_deref(),
            Some(
                "Unable to verify the partition has been added to the transaction. \
                 Underlying error: CONCURRENT_TRANSACTIONS"
            )
        );
    }
}
