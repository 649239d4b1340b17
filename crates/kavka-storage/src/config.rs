/// Whether record timestamps come from the producer or from the broker at append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// `cleanup.policy`: what happens to old data. Kafka's list value `delete`,
/// `compact` or both; an empty list keeps everything forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// Retention deletes closed segments by `retention.ms` / `retention.bytes`.
    pub delete: bool,
    /// The log cleaner keeps only the latest record per key.
    pub compact: bool,
}

impl CleanupPolicy {
    /// Kafka's default: `delete`.
    pub const DELETE: Self = Self {
        delete: true,
        compact: false,
    };
    /// `compact`: never trimmed by time or size.
    pub const COMPACT: Self = Self {
        delete: false,
        compact: true,
    };

    /// Parses Kafka's comma-separated list (`"compact,delete"`); unknown words are
    /// ignored, since the controller validated the value before it got here.
    pub fn parse(value: &str) -> Self {
        let mut policy = Self {
            delete: false,
            compact: false,
        };
        for word in value.split(',').map(str::trim) {
            match word {
                "delete" => policy.delete = true,
                "compact" => policy.compact = true,
                _ => {}
            }
        }
        policy
    }
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        Self::DELETE
    }
}

/// Per-partition log settings, the topic-level names of Kafka's configs.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment once it would exceed this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once its first batch is this old.
    pub segment_ms: i64,
    /// `retention.ms`: delete closed segments whose newest record is older; `None` = forever.
    pub retention_ms: Option<i64>,
    /// `retention.bytes`: delete oldest closed segments while the log is larger; `None` = unlimited.
    pub retention_bytes: Option<u64>,
    /// `index.interval.bytes`: bytes between two sparse index entries.
    pub index_interval_bytes: u32,
    /// `flush.messages`: fsync after this many records; `None` = leave it to the page cache.
    pub flush_messages: Option<u64>,
    /// `flush.ms`: fsync when the last flush is this old; `None` = leave it to the page cache.
    pub flush_ms: Option<i64>,
    /// `max.message.bytes`: largest batch accepted.
    pub max_message_bytes: u32,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `cleanup.policy`: whether retention trims the log, the cleaner compacts it, or both.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long a tombstone survives after its first cleaning.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: clean once dirty bytes / total bytes reach this.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: a record stays uncompacted at least this long.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this forces a cleaning.
    pub max_compaction_lag_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            index_interval_bytes: 4096,
            flush_messages: None,
            flush_ms: None,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            cleanup_policy: CleanupPolicy::DELETE,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_policy_parses_kafka_lists() {
        assert_eq!(CleanupPolicy::parse("delete"), CleanupPolicy::DELETE);
        assert_eq!(CleanupPolicy::parse("compact"), CleanupPolicy::COMPACT);
        let both = CleanupPolicy::parse("compact, delete");
        assert!(both.compact && both.delete);
        let none = CleanupPolicy::parse("");
        assert!(!none.compact && !none.delete);
    }
}
