//! WriteTxnMarkers (API 27): the transaction coordinator asks this broker, as leader
//! of each named partition, to write a COMMIT or ABORT marker for a producer. Each
//! marker is written with acks=all: the partition's answer waits until the high
//! watermark passes it (or the timeout), as Kafka's required acks -1. Every
//! partition is written before any waits, so they replicate together.

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use kafka_protocol::ResponseError;
use kavka_replica::ReplicaError;
use kavka_storage::TxnMarker;

use super::{partition_error_code, RequestContext};
use crate::partition::AckWait;
use crate::state::now_ms;
use kavka_metadata::acl::AclOperation;

/// How long a marker waits for its replicas: Kafka's `request.timeout.ms` default.
const MARKER_TIMEOUT_MS: i64 = 30_000;

/// Writes every marker on every partition it names; answers per partition.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let state = ctx.state;
    let now = now_ms();
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(MARKER_TIMEOUT_MS.unsigned_abs());
    // (marker, topic, partition) positions of the answers still waiting, with the
    // partition and what to do once the marker is replicated.
    let mut waiting = Vec::new();
    let mut results = Vec::with_capacity(request.markers.len());
    let cluster_action = ctx.authorize_cluster(AclOperation::ClusterAction);
    for (m, wire) in request.markers.iter().enumerate() {
        let marker = TxnMarker {
            producer_id: wire.producer_id.0,
            producer_epoch: wire.producer_epoch,
            coordinator_epoch: wire.coordinator_epoch,
            commit: wire.transaction_result,
        };
        let mut topics = Vec::with_capacity(wire.topics.len());
        for (t, topic) in wire.topics.iter().enumerate() {
            let name = topic.name.0.to_string();
            let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
            for (i, &index) in topic.partition_indexes.iter().enumerate() {
                let code = match state.replicas.get(&name, index) {
                    // Only brokers (CLUSTER_ACTION) write markers.
                    _ if !cluster_action => {
                        kafka_protocol::ResponseError::ClusterAuthorizationFailed.code()
                    }
                    None => ResponseError::UnknownTopicOrPartition.code(),
                    Some(p) => match p.append_marker(&marker, now, now + MARKER_TIMEOUT_MS) {
                        Ok((info, AckWait::Pending(id, rx))) => {
                            waiting.push((m, t, i, p.clone(), id, rx, info.last_offset));
                            0
                        }
                        Ok((info, AckWait::Done(result))) => match result {
                            Ok(()) => {
                                after_marker(ctx, &name, index, &marker, info.last_offset).await;
                                0
                            }
                            Err(e) => e.code(),
                        },
                        Err(e) => {
                            tracing::debug!(topic = %name, partition = index, error = %e,
                                producer_id = marker.producer_id, "transaction marker refused");
                            partition_error_code(&e)
                        }
                    },
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(index)
                        .with_error_code(code),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions),
            );
        }
        results.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(wire.producer_id)
                .with_topics(topics),
        );
    }
    for (m, t, i, p, id, rx, marker_offset) in waiting {
        let code = match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(Ok(()))) => {
                if let Some(wire) = request.markers.get(m) {
                    let marker = TxnMarker {
                        producer_id: wire.producer_id.0,
                        producer_epoch: wire.producer_epoch,
                        coordinator_epoch: wire.coordinator_epoch,
                        commit: wire.transaction_result,
                    };
                    after_marker(ctx, &p.topic, p.index, &marker, marker_offset).await;
                }
                0
            }
            Ok(Ok(Err(e))) => ReplicaError::code(e),
            Ok(Err(_)) => ResponseError::NotLeaderOrFollower.code(),
            Err(_) => {
                p.abandon_produce(id, now_ms());
                ResponseError::RequestTimedOut.code()
            }
        };
        if let Some(result) = results
            .get_mut(m)
            .and_then(|r| r.topics.get_mut(t))
            .and_then(|t| t.partitions.get_mut(i))
        {
            result.error_code = code;
        }
    }
    WriteTxnMarkersResponse::default().with_markers(results)
}

/// What follows a replicated marker: on `__consumer_offsets` the group side
/// applies (COMMIT) or drops (ABORT) the producer's pending offset commits.
async fn after_marker(
    ctx: &RequestContext<'_>,
    topic: &str,
    partition: i32,
    marker: &TxnMarker,
    _marker_offset: i64,
) {
    if topic == crate::group_service::OFFSETS_TOPIC {
        ctx.state
            .groups
            .complete_txn_offsets(partition, marker.producer_id, marker.commit);
    }
}
