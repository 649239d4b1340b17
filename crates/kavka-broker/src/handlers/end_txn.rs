//! EndTxn: the client commits or aborts its transaction. Answered once the
//! Prepare record is replicated; the markers and the Complete record follow.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};
use kavka_txn::EndDecision;

use super::RequestContext;
use crate::txn_service::Step;
use kavka_metadata::acl::{AclOperation, ResourceType};

pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: EndTxnRequest,
    version: i16,
) -> EndTxnResponse {
    let state = ctx.state;
    let id = request.transactional_id.0.to_string();
    if !ctx.authorize(AclOperation::Write, ResourceType::TransactionalId, &id) {
        return EndTxnResponse::default().with_error_code(
            kafka_protocol::ResponseError::TransactionalIdAuthorizationFailed.code(),
        );
    }
    let result = state.txns.step(state, &id, |c, now| {
        match c.end_txn(
            &id,
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
            now,
        )? {
            EndDecision::Prepared { record, markers } => Ok(Step {
                out: (),
                record: Some(record),
                markers: Some(markers),
            }),
            EndDecision::AlreadyComplete => Ok(Step::answer((), None)),
        }
    });
    let result = match result {
        Ok(((), written)) => written.replicated().await,
        Err(e) => Err(e),
    };
    let mut response = EndTxnResponse::default();
    if version >= 5 {
        response = response
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    match result {
        Ok(()) => response,
        // PRODUCER_FENCED is known from v2 (KIP-588).
        Err(e) => response.with_error_code(e.code(version >= 2)),
    }
}
