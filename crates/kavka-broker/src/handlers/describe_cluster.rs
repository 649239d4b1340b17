//! DescribeCluster: the cluster id, controller and brokers (admin clients).

use crate::security::listener::broker_address;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{authorized_operations, RequestContext};

/// `endpoint_type` of DescribeCluster (KIP-919): brokers, or controllers.
pub(crate) const ENDPOINT_BROKERS: i8 = 1;
pub(crate) const ENDPOINT_CONTROLLERS: i8 = 2;

fn endpoint_name(t: i8) -> &'static str {
    if t == ENDPOINT_CONTROLLERS {
        "CONTROLLER"
    } else {
        "BROKER"
    }
}

/// Kafka's answer to a DescribeCluster for the other kind of endpoint than the
/// listener it arrived on, or an unknown kind; None when `asked` is `served`.
pub(crate) fn wrong_endpoint_type(asked: i8, served: i8) -> Option<DescribeClusterResponse> {
    if asked == served {
        return None;
    }
    let (error, message) = if asked == ENDPOINT_BROKERS || asked == ENDPOINT_CONTROLLERS {
        (
            ResponseError::MismatchedEndpointType,
            format!(
                "The request was sent to an endpoint of type {}, but we wanted an endpoint of type {}",
                endpoint_name(served),
                endpoint_name(asked)
            ),
        )
    } else {
        (
            ResponseError::UnsupportedEndpointType,
            format!("Unsupported endpoint type {asked}"),
        )
    };
    Some(
        DescribeClusterResponse::default()
            .with_error_code(error.code())
            .with_error_message(Some(StrBytes::from_string(message))),
    )
}

/// Lists brokers; this node also answers as the controller.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    if let Some(refused) = wrong_endpoint_type(request.endpoint_type, ENDPOINT_BROKERS) {
        return refused;
    }
    let state = ctx.state;
    let brokers = state
        .metadata
        .image()
        .brokers()
        .filter(|b| !b.fenced)
        .map(|b| {
            let (host, port) = broker_address(&state.config, &ctx.session.listener, b);
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.broker_id))
                .with_host(StrBytes::from_string(host))
                .with_port(port)
                .with_rack(b.rack.clone().map(StrBytes::from_string))
        })
        .collect();
    DescribeClusterResponse::default()
        .with_endpoint_type(request.endpoint_type)
        .with_cluster_id(StrBytes::from_string(state.cluster_id.clone()))
        .with_controller_id(BrokerId(state.config.node_id))
        .with_brokers(brokers)
        .with_cluster_authorized_operations(cluster_operations(
            ctx,
            request.include_cluster_authorized_operations,
        ))
}

/// The principal's operations on the cluster; 0 without DESCRIBE on it, as Kafka.
fn cluster_operations(ctx: &RequestContext<'_>, requested: bool) -> i32 {
    let authz = ctx.authz();
    if requested && !authz.allows_cluster(kavka_metadata::acl::AclOperation::Describe) {
        return 0;
    }
    authorized_operations::cluster(&authz, requested)
}
