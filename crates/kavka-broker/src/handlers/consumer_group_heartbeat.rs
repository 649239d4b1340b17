//! ConsumerGroupHeartbeat (KIP-848): join, stay, reconcile and leave in one API,
//! answered at once.

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafka_protocol::protocol::StrBytes;
use kavka_group::{error_code, ConsumerHeartbeatRequest, TopicId};

use super::RequestContext;
use crate::group_service::ImageTopics;
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Steps the member's reconciliation and answers with its epoch and assignment.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: ConsumerGroupHeartbeatRequest,
    version: i16,
) -> ConsumerGroupHeartbeatResponse {
    if !ctx.authorize(
        AclOperation::Read,
        ResourceType::Group,
        request.group_id.0.as_str(),
    ) {
        let denied = kafka_protocol::ResponseError::GroupAuthorizationFailed;
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(denied.code())
            .with_error_message(Some(StrBytes::from_static_str(
                "Group authorization failed.",
            )));
    }
    let req = ConsumerHeartbeatRequest {
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: request.instance_id.map(|s| s.to_string()),
        rack_id: request.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .map(|names| names.into_iter().map(|n| n.0.to_string()).collect()),
        subscribed_topic_regex: request.subscribed_topic_regex.map(|s| s.to_string()),
        server_assignor: request.server_assignor.map(|s| s.to_string()),
        owned_partitions: request.topic_partitions.map(|tps| {
            tps.into_iter()
                .map(|tp| kavka_group::TopicPartitions {
                    topic_id: TopicId(*tp.topic_id.as_bytes()),
                    partitions: tp.partitions,
                })
                .collect()
        }),
        client_id: ctx.client_id.as_deref().unwrap_or_default().to_string(),
        client_host: format!("/{}", ctx.peer.ip()),
        api_version: version,
    };
    let image = ctx.state.metadata.image();
    let group_id = req.group_id.clone();
    let result = ctx
        .state
        .groups
        .direct(ctx.state, &[&group_id], |c, now| {
            c.consumer_heartbeat(req, &ImageTopics(&image), now)
        })
        .await;
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            return ConsumerGroupHeartbeatResponse::default()
                .with_error_code(e.code())
                .with_error_message(Some(StrBytes::from_string(e.to_string())))
        }
    };
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(error_code(r.error))
        .with_error_message(r.error_message.map(StrBytes::from_string))
        .with_member_id(r.member_id.map(StrBytes::from_string))
        .with_member_epoch(r.member_epoch)
        .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
        .with_assignment(r.assignment.map(|tps| {
            Assignment::default().with_topic_partitions(
                tps.into_iter()
                    .map(|tp| {
                        TopicPartitions::default()
                            .with_topic_id(uuid::Uuid::from_bytes(tp.topic_id.0))
                            .with_partitions(tp.partitions)
                    })
                    .collect(),
            )
        }))
}
