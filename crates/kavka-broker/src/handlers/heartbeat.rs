//! Heartbeat and LeaveGroup: membership upkeep.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, LeaveGroupRequest, LeaveGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use kavka_group::{error_code, Effects, LeavingMember};

use super::RequestContext;
use kavka_metadata::acl::{AclOperation, ResourceType};

const GROUP_AUTHORIZATION_FAILED: i16 =
    kafka_protocol::ResponseError::GroupAuthorizationFailed.code();

/// Keeps a member's session alive; tells it when to rejoin.
pub(crate) async fn heartbeat(
    ctx: &RequestContext<'_>,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    if !ctx.authorize(
        AclOperation::Read,
        ResourceType::Group,
        request.group_id.0.as_str(),
    ) {
        return HeartbeatResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED);
    }
    let req = kavka_group::HeartbeatRequest {
        group_id: request.group_id.0.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|s| s.to_string()),
    };
    // A heartbeat writes nothing; the group is named only for the owner check.
    let group_id = req.group_id.clone();
    let result = ctx
        .state
        .groups
        .direct(ctx.state, &[&group_id], |c, now| {
            (c.heartbeat(req, now), Effects::default())
        })
        .await;
    let code = match result {
        Ok(r) => error_code(r.err()),
        Err(e) => e.code(),
    };
    HeartbeatResponse::default().with_error_code(code)
}

/// Removes members at once (v3+ may name several).
pub(crate) async fn leave(
    ctx: &RequestContext<'_>,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    if !ctx.authorize(
        AclOperation::Read,
        ResourceType::Group,
        request.group_id.0.as_str(),
    ) {
        return LeaveGroupResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED);
    }
    let members: Vec<LeavingMember> = if version >= 3 {
        request
            .members
            .into_iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.map(|s| s.to_string()),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: request.member_id.to_string(),
            group_instance_id: None,
        }]
    };
    let group_id = request.group_id.0.to_string();
    let result = ctx
        .state
        .groups
        .direct(ctx.state, &[&group_id], |c, now| {
            c.leave_group(&group_id, members, now)
        })
        .await;
    match result {
        Ok(r) => {
            let mut code = error_code(r.error);
            // Before v3 there is no per-member answer, so a member error is the answer.
            if version < 3 && code == 0 {
                code = r.members.first().map_or(0, |m| error_code(m.error));
            }
            LeaveGroupResponse::default()
                .with_error_code(code)
                // Per-member answers exist only from v3.
                .with_members(
                    r.members
                        .into_iter()
                        .filter(|_| version >= 3)
                        .map(|m| {
                            MemberResponse::default()
                                .with_member_id(StrBytes::from_string(m.member_id))
                                .with_group_instance_id(
                                    m.group_instance_id.map(StrBytes::from_string),
                                )
                                .with_error_code(error_code(m.error))
                        })
                        .collect(),
                )
        }
        Err(e) => LeaveGroupResponse::default().with_error_code(e.code()),
    }
}
