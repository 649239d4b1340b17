//! Topics: the list, one topic's partitions and configs, create, delete and
//! config changes, each through the Kafka request a tool would send.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, RequestKind, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::kafka::{call, check};
use super::offsets::{self, list_offsets, topic_name, valid_topic_name, Offset, EARLIEST, LATEST};
use crate::state::BrokerState;

/// Kafka's resource type for a topic in the config APIs.
const TOPIC_RESOURCE: i8 = 2;
/// How long create and delete wait for the controller.
const ADMIN_TIMEOUT_MS: i32 = 30_000;

/// A row of the topic list.
#[derive(Debug, Serialize)]
pub(crate) struct TopicSummary {
    name: String,
    internal: bool,
    partitions: usize,
    replication_factor: usize,
    /// Bytes on this broker's log directory.
    size_bytes: i64,
    under_replicated: usize,
}

/// Every topic, by name.
pub(crate) async fn list(state: &BrokerState) -> Result<Vec<TopicSummary>, ApiError> {
    let topics = offsets::metadata(state, None).await?;
    let sizes = offsets::sizes(state).await?;
    let mut out: Vec<TopicSummary> = topics
        .iter()
        .filter(|t| t.error_code == 0)
        .filter_map(|t| {
            let name = t.name.as_ref()?.0.to_string();
            let size_bytes = sizes
                .range((name.clone(), i32::MIN)..=(name.clone(), i32::MAX))
                .map(|(_, s)| *s)
                .sum();
            Some(TopicSummary {
                internal: t.is_internal,
                partitions: t.partitions.len(),
                replication_factor: t
                    .partitions
                    .iter()
                    .map(|p| p.replica_nodes.len())
                    .max()
                    .unwrap_or(0),
                size_bytes,
                under_replicated: t
                    .partitions
                    .iter()
                    .filter(|p| p.isr_nodes.len() < p.replica_nodes.len())
                    .count(),
                name,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One partition on the topic page.
#[derive(Debug, Serialize)]
pub(crate) struct PartitionView {
    partition: i32,
    leader: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    /// The log start offset, or why it could not be read (e.g. led elsewhere).
    log_start: Offset,
    /// The high watermark, what consumers can read up to.
    log_end: Offset,
    /// Bytes on this broker; None when it hosts no replica.
    size_bytes: Option<i64>,
}

/// One config of a topic, as DescribeConfigs gives it.
#[derive(Debug, Serialize)]
pub(crate) struct ConfigView {
    name: String,
    value: Option<String>,
    /// Kafka's source: DYNAMIC_TOPIC_CONFIG when set on the topic, else a default.
    source: &'static str,
    read_only: bool,
    sensitive: bool,
}

/// The topic page's content.
#[derive(Debug, Serialize)]
pub(crate) struct TopicView {
    name: String,
    topic_id: String,
    internal: bool,
    partitions: Vec<PartitionView>,
    configs: Vec<ConfigView>,
}

/// One topic; 404 when it does not exist.
pub(crate) async fn describe(state: &BrokerState, name: &str) -> Result<TopicView, ApiError> {
    valid_topic_name(name)?;
    let topic = offsets::topic(state, name).await?;
    let ids: Vec<i32> = topic.partitions.iter().map(|p| p.partition_index).collect();
    let starts = list_offsets(state, name, &ids, EARLIEST).await?;
    let ends = list_offsets(state, name, &ids, LATEST).await?;
    let sizes = offsets::sizes(state).await?;
    let missing = || Offset::Unavailable {
        error: "NO_ANSWER".to_string(),
    };
    let mut partitions: Vec<PartitionView> = topic
        .partitions
        .iter()
        .map(|p| PartitionView {
            partition: p.partition_index,
            leader: p.leader_id.0,
            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
            log_start: starts
                .get(&p.partition_index)
                .cloned()
                .unwrap_or_else(missing),
            log_end: ends
                .get(&p.partition_index)
                .cloned()
                .unwrap_or_else(missing),
            size_bytes: sizes.get(&(name.to_string(), p.partition_index)).copied(),
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    Ok(TopicView {
        name: name.to_string(),
        topic_id: topic.topic_id.to_string(),
        internal: topic.is_internal,
        partitions,
        configs: configs(state, name).await?,
    })
}

async fn configs(state: &BrokerState, name: &str) -> Result<Vec<ConfigView>, ApiError> {
    let request =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configuration_keys(None)]);
    let ResponseKind::DescribeConfigs(response) = call(
        state,
        ApiKey::DescribeConfigs,
        4,
        RequestKind::DescribeConfigs(request),
    )
    .await?
    else {
        return Err(ApiError::internal("DescribeConfigs gave another answer"));
    };
    let mut out = Vec::new();
    for result in &response.results {
        check(result.error_code, result.error_message.as_ref())?;
        for c in &result.configs {
            out.push(ConfigView {
                name: c.name.to_string(),
                value: if c.is_sensitive {
                    None
                } else {
                    c.value.as_ref().map(|v| v.to_string())
                },
                source: config_source(c.config_source),
                read_only: c.read_only,
                sensitive: c.is_sensitive,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn config_source(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

/// The create-topic form. Absent counts take the broker's defaults
/// (`num.partitions`, `default.replication.factor`), as kafka-topics does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTopic {
    name: String,
    partitions: Option<i32>,
    replication_factor: Option<i16>,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

/// Creates a topic; Kafka's error (TOPIC_ALREADY_EXISTS, INVALID_CONFIG, …) when refused.
pub(crate) async fn create(state: &BrokerState, new: NewTopic) -> Result<(), ApiError> {
    valid_topic_name(&new.name)?;
    if new.partitions.is_some_and(|p| p < 1) {
        return Err(ApiError::bad_request("partitions must be at least 1"));
    }
    if new.replication_factor.is_some_and(|r| r < 1) {
        return Err(ApiError::bad_request(
            "replication_factor must be at least 1",
        ));
    }
    let topic = CreatableTopic::default()
        .with_name(topic_name(&new.name))
        .with_num_partitions(new.partitions.unwrap_or(-1))
        .with_replication_factor(new.replication_factor.unwrap_or(-1))
        .with_configs(
            new.configs
                .into_iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k))
                        .with_value(Some(StrBytes::from_string(v)))
                })
                .collect(),
        );
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(ADMIN_TIMEOUT_MS);
    let ResponseKind::CreateTopics(response) = call(
        state,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(request),
    )
    .await?
    else {
        return Err(ApiError::internal("CreateTopics gave another answer"));
    };
    for t in &response.topics {
        check(t.error_code, t.error_message.as_ref())?;
    }
    Ok(())
}

/// Deletes a topic; UNKNOWN_TOPIC_OR_PARTITION (404) when there is none.
pub(crate) async fn delete(state: &BrokerState, name: &str) -> Result<(), ApiError> {
    valid_topic_name(name)?;
    let request = DeleteTopicsRequest::default()
        .with_topic_names(vec![topic_name(name)])
        .with_timeout_ms(ADMIN_TIMEOUT_MS);
    let ResponseKind::DeleteTopics(response) = call(
        state,
        ApiKey::DeleteTopics,
        5,
        RequestKind::DeleteTopics(request),
    )
    .await?
    else {
        return Err(ApiError::internal("DeleteTopics gave another answer"));
    };
    for t in &response.responses {
        check(t.error_code, t.error_message.as_ref())?;
    }
    Ok(())
}

/// A config change: values to set and names to return to their defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigChange {
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    delete: Vec<String>,
}

/// Applies a config change with IncrementalAlterConfigs, as kafka-configs --alter does.
pub(crate) async fn alter_configs(
    state: &BrokerState,
    name: &str,
    change: ConfigChange,
) -> Result<(), ApiError> {
    valid_topic_name(name)?;
    if change.set.is_empty() && change.delete.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: give set or delete",
        ));
    }
    // The page and the API answer 404 for a topic that is not there, before any change.
    offsets::topic(state, name).await?;
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    let mut configs: Vec<AlterableConfig> = change
        .set
        .into_iter()
        .map(|(k, v)| {
            AlterableConfig::default()
                .with_name(StrBytes::from_string(k))
                .with_config_operation(SET)
                .with_value(Some(StrBytes::from_string(v)))
        })
        .collect();
    configs.extend(change.delete.into_iter().map(|k| {
        AlterableConfig::default()
            .with_name(StrBytes::from_string(k))
            .with_config_operation(DELETE)
            .with_value(None)
    }));
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configs(configs),
    ]);
    let ResponseKind::IncrementalAlterConfigs(response) = call(
        state,
        ApiKey::IncrementalAlterConfigs,
        1,
        RequestKind::IncrementalAlterConfigs(request),
    )
    .await?
    else {
        return Err(ApiError::internal(
            "IncrementalAlterConfigs gave another answer",
        ));
    };
    for r in &response.responses {
        check(r.error_code, r.error_message.as_ref())?;
    }
    Ok(())
}
