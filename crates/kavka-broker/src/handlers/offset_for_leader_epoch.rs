//! OffsetForLeaderEpoch: where a leader epoch ended, so clients can detect a
//! diverged position after a leader change.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::ResponseError;
use kavka_replica::{end_offset_for_epoch, EpochEntry};

use super::{leader_epoch_error, partition_error_code, RequestContext};
use kavka_metadata::acl::{AclOperation, ResourceType};

/// The replica id of Kafka's debugging tools, served by any replica.
const DEBUGGING_REPLICA_ID: i32 = -2;

/// Kafka's `endOffsetFor` over the log's epoch cache (largest epoch ≤ the one asked
/// and where it ends; an epoch newer than every entry is unknown); None when the
/// cache has nothing to say.
fn end_offset(log: &kavka_storage::PartitionLog, requested: i32) -> Option<(i32, i64)> {
    let entries: Vec<EpochEntry> = log
        .leader_epochs()
        .iter()
        .map(|&(epoch, start_offset)| EpochEntry {
            epoch,
            start_offset,
        })
        .collect();
    let answer = end_offset_for_epoch(&entries, requested, log.log_end_offset());
    (!answer.has_undefined_offset()).then_some((answer.epoch, answer.end_offset))
}

/// Looks up each partition's end offset for the requested epoch.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let state = ctx.state;
    let replica_id = request.replica_id;
    // Followers need CLUSTER_ACTION; anyone else DESCRIBE on the topic.
    let authz = ctx.authz();
    let cluster_action = authz.allows_cluster(AclOperation::ClusterAction);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.topic.0.to_string();
            let describable =
                cluster_action || authz.allows(AclOperation::Describe, ResourceType::Topic, &name);
            let partitions = topic
                .partitions
                .into_iter()
                .map(|op| {
                    let mut r = EpochEndOffset::default()
                        .with_partition(op.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    if !describable {
                        r.error_code = ResponseError::TopicAuthorizationFailed.code();
                        return r;
                    }
                    let Some(p) = state.replicas.get(&name, op.partition) else {
                        r.error_code = ResponseError::UnknownTopicOrPartition.code();
                        return r;
                    };
                    let epoch = p.leader_epoch();
                    if let Some(code) = leader_epoch_error(op.current_leader_epoch, epoch) {
                        r.error_code = code;
                        return r;
                    }
                    // Followers truncate by this answer; only the leader's log is the
                    // reference (Kafka answers from the leader only, but for the
                    // debugging replica id -2).
                    if !p.is_leader() && replica_id.0 != DEBUGGING_REPLICA_ID {
                        r.error_code = ResponseError::NotLeaderOrFollower.code();
                        return r;
                    }
                    match p.log(|log| Ok(end_offset(log, op.leader_epoch))) {
                        Ok(Some((e, end))) => {
                            r.leader_epoch = e;
                            r.end_offset = end;
                        }
                        // No batch written yet in any epoch <= the requested one:
                        // an empty log answers with the current epoch and its end.
                        Ok(None) if op.leader_epoch >= epoch => {
                            r.leader_epoch = epoch;
                            r.end_offset = p.high_watermark();
                        }
                        Ok(None) => {}
                        Err(e) => r.error_code = partition_error_code(&e),
                    }
                    r
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
