//! The cluster settings of a node, with Kafka's property names and Kafka's rules
//! for combining them (KRaft roles, the controller quorum, named listeners).
//!
//! With no `process.roles` a node is what zero-config Kavka has always been: one
//! combined broker and controller that needs nothing else.

use std::collections::BTreeMap;

use super::{invalid, parse_num, ConfigError, Props};

/// What a node does (`process.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessRole {
    Broker,
    Controller,
}

/// One controller quorum voter (`controller.quorum.voters`: `id@host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

/// One named listener (`NAME://host:port`) with its security protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedListener {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub protocol: String,
}

/// A node's role in the cluster and how it reaches the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// Empty: a single combined node (zero-config).
    pub process_roles: Vec<ProcessRole>,
    pub voters: Vec<Voter>,
    /// `controller.quorum.bootstrap.servers` (KIP-853 dynamic quorum).
    pub bootstrap_controllers: Vec<(String, u16)>,
    pub controller_listener_names: Vec<String>,
    pub listeners: Vec<NamedListener>,
    pub advertised_listeners: Vec<NamedListener>,
    pub inter_broker_listener_name: String,
    /// `broker.rack`.
    pub rack: Option<String>,
    pub replica_lag_time_max_ms: i64,
    pub unclean_leader_election_enable: bool,
    /// `unclean.leader.election.interval.ms`: how often the controller looks for
    /// leaderless partitions whose topic allows an unclean election.
    pub unclean_leader_election_interval_ms: i64,
    pub broker_session_timeout_ms: i64,
    pub broker_heartbeat_interval_ms: i64,
    pub auto_leader_rebalance_enable: bool,
    pub leader_imbalance_check_interval_seconds: i64,
    pub leader_imbalance_per_broker_percentage: u32,
    pub controller_quorum_election_timeout_ms: i64,
    pub controller_quorum_fetch_timeout_ms: i64,
    pub replica_fetch_max_bytes: i32,
    pub replica_fetch_wait_max_ms: i32,
    pub replica_fetch_min_bytes: i32,
    /// `replica.fetch.backoff.ms`: how long a follower waits after a failed fetch
    /// (or a lost connection) before the next.
    pub replica_fetch_backoff_ms: i32,
    pub num_replica_fetchers: i32,
    pub offsets_topic_replication_factor: i16,
}

/// Keys read here, for the unknown-key warning.
pub(super) const CLUSTER_KEYS: &[&str] = &[
    "broker.rack",
    "replica.lag.time.max.ms",
    "broker.session.timeout.ms",
    "unclean.leader.election.interval.ms",
    "broker.heartbeat.interval.ms",
    "auto.leader.rebalance.enable",
    "leader.imbalance.check.interval.seconds",
    "leader.imbalance.per.broker.percentage",
    "controller.quorum.election.timeout.ms",
    "controller.quorum.fetch.timeout.ms",
    "replica.fetch.max.bytes",
    "replica.fetch.wait.max.ms",
    "replica.fetch.min.bytes",
    "replica.fetch.backoff.ms",
    "num.replica.fetchers",
    "metadata.log.dir",
    "security.inter.broker.protocol",
];

impl ClusterSettings {
    /// Whether this node runs `role` (a zero-config node runs both).
    pub fn has_role(&self, role: ProcessRole) -> bool {
        self.process_roles.is_empty() || self.process_roles.contains(&role)
    }

    /// A dedicated controller: `process.roles=controller`, no broker role.
    pub fn is_controller_only(&self) -> bool {
        !self.process_roles.is_empty() && !self.process_roles.contains(&ProcessRole::Broker)
    }

    /// The listener clients and other brokers connect to, if this node has one.
    pub fn broker_listener(&self) -> Option<&NamedListener> {
        self.listeners
            .iter()
            .find(|l| l.name == self.inter_broker_listener_name)
            .or_else(|| {
                self.listeners
                    .iter()
                    .find(|l| !self.is_controller_listener(l))
            })
    }

    /// The listener the controller quorum talks on, if this node has one.
    pub fn controller_listener(&self) -> Option<&NamedListener> {
        self.controller_listener_names
            .iter()
            .find_map(|name| self.listeners.iter().find(|l| &l.name == name))
    }

    fn is_controller_listener(&self, l: &NamedListener) -> bool {
        self.controller_listener_names.contains(&l.name)
    }

    pub(super) fn parse(p: &Props<'_>, node_id: i32) -> Result<Self, ConfigError> {
        let process_roles = match p.get("process.roles") {
            None => Vec::new(),
            Some(v) => parse_roles(v)?,
        };
        let voters = match p.get("controller.quorum.voters") {
            None | Some("") => Vec::new(),
            Some(v) => parse_voters(v)?,
        };
        let bootstrap_controllers = match p.get("controller.quorum.bootstrap.servers") {
            None | Some("") => Vec::new(),
            Some(v) => list(v)
                .map(|hp| host_port("controller.quorum.bootstrap.servers", v, hp))
                .collect::<Result<_, _>>()?,
        };
        let controller_listener_names: Vec<String> = p
            .get("controller.listener.names")
            .map(|v| list(v).map(str::to_string).collect())
            .unwrap_or_default();
        let map = protocol_map(p.get("listener.security.protocol.map"));
        let listeners = match p.get("listeners") {
            Some(v) => parse_listeners("listeners", v, &map, &controller_listener_names)?,
            None => vec![NamedListener {
                name: "PLAINTEXT".into(),
                host: String::new(),
                port: 9092,
                protocol: "PLAINTEXT".into(),
            }],
        };
        let advertised_listeners = match p.get("advertised.listeners") {
            Some(v) => {
                parse_listeners("advertised.listeners", v, &map, &controller_listener_names)?
            }
            None => Vec::new(),
        };
        let inter_broker_listener_name = p
            .get("inter.broker.listener.name")
            .map(str::to_string)
            // Kafka's older way: the listener named like the protocol.
            .or_else(|| {
                p.get("security.inter.broker.protocol")
                    .map(|v| v.trim().to_ascii_uppercase())
                    .filter(|name| listeners.iter().any(|l| &l.name == name))
            })
            .or_else(|| {
                listeners
                    .iter()
                    .find(|l| !controller_listener_names.contains(&l.name))
                    .map(|l| l.name.clone())
            })
            .unwrap_or_else(|| "PLAINTEXT".to_string());
        let settings = Self {
            process_roles,
            voters,
            bootstrap_controllers,
            controller_listener_names,
            listeners,
            advertised_listeners,
            inter_broker_listener_name,
            rack: p
                .get("broker.rack")
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            replica_lag_time_max_ms: p.num("replica.lag.time.max.ms", 30_000)?,
            unclean_leader_election_enable: p.boolean("unclean.leader.election.enable", false)?,
            unclean_leader_election_interval_ms: p
                .num("unclean.leader.election.interval.ms", 300_000)?,
            broker_session_timeout_ms: p.num("broker.session.timeout.ms", 9_000)?,
            broker_heartbeat_interval_ms: p.num("broker.heartbeat.interval.ms", 2_000)?,
            auto_leader_rebalance_enable: p.boolean("auto.leader.rebalance.enable", true)?,
            leader_imbalance_check_interval_seconds: p
                .num("leader.imbalance.check.interval.seconds", 300)?,
            leader_imbalance_per_broker_percentage: p
                .num("leader.imbalance.per.broker.percentage", 10)?,
            controller_quorum_election_timeout_ms: p
                .num("controller.quorum.election.timeout.ms", 1_000)?,
            controller_quorum_fetch_timeout_ms: p
                .num("controller.quorum.fetch.timeout.ms", 2_000)?,
            replica_fetch_max_bytes: p.num("replica.fetch.max.bytes", 1_048_576)?,
            replica_fetch_wait_max_ms: p.num("replica.fetch.wait.max.ms", 500)?,
            replica_fetch_min_bytes: p.num("replica.fetch.min.bytes", 1)?,
            replica_fetch_backoff_ms: p.num("replica.fetch.backoff.ms", 1_000)?,
            num_replica_fetchers: p.num("num.replica.fetchers", 1)?,
            offsets_topic_replication_factor: p.num("offsets.topic.replication.factor", 3)?,
        };
        settings.validate(node_id)?;
        Ok(settings)
    }

    /// Kafka's rules for combining roles, quorum and listeners.
    fn validate(&self, node_id: i32) -> Result<(), ConfigError> {
        // Kafka's `atLeast(0)`.
        if self.replica_fetch_backoff_ms < 0 {
            return Err(invalid(
                "replica.fetch.backoff.ms",
                &self.replica_fetch_backoff_ms.to_string(),
                "must be at least 0",
            ));
        }
        if self.broker_heartbeat_interval_ms >= self.broker_session_timeout_ms {
            return Err(invalid(
                "broker.heartbeat.interval.ms",
                &self.broker_heartbeat_interval_ms.to_string(),
                "must be less than broker.session.timeout.ms",
            ));
        }
        if self.process_roles.is_empty() {
            return Ok(());
        }
        let roles = joined_roles(&self.process_roles);
        if self.voters.is_empty() && self.bootstrap_controllers.is_empty() {
            return Err(invalid(
                "controller.quorum.voters",
                "",
                "a node with process.roles needs controller.quorum.voters or \
                 controller.quorum.bootstrap.servers",
            ));
        }
        if self.controller_listener_names.is_empty() {
            return Err(invalid(
                "controller.listener.names",
                "",
                "must contain at least one value when process.roles is set",
            ));
        }
        let is_controller = self.process_roles.contains(&ProcessRole::Controller);
        let is_broker = self.process_roles.contains(&ProcessRole::Broker);
        if is_controller {
            if !self.voters.is_empty() && !self.voters.iter().any(|v| v.id == node_id) {
                return Err(invalid(
                    "controller.quorum.voters",
                    &voters_text(&self.voters),
                    &format!(
                        "process.roles={roles} includes the controller role, so node.id \
                         {node_id} must be one of the voters"
                    ),
                ));
            }
            if self.controller_listener().is_none() {
                return Err(invalid(
                    "listeners",
                    &listeners_text(&self.listeners),
                    "a controller must listen on the first of controller.listener.names",
                ));
            }
        }
        if is_broker {
            if let Some(l) = self
                .advertised_listeners
                .iter()
                .find(|l| self.is_controller_listener(l))
            {
                return Err(invalid(
                    "advertised.listeners",
                    &l.name,
                    "must not contain controller listeners when process.roles contains broker",
                ));
            }
            if !self
                .listeners
                .iter()
                .any(|l| l.name == self.inter_broker_listener_name)
            {
                return Err(invalid(
                    "inter.broker.listener.name",
                    &self.inter_broker_listener_name,
                    "must be one of the names in listeners",
                ));
            }
        }
        if is_broker && !is_controller {
            if let Some(l) = self
                .listeners
                .iter()
                .find(|l| self.is_controller_listener(l))
            {
                return Err(invalid(
                    "controller.listener.names",
                    &l.name,
                    "must not name a listener in 'listeners' when process.roles=broker",
                ));
            }
        }
        if is_controller && !is_broker {
            if let Some(l) = self
                .listeners
                .iter()
                .find(|l| !self.is_controller_listener(l))
            {
                return Err(invalid(
                    "listeners",
                    &l.name,
                    "must only contain controller listeners when process.roles=controller",
                ));
            }
        }
        Ok(())
    }
}

/// The entries of a comma-separated setting, trimmed, empty ones dropped.
pub(super) fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_roles(value: &str) -> Result<Vec<ProcessRole>, ConfigError> {
    let mut roles = Vec::new();
    for role in list(value) {
        let parsed = match role {
            "broker" => ProcessRole::Broker,
            "controller" => ProcessRole::Controller,
            _ => {
                return Err(invalid(
                    "process.roles",
                    value,
                    "roles are broker and controller",
                ))
            }
        };
        if roles.contains(&parsed) {
            return Err(invalid("process.roles", value, "a role is named twice"));
        }
        roles.push(parsed);
    }
    if roles.is_empty() {
        return Err(invalid(
            "process.roles",
            value,
            "name broker, controller or both",
        ));
    }
    Ok(roles)
}

fn joined_roles(roles: &[ProcessRole]) -> String {
    roles
        .iter()
        .map(|r| match r {
            ProcessRole::Broker => "broker",
            ProcessRole::Controller => "controller",
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_voters(value: &str) -> Result<Vec<Voter>, ConfigError> {
    let key = "controller.quorum.voters";
    let mut voters: Vec<Voter> = Vec::new();
    for entry in list(value) {
        let (id, address) = entry
            .split_once('@')
            .ok_or_else(|| invalid(key, value, "expected id@host:port entries"))?;
        let id: i32 = parse_num(key, id)?;
        let (host, port) = host_port(key, value, address)?;
        if voters.iter().any(|v| v.id == id) {
            return Err(invalid(key, value, &format!("voter {id} is named twice")));
        }
        voters.push(Voter { id, host, port });
    }
    Ok(voters)
}

fn voters_text(voters: &[Voter]) -> String {
    voters
        .iter()
        .map(|v| format!("{}@{}:{}", v.id, v.host, v.port))
        .collect::<Vec<_>>()
        .join(",")
}

fn host_port(key: &str, whole: &str, address: &str) -> Result<(String, u16), ConfigError> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| invalid(key, whole, "expected host:port"))?;
    let port = port
        .parse()
        .map_err(|_| invalid(key, whole, "port is not a number"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((host, port))
}

/// `listener.security.protocol.map` with Kafka's default entries.
pub(super) fn protocol_map(value: Option<&str>) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
        .iter()
        .map(|p| (p.to_string(), p.to_string()))
        .collect();
    if let Some(v) = value {
        for (name, protocol) in list(v).filter_map(|pair| pair.split_once(':')) {
            map.insert(
                name.trim().to_ascii_uppercase(),
                protocol.trim().to_ascii_uppercase(),
            );
        }
    }
    map
}

fn parse_listeners(
    key: &str,
    value: &str,
    map: &BTreeMap<String, String>,
    controller_names: &[String],
) -> Result<Vec<NamedListener>, ConfigError> {
    let mut out: Vec<NamedListener> = Vec::new();
    for entry in list(value) {
        let (name, address) = entry
            .split_once("://")
            .ok_or_else(|| invalid(key, value, "expected NAME://host:port"))?;
        let name = name.trim().to_ascii_uppercase();
        let (host, port) = host_port(key, value, address)?;
        let protocol = match map.get(&name) {
            Some(p) => p.clone(),
            // Kafka lets an unmapped controller listener default to PLAINTEXT.
            None if controller_names.contains(&name) => "PLAINTEXT".to_string(),
            None => {
                return Err(invalid(
                    key,
                    value,
                    &format!("no security protocol defined for listener {name} in listener.security.protocol.map"),
                ))
            }
        };
        if out.iter().any(|l| l.name == name) {
            return Err(invalid(
                key,
                value,
                &format!("listener {name} is named twice"),
            ));
        }
        out.push(NamedListener {
            name,
            host,
            port,
            protocol,
        });
    }
    Ok(out)
}

fn listeners_text(listeners: &[NamedListener]) -> String {
    listeners
        .iter()
        .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ClusterSettings, ConfigError> {
        let raw: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let node: i32 = raw.get("node.id").and_then(|n| n.parse().ok()).unwrap_or(1);
        ClusterSettings::parse(&Props(&raw), node)
    }

    const COMBINED: &[(&str, &str)] = &[
        ("process.roles", "broker,controller"),
        ("node.id", "2"),
        (
            "controller.quorum.voters",
            "1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093",
        ),
        ("controller.listener.names", "CONTROLLER"),
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093",
        ),
        ("advertised.listeners", "PLAINTEXT://localhost:29092"),
        (
            "listener.security.protocol.map",
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        ),
        ("broker.rack", "rack-b"),
    ];

    #[test]
    fn zero_config_is_one_combined_node_with_kafkas_defaults() {
        let s = parse(&[]).unwrap();
        assert!(s.has_role(ProcessRole::Broker) && s.has_role(ProcessRole::Controller));
        assert_eq!(s.broker_session_timeout_ms, 9_000);
        assert_eq!(s.broker_heartbeat_interval_ms, 2_000);
        assert_eq!(s.replica_lag_time_max_ms, 30_000);
        assert_eq!(s.replica_fetch_backoff_ms, 1_000);
        assert!(!s.unclean_leader_election_enable);
        assert!(s.auto_leader_rebalance_enable);
        assert_eq!(s.broker_listener().map(|l| l.port), Some(9092));
    }

    #[test]
    fn replica_fetch_backoff_is_a_setting_of_its_own() {
        let s = parse(&[("replica.fetch.backoff.ms", "250")]).unwrap();
        assert_eq!(s.replica_fetch_backoff_ms, 250);
        assert!(CLUSTER_KEYS.contains(&"replica.fetch.backoff.ms"));
        for bad in ["-1", "soon"] {
            let err = parse(&[("replica.fetch.backoff.ms", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("replica.fetch.backoff.ms"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_kafka_three_node_combined_config_parses() {
        let s = parse(COMBINED).unwrap();
        assert_eq!(s.voters.len(), 3);
        assert_eq!(
            s.voters[1],
            Voter {
                id: 2,
                host: "127.0.0.1".into(),
                port: 29093
            }
        );
        assert_eq!(s.controller_listener().map(|l| l.port), Some(29093));
        assert_eq!(s.broker_listener().map(|l| l.port), Some(29092));
        assert_eq!(s.inter_broker_listener_name, "PLAINTEXT");
        assert_eq!(s.rack.as_deref(), Some("rack-b"));
    }

    #[test]
    fn kafkas_combination_rules_are_enforced() {
        let with = |changes: &[(&'static str, &'static str)]| {
            let mut pairs: Vec<(&str, &str)> = COMBINED.to_vec();
            for (k, v) in changes {
                pairs.retain(|(key, _)| key != k);
                if !v.is_empty() {
                    pairs.push((k, v));
                }
            }
            parse(&pairs)
        };
        let refused = |changes: &[(&'static str, &'static str)], key: &str| {
            let err = with(changes).expect_err("accepted");
            assert!(err.to_string().contains(key), "{err}");
        };
        refused(&[("node.id", "4")], "controller.quorum.voters");
        refused(
            &[("controller.quorum.voters", "")],
            "controller.quorum.voters",
        );
        refused(
            &[("controller.listener.names", "")],
            "controller.listener.names",
        );
        refused(&[("process.roles", "broker,zookeeper")], "process.roles");
        refused(&[("process.roles", "broker")], "controller.listener.names");
        refused(
            &[
                ("process.roles", "controller"),
                ("advertised.listeners", ""),
            ],
            "listeners",
        );
        refused(
            &[("advertised.listeners", "CONTROLLER://h:1")],
            "advertised.listeners",
        );
        refused(
            &[("inter.broker.listener.name", "INTERNAL")],
            "inter.broker.listener.name",
        );
        refused(
            &[("listeners", "INTERNAL://:1,CONTROLLER://:2")],
            "listeners",
        );
        refused(
            &[("broker.heartbeat.interval.ms", "10000")],
            "broker.heartbeat.interval.ms",
        );
        // A broker-only node names the controllers but does not listen as one.
        assert!(with(&[
            ("process.roles", "broker"),
            ("node.id", "4"),
            ("listeners", "PLAINTEXT://127.0.0.1:49092"),
        ])
        .is_ok());
        // A dynamic quorum instead of static voters.
        assert!(with(&[
            ("controller.quorum.voters", ""),
            ("controller.quorum.bootstrap.servers", "127.0.0.1:19093"),
        ])
        .is_ok());
    }
}
