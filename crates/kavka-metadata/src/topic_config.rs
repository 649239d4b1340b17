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

/// One topic config: its name, the broker config holding its default (empty when
/// no broker setting does), its type, and the smallest and largest values allowed.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub broker_key: &'static str,
    pub kind: ConfigType,
    pub sensitive: bool,
    pub min: Option<i64>,
    pub max: Option<i64>,
}

const fn def(name: &'static str, broker_key: &'static str, kind: ConfigType) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_key,
        kind,
        sensitive: false,
        min: None,
        max: None,
    }
}

const fn at_least(
    name: &'static str,
    broker_key: &'static str,
    kind: ConfigType,
    min: i64,
) -> TopicConfigDef {
    TopicConfigDef {
        min: Some(min),
        ..def(name, broker_key, kind)
    }
}

const fn between(
    name: &'static str,
    broker_key: &'static str,
    kind: ConfigType,
    min: i64,
    max: i64,
) -> TopicConfigDef {
    TopicConfigDef {
        min: Some(min),
        max: Some(max),
        ..def(name, broker_key, kind)
    }
}

const COMPRESSION: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
use ConfigType::{Boolean, Double, Int, ListOf, Long, OneOf};

/// Every topic config Apache Kafka 4.4 lists for a topic, sorted by name, with the
/// bounds its validators enforce.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        "log.cleanup.policy",
        ListOf(&["delete", "compact"]),
    ),
    // -1 means the codec's default level; otherwise 1..=9 (checked specially).
    between(
        "compression.gzip.level",
        "compression.gzip.level",
        Int,
        -1,
        9,
    ),
    between("compression.lz4.level", "compression.lz4.level", Int, 1, 17),
    def("compression.type", "compression.type", OneOf(COMPRESSION)),
    between(
        "compression.zstd.level",
        "compression.zstd.level",
        Int,
        -131_072,
        22,
    ),
    at_least(
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        Long,
        0,
    ),
    def("errors.deadletterqueue.group.enable", "", Boolean),
    at_least(
        "file.delete.delay.ms",
        "log.segment.delete.delay.ms",
        Long,
        0,
    ),
    at_least("flush.messages", "log.flush.interval.messages", Long, 1),
    at_least("flush.ms", "log.flush.interval.ms", Long, 0),
    def(
        "follower.replication.throttled.replicas",
        "",
        ConfigType::String,
    ),
    at_least("index.interval.bytes", "log.index.interval.bytes", Int, 0),
    def(
        "leader.replication.throttled.replicas",
        "",
        ConfigType::String,
    ),
    at_least(
        "local.retention.bytes",
        "log.local.retention.bytes",
        Long,
        -2,
    ),
    at_least("local.retention.ms", "log.local.retention.ms", Long, -2),
    at_least(
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        Long,
        1,
    ),
    at_least("max.decompressed.message.bytes", "", Int, 0),
    at_least("max.message.bytes", "message.max.bytes", Int, 0),
    at_least(
        "message.timestamp.after.max.ms",
        "log.message.timestamp.after.max.ms",
        Long,
        0,
    ),
    at_least(
        "message.timestamp.before.max.ms",
        "log.message.timestamp.before.max.ms",
        Long,
        0,
    ),
    def(
        "message.timestamp.type",
        "log.message.timestamp.type",
        OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    def(
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        Double,
    ),
    at_least(
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        Long,
        0,
    ),
    at_least("min.insync.replicas", "min.insync.replicas", Int, 1),
    def("preallocate", "log.preallocate", Boolean),
    def("remote.copy.lag.bytes", "", Long),
    def("remote.copy.lag.ms", "", Long),
    def("remote.log.copy.disable", "", Boolean),
    def("remote.log.delete.on.disable", "", Boolean),
    def("remote.storage.enable", "", Boolean),
    def("retention.bytes", "log.retention.bytes", Long),
    at_least("retention.ms", "log.retention.ms", Long, -1),
    at_least("segment.bytes", "log.segment.bytes", Int, 1_048_576),
    at_least("segment.index.bytes", "log.index.size.max.bytes", Int, 4),
    at_least("segment.jitter.ms", "log.roll.jitter.ms", Long, 0),
    at_least("segment.ms", "log.roll.ms", Long, 1),
    def(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        Boolean,
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
    let invalid = |why: &str| {
        MetadataError::InvalidConfig(format!(
            "Invalid value {value} for configuration {name}{why}"
        ))
    };
    let v = value.trim();
    let number = match def.kind {
        ConfigType::Long => Some(
            v.parse::<i64>()
                .map_err(|_| invalid(": Not a number of type LONG"))?,
        ),
        ConfigType::Int => Some(i64::from(
            v.parse::<i32>()
                .map_err(|_| invalid(": Not a number of type INT"))?,
        )),
        ConfigType::Boolean => {
            if !matches!(v.to_ascii_lowercase().as_str(), "true" | "false") {
                return Err(invalid(": Expected value to be either true or false"));
            }
            None
        }
        ConfigType::Double => {
            let d = v
                .parse::<f64>()
                .map_err(|_| invalid(": Not a number of type DOUBLE"))?;
            // The only double, min.cleanable.dirty.ratio, is a fraction.
            if !(0.0..=1.0).contains(&d) {
                return Err(invalid(": Value must be between 0 and 1"));
            }
            None
        }
        ConfigType::String => None,
        ConfigType::OneOf(words) => {
            if !words.contains(&v) {
                return Err(invalid(&format!(
                    ": String must be one of: {}",
                    words.join(", ")
                )));
            }
            None
        }
        ConfigType::ListOf(words) => {
            if !v.split(',').all(|w| words.contains(&w.trim())) {
                return Err(invalid(""));
            }
            None
        }
    };
    if let Some(n) = number {
        // gzip takes -1 (the codec default) or a level from 1 to 9.
        if name == "compression.gzip.level" && n == 0 {
            return Err(invalid(": Value must be between 1 and 9 or -1"));
        }
        if let Some(min) = def.min.filter(|m| n < *m) {
            return Err(invalid(&format!(": Value must be at least {min}")));
        }
        if let Some(max) = def.max.filter(|m| n > *m) {
            return Err(invalid(&format!(": Value must be no more than {max}")));
        }
    }
    Ok(())
}

/// Broker settings that can change at runtime (per broker or cluster-wide), each
/// the default of a topic config: the dynamic subset of Kafka's broker configs
/// that Kavka applies.
pub fn dynamic_broker_config(key: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS
        .iter()
        .find(|c| !c.broker_key.is_empty() && c.broker_key == key)
}

/// Kafka's replication quotas (bytes per second), which `kafka-reassign-partitions
/// --throttle` sets on the brokers of a move and `--verify` clears. Kavka stores
/// them as dynamic broker configs so Kafka's tool works, but does not enforce them.
pub const REPLICATION_QUOTA_CONFIGS: [&str; 3] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];

/// Checks a dynamic broker config change with Kafka's wording.
pub fn validate_dynamic_broker_config(key: &str, value: Option<&str>) -> Result<(), MetadataError> {
    if REPLICATION_QUOTA_CONFIGS.contains(&key) {
        return match value.map(|v| (v, v.trim().parse::<i64>())) {
            None | Some((_, Ok(0..))) => Ok(()),
            Some((v, _)) => Err(MetadataError::InvalidConfig(format!(
                "Invalid value {v} for configuration {key}: Value must be at least 0"
            ))),
        };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_kafkas_bounds_are_refused() {
        for (name, value) in [
            ("segment.bytes", "1000"),
            ("segment.bytes", "-1"),
            ("min.insync.replicas", "0"),
            ("retention.ms", "-2"),
            ("max.message.bytes", "-5"),
            ("compression.gzip.level", "0"),
            ("min.cleanable.dirty.ratio", "1.5"),
            ("retention.ms", "soon"),
            ("cleanup.policy", "forever"),
        ] {
            assert!(
                validate_topic_config(name, value).is_err(),
                "{name}={value}"
            );
        }
        for (name, value) in [
            ("segment.bytes", "1048576"),
            ("retention.ms", "-1"),
            ("compression.gzip.level", "-1"),
            ("cleanup.policy", "compact,delete"),
            ("remote.storage.enable", "false"),
        ] {
            assert!(validate_topic_config(name, value).is_ok(), "{name}={value}");
        }
        assert_eq!(
            validate_topic_config("segment.bytes", "1000")
                .unwrap_err()
                .to_string(),
            "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576"
        );
    }

    #[test]
    fn only_settings_with_a_broker_key_change_at_runtime() {
        assert!(dynamic_broker_config("log.retention.ms").is_some());
        assert!(dynamic_broker_config("").is_none());
        assert!(dynamic_broker_config("log.dirs").is_none());
    }

    #[test]
    fn replication_throttles_are_accepted_as_dynamic_broker_configs() {
        assert!(
            validate_dynamic_broker_config("leader.replication.throttled.rate", Some("1024"))
                .is_ok()
        );
        assert!(
            validate_dynamic_broker_config("follower.replication.throttled.rate", None).is_ok()
        );
        assert_eq!(
            validate_dynamic_broker_config("leader.replication.throttled.rate", Some("-1"))
                .unwrap_err()
                .code(),
            40
        );
        assert_eq!(
            validate_dynamic_broker_config("log.dirs", Some("/x"))
                .unwrap_err()
                .code(),
            42
        );
    }
}
