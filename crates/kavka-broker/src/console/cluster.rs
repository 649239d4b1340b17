//! The cluster page: brokers from the metadata image (the registrations
//! DescribeCluster and Metadata answer from, with the fenced and
//! controlled-shutdown flags no Kafka response carries), controllers from
//! DescribeQuorum.

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, DescribeQuorumRequest, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::error::ApiError;
use super::kafka::{call, check};
use crate::state::BrokerState;

/// A registered broker.
#[derive(Debug, Serialize)]
pub(crate) struct BrokerView {
    id: i32,
    host: String,
    port: i32,
    rack: Option<String>,
    fenced: bool,
    in_controlled_shutdown: bool,
    /// Whether this broker is also the active controller (combined mode).
    active_controller: bool,
    /// Whether this is the broker serving the console.
    this_broker: bool,
}

/// A member of the metadata quorum.
#[derive(Debug, Serialize)]
pub(crate) struct ControllerView {
    id: i32,
    /// A voter, or an observer (a broker-only node following the log).
    role: &'static str,
    active: bool,
    endpoints: Vec<String>,
    log_end_offset: i64,
}

/// The cluster page's content.
#[derive(Debug, Serialize)]
pub(crate) struct ClusterView {
    cluster_id: String,
    active_controller: i32,
    brokers: Vec<BrokerView>,
    controllers: Vec<ControllerView>,
}

const CLUSTER_METADATA: &str = "__cluster_metadata";

/// The cluster's brokers and controllers.
pub(crate) async fn cluster(state: &BrokerState) -> Result<ClusterView, ApiError> {
    let active = state.active_controller();
    let image = state.metadata.image();
    let brokers = image
        .brokers()
        .map(|b| BrokerView {
            id: b.broker_id,
            host: b.host.clone(),
            port: b.port,
            rack: b.rack.clone(),
            fenced: b.fenced,
            in_controlled_shutdown: b.in_controlled_shutdown,
            active_controller: b.broker_id == active,
            this_broker: b.broker_id == state.config.node_id,
        })
        .collect();
    Ok(ClusterView {
        cluster_id: state.cluster_id.clone(),
        active_controller: active,
        brokers,
        controllers: controllers(state).await?,
    })
}

async fn controllers(state: &BrokerState) -> Result<Vec<ControllerView>, ApiError> {
    let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str(CLUSTER_METADATA)))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    let ResponseKind::DescribeQuorum(response) = call(
        state,
        ApiKey::DescribeQuorum,
        2,
        RequestKind::DescribeQuorum(request),
    )
    .await?
    else {
        return Err(ApiError::internal("DescribeQuorum gave another answer"));
    };
    check(response.error_code, response.error_message.as_ref())?;
    let endpoints = |id: i32| -> Vec<String> {
        response
            .nodes
            .iter()
            .filter(|n| n.node_id.0 == id)
            .flat_map(|n| {
                n.listeners
                    .iter()
                    .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
            })
            .collect()
    };
    let mut out = Vec::new();
    for partition in response.topics.iter().flat_map(|t| t.partitions.iter()) {
        check(partition.error_code, partition.error_message.as_ref())?;
        let leader = partition.leader_id.0;
        for (role, replicas) in [
            ("voter", &partition.current_voters),
            ("observer", &partition.observers),
        ] {
            for r in replicas {
                out.push(ControllerView {
                    id: r.replica_id.0,
                    role,
                    active: r.replica_id.0 == leader,
                    endpoints: endpoints(r.replica_id.0),
                    log_end_offset: r.log_end_offset,
                });
            }
        }
    }
    Ok(out)
}
