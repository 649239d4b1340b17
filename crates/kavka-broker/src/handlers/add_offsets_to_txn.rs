//! AddOffsetsToTxn: the group's `__consumer_offsets` partition joins the
//! transaction, so its markers also settle the transactional offset commits.

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use kavka_group::partition_for_group;

use super::RequestContext;
use crate::group_service::OFFSETS_TOPIC;
use crate::txn_service::Step;
use kavka_metadata::acl::{AclOperation, ResourceType};

pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let state = ctx.state;
    let id = request.transactional_id.0.to_string();
    let denied = if !ctx.authorize(AclOperation::Write, ResourceType::TransactionalId, &id) {
        Some(kafka_protocol::ResponseError::TransactionalIdAuthorizationFailed)
    } else if !ctx.authorize(
        AclOperation::Read,
        ResourceType::Group,
        request.group_id.0.as_str(),
    ) {
        Some(kafka_protocol::ResponseError::GroupAuthorizationFailed)
    } else {
        None
    };
    if let Some(error) = denied {
        return AddOffsetsToTxnResponse::default().with_error_code(error.code());
    }
    let partition = (
        OFFSETS_TOPIC.to_string(),
        partition_for_group(
            &request.group_id.0,
            state.config.offsets_topic_num_partitions,
        ),
    );
    let result = state.txns.step(state, &id, |c, now| {
        let record = c.add_partitions(
            &id,
            request.producer_id.0,
            request.producer_epoch,
            std::slice::from_ref(&partition),
            now,
        )?;
        Ok(Step::answer((), record))
    });
    let result = match result {
        Ok(((), written)) => written.replicated().await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => AddOffsetsToTxnResponse::default(),
        // PRODUCER_FENCED is known from v2 (KIP-588).
        Err(e) => AddOffsetsToTxnResponse::default().with_error_code(e.code(version >= 2)),
    }
}
