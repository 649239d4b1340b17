//! DescribeQuorum (API key 55): the state of the metadata quorum, what
//! `kafka-metadata-quorum describe` prints, built from a
//! [`kavka_raft::QuorumDescription`].

//!
//! Any node answers: the description comes from the active controller, which
//! alone knows the followers' progress (Kafka's brokers forward it there).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{
    BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_raft::{NodeId, QuorumDescription, ReplicaDescription};

/// The metadata log's topic, the one partition DescribeQuorum describes.
pub(crate) const METADATA_TOPIC: &str = "__cluster_metadata";

/// One endpoint of a voter, as DescribeQuorum v2 lists it:
/// `CONTROLLER://host:port` in `kafka-metadata-quorum describe --status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QuorumEndpoint {
    /// The listener name, e.g. `CONTROLLER`.
    pub(crate) listener: String,
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// The DescribeQuorum response of node `local` at `version`, from its view of the
/// quorum. Only the leader answers with the quorum's state (as Kafka's
/// `KafkaRaftClient` does); a request that does not name exactly
/// `__cluster_metadata-0` is UNKNOWN_TOPIC_OR_PARTITION for what it named.
/// `endpoints` gives each voter's controller listeners (v2 `nodes`).
pub(crate) fn response(
    request: &DescribeQuorumRequest,
    version: i16,
    local: NodeId,
    quorum: &QuorumDescription,
    endpoints: &BTreeMap<NodeId, Vec<QuorumEndpoint>>,
) -> DescribeQuorumResponse {
    let names_metadata_partition = matches!(request.topics.as_slice(),
        [t] if t.topic_name.0.as_str() == METADATA_TOPIC
            && matches!(t.partitions.as_slice(), [p] if p.partition_index == 0));
    if !names_metadata_partition {
        return partition_errors(request, version, ResponseError::UnknownTopicOrPartition);
    }
    if quorum.leader_id != Some(local) {
        return partition_errors(request, version, ResponseError::NotLeaderOrFollower);
    }
    let replica = |r: &ReplicaDescription| {
        ReplicaState::default()
            .with_replica_id(broker_id(r.node_id))
            .with_log_end_offset(offset(r.log_end_offset))
            .with_last_fetch_timestamp(offset(r.last_fetch_timestamp_ms))
            .with_last_caught_up_timestamp(offset(r.last_caught_up_timestamp_ms))
    };
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_error_code(0)
        .with_error_message(None)
        .with_leader_id(quorum.leader_id.map_or(BrokerId(-1), broker_id))
        .with_leader_epoch(i32::try_from(quorum.leader_epoch).unwrap_or(i32::MAX))
        .with_high_watermark(i64::try_from(quorum.high_watermark).unwrap_or(i64::MAX))
        .with_current_voters(quorum.voters.iter().map(replica).collect())
        .with_observers(quorum.observers.iter().map(replica).collect());
    let nodes = if version >= 2 {
        quorum
            .voters
            .iter()
            .filter_map(|v| {
                let listeners = endpoints.get(&v.node_id)?;
                Some(
                    Node::default()
                        .with_node_id(broker_id(v.node_id))
                        .with_listeners(
                            listeners
                                .iter()
                                .map(|e| {
                                    Listener::default()
                                        .with_name(StrBytes::from_string(e.listener.clone()))
                                        .with_host(StrBytes::from_string(e.host.clone()))
                                        .with_port(e.port)
                                })
                                .collect(),
                        ),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeQuorumResponse::default()
        .with_error_code(0)
        .with_error_message(None)
        .with_topics(vec![TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
            .with_partitions(vec![partition])])
        .with_nodes(nodes)
}

/// Every partition the request named, with `error` (Kafka's
/// `DescribeQuorumRequest.getPartitionLevelErrorResponse`).
fn partition_errors(
    request: &DescribeQuorumRequest,
    version: i16,
    error: ResponseError,
) -> DescribeQuorumResponse {
    let message = (version >= 2).then(|| StrBytes::from_string(error.to_string()));
    let topics = request
        .topics
        .iter()
        .map(|t| {
            TopicData::default()
                .with_topic_name(t.topic_name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            PartitionData::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(error.code())
                                .with_error_message(message.clone())
                                .with_leader_id(BrokerId(-1))
                                .with_leader_epoch(-1)
                                .with_high_watermark(-1)
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeQuorumResponse::default()
        .with_error_message(None)
        .with_topics(topics)
}

fn broker_id(id: NodeId) -> BrokerId {
    BrokerId(i32::try_from(id).unwrap_or(-1))
}

/// An optional offset or timestamp as Kafka sends it: -1 when unknown.
fn offset(value: Option<u64>) -> i64 {
    value.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// Answers DescribeQuorum with the active controller's view of the quorum.
pub(crate) async fn handle(
    ctx: &super::RequestContext<'_>,
    request: DescribeQuorumRequest,
    version: i16,
) -> DescribeQuorumResponse {
    let state = ctx.state;
    let description = match state.controller.describe_quorum().await {
        Ok(d) => d,
        // No controller reachable: this node's own view says who leads, if anyone.
        Err(_) => state.metadata.quorum().describe(),
    };
    let endpoints = voter_endpoints(&state.config);
    let local = description
        .leader_id
        .unwrap_or(state.metadata.quorum().node_id());
    response(&request, version, local, &description, &endpoints)
}

/// Each voter's controller listener, from `controller.quorum.voters` and the
/// first of `controller.listener.names`.
pub(crate) fn voter_endpoints(
    config: &crate::config::BrokerConfig,
) -> BTreeMap<NodeId, Vec<QuorumEndpoint>> {
    let listener = config
        .cluster
        .controller_listener_names
        .first()
        .cloned()
        .unwrap_or_else(|| "CONTROLLER".to_string());
    config
        .cluster
        .voters
        .iter()
        .filter_map(|v| {
            let id = NodeId::try_from(v.id).ok()?;
            Some((
                id,
                vec![QuorumEndpoint {
                    listener: listener.clone(),
                    host: v.host.clone(),
                    port: v.port,
                }],
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::messages::describe_quorum_request::{
        PartitionData as RequestPartition, TopicData as RequestTopic,
    };
    use kafka_protocol::protocol::{Decodable, Encodable};

    use super::*;

    fn request(topic: &str, partition: i32) -> DescribeQuorumRequest {
        DescribeQuorumRequest::default().with_topics(vec![RequestTopic::default()
            .with_topic_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(vec![
                RequestPartition::default().with_partition_index(partition)
            ])])
    }

    fn replica(id: NodeId, leo: Option<u64>, ts: Option<u64>) -> ReplicaDescription {
        ReplicaDescription {
            node_id: id,
            addr: format!("127.0.0.1:{}", 19291 + id),
            log_end_offset: leo,
            last_fetch_timestamp_ms: ts,
            last_caught_up_timestamp_ms: ts,
        }
    }

    /// Node 1 leads voters 1, 2, 3; node 3 is behind (transcript section 2).
    fn quorum() -> QuorumDescription {
        QuorumDescription {
            leader_id: Some(1),
            leader_epoch: 1,
            high_watermark: 318,
            voters: vec![
                replica(1, Some(321), Some(1_796_211_748_736)),
                replica(2, Some(321), Some(1_796_211_748_611)),
                replica(3, Some(272), Some(1_796_211_724_556)),
            ],
            observers: vec![replica(4, None, None)],
        }
    }

    fn endpoints() -> BTreeMap<NodeId, Vec<QuorumEndpoint>> {
        (1..=3)
            .map(|id| {
                (
                    id,
                    vec![QuorumEndpoint {
                        listener: "CONTROLLER".into(),
                        host: "127.0.0.1".into(),
                        port: 19291 + id as u16,
                    }],
                )
            })
            .collect()
    }

    /// Encodes at `version` and decodes again, as a client would read it.
    fn round_trip(response: &DescribeQuorumResponse, version: i16) -> DescribeQuorumResponse {
        let mut buf = BytesMut::new();
        response.encode(&mut buf, version).expect("encodes");
        DescribeQuorumResponse::decode(&mut buf.freeze(), version).expect("decodes")
    }

    #[test]
    fn the_leader_describes_voters_observers_and_endpoints() {
        let r = response(&request(METADATA_TOPIC, 0), 2, 1, &quorum(), &endpoints());
        let r = round_trip(&r, 2);
        assert_eq!(r.error_code, 0);
        assert_eq!(r.error_message, None);
        let p = &r.topics[0].partitions[0];
        assert_eq!(r.topics[0].topic_name.0.as_str(), METADATA_TOPIC);
        assert_eq!(
            (p.leader_id.0, p.leader_epoch, p.high_watermark),
            (1, 1, 318)
        );
        let voters: Vec<(i32, i64, i64)> = p
            .current_voters
            .iter()
            .map(|v| (v.replica_id.0, v.log_end_offset, v.last_caught_up_timestamp))
            .collect();
        assert_eq!(
            voters,
            vec![
                (1, 321, 1_796_211_748_736),
                (2, 321, 1_796_211_748_611),
                (3, 272, 1_796_211_724_556)
            ]
        );
        let observer = &p.observers[0];
        assert_eq!(
            (
                observer.replica_id.0,
                observer.log_end_offset,
                observer.last_fetch_timestamp
            ),
            (4, -1, -1)
        );
        assert!(p
            .current_voters
            .iter()
            .all(|v| v.replica_directory_id.is_nil()));
        let nodes: Vec<(i32, String)> = r
            .nodes
            .iter()
            .map(|n| {
                let l = &n.listeners[0];
                (n.node_id.0, format!("{}://{}:{}", l.name, l.host, l.port))
            })
            .collect();
        assert_eq!(
            nodes,
            vec![
                (1, "CONTROLLER://127.0.0.1:19292".to_string()),
                (2, "CONTROLLER://127.0.0.1:19293".to_string()),
                (3, "CONTROLLER://127.0.0.1:19294".to_string()),
            ]
        );
    }

    #[test]
    fn every_version_encodes() {
        for version in 0..=2 {
            let r = response(
                &request(METADATA_TOPIC, 0),
                version,
                1,
                &quorum(),
                &endpoints(),
            );
            let back = round_trip(&r, version);
            assert_eq!(back.topics[0].partitions[0].current_voters.len(), 3);
            assert_eq!(back.nodes.is_empty(), version < 2, "v{version}");
        }
    }

    #[test]
    fn a_follower_refuses_with_not_leader() {
        for version in 0..=2 {
            let r = response(
                &request(METADATA_TOPIC, 0),
                version,
                2,
                &quorum(),
                &endpoints(),
            );
            let r = round_trip(&r, version);
            let p = &r.topics[0].partitions[0];
            assert_eq!(p.error_code, ResponseError::NotLeaderOrFollower.code());
            assert!(p.current_voters.is_empty());
        }
        let mut leaderless = quorum();
        leaderless.leader_id = None;
        let r = response(&request(METADATA_TOPIC, 0), 2, 1, &leaderless, &endpoints());
        assert_eq!(
            r.topics[0].partitions[0].error_code,
            ResponseError::NotLeaderOrFollower.code()
        );
    }

    #[test]
    fn only_the_metadata_partition_is_described() {
        for (topic, partition) in [("orders", 0), (METADATA_TOPIC, 1)] {
            let r = response(&request(topic, partition), 2, 1, &quorum(), &endpoints());
            let r = round_trip(&r, 2);
            assert_eq!(r.topics[0].topic_name.0.as_str(), topic);
            let p = &r.topics[0].partitions[0];
            assert_eq!(p.partition_index, partition);
            assert_eq!(p.error_code, ResponseError::UnknownTopicOrPartition.code());
        }
        let r = response(
            &DescribeQuorumRequest::default(),
            2,
            1,
            &quorum(),
            &endpoints(),
        );
        assert!(r.topics.is_empty());
    }
}
