//! What a controller answers in Kafka's protocol on its controller listener, for
//! tools run with `--bootstrap-controller` and admin clients with
//! `bootstrap.controllers` (KIP-919): ApiVersions, DescribeCluster for the
//! controller endpoints, and DescribeQuorum. Combined and dedicated controllers
//! answer the same way; every other API belongs to the brokers' listeners.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, DescribeClusterRequest, DescribeClusterResponse,
    RequestKind, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_raft::{KafkaConnectionHandler, MetadataQuorum, NodeId};
use kavka_wire::DecodedRequest;
use tokio::net::TcpStream;

use crate::config::BrokerConfig;
use crate::connection::{serve_frames, Answer, FrameLimits, Reply};
use crate::controller::ControllerClient;
use crate::handlers::describe_cluster::{wrong_endpoint_type, ENDPOINT_CONTROLLERS};
use crate::handlers::describe_quorum::{self, QuorumEndpoint};
use crate::stream::ClientStream;

/// The APIs a controller listener serves.
const CONTROLLER_APIS: &[ApiKey] = &[
    ApiKey::ApiVersions,
    ApiKey::DescribeCluster,
    ApiKey::DescribeQuorum,
];

/// The controller listener's Kafka side of one node.
#[derive(Clone)]
pub(crate) struct ControllerApis(Arc<Inner>);

struct Inner {
    quorum: MetadataQuorum,
    client: ControllerClient,
    cluster_id: String,
    endpoints: BTreeMap<NodeId, Vec<QuorumEndpoint>>,
    max_frame: usize,
}

impl ControllerApis {
    /// Installs the controller listener's Kafka side on `quorum`'s listener.
    pub(crate) fn install(
        quorum: &MetadataQuorum,
        client: &ControllerClient,
        config: &BrokerConfig,
        cluster_id: &str,
    ) {
        let apis = ControllerApis(Arc::new(Inner {
            quorum: quorum.clone(),
            client: client.clone(),
            cluster_id: cluster_id.to_string(),
            endpoints: describe_quorum::voter_endpoints(config),
            max_frame: config.socket_request_max_bytes,
        }));
        quorum.set_kafka_handler(Arc::new(apis));
    }

    fn api_versions(&self) -> ApiVersionsResponse {
        ApiVersionsResponse::default().with_api_keys(
            CONTROLLER_APIS
                .iter()
                .filter_map(|&key| {
                    let (min, max) = kavka_wire::supported_range(key)?;
                    Some(
                        ApiVersion::default()
                            .with_api_key(key as i16)
                            .with_min_version(min)
                            .with_max_version(max),
                    )
                })
                .collect(),
        )
    }

    fn describe_cluster(&self, request: &DescribeClusterRequest) -> DescribeClusterResponse {
        if let Some(refused) = wrong_endpoint_type(request.endpoint_type, ENDPOINT_CONTROLLERS) {
            return refused;
        }
        let leader = self
            .0
            .quorum
            .leader()
            .and_then(|l| i32::try_from(l).ok())
            .unwrap_or(-1);
        let controllers = self
            .0
            .endpoints
            .iter()
            .filter_map(|(&id, endpoints)| {
                let e = endpoints.first()?;
                Some(
                    DescribeClusterBroker::default()
                        .with_broker_id(BrokerId(i32::try_from(id).ok()?))
                        .with_host(StrBytes::from_string(e.host.clone()))
                        .with_port(i32::from(e.port)),
                )
            })
            .collect();
        DescribeClusterResponse::default()
            .with_endpoint_type(ENDPOINT_CONTROLLERS)
            .with_cluster_id(StrBytes::from_string(self.0.cluster_id.clone()))
            .with_controller_id(BrokerId(leader))
            .with_brokers(controllers)
            .with_cluster_authorized_operations(i32::MIN)
    }

    async fn describe_quorum(
        &self,
        request: &kafka_protocol::messages::DescribeQuorumRequest,
        version: i16,
    ) -> kafka_protocol::messages::DescribeQuorumResponse {
        let description = match self.0.client.describe_quorum().await {
            Ok(d) => d,
            Err(_) => self.0.quorum.describe(),
        };
        let local = description.leader_id.unwrap_or(self.0.quorum.node_id());
        describe_quorum::response(request, version, local, &description, &self.0.endpoints)
    }
}

impl Answer for ControllerApis {
    async fn answer(&self, request: DecodedRequest, peer: SocketAddr) -> Reply {
        let version = request.version;
        let Some(body) = request.body else {
            return Reply::Send(ResponseKind::ApiVersions(
                self.api_versions()
                    .with_error_code(ResponseError::UnsupportedVersion.code()),
            ));
        };
        Reply::Send(match body {
            RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(self.api_versions()),
            RequestKind::DescribeCluster(r) => {
                ResponseKind::DescribeCluster(self.describe_cluster(&r))
            }
            RequestKind::DescribeQuorum(r) => {
                ResponseKind::DescribeQuorum(self.describe_quorum(&r, version).await)
            }
            _ => {
                // As Kafka does for an API a listener does not expose.
                tracing::warn!(%peer, api = ?request.api_key,
                    "closing controller listener connection: API not served on this listener");
                return Reply::Close;
            }
        })
    }
}

impl KafkaConnectionHandler for ControllerApis {
    fn serve(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let apis = self.clone();
        Box::pin(async move {
            let _ = stream.set_nodelay(true);
            let limits = FrameLimits {
                max_frame: apis.0.max_frame,
                idle: None,
                queue: None,
                stats: None,
            };
            serve_frames(&apis, ClientStream::Plain(stream), peer, &limits, None).await;
        })
    }
}
