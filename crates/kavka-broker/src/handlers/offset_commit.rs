//! OffsetCommit: store a group's positions in `__consumer_offsets`.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_group::{error_code, CommitPartition, Effects};
use kavka_metadata::MetadataImage;

use super::RequestContext;
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Splits the offsets to commit into those of existing partitions and the
/// (topic, partition) of the others, which Kafka refuses with
/// UNKNOWN_TOPIC_OR_PARTITION (OffsetCommit and TxnOffsetCommit alike).
pub(crate) fn split_known(
    image: &MetadataImage,
    offsets: impl Iterator<Item = CommitPartition>,
) -> (Vec<CommitPartition>, Vec<(String, i32)>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for o in offsets {
        let exists = image
            .topic(&o.topic)
            .is_some_and(|t| t.partitions.contains_key(&o.partition));
        if exists {
            known.push(o);
        } else {
            unknown.push((o.topic, o.partition));
        }
    }
    (known, unknown)
}

/// Commits offsets for members (generation checked) or standalone consumers.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    // READ on the group, then on each topic, as Kafka checks them.
    let authz = ctx.authz();
    let group_denied = !authz.allows(
        AclOperation::Read,
        ResourceType::Group,
        request.group_id.0.as_str(),
    );
    let readable =
        |t: &str| !group_denied && authz.allows(AclOperation::Read, ResourceType::Topic, t);
    let mut denied: Vec<(String, i32)> = Vec::new();
    for t in request
        .topics
        .iter()
        .filter(|t| !readable(t.name.0.as_str()))
    {
        denied.extend(
            t.partitions
                .iter()
                .map(|p| (t.name.0.to_string(), p.partition_index)),
        );
    }
    let denied_code = if group_denied {
        ResponseError::GroupAuthorizationFailed.code()
    } else {
        ResponseError::TopicAuthorizationFailed.code()
    };
    let (offsets, unknown) = split_known(
        &ctx.state.metadata.image(),
        request
            .topics
            .iter()
            .filter(|t| readable(t.name.0.as_str()))
            .flat_map(|t| {
                t.partitions.iter().map(|p| CommitPartition {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                })
            }),
    );
    let attempted: Vec<(String, i32)> = offsets
        .iter()
        .map(|o| (o.topic.clone(), o.partition))
        .collect();
    let req = kavka_group::OffsetCommitRequest {
        group_id: request.group_id.0.to_string(),
        generation_id: request.generation_id_or_member_epoch,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|s| s.to_string()),
        offsets,
    };
    let group_id = req.group_id.clone();
    let result = ctx
        .state
        .groups
        .direct(ctx.state, &[&group_id], |c, now| {
            let (results, records) = c.commit_offsets(req, now);
            (
                results,
                Effects {
                    completions: vec![],
                    records,
                },
            )
        })
        .await;
    let mut by_topic: BTreeMap<String, Vec<OffsetCommitResponsePartition>> = BTreeMap::new();
    for (topic, partition) in denied {
        by_topic.entry(topic).or_default().push(
            OffsetCommitResponsePartition::default()
                .with_partition_index(partition)
                .with_error_code(denied_code),
        );
    }
    for (topic, partition) in unknown {
        by_topic.entry(topic).or_default().push(
            OffsetCommitResponsePartition::default()
                .with_partition_index(partition)
                .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
        );
    }
    match result {
        Ok(results) => {
            for r in results {
                by_topic.entry(r.topic).or_default().push(
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(r.partition)
                        .with_error_code(error_code(r.error)),
                );
            }
        }
        Err(e) => {
            for (topic, partition) in attempted {
                by_topic.entry(topic).or_default().push(
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(partition)
                        .with_error_code(e.code()),
                );
            }
        }
    }
    OffsetCommitResponse::default().with_topics(
        by_topic
            .into_iter()
            .map(|(name, partitions)| {
                OffsetCommitResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partitions(partitions)
            })
            .collect(),
    )
}
