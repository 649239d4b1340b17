//! CreateTopics, including validate_only and per-topic configs.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use kavka_metadata::controller::{create_topic, manual_assignments, NewTopic};
use kavka_metadata::{MetadataError, MetadataRecord};

use super::RequestContext;
use crate::topic_config::{effective_configs, BrokerDefaults};
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Creates (or, with validate_only, checks) each topic independently.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let state = ctx.state;
    let brokers = state.live_brokers();
    let quota = super::client_quotas::mutation_quota(ctx, version, 6);
    let mut results = Vec::new();
    let authz = ctx.authz();
    let cluster_create = authz.allows_cluster(AclOperation::Create);
    for t in request.topics {
        results.push({
            let name = t.name.0.to_string();
            let assignments = manual(&t);
            let configs: BTreeMap<String, String> = t
                .configs
                .iter()
                .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                .collect();
            let new = NewTopic {
                name: name.clone(),
                num_partitions: if t.num_partitions == -1 {
                    state.config.num_partitions
                } else {
                    t.num_partitions
                },
                replication_factor: if t.replication_factor == -1 {
                    state.config.default_replication_factor
                } else {
                    t.replication_factor
                },
                assignments: assignments.as_ref().ok().cloned().flatten(),
                configs: configs.clone(),
            };
            let mut result = CreatableTopicResult::default().with_name(t.name);
            let allowed =
                cluster_create || authz.allows(AclOperation::Create, ResourceType::Topic, &name);
            let outcome = if !allowed {
                Err(MetadataError::TopicAuthorizationFailed(
                    "Authorization failed.".to_string(),
                ))
            } else if let Err(e) = assignments {
                Err(e)
            } else if request.validate_only {
                let image = state.metadata.image();
                create_topic(&image, &new, &brokers).and_then(|records| {
                    quota.admit(super::client_quotas::partitions_in(&records))?;
                    Ok(records)
                })
            } else {
                state
                    .commit(|image| {
                        let records = create_topic(image, &new, &brokers)?;
                        quota.admit(super::client_quotas::partitions_in(&records))?;
                        Ok((records.clone(), records))
                    })
                    .await
            };
            match outcome {
                Ok(records) => {
                    if let Some(MetadataRecord::Topic { topic_id, .. }) = records.first() {
                        result.topic_id = *topic_id;
                    }
                    let partitions: Vec<&MetadataRecord> = records
                        .iter()
                        .filter(|r| matches!(r, MetadataRecord::Partition { .. }))
                        .collect();
                    result.num_partitions = partitions.len() as i32;
                    result.replication_factor = match partitions.first() {
                        Some(MetadataRecord::Partition { replicas, .. }) => replicas.len() as i16,
                        _ => new.replication_factor,
                    };
                    // Configs are part of the answer from v5.
                    if version >= 5 {
                        result.configs = Some(topic_configs(state, &configs));
                    }
                    if !request.validate_only {
                        tracing::info!(topic = %name, partitions = result.num_partitions, "created topic");
                    }
                }
                Err(e) => fail(&mut result, &e),
            }
            result
        });
    }
    CreateTopicsResponse::default()
        .with_topics(results)
        .with_throttle_time_ms(quota.throttle_time_ms())
}

/// A topic's manual replica assignment, checked as Kafka's controller checks the
/// request's shape: with one, the partition count and replication factor must be
/// -1, each partition named once and the partitions numbered from 0 without gaps.
fn manual(t: &CreatableTopic) -> Result<Option<Vec<Vec<i32>>>, MetadataError> {
    if t.assignments.is_empty() {
        return Ok(None);
    }
    if t.replication_factor != -1 {
        return Err(MetadataError::InvalidRequest(
            "A manual partition assignment was specified, but replication factor was not set to -1."
                .into(),
        ));
    }
    if t.num_partitions != -1 {
        return Err(MetadataError::InvalidRequest(
            "A manual partition assignment was specified, but numPartitions was not set to -1."
                .into(),
        ));
    }
    manual_assignments(
        t.assignments
            .iter()
            .map(|a| {
                (
                    a.partition_index,
                    a.broker_ids.iter().map(|b| b.0).collect(),
                )
            })
            .collect(),
    )
    .map(Some)
}

/// The effective configs of a topic created with `explicit` settings.
fn topic_configs(
    state: &crate::state::BrokerState,
    explicit: &BTreeMap<String, String>,
) -> Vec<CreatableTopicConfigs> {
    let image = state.metadata.image();
    effective_configs(&BrokerDefaults::new(&state.config, &image), Some(explicit))
        .into_iter()
        .map(|e| {
            CreatableTopicConfigs::default()
                .with_name(StrBytes::from_static_str(e.name))
                .with_value(Some(StrBytes::from_string(e.value)))
                .with_config_source(e.source as i8)
                .with_is_sensitive(e.def.sensitive)
        })
        .collect()
}

fn fail(result: &mut CreatableTopicResult, e: &MetadataError) {
    result.error_code = e.code();
    result.error_message = Some(StrBytes::from_string(e.to_string()));
    result.num_partitions = -1;
    result.replication_factor = -1;
}
