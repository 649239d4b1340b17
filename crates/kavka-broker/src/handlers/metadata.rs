//! Metadata: brokers, topics and partition leaders; auto-creates topics that a
//! client asks for when `auto.create.topics.enable` allows.

use crate::security::listener::broker_address;
use std::collections::BTreeMap;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::acl::{AclOperation, ResourceType};
use kavka_metadata::controller::{create_topic, NewTopic};
use kavka_metadata::topic_name::{is_internal, validate};
use kavka_metadata::{MetadataImage, TopicImage};
use uuid::Uuid;

use super::{authorized_operations, RequestContext};

/// Answers which brokers exist and who leads each requested partition.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let state = ctx.state;
    // v0 used an empty list for "all topics"; later versions use null.
    let requested: Option<Vec<_>> = match request.topics {
        Some(t) if version == 0 && t.is_empty() => None,
        other => other,
    };
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let want_topic_ops = version >= 8 && request.include_topic_authorized_operations;
    let authz = ctx.authz();
    // Kafka answers 0 rather than the set when DESCRIBE on the cluster is denied.
    let cluster_ops = authorized_operations::cluster(
        &authz,
        (8..=10).contains(&version) && request.include_cluster_authorized_operations,
    );
    let cluster_ops = if cluster_ops != authorized_operations::NOT_REQUESTED
        && !authz.allows_cluster(AclOperation::Describe)
    {
        0
    } else {
        cluster_ops
    };
    let describable = |name: &str| authz.allows(AclOperation::Describe, ResourceType::Topic, name);
    let topic_ops = |name: &str| authorized_operations::topic(&authz, want_topic_ops, name);

    let mut image = state.metadata.image();
    let topics = match requested {
        // Topics the principal may not describe are left out of "all topics".
        None => image
            .topics()
            .filter(|t| describable(&t.name))
            .map(|t| topic_response(&image, t, topic_ops(&t.name), version))
            .collect(),
        Some(requested) => {
            let mut out = Vec::with_capacity(requested.len());
            for r in requested {
                let name = match &r.name {
                    Some(n) => n.0.to_string(),
                    None => match image.topic_by_id(&r.topic_id) {
                        Some(t) => t.name.clone(),
                        None => {
                            out.push(
                                MetadataResponseTopic::default()
                                    .with_error_code(ResponseError::UnknownTopicId.code())
                                    .with_topic_id(r.topic_id)
                                    .with_topic_authorized_operations(
                                        authorized_operations::NOT_REQUESTED,
                                    ),
                            );
                            continue;
                        }
                    },
                };
                // Existence is not disclosed to a principal that may not describe.
                if !describable(&name) {
                    out.push(denied_topic(r.name.is_some().then_some(name), r.topic_id));
                    continue;
                }
                if image.topic(&name).is_none()
                    && allow_create
                    && state.config.auto_create_topics_enable
                    && !is_internal(&name)
                    && validate(&name).is_ok()
                {
                    if !authz.allows_cluster(AclOperation::Create)
                        && !authz.allows(AclOperation::Create, ResourceType::Topic, &name)
                    {
                        out.push(denied_topic(Some(name), Uuid::nil()));
                        continue;
                    }
                    image = auto_create(ctx, &name).await.unwrap_or(image);
                }
                out.push(match image.topic(&name) {
                    Some(t) => topic_response(&image, t, topic_ops(&name), version),
                    None => MetadataResponseTopic::default()
                        .with_error_code(if validate(&name).is_err() {
                            ResponseError::InvalidTopicException.code()
                        } else {
                            ResponseError::UnknownTopicOrPartition.code()
                        })
                        .with_name(Some(TopicName(StrBytes::from_string(name))))
                        .with_topic_authorized_operations(authorized_operations::NOT_REQUESTED),
                });
            }
            out
        }
    };
    MetadataResponse::default()
        .with_brokers(brokers(ctx, &image))
        .with_cluster_id(Some(StrBytes::from_string(state.cluster_id.clone())))
        .with_controller_id(BrokerId(state.config.node_id))
        .with_topics(topics)
        .with_cluster_authorized_operations(cluster_ops)
}

/// TOPIC_AUTHORIZATION_FAILED for a topic asked by name (or by id, which Kafka
/// does not treat as secret).
fn denied_topic(name: Option<String>, topic_id: Uuid) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(ResponseError::TopicAuthorizationFailed.code())
        .with_name(name.map(|n| TopicName(StrBytes::from_string(n))))
        .with_topic_id(topic_id)
        .with_topic_authorized_operations(authorized_operations::NOT_REQUESTED)
}

/// Creates a topic with the broker defaults; returns the image that has it.
async fn auto_create(
    ctx: &RequestContext<'_>,
    name: &str,
) -> Option<std::sync::Arc<MetadataImage>> {
    let state = ctx.state;
    let topic = NewTopic {
        name: name.to_string(),
        num_partitions: state.config.num_partitions,
        replication_factor: state.config.default_replication_factor,
        assignments: None,
        configs: BTreeMap::new(),
    };
    let brokers = state.live_brokers();
    match state
        .commit(|image| {
            // Another request may have created it meanwhile: that is success too.
            if image.topic(name).is_some() {
                return Ok((vec![], ()));
            }
            let records = create_topic(image, &topic, &brokers)?;
            Ok((records, ()))
        })
        .await
    {
        Ok(()) => {
            tracing::info!(topic = name, peer = %ctx.peer, "auto-created topic");
            Some(state.metadata.image())
        }
        Err(e) => {
            tracing::warn!(topic = name, error = %e, "auto-create failed");
            None
        }
    }
}

/// The brokers clients may talk to: registered and not fenced, as Kafka lists them.
fn brokers(ctx: &RequestContext<'_>, image: &MetadataImage) -> Vec<MetadataResponseBroker> {
    image
        .brokers()
        .filter(|b| !b.fenced)
        .map(|b| {
            let (host, port) = broker_address(&ctx.state.config, &ctx.session.listener, b);
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.broker_id))
                .with_host(StrBytes::from_string(host))
                .with_port(port)
                .with_rack(b.rack.clone().map(StrBytes::from_string))
        })
        .collect()
}

pub(crate) fn topic_response(
    image: &MetadataImage,
    topic: &TopicImage,
    operations: i32,
    version: i16,
) -> MetadataResponseTopic {
    // Offline replicas are in the answer from v5.
    let offline = |r: &i32| version >= 5 && image.broker(*r).is_none_or(|b| b.fenced);
    let partitions = topic
        .partitions
        .iter()
        .map(|(&index, p)| {
            // No leader (all of the ISR down): clients wait and ask again.
            let error = if p.leader < 0 {
                ResponseError::LeaderNotAvailable.code()
            } else {
                0
            };
            MetadataResponsePartition::default()
                .with_error_code(error)
                .with_offline_replicas(
                    p.replicas
                        .iter()
                        .filter(|r| offline(r))
                        .map(|&r| BrokerId(r))
                        .collect(),
                )
                .with_partition_index(index)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().map(|&r| BrokerId(r)).collect())
                .with_isr_nodes(p.isr.iter().map(|&r| BrokerId(r)).collect())
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(topic.topic_id)
        .with_is_internal(is_internal(&topic.name))
        .with_partitions(partitions)
        .with_topic_authorized_operations(operations)
}
