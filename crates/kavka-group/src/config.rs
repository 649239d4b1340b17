//! Coordinator settings, named after the broker properties they mirror.

/// Group coordinator configuration (defaults match Apache Kafka).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long a new group waits for more members.
    pub initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.max.size`: most members a group may hold.
    pub max_size: i32,
    /// `offsets.retention.minutes` in milliseconds.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`: how often `tick` sweeps expired offsets.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`: longest commit metadata accepted.
    pub offset_metadata_max_bytes: usize,
    /// `group.consumer.heartbeat.interval.ms`: told to consumer-protocol members.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.session.timeout.ms`: a consumer-protocol member silent this
    /// long is removed.
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.assignors`: server-side assignors by name; the first is the default.
    pub consumer_assignors: Vec<String>,
    /// `group.consumer.max.size`: most members a consumer-protocol group may hold.
    pub consumer_max_size: i32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            max_size: i32::MAX,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            consumer_heartbeat_interval_ms: 5000,
            consumer_session_timeout_ms: 45_000,
            consumer_assignors: vec!["uniform".to_string(), "range".to_string()],
            consumer_max_size: i32::MAX,
        }
    }
}
