//! `kafka-configs`: describe and change topic and broker configurations.

use std::ffi::OsString;

use clap::Parser;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

use crate::client_quotas;
use crate::error::ToolError;
use crate::wire::Connection;

/// `ConfigSource.DYNAMIC_TOPIC_CONFIG`.
const SOURCE_DYNAMIC_TOPIC: i8 = 1;
/// `ConfigSource.DYNAMIC_BROKER_CONFIG`.
const SOURCE_DYNAMIC_BROKER: i8 = 2;
/// `ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG`.
const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
/// `ConfigSource.DEFAULT_CONFIG`.
pub(crate) const SOURCE_DEFAULT: i8 = 5;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// What a configuration belongs to.
#[derive(Debug, Clone)]
pub(crate) enum ConfigResource {
    /// A topic by name.
    Topic(String),
    /// A broker by id.
    Broker(String),
    /// The cluster-wide broker defaults.
    BrokerDefault,
}

impl ConfigResource {
    fn wire(&self) -> (i8, String) {
        match self {
            ConfigResource::Topic(t) => (RESOURCE_TOPIC, t.clone()),
            ConfigResource::Broker(b) => (RESOURCE_BROKER, b.clone()),
            ConfigResource::BrokerDefault => (RESOURCE_BROKER, String::new()),
        }
    }

    /// The source that counts as "dynamic" for this resource.
    fn dynamic_source(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => SOURCE_DYNAMIC_TOPIC,
            ConfigResource::Broker(_) => SOURCE_DYNAMIC_BROKER,
            ConfigResource::BrokerDefault => SOURCE_DYNAMIC_DEFAULT_BROKER,
        }
    }

    fn describe_title(&self, all: bool) -> String {
        let scope = if all { "All" } else { "Dynamic" };
        match self {
            ConfigResource::Topic(t) => format!("{scope} configs for topic {t} are:"),
            ConfigResource::Broker(b) => format!("{scope} configs for broker {b} are:"),
            ConfigResource::BrokerDefault => {
                "Default configs for brokers in the cluster are:".to_string()
            }
        }
    }

    fn altered(&self) -> String {
        match self {
            ConfigResource::Topic(t) => format!("Completed updating config for topic {t}."),
            ConfigResource::Broker(b) => format!("Completed updating config for broker {b}."),
            ConfigResource::BrokerDefault => {
                "Completed updating default config for brokers in the cluster.".to_string()
            }
        }
    }
}

/// One configuration entry as described by the broker.
#[derive(Debug, Clone)]
pub(crate) struct ConfigEntry {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
    pub(crate) source: i8,
    pub(crate) sensitive: bool,
    pub(crate) synonyms: Vec<(String, Option<String>, i8)>,
}

/// Kafka's name for a config source.
fn source_name(source: i8) -> &'static str {
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

/// Describes every config of `resource`, with synonyms when asked.
pub(crate) fn describe_configs(
    conn: &mut Connection,
    resource: &ConfigResource,
    synonyms: bool,
) -> Result<Vec<ConfigEntry>, ToolError> {
    let (resource_type, name) = resource.wire();
    let mut r = DescribeConfigsResource::default();
    r.resource_type = resource_type;
    r.resource_name = StrBytes::from_string(name);
    r.configuration_keys = None;
    let mut request = DescribeConfigsRequest::default();
    request.resources = vec![r];
    request.include_synonyms = synonyms;
    let response = conn.send(request)?;
    let mut entries = Vec::new();
    for result in response.results {
        if result.error_code != 0 {
            return Err(ToolError::from_code(
                result.error_code,
                result.error_message.as_deref(),
            ));
        }
        for c in result.configs {
            entries.push(ConfigEntry {
                name: c.name.to_string(),
                value: c.value.map(|v| v.to_string()),
                source: c.config_source,
                sensitive: c.is_sensitive,
                synonyms: c
                    .synonyms
                    .into_iter()
                    .map(|s| (s.name.to_string(), s.value.map(|v| v.to_string()), s.source))
                    .collect(),
            });
        }
    }
    Ok(entries)
}

/// Kafka's ConfigCommand options (topics and brokers).
#[derive(Parser, Debug)]
#[command(
    name = "kafka-configs",
    about = "This tool helps to manipulate and describe entity config for a topic or broker."
)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// The Kafka server to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long)]
    command_config: Option<std::path::PathBuf>,
    /// Type of entity (topics/brokers).
    #[arg(long)]
    entity_type: Vec<String>,
    /// Name of entity (topic name/broker id).
    #[arg(long)]
    entity_name: Vec<String>,
    /// Default entity name for brokers.
    #[arg(long)]
    entity_default: bool,
    /// Constructs the entity-type and name for a topic.
    #[arg(long)]
    topic: Option<String>,
    /// Constructs the entity-type and name for a broker.
    #[arg(long)]
    broker: Option<String>,
    /// Constructs the entity-type and default for brokers.
    #[arg(long)]
    broker_defaults: bool,
    /// List configs for the given entity.
    #[arg(long)]
    describe: bool,
    /// List all configs, including defaults (with --describe).
    #[arg(long)]
    all: bool,
    /// Alter the configuration for the entity.
    #[arg(long)]
    alter: bool,
    /// Key Value pairs of configs to add: k1=v1,k2=[v1,v2,v2],k3=v3.
    #[arg(long)]
    add_config: Vec<String>,
    /// Config keys to remove: k1,k2.
    #[arg(long)]
    delete_config: Vec<String>,
}

/// Splits `k1=v1,k2=[a,b]` into pairs, brackets grouping a list value.
fn parse_add_config(s: &str) -> Result<Vec<(String, String)>, ToolError> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                ToolError::Usage(format!("Invalid entity config: all configs to be added must be in the format \"key=val\". ({p})"))
            })?;
            let v = v.trim();
            let v = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(v);
            Ok((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// Runs kafka-configs.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let args: Args = match crate::parse_args(argv.clone()) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let bootstrap = match crate::client::require_bootstrap(args.bootstrap_server.as_deref()) {
        Ok(b) => b.to_string(),
        Err(code) => return Ok(code),
    };
    if args.describe == args.alter {
        return Ok(crate::usage::<Args>(
            "Command must include exactly one action: --describe, --alter",
        ));
    }
    let connected = crate::wire::use_command_config(args.command_config.as_deref())
        .and_then(|()| Connection::bootstrap(&bootstrap));
    let mut conn = match connected {
        Ok(c) => c,
        Err(e) => return Ok(fail(&e)),
    };
    if client_quotas::is_quota_entity(&args.entity_type) {
        return Ok(users_and_clients(&mut conn, &args, &argv));
    }
    let resources = match resources(&args, &mut conn) {
        Ok(r) => r,
        Err(e) => return Ok(fail(&e)),
    };
    let result = if args.describe {
        describe(&mut conn, &args, &resources)
    } else {
        alter(&mut conn, &args, &resources)
    };
    Ok(match result {
        Ok(()) => 0,
        Err(e) => fail(&e),
    })
}

/// `--entity-type users|clients`: client quotas (`client_quotas.rs`) and, for
/// users, SCRAM credentials (`user_scram.rs`), in the order Kafka's tool takes
/// them: quotas first, then credentials.
fn users_and_clients(conn: &mut Connection, args: &Args, argv: &[OsString]) -> i32 {
    let mut add = Vec::new();
    for s in &args.add_config {
        match parse_add_config(s) {
            Ok(pairs) => add.extend(pairs),
            Err(e) => return fail(&e),
        }
    }
    let delete: Vec<String> = args
        .delete_config
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    let only_users = args.entity_type.iter().all(|t| t == "users");
    let user_defaults = argv.iter().any(|a| a == "--entity-default");
    if args.describe {
        let code = quotas(conn, args, argv, add, delete);
        // Kafka describes SCRAM credentials only for named users.
        if code != 0 || !only_users || user_defaults {
            return code;
        }
        return match crate::user_scram::describe(conn, &args.entity_name) {
            Ok(()) => 0,
            Err(e) => fail(&e),
        };
    }
    let is_scram =
        |k: &str| only_users && kavka_sasl::scram::ScramMechanism::from_name(k).is_some();
    let (scram_add, quota_add): (Vec<_>, Vec<_>) = add.into_iter().partition(|(k, _)| is_scram(k));
    let (scram_delete, quota_delete): (Vec<_>, Vec<_>) =
        delete.into_iter().partition(|k| is_scram(k));
    let has_scram = !scram_add.is_empty() || !scram_delete.is_empty();
    if !quota_add.is_empty() || !quota_delete.is_empty() || !has_scram {
        let code = quotas(conn, args, argv, quota_add, quota_delete);
        if code != 0 {
            return code;
        }
    }
    if has_scram {
        let user = match args.entity_name.as_slice() {
            [user] if !user_defaults => user,
            _ => {
                return fail(&ToolError::Usage(
                    "SCRAM credentials need exactly one --entity-name of a user".into(),
                ))
            }
        };
        if let Err(e) = crate::user_scram::alter(conn, user, &scram_add, &scram_delete) {
            return fail(&e);
        }
    }
    0
}

/// Users and clients: client quotas (`client_quotas.rs`).
fn quotas(
    conn: &mut Connection,
    args: &Args,
    argv: &[OsString],
    add: Vec<(String, String)>,
    delete: Vec<String>,
) -> i32 {
    let cmd = client_quotas::QuotaCommand {
        entity_types: args.entity_type.clone(),
        entity_names: names_in_order(argv),
        describe: args.describe,
        add,
        delete,
    };
    match client_quotas::run(conn, &cmd) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            0
        }
        Err(client_quotas::QuotaFailure::Argument(message)) => {
            eprintln!("{message}");
            1
        }
        Err(client_quotas::QuotaFailure::Error(e)) => fail(&e),
    }
}

/// `--entity-name` values and `--entity-default` (as "") in command-line
/// order, which is how Kafka pairs them with the `--entity-type`s.
fn names_in_order(argv: &[OsString]) -> Vec<String> {
    let mut names = Vec::new();
    let mut args = argv.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = args.next() {
        if a == "--entity-default" {
            names.push(String::new());
        } else if a == "--entity-name" {
            if let Some(n) = args.next() {
                names.push(n.to_string());
            }
        } else if let Some(n) = a.strip_prefix("--entity-name=") {
            names.push(n.to_string());
        }
    }
    names
}

fn fail(e: &ToolError) -> i32 {
    eprintln!(
        "Error while executing config command with args '{}'",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    eprintln!("{e}");
    1
}

/// The entities the command names (all topics or brokers when no name is given).
fn resources(args: &Args, conn: &mut Connection) -> Result<Vec<ConfigResource>, ToolError> {
    if let Some(t) = &args.topic {
        return Ok(vec![ConfigResource::Topic(t.clone())]);
    }
    if let Some(b) = &args.broker {
        return Ok(vec![ConfigResource::Broker(b.clone())]);
    }
    if args.broker_defaults {
        return Ok(vec![ConfigResource::BrokerDefault]);
    }
    let entity_type = match args.entity_type.first().map(String::as_str) {
        Some("topics") => "topics",
        Some("brokers") => "brokers",
        Some(other) => {
            return Err(ToolError::Usage(format!(
                "Invalid entity type {other}, the entity type must be one of topics, brokers"
            )))
        }
        None => return Err(ToolError::Usage("--entity-type must be specified".into())),
    };
    if args.entity_default {
        return Ok(vec![ConfigResource::BrokerDefault]);
    }
    if !args.entity_name.is_empty() {
        return Ok(args
            .entity_name
            .iter()
            .map(|n| {
                if entity_type == "topics" {
                    ConfigResource::Topic(n.clone())
                } else {
                    ConfigResource::Broker(n.clone())
                }
            })
            .collect());
    }
    if args.alter {
        return Err(ToolError::Usage(
            "an entity name must be specified with --alter of topics".into(),
        ));
    }
    let metadata = conn.metadata(None)?;
    Ok(if entity_type == "topics" {
        metadata
            .topics
            .iter()
            .filter_map(|t| t.name.as_ref())
            .map(|n| ConfigResource::Topic(n.0.to_string()))
            .collect()
    } else {
        let mut all: Vec<_> = metadata
            .brokers
            .iter()
            .map(|b| ConfigResource::Broker(b.node_id.0.to_string()))
            .collect();
        all.push(ConfigResource::BrokerDefault);
        all
    })
}

fn describe(
    conn: &mut Connection,
    args: &Args,
    resources: &[ConfigResource],
) -> Result<(), ToolError> {
    for resource in resources {
        if let ConfigResource::Topic(t) = resource {
            let metadata = conn.metadata(Some(std::slice::from_ref(t)))?;
            if metadata.topics.iter().all(|m| m.error_code != 0) {
                println!("The topic '{t}' doesn't exist and doesn't have dynamic config.");
                continue;
            }
        }
        let mut entries = describe_configs(conn, resource, true)?;
        if !args.all {
            let dynamic = resource.dynamic_source();
            entries.retain(|e| e.source == dynamic);
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        println!("{}", resource.describe_title(args.all));
        for e in entries {
            let value = |v: &Option<String>| {
                if e.sensitive {
                    "null".to_string()
                } else {
                    v.clone().unwrap_or_else(|| "null".into())
                }
            };
            let synonyms = e
                .synonyms
                .iter()
                .map(|(n, v, s)| format!("{}:{n}={}", source_name(*s), value(v)))
                .collect::<Vec<_>>()
                .join(", ");
            println!(
                "  {}={} sensitive={} synonyms={{{synonyms}}}",
                e.name,
                value(&e.value),
                e.sensitive
            );
        }
    }
    Ok(())
}

fn alter(
    conn: &mut Connection,
    args: &Args,
    resources: &[ConfigResource],
) -> Result<(), ToolError> {
    let mut changes = Vec::new();
    for s in &args.add_config {
        for (k, v) in parse_add_config(s)? {
            let mut c = AlterableConfig::default();
            c.name = StrBytes::from_string(k);
            c.config_operation = 0;
            c.value = Some(StrBytes::from_string(v));
            changes.push(c);
        }
    }
    for s in &args.delete_config {
        for k in s.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let mut c = AlterableConfig::default();
            c.name = StrBytes::from_string(k.to_string());
            c.config_operation = 1;
            c.value = None;
            changes.push(c);
        }
    }
    for resource in resources {
        if let ConfigResource::Topic(t) = resource {
            let metadata = conn.metadata(Some(std::slice::from_ref(t)))?;
            if metadata.topics.iter().all(|m| m.error_code != 0) {
                return Err(ToolError::Kafka {
                    code: 3,
                    message: format!("The topic '{t}' doesn't exist"),
                });
            }
        }
        let (resource_type, name) = resource.wire();
        let mut r = AlterConfigsResource::default();
        r.resource_type = resource_type;
        r.resource_name = StrBytes::from_string(name);
        r.configs = changes.clone();
        let mut request = IncrementalAlterConfigsRequest::default();
        request.resources = vec![r];
        for response in conn.send(request)?.responses {
            if response.error_code != 0 {
                return Err(ToolError::from_code(
                    response.error_code,
                    response.error_message.as_deref(),
                ));
            }
        }
        println!("{}", resource.altered());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_config_splits_on_commas_outside_brackets() {
        let pairs =
            parse_add_config("retention.ms=1000,cleanup.policy=[compact,delete]").expect("parse");
        assert_eq!(
            pairs,
            vec![
                ("retention.ms".into(), "1000".into()),
                ("cleanup.policy".into(), "compact,delete".into())
            ]
        );
    }
}
