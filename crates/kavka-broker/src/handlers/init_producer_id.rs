//! InitProducerId for idempotent producers.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::RequestContext;

/// Hands out a fresh producer id at epoch 0. Transactional ids need the
/// transaction coordinator, which Kavka does not have yet.
pub(crate) fn handle(
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
    match ctx.state.producer_ids.next() {
        Ok(id) => response
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e, "cannot persist producer id block");
            response.with_error_code(ResponseError::KafkaStorageError.code())
        }
    }
}
