//! SyncGroup: the leader hands in assignments; every member gets its own.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_group::{error_code, GroupResponse};

use super::RequestContext;
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Waits until the leader's assignment is known, then returns this member's share.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    if !ctx.authorize(
        AclOperation::Read,
        ResourceType::Group,
        request.group_id.0.as_str(),
    ) {
        return SyncGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let req = kavka_group::SyncGroupRequest {
        group_id: request.group_id.0.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|s| s.to_string()),
        protocol_type: request.protocol_type.map(|s| s.to_string()),
        protocol_name: request.protocol_name.map(|s| s.to_string()),
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment.to_vec()))
            .collect(),
    };
    let group_id = req.group_id.clone();
    let answer = ctx
        .state
        .groups
        .deferred(ctx.state, &group_id, |c, id, now| {
            c.sync_group(id, req, now)
        })
        .await;
    let r = match answer {
        Ok(GroupResponse::Sync(r)) => r,
        Ok(GroupResponse::Join(_)) => {
            return SyncGroupResponse::default()
                .with_error_code(ResponseError::CoordinatorNotAvailable.code())
        }
        Err(e) => return SyncGroupResponse::default().with_error_code(e.code()),
    };
    SyncGroupResponse::default()
        .with_error_code(error_code(r.error))
        .with_protocol_type(r.protocol_type.map(StrBytes::from_string))
        .with_protocol_name(r.protocol_name.map(StrBytes::from_string))
        .with_assignment(r.assignment.into())
}
