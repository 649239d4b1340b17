//! FindCoordinator: this broker coordinates every group (single node).

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::RequestContext;

const GROUP: i8 = 0;

/// Points groups at this broker; transactions are not coordinated yet.
pub(crate) fn handle(
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
    let host = StrBytes::from_string(state.config.advertised.host.clone());
    let port = i32::from(state.config.advertised.port);
    let coordinators: Vec<Coordinator> = keys
        .into_iter()
        .map(|key| {
            let mut c = Coordinator::default()
                .with_key(key)
                .with_node_id(BrokerId(-1))
                .with_port(-1);
            if request.key_type != GROUP {
                c.error_code = ResponseError::CoordinatorNotAvailable.code();
                c.error_message = Some(StrBytes::from_static_str(
                    "Kavka does not support transactions yet",
                ));
            } else if let Err(e) = state.groups.ensure_topic(state) {
                c.error_code = e.code();
                c.error_message = Some(StrBytes::from_string(e.to_string()));
            } else {
                c.node_id = BrokerId(state.config.node_id);
                c.host = host.clone();
                c.port = port;
            }
            c
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
