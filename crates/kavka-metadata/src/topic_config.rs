//! The topic-level configs Kavka knows, with the broker setting that supplies
//! each one's default, as in Apache Kafka's LogConfig.

use crate::MetadataError;

/// How a config value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Long,
    Int,
    Boolean,
    Double,
    String,
    /// One of a fixed set of words, given in the slice.
    OneOf(&'static [&'static str]),
    /// A comma-separated list of words from the set.
    ListOf(&'static [&'static str]),
}

/// One topic config: its name, the broker config holding its default, its type.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub broker_key: &'static str,
    pub kind: ConfigType,
    pub sensitive: bool,
}

const fn def(name: &'static str, broker_key: &'static str, kind: ConfigType) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_key,
        kind,
        sensitive: false,
    }
}

const COMPRESSION: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

/// Every topic config, sorted by name as Kafka lists them.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        "log.cleanup.policy",
        ConfigType::ListOf(&["delete", "compact"]),
    ),
    def(
        "compression.gzip.level",
        "compression.gzip.level",
        ConfigType::Int,
    ),
    def(
        "compression.lz4.level",
        "compression.lz4.level",
        ConfigType::Int,
    ),
    def(
        "compression.type",
        "compression.type",
        ConfigType::OneOf(COMPRESSION),
    ),
    def(
        "compression.zstd.level",
        "compression.zstd.level",
        ConfigType::Int,
    ),
    def(
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        ConfigType::Long,
    ),
    def(
        "file.delete.delay.ms",
        "log.segment.delete.delay.ms",
        ConfigType::Long,
    ),
    def(
        "flush.messages",
        "log.flush.interval.messages",
        ConfigType::Long,
    ),
    def("flush.ms", "log.flush.interval.ms", ConfigType::Long),
    def(
        "index.interval.bytes",
        "log.index.interval.bytes",
        ConfigType::Int,
    ),
    def(
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        ConfigType::Long,
    ),
    def("max.message.bytes", "message.max.bytes", ConfigType::Int),
    def(
        "message.timestamp.after.max.ms",
        "log.message.timestamp.after.max.ms",
        ConfigType::Long,
    ),
    def(
        "message.timestamp.before.max.ms",
        "log.message.timestamp.before.max.ms",
        ConfigType::Long,
    ),
    def(
        "message.timestamp.type",
        "log.message.timestamp.type",
        ConfigType::OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    def(
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        ConfigType::Double,
    ),
    def(
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        ConfigType::Long,
    ),
    def(
        "min.insync.replicas",
        "min.insync.replicas",
        ConfigType::Int,
    ),
    def("preallocate", "log.preallocate", ConfigType::Boolean),
    def("retention.bytes", "log.retention.bytes", ConfigType::Long),
    def("retention.ms", "log.retention.ms", ConfigType::Long),
    def("segment.bytes", "log.segment.bytes", ConfigType::Int),
    def(
        "segment.index.bytes",
        "log.index.size.max.bytes",
        ConfigType::Int,
    ),
    def("segment.jitter.ms", "log.roll.jitter.ms", ConfigType::Long),
    def("segment.ms", "log.roll.ms", ConfigType::Long),
    def(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        ConfigType::Boolean,
    ),
];

/// The definition of a topic config by name.
pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|c| c.name == name)
}

/// Checks a topic config's name and value, with Kafka's wording.
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), MetadataError> {
    let def = topic_config(name).ok_or_else(|| {
        MetadataError::InvalidConfig(format!("Unknown topic config name: {name}"))
    })?;
    let ok = match def.kind {
        ConfigType::Long => value.trim().parse::<i64>().is_ok(),
        ConfigType::Int => value.trim().parse::<i32>().is_ok(),
        ConfigType::Boolean => {
            matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "false")
        }
        ConfigType::Double => value.trim().parse::<f64>().is_ok(),
        ConfigType::String => true,
        ConfigType::OneOf(words) => words.contains(&value.trim()),
        ConfigType::ListOf(words) => value.split(',').all(|w| words.contains(&w.trim())),
    };
    if ok {
        Ok(())
    } else {
        Err(MetadataError::InvalidConfig(format!(
            "Invalid value {value} for configuration {name}"
        )))
    }
}

/// Broker settings that can change at runtime (per broker or cluster-wide), each
/// the default of a topic config: the dynamic subset of Kafka's broker configs
/// that Kavka applies.
pub fn dynamic_broker_config(key: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|c| c.broker_key == key)
}

/// Checks a dynamic broker config change with Kafka's wording.
pub fn validate_dynamic_broker_config(key: &str, value: Option<&str>) -> Result<(), MetadataError> {
    let def = dynamic_broker_config(key).ok_or_else(|| {
        MetadataError::InvalidRequest(format!(
            "Cannot update these configs dynamically: Set({key})"
        ))
    })?;
    match value {
        Some(v) => validate_topic_config(def.name, v).map_err(|_| {
            MetadataError::InvalidConfig(format!("Invalid value {v} for configuration {key}"))
        }),
        None => Ok(()),
    }
}
