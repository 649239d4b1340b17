//! JoinGroup: answered when the group's join phase completes.

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_group::{error_code, GroupResponse, JoinProtocol};

use super::RequestContext;
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Joins (or rejoins) a member and waits for the rebalance to pick members.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: JoinGroupRequest,
    version: i16,
) -> JoinGroupResponse {
    if !ctx.authorize(
        AclOperation::Read,
        ResourceType::Group,
        request.group_id.0.as_str(),
    ) {
        return JoinGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code())
            .with_generation_id(-1);
    }
    let req = kavka_group::JoinGroupRequest {
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|s| s.to_string()),
        session_timeout_ms: request.session_timeout_ms,
        // v0 had no rebalance timeout; the session timeout stood in for it.
        rebalance_timeout_ms: if version >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        },
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| JoinProtocol {
                name: p.name.to_string(),
                metadata: p.metadata.to_vec(),
            })
            .collect(),
        client_id: ctx.client_id.as_deref().unwrap_or_default().to_string(),
        client_host: format!("/{}", ctx.peer.ip()),
        api_version: version,
        reason: request.reason.map(|s| s.to_string()),
    };
    let group_id = req.group_id.clone();
    let answer = ctx
        .state
        .groups
        .deferred(ctx.state, &group_id, |c, id, now| {
            c.join_group(id, req, now)
        })
        .await;
    let r = match answer {
        Ok(GroupResponse::Join(r)) => r,
        // Kafka's answer to a join it could not serve: the code, generation -1.
        Ok(GroupResponse::Sync(_)) => {
            return JoinGroupResponse::default()
                .with_error_code(ResponseError::CoordinatorNotAvailable.code())
                .with_generation_id(-1)
        }
        Err(e) => {
            return JoinGroupResponse::default()
                .with_error_code(e.code())
                .with_generation_id(-1)
        }
    };
    JoinGroupResponse::default()
        .with_error_code(error_code(r.error))
        .with_generation_id(r.generation_id)
        .with_protocol_type(r.protocol_type.map(StrBytes::from_string))
        .with_protocol_name(r.protocol_name.map(StrBytes::from_string))
        .with_leader(StrBytes::from_string(r.leader))
        .with_skip_assignment(r.skip_assignment && version >= 9)
        .with_member_id(StrBytes::from_string(r.member_id))
        .with_members(
            r.members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(StrBytes::from_string(m.member_id))
                        .with_group_instance_id(m.group_instance_id.map(StrBytes::from_string))
                        .with_metadata(m.metadata.into())
                })
                .collect(),
        )
}
