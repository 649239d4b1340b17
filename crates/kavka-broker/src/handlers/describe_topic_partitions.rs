//! DescribeTopicPartitions: partition details with paging (KIP-966), what
//! `kafka-topics --describe` reads, including the (empty) ELR fields.

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::acl::{AclOperation, ResourceType};
use kavka_metadata::topic_name::is_internal;

use super::{authorized_operations, RequestContext};

/// Lists partitions of the named (or all) topics in name order, at most
/// `response_partition_limit` of them, with a cursor to continue from.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let image = ctx.state.metadata.image();
    let authz = ctx.authz();
    let describable = |name: &str| authz.allows(AclOperation::Describe, ResourceType::Topic, name);
    let all_topics = request.topics.is_empty();
    let mut names: Vec<String> = if all_topics {
        // Topics the principal may not describe are left out of "all topics".
        image
            .topics()
            .map(|t| t.name.clone())
            .filter(|n| describable(n))
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.0.to_string())
            .collect()
    };
    names.sort();
    names.dedup();
    let (start_topic, start_partition) = match &request.cursor {
        Some(c) => (c.topic_name.0.to_string(), c.partition_index),
        None => (String::new(), 0),
    };
    let mut budget = request.response_partition_limit.max(1) as usize;
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names.into_iter().filter(|n| *n >= start_topic) {
        if !describable(&name) {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    .with_name(Some(TopicName(StrBytes::from_string(name))))
                    .with_topic_authorized_operations(authorized_operations::NOT_REQUESTED),
            );
            continue;
        }
        let Some(topic) = image.topic(&name) else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                    .with_topic_authorized_operations(authorized_operations::topic(
                        &authz, true, &name,
                    ))
                    .with_name(Some(TopicName(StrBytes::from_string(name)))),
            );
            continue;
        };
        let first = if name == start_topic {
            start_partition
        } else {
            0
        };
        let mut partitions = Vec::new();
        for (&index, p) in topic.partitions.range(first..) {
            if budget == 0 {
                next_cursor = Some(
                    Cursor::default()
                        .with_topic_name(TopicName(StrBytes::from_string(name.clone())))
                        .with_partition_index(index),
                );
                break;
            }
            budget -= 1;
            partitions.push(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(index)
                    .with_leader_id(BrokerId(p.leader))
                    .with_leader_epoch(p.leader_epoch)
                    .with_replica_nodes(p.replicas.iter().map(|&b| BrokerId(b)).collect())
                    .with_isr_nodes(p.isr.iter().map(|&b| BrokerId(b)).collect())
                    .with_eligible_leader_replicas(Some(vec![]))
                    .with_last_known_elr(Some(vec![])),
            );
        }
        topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                .with_topic_id(topic.topic_id)
                .with_is_internal(is_internal(&name))
                .with_partitions(partitions)
                .with_topic_authorized_operations(authorized_operations::topic(
                    &authz, true, &name,
                )),
        );
        if next_cursor.is_some() {
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}
