//! FindCoordinator: a group's coordinator is the leader of its
//! `__consumer_offsets` partition, a transactional id's the leader of its
//! `__transaction_state` partition.

use crate::security::listener::broker_address;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use kavka_group::partition_for_group;

use kavka_metadata::acl::{AclOperation, ResourceType};

use super::RequestContext;
use crate::group_service::OFFSETS_TOPIC;
use crate::security::authorizer::SessionAuthorizer;
use crate::txn_service::TXN_TOPIC;

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

/// Points each group (transactional id) at the leader of its `__consumer_offsets`
/// (`__transaction_state`) partition, which coordinates it; creates the topic on
/// first use.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let state = ctx.state;
    let keys = if version >= 4 {
        request.coordinator_keys
    } else {
        vec![request.key]
    };
    let created: Result<(), (i16, String)> = match request.key_type {
        GROUP => state
            .groups
            .ensure_topic(state)
            .await
            .map_err(|e| (e.code(), e.to_string())),
        TRANSACTION => state
            .txns
            .ensure_topic(state)
            .await
            .map_err(|e| (e.code(true), e.to_string())),
        _ => Ok(()),
    };
    let image = state.metadata.image();
    let (topic, partitions) = if request.key_type == TRANSACTION {
        (TXN_TOPIC, state.txns.partitions())
    } else {
        (OFFSETS_TOPIC, state.config.offsets_topic_num_partitions)
    };
    let authz = ctx.authz();
    let coordinators: Vec<Coordinator> = keys
        .into_iter()
        .map(|key| {
            let mut c = Coordinator::default()
                .with_node_id(BrokerId(-1))
                .with_port(-1);
            let leader = image
                .topic(topic)
                // The same hash for both (Java's String.hashCode).
                .and_then(|t| t.partitions.get(&partition_for_group(&key, partitions)))
                .map(|p| p.leader)
                .and_then(|leader| image.broker(leader).filter(|b| !b.fenced));
            if let Some((code, message)) = denied(&authz, request.key_type, &key) {
                c.error_code = code;
                // Kafka's v4+ answer carries no message for this error.
                c.error_message = (version < 4).then(|| StrBytes::from_static_str(message));
            } else if request.key_type != GROUP && request.key_type != TRANSACTION {
                c.error_code = ResponseError::InvalidRequest.code();
                c.error_message = Some(StrBytes::from_string(format!(
                    "Unknown coordinator type {} in FindCoordinator request",
                    request.key_type
                )));
            } else if let Err((code, message)) = &created {
                c.error_code = *code;
                c.error_message = Some(StrBytes::from_string(message.clone()));
            } else if let Some(b) = leader {
                let (host, port) = broker_address(&state.config, &ctx.session.listener, b);
                c.node_id = BrokerId(b.broker_id);
                c.host = StrBytes::from_string(host);
                c.port = port;
            } else {
                // The partition has no leader right now (a failover): retry.
                c.error_code = ResponseError::CoordinatorNotAvailable.code();
                c.error_message = Some(StrBytes::from_static_str(
                    "The coordinator is not available.",
                ));
            }
            c.with_key(key)
        })
        .collect();
    if version >= 4 {
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let c = coordinators.into_iter().next().unwrap_or_default();
    FindCoordinatorResponse::default()
        .with_error_code(c.error_code)
        .with_error_message(c.error_message)
        .with_node_id(c.node_id)
        .with_host(c.host)
        .with_port(c.port)
}

/// The error for a key the principal may not DESCRIBE, as Kafka checks it.
fn denied(authz: &SessionAuthorizer<'_>, key_type: i8, key: &str) -> Option<(i16, &'static str)> {
    match key_type {
        GROUP if !authz.allows(AclOperation::Describe, ResourceType::Group, key) => Some((
            ResponseError::GroupAuthorizationFailed.code(),
            "Group authorization failed.",
        )),
        TRANSACTION
            if !authz.allows(AclOperation::Describe, ResourceType::TransactionalId, key) =>
        {
            Some((
                ResponseError::TransactionalIdAuthorizationFailed.code(),
                "Transactional Id authorization failed.",
            ))
        }
        _ => None,
    }
}
