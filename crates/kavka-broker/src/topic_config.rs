//! Effective topic configs: the topic's own settings over the broker's defaults,
//! and the storage [`LogConfig`] they amount to.

use std::collections::BTreeMap;

use kavka_metadata::topic_config::{TopicConfigDef, TOPIC_CONFIGS};
use kavka_metadata::{ConfigResource, MetadataImage};
use kavka_storage::{CleanupPolicy, LogConfig, TimestampType};

use crate::config::BrokerConfig;

/// Where a config value came from, with Kafka's DescribeConfigs source codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigSource {
    DynamicTopic = 1,
    DynamicBroker = 2,
    DynamicDefaultBroker = 3,
    StaticBroker = 4,
    Default = 5,
}

/// One resolved config entry.
#[derive(Debug, Clone)]
pub(crate) struct ConfigEntry {
    pub(crate) name: &'static str,
    pub(crate) value: String,
    pub(crate) source: ConfigSource,
    pub(crate) def: &'static TopicConfigDef,
}

/// Where topic defaults come from: this broker's dynamic configs, the cluster-wide
/// dynamic defaults, then `server.properties` and Kafka's built-in defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BrokerDefaults<'a> {
    pub(crate) config: &'a BrokerConfig,
    pub(crate) node: Option<&'a BTreeMap<String, String>>,
    pub(crate) cluster: Option<&'a BTreeMap<String, String>>,
}

impl<'a> BrokerDefaults<'a> {
    /// The defaults in force for this node as of `image`.
    pub(crate) fn new(config: &'a BrokerConfig, image: &'a MetadataImage) -> Self {
        Self {
            config,
            node: image.configs(&ConfigResource::Broker(Some(config.node_id))),
            cluster: image.configs(&ConfigResource::Broker(None)),
        }
    }

    /// A broker key's dynamic value and its source, if one is set.
    pub(crate) fn dynamic(&self, key: &str) -> Option<(String, ConfigSource)> {
        if let Some(v) = self.node.and_then(|m| m.get(key)) {
            return Some((v.clone(), ConfigSource::DynamicBroker));
        }
        self.cluster
            .and_then(|m| m.get(key))
            .map(|v| (v.clone(), ConfigSource::DynamicDefaultBroker))
    }
}

/// The broker's default for a topic config, and where that default came from.
fn broker_default(defaults: &BrokerDefaults<'_>, def: &TopicConfigDef) -> (String, ConfigSource) {
    if let Some(found) = defaults.dynamic(def.broker_key) {
        return found;
    }
    let config = defaults.config;
    let set_in_file = |keys: &[&str]| keys.iter().any(|k| config.raw.contains_key(*k));
    let source_of = |keys: &[&str]| {
        if set_in_file(keys) {
            ConfigSource::StaticBroker
        } else {
            ConfigSource::Default
        }
    };
    let opt_i64 = |v: Option<i64>| v.unwrap_or(-1).to_string();
    match def.name {
        "retention.ms" => (
            opt_i64(config.retention_ms),
            source_of(&[
                "log.retention.ms",
                "log.retention.minutes",
                "log.retention.hours",
            ]),
        ),
        "retention.bytes" => (
            opt_i64(config.retention_bytes.map(|b| b as i64)),
            source_of(&["log.retention.bytes"]),
        ),
        "segment.bytes" => (
            config.segment_bytes.to_string(),
            source_of(&["log.segment.bytes"]),
        ),
        "segment.ms" => (
            config.segment_ms.to_string(),
            source_of(&["log.roll.ms", "log.roll.hours"]),
        ),
        "max.message.bytes" => (
            config.message_max_bytes.to_string(),
            source_of(&["message.max.bytes"]),
        ),
        "min.insync.replicas" => (
            config.min_insync_replicas.to_string(),
            source_of(&["min.insync.replicas"]),
        ),
        _ => match config.raw.get(def.broker_key) {
            Some(v) => (v.clone(), ConfigSource::StaticBroker),
            None => (static_default(def.name).to_string(), ConfigSource::Default),
        },
    }
}

/// Apache Kafka's built-in defaults for topic configs not derived above.
fn static_default(name: &str) -> &'static str {
    match name {
        "cleanup.policy" => "delete",
        "compression.gzip.level" => "-1",
        "compression.lz4.level" => "9",
        "compression.type" => "producer",
        "compression.zstd.level" => "3",
        "delete.retention.ms" => "86400000",
        "file.delete.delay.ms" => "60000",
        "flush.messages" | "flush.ms" | "max.compaction.lag.ms" => "9223372036854775807",
        "message.timestamp.before.max.ms" => "9223372036854775807",
        "index.interval.bytes" => "4096",
        "message.timestamp.after.max.ms" => "3600000",
        "message.timestamp.type" => "CreateTime",
        "min.cleanable.dirty.ratio" => "0.5",
        "min.compaction.lag.ms" => "0",
        "preallocate" => "false",
        "segment.index.bytes" => "10485760",
        "segment.jitter.ms" => "0",
        "unclean.leader.election.enable" => "false",
        "errors.deadletterqueue.group.enable" => "false",
        "remote.storage.enable" | "remote.log.copy.disable" | "remote.log.delete.on.disable" => {
            "false"
        }
        "local.retention.bytes" | "local.retention.ms" => "-2",
        "max.decompressed.message.bytes" => "2147483639",
        "remote.copy.lag.bytes" => "-1",
        "remote.copy.lag.ms" => "0",
        _ => "",
    }
}

/// Every topic config with its effective value and source.
pub(crate) fn effective_configs(
    defaults: &BrokerDefaults<'_>,
    explicit: Option<&BTreeMap<String, String>>,
) -> Vec<ConfigEntry> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let (value, source) = match explicit.and_then(|e| e.get(def.name)) {
                Some(v) => (v.clone(), ConfigSource::DynamicTopic),
                None => broker_default(defaults, def),
            };
            ConfigEntry {
                name: def.name,
                value,
                source,
                def,
            }
        })
        .collect()
}

/// The storage settings for a topic.
pub(crate) fn log_config(
    defaults: &BrokerDefaults<'_>,
    explicit: Option<&BTreeMap<String, String>>,
) -> LogConfig {
    let config = defaults.config;
    let entries = effective_configs(defaults, explicit);
    let get = |name: &str| -> Option<i64> {
        entries
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value.trim().parse::<i64>().ok())
    };
    let non_negative = |v: Option<i64>| v.filter(|v| *v >= 0);
    let unless_max = |v: Option<i64>| v.filter(|v| *v > 0 && *v != i64::MAX);
    let text = |name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value.as_str())
    };
    let timestamp_type = text("message.timestamp.type");
    let defaults_of_storage = LogConfig::default();
    let mut log = LogConfig {
        segment_bytes: get("segment.bytes")
            .map(|v| v.max(1) as u64)
            .unwrap_or(config.segment_bytes),
        segment_ms: get("segment.ms").unwrap_or(config.segment_ms),
        retention_ms: non_negative(get("retention.ms")),
        retention_bytes: non_negative(get("retention.bytes")).map(|v| v as u64),
        index_interval_bytes: get("index.interval.bytes")
            .map(|v| v.clamp(1, u32::MAX as i64) as u32)
            .unwrap_or(config.index_interval_bytes),
        flush_messages: unless_max(get("flush.messages")).map(|v| v as u64),
        flush_ms: unless_max(get("flush.ms")),
        max_message_bytes: get("max.message.bytes")
            .map(|v| v.clamp(0, u32::MAX as i64) as u32)
            .unwrap_or(config.message_max_bytes),
        timestamp_type: TimestampType::CreateTime,
        cleanup_policy: text("cleanup.policy")
            .map(CleanupPolicy::parse)
            .unwrap_or_default(),
        delete_retention_ms: non_negative(get("delete.retention.ms"))
            .unwrap_or(defaults_of_storage.delete_retention_ms),
        min_cleanable_dirty_ratio: text("min.cleanable.dirty.ratio")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
            .unwrap_or(defaults_of_storage.min_cleanable_dirty_ratio),
        min_compaction_lag_ms: non_negative(get("min.compaction.lag.ms"))
            .unwrap_or(defaults_of_storage.min_compaction_lag_ms),
        // Kafka requires a positive value; anything else means "no forced cleaning".
        max_compaction_lag_ms: get("max.compaction.lag.ms")
            .filter(|v| *v > 0)
            .unwrap_or(defaults_of_storage.max_compaction_lag_ms),
    };
    if timestamp_type == Some("LogAppendTime") {
        log.timestamp_type = TimestampType::LogAppendTime;
    }
    log
}

/// One topic config's effective value, resolved without building the whole list.
pub(crate) fn effective_value(
    defaults: &BrokerDefaults<'_>,
    explicit: Option<&BTreeMap<String, String>>,
    name: &str,
) -> Option<String> {
    if let Some(v) = explicit.and_then(|e| e.get(name)) {
        return Some(v.clone());
    }
    let def = TOPIC_CONFIGS.iter().find(|d| d.name == name)?;
    Some(broker_default(defaults, def).0)
}

/// The topic's effective `min.insync.replicas`.
pub(crate) fn min_insync_replicas(
    defaults: &BrokerDefaults<'_>,
    explicit: Option<&BTreeMap<String, String>>,
) -> i32 {
    effective_value(defaults, explicit, "min.insync.replicas")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(defaults.config.min_insync_replicas)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(topic: &[(&str, &str)], server: &[(&str, &str)]) -> LogConfig {
        let raw = server
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = BrokerConfig::from_properties(raw).unwrap();
        let defaults = BrokerDefaults {
            config: &config,
            node: None,
            cluster: None,
        };
        let explicit: BTreeMap<String, String> = topic
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        log_config(&defaults, Some(&explicit))
    }

    #[test]
    fn cleanup_policy_and_cleaner_settings_reach_the_log() {
        let log = resolve(&[], &[]);
        assert_eq!(log.cleanup_policy, CleanupPolicy::DELETE);
        assert_eq!(log.delete_retention_ms, 86_400_000);
        assert_eq!(log.min_cleanable_dirty_ratio, 0.5);
        assert_eq!(log.max_compaction_lag_ms, i64::MAX);

        let log = resolve(
            &[
                ("cleanup.policy", "compact"),
                ("delete.retention.ms", "100"),
                ("min.cleanable.dirty.ratio", "0.01"),
                ("min.compaction.lag.ms", "5"),
                ("max.compaction.lag.ms", "60000"),
            ],
            &[],
        );
        assert_eq!(log.cleanup_policy, CleanupPolicy::COMPACT);
        assert_eq!(log.delete_retention_ms, 100);
        assert_eq!(log.min_cleanable_dirty_ratio, 0.01);
        assert_eq!(log.min_compaction_lag_ms, 5);
        assert_eq!(log.max_compaction_lag_ms, 60_000);
    }

    #[test]
    fn broker_cleaner_defaults_apply_to_topics_without_their_own() {
        let log = resolve(
            &[],
            &[
                ("log.cleanup.policy", "compact,delete"),
                ("log.cleaner.delete.retention.ms", "42"),
                ("log.cleaner.min.cleanable.ratio", "0.2"),
            ],
        );
        assert!(log.cleanup_policy.compact && log.cleanup_policy.delete);
        assert_eq!(log.delete_retention_ms, 42);
        assert_eq!(log.min_cleanable_dirty_ratio, 0.2);
    }
}
