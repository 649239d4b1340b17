//! InitProducerId for idempotent producers.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::RequestContext;

/// Hands out a fresh producer id at epoch 0, from this broker's block of ids
/// (allocated by the controller). Transactional ids need the transaction
/// coordinator, which Kavka does not have yet.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|t| t.0.is_empty())
    {
        return response.with_error_code(ResponseError::InvalidRequest.code());
    }
    if request.transactional_id.is_some() {
        return response.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    match ctx.state.producer_ids.next(ctx.state).await {
        Some(id) => response
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        // No block from the controller yet: retriable, as Kafka answers then.
        None => response.with_error_code(ResponseError::CoordinatorLoadInProgress.code()),
    }
}
