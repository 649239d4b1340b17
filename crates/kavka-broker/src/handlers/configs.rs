//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics; broker
//! configs can be described (changing them at runtime is not supported yet).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::controller::alter_configs;
use kavka_metadata::topic_config::{validate_dynamic_broker_config, ConfigType};
use kavka_metadata::{ConfigResource, MetadataError};

use kavka_metadata::acl::{AclOperation, ResourceType};

use super::RequestContext;
use crate::topic_config::{effective_configs, BrokerDefaults, ConfigSource};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

/// The error for a config resource the principal may not `operation`: a topic
/// by its name, a broker (or the cluster default) through the cluster.
fn denied(
    ctx: &RequestContext<'_>,
    resource_type: i8,
    name: &str,
    operation: AclOperation,
) -> Option<i16> {
    match resource_type {
        TOPIC if !ctx.authorize(operation, ResourceType::Topic, name) => {
            Some(ResponseError::TopicAuthorizationFailed.code())
        }
        BROKER if !ctx.authorize_cluster(operation) => {
            Some(ResponseError::ClusterAuthorizationFailed.code())
        }
        _ => None,
    }
}

/// Describes topic or broker configs with their sources.
pub(crate) fn describe(
    ctx: &RequestContext<'_>,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let state = ctx.state;
    let image = state.metadata.image();
    let results = request
        .resources
        .into_iter()
        .map(|res| {
            let name = res.resource_name.to_string();
            let wanted = |key: &str| {
                res.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == key))
            };
            let mut result = DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            if let Some(code) = denied(ctx, res.resource_type, &name, AclOperation::DescribeConfigs)
            {
                result.error_code = code;
                return result;
            }
            match res.resource_type {
                TOPIC => {
                    if image.topic(&name).is_none() {
                        result.error_code = ResponseError::UnknownTopicOrPartition.code();
                        result.error_message = Some(StrBytes::from_string(format!(
                            "Topic '{name}' does not exist."
                        )));
                        return result;
                    }
                    let explicit = image.configs(&ConfigResource::Topic(name.clone()));
                    result.configs =
                        effective_configs(&BrokerDefaults::new(&state.config, &image), explicit)
                            .into_iter()
                            .filter(|e| wanted(e.name))
                            .map(|e| {
                                let source = e.source as i8;
                                let value = StrBytes::from_string(e.value);
                                let mut entry = DescribeConfigsResourceResult::default()
                                    .with_name(StrBytes::from_static_str(e.name))
                                    .with_value(Some(value.clone()))
                                    .with_config_source(source)
                                    .with_is_sensitive(e.def.sensitive)
                                    .with_config_type(config_type(e.def.kind));
                                if request.include_synonyms && version >= 1 {
                                    entry.synonyms = vec![DescribeConfigsSynonym::default()
                                        .with_name(StrBytes::from_static_str(
                                            if e.source == ConfigSource::DynamicTopic {
                                                e.name
                                            } else {
                                                e.def.broker_key
                                            },
                                        ))
                                        .with_value(Some(value))
                                        .with_source(source)];
                                }
                                entry
                            })
                            .collect();
                }
                BROKER => {
                    let node = state.config.node_id;
                    let dynamic_default = name.is_empty();
                    if !dynamic_default && name != node.to_string() {
                        result.error_code = ResponseError::InvalidRequest.code();
                        result.error_message = Some(StrBytes::from_string(format!(
                            "Unexpected broker id, expected {node} but received {name}"
                        )));
                        return result;
                    }
                    let defaults = BrokerDefaults::new(&state.config, &image);
                    let entries = if dynamic_default {
                        // The cluster-wide default entity lists only what was set on it.
                        defaults
                            .cluster
                            .map(|m| {
                                m.iter()
                                    .map(|(k, v)| {
                                        (k.clone(), v.clone(), ConfigSource::DynamicDefaultBroker)
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    } else {
                        broker_configs(ctx, &defaults)
                    };
                    result.configs = entries
                        .into_iter()
                        .filter(|(k, _, _)| wanted(k))
                        .map(|(k, v, source)| {
                            // Passwords and keys are never sent back, as in Kafka.
                            let sensitive = crate::security::listener::is_sensitive_config(&k);
                            let value = (!sensitive).then(|| StrBytes::from_string(v));
                            let mut entry = DescribeConfigsResourceResult::default()
                                .with_name(StrBytes::from_string(k.clone()))
                                .with_value(value.clone())
                                .with_is_sensitive(sensitive)
                                .with_config_source(source as i8)
                                .with_read_only(
                                    kavka_metadata::topic_config::dynamic_broker_config(&k)
                                        .is_none(),
                                );
                            if request.include_synonyms {
                                entry.synonyms = vec![DescribeConfigsSynonym::default()
                                    .with_name(StrBytes::from_string(k))
                                    .with_value(value)
                                    .with_source(source as i8)];
                            }
                            entry
                        })
                        .collect();
                }
                _ => {
                    result.error_code = ResponseError::InvalidRequest.code();
                    result.error_message =
                        Some(StrBytes::from_static_str("Unsupported resource type"));
                }
            }
            result
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// The broker's settings: what was configured, plus the resolved values of the
/// settings Kavka uses.
fn broker_configs(
    ctx: &RequestContext<'_>,
    defaults: &BrokerDefaults<'_>,
) -> Vec<(String, String, ConfigSource)> {
    let c = &ctx.state.config;
    let resolved = [
        ("node.id", c.node_id.to_string()),
        ("num.partitions", c.num_partitions.to_string()),
        (
            "default.replication.factor",
            c.default_replication_factor.to_string(),
        ),
        (
            "auto.create.topics.enable",
            c.auto_create_topics_enable.to_string(),
        ),
        ("log.dirs", c.log_dir.display().to_string()),
        ("log.retention.ms", c.retention_ms.unwrap_or(-1).to_string()),
        (
            "log.retention.bytes",
            c.retention_bytes
                .map(|b| b as i64)
                .unwrap_or(-1)
                .to_string(),
        ),
        ("log.segment.bytes", c.segment_bytes.to_string()),
        ("message.max.bytes", c.message_max_bytes.to_string()),
        ("min.insync.replicas", c.min_insync_replicas.to_string()),
        (
            "offsets.topic.num.partitions",
            c.offsets_topic_num_partitions.to_string(),
        ),
        (
            "socket.request.max.bytes",
            c.socket_request_max_bytes.to_string(),
        ),
        (
            "group.initial.rebalance.delay.ms",
            c.group_initial_rebalance_delay_ms.to_string(),
        ),
    ];
    let mut out: BTreeMap<String, (String, ConfigSource)> = resolved
        .into_iter()
        .map(|(k, v)| (k.to_string(), (v, ConfigSource::Default)))
        .collect();
    for (k, v) in &c.raw {
        out.insert(k.clone(), (v.clone(), ConfigSource::StaticBroker));
    }
    // Dynamic settings win: this broker's own, then the cluster-wide defaults.
    for map in [defaults.cluster, defaults.node].into_iter().flatten() {
        for k in map.keys() {
            if let Some((v, source)) = defaults.dynamic(k) {
                out.insert(k.clone(), (v, source));
            }
        }
    }
    out.into_iter().map(|(k, (v, s))| (k, v, s)).collect()
}

fn config_type(kind: ConfigType) -> i8 {
    match kind {
        ConfigType::Boolean => 1,
        ConfigType::String | ConfigType::OneOf(_) => 2,
        ConfigType::Int => 3,
        ConfigType::Long => 5,
        ConfigType::Double => 6,
        ConfigType::ListOf(_) => 7,
    }
}

/// Applies a topic config change (or refuses a broker one) and returns the
/// error code and message for the response.
async fn apply(
    ctx: &RequestContext<'_>,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    changes: impl Fn(
        &BTreeMap<String, String>,
        &BTreeMap<String, String>,
    ) -> Result<Vec<(String, Option<String>)>, MetadataError>,
) -> (i16, Option<StrBytes>) {
    if let Some(code) = denied(ctx, resource_type, name, AclOperation::AlterConfigs) {
        return (code, None);
    }
    let node = ctx.state.config.node_id;
    let resource = match resource_type {
        TOPIC => ConfigResource::Topic(name.to_string()),
        BROKER if name.is_empty() => ConfigResource::Broker(None),
        BROKER if name == node.to_string() => ConfigResource::Broker(Some(node)),
        BROKER => {
            return (
                ResponseError::InvalidRequest.code(),
                Some(StrBytes::from_string(format!(
                    "Unexpected broker id, expected {node} but received {name}"
                ))),
            )
        }
        _ => {
            return (
                ResponseError::InvalidRequest.code(),
                Some(StrBytes::from_static_str("Unsupported resource type")),
            )
        }
    };
    let result = ctx
        .state
        .commit(|image| {
            let current = image.configs(&resource).cloned().unwrap_or_default();
            // APPEND and SUBTRACT start from the value in force, which may be a default.
            let effective: BTreeMap<String, String> = match &resource {
                ConfigResource::Topic(_) => effective_configs(
                    &BrokerDefaults::new(&ctx.state.config, image),
                    Some(&current),
                )
                .into_iter()
                .map(|e| (e.name.to_string(), e.value))
                .collect(),
                ConfigResource::Broker(_) => current.clone(),
            };
            let changes = changes(&current, &effective)?;
            if let ConfigResource::Broker(_) = resource {
                for (key, value) in &changes {
                    validate_dynamic_broker_config(key, value.as_deref())?;
                }
            }
            let records = alter_configs(image, &resource, &changes)?;
            Ok((if validate_only { vec![] } else { records }, ()))
        })
        .await;
    match result {
        Ok(()) => (0, None),
        Err(e) => (e.code(), Some(StrBytes::from_string(e.to_string()))),
    }
}

/// AlterConfigs replaces a topic's whole set of configs.
pub(crate) async fn alter(
    ctx: &RequestContext<'_>,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::new();
    for res in request.resources {
        responses.push({
            let name = res.resource_name.to_string();
            let wanted: BTreeMap<String, String> = res
                .configs
                .iter()
                .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                .collect();
            let (code, message) = apply(
                ctx,
                res.resource_type,
                &name,
                request.validate_only,
                |current, _| {
                    let mut changes: Vec<(String, Option<String>)> = current
                        .keys()
                        .filter(|k| !wanted.contains_key(*k))
                        .map(|k| (k.clone(), None))
                        .collect();
                    changes.extend(wanted.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
                    Ok(changes)
                },
            )
            .await;
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name)
        });
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT per key.
pub(crate) async fn incremental_alter(
    ctx: &RequestContext<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::new();
    for res in request.resources {
        responses.push({
            let name = res.resource_name.to_string();
            let ops = res.configs;
            let (code, message) = apply(
                ctx,
                res.resource_type,
                &name,
                request.validate_only,
                |_, effective| {
                    let mut out = Vec::with_capacity(ops.len());
                    for op in &ops {
                        let key = op.name.to_string();
                        let value = op.value.as_ref().map(|v| v.to_string());
                        let list = |s: Option<&String>| -> Vec<String> {
                            s.map(|s| {
                                s.split(',')
                                    .map(|x| x.trim().to_string())
                                    .filter(|x| !x.is_empty())
                                    .collect()
                            })
                            .unwrap_or_default()
                        };
                        let new = match op.config_operation {
                            0 => value,
                            1 => None,
                            2 => {
                                let mut items = list(effective.get(&key));
                                for v in list(value.as_ref()) {
                                    if !items.contains(&v) {
                                        items.push(v);
                                    }
                                }
                                Some(items.join(","))
                            }
                            3 => {
                                let remove = list(value.as_ref());
                                Some(
                                    list(effective.get(&key))
                                        .into_iter()
                                        .filter(|v| !remove.contains(v))
                                        .collect::<Vec<_>>()
                                        .join(","),
                                )
                            }
                            other => {
                                return Err(MetadataError::InvalidRequest(format!(
                                    "Unknown config operation {other}"
                                )))
                            }
                        };
                        out.push((key, new));
                    }
                    Ok(out)
                },
            )
            .await;
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name)
        });
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
