//! InitProducerId: a fresh producer id for idempotent producers; for a
//! transactional id, the transaction coordinator's producer id and epoch.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;
use kavka_txn::{InitDecision, InitRequest, TxnError};

use super::RequestContext;
use crate::txn_service::{Step, TxnServiceError};
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Without a transactional id: a fresh producer id at epoch 0, from this broker's
/// block of ids (allocated by the controller). With one: the coordinator's.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if let Some(id) = request.transactional_id.as_ref().map(|t| t.0.to_string()) {
        // An empty transactional id is refused, as Kafka's coordinator refuses it.
        if id.is_empty() {
            return response.with_error_code(ResponseError::InvalidRequest.code());
        }
        if !ctx.authorize(AclOperation::Write, ResourceType::TransactionalId, &id) {
            return response
                .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
        }
        return match transactional(ctx, &id, &request).await {
            Ok((pid, epoch)) => response
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch),
            // PRODUCER_FENCED is known from v4 (KIP-588).
            Err(e) => response.with_error_code(e.code(version >= 4)),
        };
    }
    // An idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on
    // some topic (KIP-679).
    let authz = ctx.authz();
    if !authz.allows_cluster(AclOperation::IdempotentWrite)
        && !authz.allows_any(AclOperation::Write, ResourceType::Topic)
    {
        return response.with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    match ctx.state.producer_ids.next(ctx.state).await {
        Some(id) => response
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        // No block from the controller yet: retriable, as Kafka answers then.
        None => response.with_error_code(ResponseError::CoordinatorLoadInProgress.code()),
    }
}

async fn transactional(
    ctx: &RequestContext<'_>,
    id: &str,
    request: &InitProducerIdRequest,
) -> Result<(i64, i16), TxnServiceError> {
    let state = ctx.state;
    let txns = &state.txns;
    txns.owns(id)?;
    // A producer id is taken from the block only when the coordinator will need
    // one (a new id, or an exhausted epoch).
    let fresh = if txns.read(|c, _| c.needs_producer_id(id)) {
        Some(
            state
                .producer_ids
                .next(state)
                .await
                .ok_or(TxnServiceError::Txn(TxnError::NoProducerId))?,
        )
    } else {
        None
    };
    let init = InitRequest {
        transactional_id: id,
        timeout_ms: request.transaction_timeout_ms,
        producer_id: request.producer_id.0,
        producer_epoch: request.producer_epoch,
    };
    let (answer, written) = txns.step(state, id, |c, now| {
        match c.init_producer_id(&init, fresh, now)? {
            InitDecision::Ready {
                record,
                producer_id,
                producer_epoch,
            } => Ok(Step::answer(
                Ok((producer_id, producer_epoch)),
                Some(record),
            )),
            // The previous epoch's transaction is aborted first; the client
            // retries and gets its epoch once that is complete.
            InitDecision::AbortingOngoing { record, markers } => Ok(Step {
                out: Err(TxnError::ConcurrentTransactions),
                record: Some(record),
                markers: Some(markers),
            }),
        }
    })?;
    written.replicated().await?;
    Ok(answer?)
}
