//! Broker configuration with Kafka's property names: a `server.properties` file,
//! then `--override key=value`, then `KAFKA_*` environment variables on top.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod authorizer;
mod cluster;
mod connections;
mod http;
mod quotas;
mod sasl;
mod security;

pub use authorizer::STANDARD_AUTHORIZER;
pub use cluster::{ClusterSettings, NamedListener, ProcessRole, Voter};
pub use connections::ConnectionSettings;
pub use http::{HttpSettings, DEFAULT_HTTP_LISTENERS};
pub use quotas::{QuotaSettings, QuotaWindow};
pub use sasl::ListenerSasl;
pub use security::UnsupportedSetting;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid value '{value}' for configuration {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("override '{0}' is not of the form key=value")]
    BadOverride(String),
    /// Settings that ask for TLS, SASL or an authorizer: starting anyway would
    /// serve the port open, so the start is refused.
    #[error(
        "refusing to start: these settings need security Kavka does not implement yet, \
         and running without it would expose every topic: {}. Remove them or use a \
         PLAINTEXT listener on a trusted network.",
        list_settings(.0)
    )]
    UnsupportedSecurity(Vec<UnsupportedSetting>),
    /// A cluster layout Kavka cannot run yet: refused rather than run a node
    /// alone while its user believes it is part of a cluster.
    #[error("refusing to start: {0}")]
    UnsupportedClusterLayout(String),
}

fn list_settings(settings: &[UnsupportedSetting]) -> String {
    settings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A host and port to listen on or to advertise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// Every setting the broker uses, resolved and typed.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    pub listener: Endpoint,
    pub advertised: Endpoint,
    pub log_dir: PathBuf,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub retention_ms: Option<i64>,
    pub retention_bytes: Option<u64>,
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub index_interval_bytes: u32,
    pub flush_messages: Option<u64>,
    pub flush_ms: Option<i64>,
    pub message_max_bytes: u32,
    pub message_timestamp_type: String,
    pub socket_request_max_bytes: usize,
    /// Connection and request limits of the client listener.
    pub connections: ConnectionSettings,
    /// How client quotas measure rates (`quota.window.*`).
    pub quotas: QuotaSettings,
    pub retention_check_interval_ms: u64,
    pub min_insync_replicas: i32,
    pub offsets_topic_num_partitions: i32,
    pub group_initial_rebalance_delay_ms: i64,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub group_consumer_heartbeat_interval_ms: i32,
    pub group_consumer_session_timeout_ms: i32,
    pub offsets_retention_minutes: i64,
    /// `offsets.commit.timeout.ms`: how long a group write waits for replication.
    pub offsets_commit_timeout_ms: i64,
    /// The transaction coordinator's settings (`transaction.*`).
    pub txn: TxnSettings,
    pub delete_topic_enable: bool,
    /// `num.recovery.threads.per.data.dir`: threads that open the logs at start
    /// and close them at a clean stop.
    pub num_recovery_threads_per_data_dir: usize,
    /// Roles, quorum, named listeners and replication settings.
    pub cluster: ClusterSettings,
    /// The log cleaner's settings (`log.cleaner.*`).
    pub cleaner: CleanerSettings,
    /// Each SASL listener's settings, by listener name.
    pub sasl: BTreeMap<String, std::sync::Arc<ListenerSasl>>,
    /// `http.listeners`: metrics and health checks.
    pub http: HttpSettings,
    /// Every property as given (file, overrides, environment), for DescribeConfigs.
    pub raw: BTreeMap<String, String>,
    /// The cluster id a fresh data directory is formatted with: the container
    /// images' `CLUSTER_ID` variable (Bitnami's `KAFKA_KRAFT_CLUSTER_ID`), which
    /// their entrypoints pass to `kafka-storage format`. A formatted directory
    /// keeps the id it has.
    pub initial_cluster_id: Option<String>,
    /// TLS for connections to other brokers, when the inter-broker listener is SSL.
    pub inter_broker_tls: Option<crate::security::inter_broker::InterBrokerTls>,
    /// The ACL authorizer's settings; None when `authorizer.class.name` is unset.
    pub authorizer: Option<kavka_metadata::acl::AuthorizerConfig>,
}

/// The transaction coordinator's settings, Kafka's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnSettings {
    /// `transaction.state.log.num.partitions`
    pub state_log_num_partitions: i32,
    /// `transaction.state.log.replication.factor`
    pub state_log_replication_factor: i16,
    /// `transaction.state.log.min.isr`
    pub state_log_min_isr: i32,
    /// `transaction.state.log.segment.bytes`
    pub state_log_segment_bytes: i64,
    /// `transaction.max.timeout.ms`
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`
    pub id_expiration_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`
    pub abort_timed_out_interval_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`
    pub remove_expired_interval_ms: i64,
    /// `transaction.partition.verification.enable`: a leader asks the coordinator
    /// before the first transactional batch of a producer (KIP-890 part 1).
    pub partition_verification_enable: bool,
}

/// The broker-wide settings of the log cleaner, Kafka's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanerSettings {
    /// `log.cleaner.enable`
    pub enable: bool,
    /// `log.cleaner.threads`
    pub threads: usize,
    /// `log.cleaner.backoff.ms`: sleep when no log needs cleaning.
    pub backoff_ms: u64,
    /// `log.cleaner.io.max.bytes.per.second`: read plus write rate over all threads.
    pub io_max_bytes_per_second: f64,
    /// `log.cleaner.dedupe.buffer.size`: memory for the key maps of all threads.
    pub dedupe_buffer_size: usize,
}

/// Keys Kavka reads; anything else is reported once at startup.
const KNOWN_KEYS: &[&str] = &[
    "node.id",
    "broker.id",
    "process.roles",
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "controller.listener.names",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "inter.broker.listener.name",
    "log.dirs",
    "log.dir",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "log.retention.hours",
    "log.retention.minutes",
    "log.retention.ms",
    "log.retention.bytes",
    "log.segment.bytes",
    "log.roll.ms",
    "log.roll.hours",
    "log.index.interval.bytes",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.retention.check.interval.ms",
    "log.message.timestamp.type",
    "message.max.bytes",
    "socket.request.max.bytes",
    "min.insync.replicas",
    "offsets.topic.num.partitions",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions",
    "transaction.state.log.segment.bytes",
    "transaction.max.timeout.ms",
    "transactional.id.expiration.ms",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
    "transaction.remove.expired.transaction.cleanup.interval.ms",
    "transaction.partition.verification.enable",
    "group.initial.rebalance.delay.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.consumer.heartbeat.interval.ms",
    "group.consumer.session.timeout.ms",
    "offsets.retention.minutes",
    "offsets.commit.timeout.ms",
    "delete.topic.enable",
    "num.network.threads",
    "num.io.threads",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "num.recovery.threads.per.data.dir",
    "compression.type",
    "unclean.leader.election.enable",
    "log.cleanup.policy",
    "log.cleaner.enable",
    "log.cleaner.threads",
    "log.cleaner.backoff.ms",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.max.compaction.lag.ms",
];

impl BrokerConfig {
    /// Resolves a config from an optional properties file, `key=value` overrides
    /// and `KAFKA_*` environment variables, in rising precedence.
    pub fn load(
        file: Option<&Path>,
        overrides: &[String],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut raw = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            raw.extend(parse_properties(&text));
        }
        for o in overrides {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| ConfigError::BadOverride(o.clone()))?;
            raw.insert(k.trim().to_string(), v.trim().to_string());
        }
        let mut initial_cluster_id = None;
        for (k, v) in env {
            if CLUSTER_ID_VARS.contains(&k.as_str()) {
                let id = v.trim();
                if !id.is_empty() {
                    initial_cluster_id = Some(id.to_string());
                }
            } else if let Some(key) = env_key(&k) {
                raw.insert(key, v);
            }
        }
        let mut config = Self::from_properties(raw)?;
        config.initial_cluster_id = initial_cluster_id;
        Ok(config)
    }

    /// The client listeners a broker serves: the inter-broker one first (its
    /// address as resolved in `listener`), then every other non-controller one.
    pub fn served_listeners(&self) -> Vec<NamedListener> {
        let primary = self.cluster.broker_listener().cloned();
        let mut served: Vec<NamedListener> = Vec::new();
        if let Some(mut p) = primary.clone() {
            p.host = self.listener.host.clone();
            p.port = self.listener.port;
            served.push(p);
        }
        for l in &self.cluster.listeners {
            let is_primary = primary.as_ref().is_some_and(|p| p.name == l.name);
            if !is_primary && !self.cluster.controller_listener_names.contains(&l.name) {
                served.push(l.clone());
            }
        }
        served
    }

    /// The address this broker tells clients of `listener` to use (Kafka answers
    /// Metadata with the advertised address of the listener the request came in on).
    pub fn advertised_for(&self, listener: &str) -> Endpoint {
        if self
            .cluster
            .broker_listener()
            .is_some_and(|l| l.name == listener)
        {
            return self.advertised.clone();
        }
        crate::security::listener::advertised_for(
            &self.cluster.advertised_listeners,
            &self.cluster.listeners,
            listener,
        )
        .unwrap_or_else(|| self.advertised.clone())
    }

    /// Builds a config from resolved properties, applying Kafka's defaults.
    pub fn from_properties(raw: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let insecure = security::unsupported_security_settings(&raw);
        if !insecure.is_empty() {
            return Err(ConfigError::UnsupportedSecurity(insecure));
        }
        for key in raw.keys() {
            if !KNOWN_KEYS.contains(&key.as_str())
                && !cluster::CLUSTER_KEYS.contains(&key.as_str())
                && !connections::CONNECTION_KEYS.contains(&key.as_str())
                && !security::is_known_ssl_key(key)
                && !sasl::SASL_KEYS.contains(&key.as_str())
                && !(key.starts_with("listener.name.")
                    && (key.contains(".sasl.") || key.ends_with(".connections.max.reauth.ms")))
                && !authorizer::AUTHORIZER_KEYS.contains(&key.as_str())
                && !quotas::QUOTA_KEYS.contains(&key.as_str())
                && !http::HTTP_KEYS.contains(&key.as_str())
            {
                tracing::warn!(key = %key, "unknown configuration ignored");
            }
        }
        let p = Props(&raw);
        let node_id = match p.get("node.id").or_else(|| p.get("broker.id")) {
            Some(v) => parse_num("node.id", v)?,
            None => 1,
        };
        let cluster = ClusterSettings::parse(&p, node_id)?;
        refuse_unsupported_layout(&cluster)?;
        // Each TLS listener's settings, checked before any file is read.
        for l in cluster
            .listeners
            .iter()
            .filter(|l| l.protocol.ends_with("SSL"))
        {
            crate::security::listener::listener_ssl_settings(&raw, &l.name).map_err(|e| {
                ConfigError::Invalid {
                    key: format!("listener {}", l.name),
                    value: l.protocol.clone(),
                    reason: e.to_string(),
                }
            })?;
        }
        // A dedicated controller (process.roles=controller) serves no clients: its
        // only listener is the controller's, which is what it binds and names.
        let own_listener = if cluster.is_controller_only() {
            cluster.controller_listener()
        } else {
            cluster.broker_listener()
        };
        let listener = match own_listener {
            Some(l) => Endpoint {
                host: l.host.clone(),
                port: l.port,
            },
            None => {
                return Err(ConfigError::Invalid {
                    key: "listeners".into(),
                    value: String::new(),
                    reason: "a broker needs a listener that is not a controller listener".into(),
                })
            }
        };
        // Each SASL listener's mechanisms and users; a dedicated controller serves none.
        let mut sasl = BTreeMap::new();
        if !cluster.is_controller_only() {
            for l in cluster
                .listeners
                .iter()
                .filter(|l| !cluster.controller_listener_names.contains(&l.name))
            {
                if let Some(settings) = sasl::parse(&raw, l)? {
                    sasl.insert(l.name.clone(), std::sync::Arc::new(settings));
                }
            }
        }
        let inter_broker_sasl = cluster
            .broker_listener()
            .is_some_and(|l| sasl.contains_key(&l.name));
        if inter_broker_sasl && cluster.voters.iter().any(|v| v.id != node_id) {
            // Replica fetchers and transaction markers reach other brokers through
            // the inter-broker listener, and Kavka's inter-broker client does not
            // log in yet. A SASL listener beside a PLAINTEXT or SSL inter-broker
            // listener is fine.
            return Err(ConfigError::UnsupportedClusterLayout(
                "a SASL inter-broker listener on a node of a multi-node cluster: \
                 inter-broker connections cannot authenticate yet; use SASL on client \
                 listeners only (inter.broker.listener.name naming a PLAINTEXT or SSL one)"
                    .into(),
            ));
        }
        let advertised = match cluster
            .advertised_listeners
            .iter()
            .find(|l| l.name == cluster.inter_broker_listener_name)
            .or_else(|| cluster.advertised_listeners.first())
        {
            Some(l) => Endpoint {
                host: l.host.clone(),
                port: l.port,
            },
            None => Endpoint {
                host: if listener.host.is_empty() || listener.host == "0.0.0.0" {
                    "localhost".to_string()
                } else {
                    listener.host.clone()
                },
                port: listener.port,
            },
        };
        let log_dir = p
            .get("log.dirs")
            .or_else(|| p.get("log.dir"))
            .map(|v| v.split(',').next().unwrap_or(v).trim().to_string())
            .unwrap_or_else(|| "/tmp/kavka-logs".to_string());
        let hour_ms = 3_600_000i64;
        let retention_ms = if let Some(v) = p.get("log.retention.ms") {
            parse_num::<i64>("log.retention.ms", v)?
        } else if let Some(v) = p.get("log.retention.minutes") {
            parse_num::<i64>("log.retention.minutes", v)? * 60_000
        } else {
            p.num("log.retention.hours", 168i64)? * hour_ms
        };
        let segment_ms = if let Some(v) = p.get("log.roll.ms") {
            parse_num("log.roll.ms", v)?
        } else {
            p.num("log.roll.hours", 168i64)? * hour_ms
        };
        let retention_bytes: i64 = p.num("log.retention.bytes", -1)?;
        let flush_messages: i64 = p.num("log.flush.interval.messages", i64::MAX)?;
        let flush_ms: i64 = p.num("log.flush.interval.ms", -1)?;
        let timestamp_type = p
            .get("log.message.timestamp.type")
            .unwrap_or("CreateTime")
            .to_string();
        if timestamp_type != "CreateTime" && timestamp_type != "LogAppendTime" {
            return Err(invalid(
                "log.message.timestamp.type",
                &timestamp_type,
                "must be CreateTime or LogAppendTime",
            ));
        }
        let socket_request_max_bytes = positive(&p, "socket.request.max.bytes", 104_857_600)?;
        let inter_broker_tls = crate::security::inter_broker::InterBrokerTls::for_cluster(
            &raw, &cluster,
        )
        .map_err(|e| ConfigError::Invalid {
            key: "inter.broker.listener.name".into(),
            value: cluster.inter_broker_listener_name.clone(),
            reason: e.to_string(),
        })?;
        let config = Self {
            initial_cluster_id: None,
            node_id,
            listener,
            advertised,
            log_dir: PathBuf::from(log_dir),
            num_partitions: positive(&p, "num.partitions", 1)?,
            default_replication_factor: positive(&p, "default.replication.factor", 1)?,
            auto_create_topics_enable: p.boolean("auto.create.topics.enable", true)?,
            retention_ms: (retention_ms >= 0).then_some(retention_ms),
            retention_bytes: (retention_bytes >= 0).then_some(retention_bytes as u64),
            segment_bytes: positive::<u64>(&p, "log.segment.bytes", 1 << 30)?,
            segment_ms,
            index_interval_bytes: p.num("log.index.interval.bytes", 4096)?,
            flush_messages: (flush_messages != i64::MAX && flush_messages > 0)
                .then_some(flush_messages as u64),
            flush_ms: (flush_ms > 0).then_some(flush_ms),
            message_max_bytes: positive(&p, "message.max.bytes", 1_048_588)?,
            message_timestamp_type: timestamp_type,
            socket_request_max_bytes,
            connections: ConnectionSettings::parse(&p, socket_request_max_bytes)?,
            quotas: QuotaSettings::parse(&p)?,
            retention_check_interval_ms: positive(&p, "log.retention.check.interval.ms", 300_000)?,
            min_insync_replicas: positive(&p, "min.insync.replicas", 1)?,
            offsets_topic_num_partitions: positive(&p, "offsets.topic.num.partitions", 50)?,
            group_initial_rebalance_delay_ms: p.num("group.initial.rebalance.delay.ms", 3000)?,
            group_min_session_timeout_ms: p.num("group.min.session.timeout.ms", 6000)?,
            group_max_session_timeout_ms: p.num("group.max.session.timeout.ms", 1_800_000)?,
            group_consumer_heartbeat_interval_ms: positive(
                &p,
                "group.consumer.heartbeat.interval.ms",
                5000,
            )?,
            group_consumer_session_timeout_ms: positive(
                &p,
                "group.consumer.session.timeout.ms",
                45_000,
            )?,
            offsets_retention_minutes: p.num("offsets.retention.minutes", 10080)?,
            offsets_commit_timeout_ms: positive(&p, "offsets.commit.timeout.ms", 5000)?,
            txn: TxnSettings {
                state_log_num_partitions: positive(&p, "transaction.state.log.num.partitions", 50)?,
                state_log_replication_factor: positive(
                    &p,
                    "transaction.state.log.replication.factor",
                    3,
                )?,
                state_log_min_isr: positive(&p, "transaction.state.log.min.isr", 2)?,
                state_log_segment_bytes: positive(
                    &p,
                    "transaction.state.log.segment.bytes",
                    104_857_600,
                )?,
                max_timeout_ms: positive(&p, "transaction.max.timeout.ms", 900_000)?,
                id_expiration_ms: positive(&p, "transactional.id.expiration.ms", 604_800_000)?,
                abort_timed_out_interval_ms: positive(
                    &p,
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                    10_000,
                )?,
                remove_expired_interval_ms: positive(
                    &p,
                    "transaction.remove.expired.transaction.cleanup.interval.ms",
                    3_600_000,
                )?,
                partition_verification_enable: p
                    .boolean("transaction.partition.verification.enable", true)?,
            },
            delete_topic_enable: p.boolean("delete.topic.enable", true)?,
            // Kafka 4's default (KIP-1030).
            num_recovery_threads_per_data_dir: positive(
                &p,
                "num.recovery.threads.per.data.dir",
                2,
            )?,
            cluster,
            cleaner: CleanerSettings {
                enable: p.boolean("log.cleaner.enable", true)?,
                threads: positive(&p, "log.cleaner.threads", 1)?,
                backoff_ms: positive(&p, "log.cleaner.backoff.ms", 15_000)?,
                // Kafka's default is Double.MAX_VALUE: no throttling.
                io_max_bytes_per_second: positive(
                    &p,
                    "log.cleaner.io.max.bytes.per.second",
                    f64::MAX,
                )?,
                dedupe_buffer_size: positive(&p, "log.cleaner.dedupe.buffer.size", 134_217_728)?,
            },
            sasl,
            authorizer: authorizer::parse(&raw)?,
            http: HttpSettings::parse(&p)?,
            raw,
            inter_broker_tls,
        };
        Ok(config)
    }
}

struct Props<'a>(&'a BTreeMap<String, String>);

impl Props<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.trim())
    }
    fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.get(key) {
            Some(v) => parse_num(key, v),
            None => Ok(default),
        }
    }
    fn boolean(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => Err(invalid(key, &v, "expected true or false")),
        }
    }
}

fn positive<T>(p: &Props<'_>, key: &str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + Default + Copy,
{
    let v = p.num(key, default)?;
    if v <= T::default() {
        return Err(invalid(key, p.get(key).unwrap_or(""), "must be positive"));
    }
    Ok(v)
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "not a number in range"))
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// A node that would find its controllers only through
/// `controller.quorum.bootstrap.servers` (the dynamic quorum of KIP-853) is
/// refused: without `controller.quorum.voters` it would form a quorum of its own.
fn refuse_unsupported_layout(cluster: &ClusterSettings) -> Result<(), ConfigError> {
    if cluster.voters.is_empty() && !cluster.bootstrap_controllers.is_empty() {
        return Err(ConfigError::UnsupportedClusterLayout(
            "controller.quorum.bootstrap.servers without controller.quorum.voters (a \
             dynamic quorum, KIP-853) is not supported yet; list the voters in \
             controller.quorum.voters"
                .into(),
        ));
    }
    Ok(())
}

/// Environment variables the container images read as the cluster id to format
/// a fresh directory with (Apache's and Confluent's, then Bitnami's).
const CLUSTER_ID_VARS: &[&str] = &["CLUSTER_ID", "KAFKA_KRAFT_CLUSTER_ID"];

/// Whether the broker reads environment variable `var` (a property or the
/// cluster id), so tools that start brokers know what to keep from them.
pub fn is_broker_env_var(var: &str) -> bool {
    CLUSTER_ID_VARS.contains(&var) || env_key(var).is_some()
}

/// `KAFKA_LOG_DIRS` → `log.dirs`, the official container images' convention;
/// Bitnami's `KAFKA_CFG_LOG_DIRS` too. `KAFKA_` variables that are not configs
/// (paths, JVM options, image switches) are skipped.
fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("KAFKA_")?;
    // No Kafka property starts with `cfg.`, so Bitnami's prefix can be dropped.
    let rest = rest.strip_prefix("CFG_").unwrap_or(rest);
    const NOT_CONFIGS: &[&str] = &[
        "ENABLE_KRAFT",
        "HEAP_OPTS",
        "OPTS",
        "JVM_PERFORMANCE_OPTS",
        "LOG4J_OPTS",
        "HOME",
        "VERSION",
        "GC_LOG_OPTS",
        "JMX_OPTS",
        "DEBUG",
    ];
    if rest.is_empty() || NOT_CONFIGS.contains(&rest) {
        return None;
    }
    // The images write a literal '_' as '__' and '-' as '___'.
    let key = rest
        .replace("___", "\u{1}")
        .replace("__", "\u{2}")
        .replace('_', ".")
        .replace('\u{1}', "-")
        .replace('\u{2}', "_")
        .to_ascii_lowercase();
    Some(key)
}

/// Parses Java `.properties` text: `key=value` or `key: value`, `#`/`!` comments,
/// backslash line continuations.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']);
        let (k, v) = match split {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry.as_str(), ""),
        };
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(overrides: &[&str], env: &[(&str, &str)]) -> Result<BrokerConfig, ConfigError> {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        BrokerConfig::load(
            None,
            &o,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn container_cluster_id_is_kept_for_formatting_not_as_a_property() {
        let c = load(&[], &[("CLUSTER_ID", "4L6g3nShT-eMCtK--X86sw")]).unwrap();
        assert_eq!(
            c.initial_cluster_id.as_deref(),
            Some("4L6g3nShT-eMCtK--X86sw")
        );
        assert!(!c.raw.contains_key("cluster.id"));
        let c = load(&[], &[("KAFKA_KRAFT_CLUSTER_ID", "abc")]).unwrap();
        assert_eq!(c.initial_cluster_id.as_deref(), Some("abc"));
        assert!(c.raw.is_empty(), "{:?}", c.raw);
        assert_eq!(load(&[], &[]).unwrap().initial_cluster_id, None);
    }

    #[test]
    fn defaults_match_kafka() {
        let c = load(&[], &[]).unwrap();
        assert_eq!(c.listener.port, 9092);
        assert_eq!(c.num_partitions, 1);
        assert_eq!(c.retention_ms, Some(168 * 3_600_000));
        assert_eq!(c.message_max_bytes, 1_048_588);
        assert!(c.auto_create_topics_enable);
        assert_eq!(c.offsets_topic_num_partitions, 50);
        assert_eq!(
            c.txn,
            TxnSettings {
                state_log_num_partitions: 50,
                state_log_replication_factor: 3,
                state_log_min_isr: 2,
                state_log_segment_bytes: 104_857_600,
                max_timeout_ms: 900_000,
                id_expiration_ms: 604_800_000,
                abort_timed_out_interval_ms: 10_000,
                remove_expired_interval_ms: 3_600_000,
                partition_verification_enable: true,
            }
        );
    }

    #[test]
    fn overrides_and_env_apply_in_order() {
        let c = load(
            &["listeners=PLAINTEXT://127.0.0.1:19092", "log.dirs=/tmp/k1"],
            &[("KAFKA_NUM_PARTITIONS", "3"), ("KAFKA_HEAP_OPTS", "-Xmx1g")],
        )
        .unwrap();
        assert_eq!(
            c.listener,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 19092
            }
        );
        assert_eq!(c.advertised.host, "127.0.0.1");
        assert_eq!(c.log_dir, PathBuf::from("/tmp/k1"));
        assert_eq!(c.num_partitions, 3);
    }

    #[test]
    fn invalid_values_are_errors() {
        assert!(load(&["num.partitions=zero"], &[]).is_err());
        assert!(load(&["num.partitions=0"], &[]).is_err());
        assert!(load(&["listeners=localhost"], &[]).is_err());
        assert!(load(&["nonsense"], &[]).is_err());
    }

    #[test]
    fn secured_listener_stops_the_start_naming_the_setting() {
        let err = load(
            &[
                "listeners=EXTERNAL://127.0.0.1:9093",
                "listener.security.protocol.map=EXTERNAL:KERBEROS",
                "sasl.kerberos.service.name=kafka",
            ],
            &[],
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("listeners"), "{message}");
        assert!(message.contains("KERBEROS"), "{message}");
        assert!(message.contains("sasl.kerberos.service.name"), "{message}");
        let env = load(&[], &[("KAFKA_AUTHORIZER_CLASS_NAME", "x.Authorizer")]).unwrap_err();
        assert!(env.to_string().contains("authorizer.class.name"));
    }

    #[test]
    fn a_node_of_a_multi_node_cluster_starts_and_a_dynamic_quorum_is_refused() {
        let node = |id: &str, voters: &str| {
            load(
                &[
                    "process.roles=broker,controller",
                    &format!("node.id={id}"),
                    &format!("controller.quorum.voters={voters}"),
                    "controller.listener.names=CONTROLLER",
                    "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
                ],
                &[],
            )
        };
        let three = node("1", "1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093").unwrap();
        assert_eq!(three.cluster.voters.len(), 3);
        let single = node("1", "1@127.0.0.1:19093").unwrap();
        assert_eq!(single.listener.port, 19092);
        assert_eq!(
            single.cluster.controller_listener().map(|l| l.port),
            Some(19093)
        );
        let dynamic = load(
            &[
                "process.roles=broker",
                "node.id=4",
                "controller.quorum.bootstrap.servers=127.0.0.1:19093",
                "controller.listener.names=CONTROLLER",
                "listeners=PLAINTEXT://127.0.0.1:19094",
            ],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(dynamic.contains("KIP-853"), "{dynamic}");
    }

    #[test]
    fn a_dedicated_controller_binds_only_its_controller_listener() {
        let controller = load(
            &[
                "process.roles=controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093",
                "controller.listener.names=CONTROLLER",
                "listeners=CONTROLLER://127.0.0.1:19093",
            ],
            &[],
        )
        .unwrap();
        assert!(controller.cluster.is_controller_only());
        assert_eq!(controller.listener.port, 19093);
        // A broker with only a controller listener has nowhere to serve clients.
        let broker = load(
            &[
                "process.roles=broker",
                "node.id=4",
                "controller.quorum.voters=1@127.0.0.1:19093",
                "controller.listener.names=CONTROLLER",
                "listeners=CONTROLLER://127.0.0.1:19095",
            ],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(broker.contains("listeners"), "{broker}");
    }

    #[test]
    fn properties_syntax() {
        let p = parse_properties("# c\n! c\na=1\nb : 2\nc=x\\\n  y\n");
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "xy");
    }

    #[test]
    fn env_names_map_to_dotted_keys() {
        assert_eq!(env_key("KAFKA_LOG_DIRS").as_deref(), Some("log.dirs"));
        assert_eq!(env_key("KAFKA_HEAP_OPTS"), None);
        assert_eq!(
            env_key("KAFKA_CFG_NUM_PARTITIONS").as_deref(),
            Some("num.partitions")
        );
        assert_eq!(env_key("KAFKA_ENABLE_KRAFT"), None);
        assert!(is_broker_env_var("CLUSTER_ID"));
        assert!(is_broker_env_var("KAFKA_NUM_PARTITIONS"));
        assert!(!is_broker_env_var("KAFKA_HEAP_OPTS"));
        assert_eq!(env_key("PATH"), None);
    }

    #[test]
    fn cleaner_settings_have_kafkas_names_and_defaults() {
        let c = load(&[], &[]).unwrap();
        assert_eq!(
            c.cleaner,
            CleanerSettings {
                enable: true,
                threads: 1,
                backoff_ms: 15_000,
                io_max_bytes_per_second: f64::MAX,
                dedupe_buffer_size: 134_217_728,
            }
        );
        let c = load(
            &[
                "log.cleaner.enable=false",
                "log.cleaner.threads=2",
                "log.cleaner.backoff.ms=100",
                "log.cleaner.io.max.bytes.per.second=1048576",
                "log.cleaner.dedupe.buffer.size=1000000",
            ],
            &[],
        )
        .unwrap();
        assert!(!c.cleaner.enable);
        assert_eq!(c.cleaner.threads, 2);
        assert_eq!(c.cleaner.backoff_ms, 100);
        assert_eq!(c.cleaner.io_max_bytes_per_second, 1_048_576.0);
        assert_eq!(c.cleaner.dedupe_buffer_size, 1_000_000);
        assert!(load(&["log.cleaner.threads=0"], &[]).is_err());
        assert_eq!(load(&[], &[]).unwrap().num_recovery_threads_per_data_dir, 2);
        assert!(load(&["num.recovery.threads.per.data.dir=0"], &[]).is_err());
        assert!(load(&["log.cleaner.io.max.bytes.per.second=-1"], &[]).is_err());
    }
}
