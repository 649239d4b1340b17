//! DescribeLogDirs (API key 35): the log directory of this broker and the
//! partitions in it, with their sizes; what `kafka-log-dirs` and
//! `kafka-reassign-partitions` ask each broker. Kavka has one log directory
//! (`log.dirs` names one) and no future replicas, so every offset lag is 0.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use kavka_metadata::acl::AclOperation;

/// Kafka's value for a volume size it cannot tell.
const UNKNOWN_VOLUME_BYTES: i64 = -1;

/// The log directory with the hosted partitions the request names (all: None).
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    // Kafka answers no directories, and from v3 the error, without DESCRIBE.
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return DescribeLogDirsResponse::default()
            .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code());
    }
    let state = ctx.state;
    let wanted: Option<BTreeSet<(String, i32)>> = request.topics.map(|topics| {
        topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| (t.topic.0.to_string(), p)))
            .collect()
    });
    let mut by_topic: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for p in state.replicas.all() {
        if wanted
            .as_ref()
            .is_some_and(|w| !w.contains(&(p.topic.clone(), p.index)))
        {
            continue;
        }
        let Ok(size) = p.log(|log| Ok(log.size_bytes())) else {
            continue; // Deleted or offline meanwhile.
        };
        by_topic.entry(p.topic.clone()).or_default().push(
            DescribeLogDirsPartition::default()
                .with_partition_index(p.index)
                .with_partition_size(i64::try_from(size).unwrap_or(i64::MAX)),
        );
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, mut partitions)| {
            partitions.sort_by_key(|p| p.partition_index);
            DescribeLogDirsTopic::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partitions(partitions)
        })
        .collect();
    let dir = std::path::absolute(&state.config.log_dir).unwrap_or(state.config.log_dir.clone());
    let (total, usable) = volume_bytes(&dir);
    DescribeLogDirsResponse::default().with_results(vec![DescribeLogDirsResult::default()
        .with_log_dir(StrBytes::from_string(dir.display().to_string()))
        .with_topics(topics)
        .with_total_bytes(total)
        .with_usable_bytes(usable)])
}

/// The size of the volume holding `dir` and what is free on it.
fn volume_bytes(dir: &std::path::Path) -> (i64, i64) {
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let block = s.f_frsize;
            let bytes =
                |blocks: u64| i64::try_from(blocks.saturating_mul(block)).unwrap_or(i64::MAX);
            (bytes(s.f_blocks), bytes(s.f_bavail))
        }
        Err(_) => (UNKNOWN_VOLUME_BYTES, UNKNOWN_VOLUME_BYTES),
    }
}
