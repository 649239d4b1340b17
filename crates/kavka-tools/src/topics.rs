//! `kafka-topics`: create, list, describe, alter and delete topics.

use std::ffi::OsString;

use clap::Parser;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::configs::{describe_configs, ConfigResource, SOURCE_DEFAULT};
use crate::error::ToolError;
use crate::output::{ids, java_presized_string_order, kafka_uuid};
use crate::wire::Connection;

const TIMEOUT_MS: i32 = 30_000;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const UNKNOWN_TOPIC: i16 = 3;

/// Kafka's TopicCommand options.
#[derive(Parser, Debug)]
#[command(
    name = "kafka-topics",
    about = "This tool helps to create, delete, describe, or change a topic."
)]
#[command(infer_long_args = true, disable_version_flag = true)]
struct Args {
    /// REQUIRED: The Kafka server to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long)]
    command_config: Option<std::path::PathBuf>,
    /// Create a new topic.
    #[arg(long)]
    create: bool,
    /// List all available topics.
    #[arg(long)]
    list: bool,
    /// List details for the given topics.
    #[arg(long)]
    describe: bool,
    /// Alter the number of partitions.
    #[arg(long)]
    alter: bool,
    /// Delete a topic.
    #[arg(long)]
    delete: bool,
    /// The topic to create, alter, describe or delete (a regex for list and describe).
    #[arg(long)]
    topic: Option<String>,
    /// The number of partitions for the topic being created or altered.
    #[arg(long)]
    partitions: Option<i32>,
    /// The replication factor for each partition in the topic being created.
    #[arg(long)]
    replication_factor: Option<i16>,
    /// A topic configuration override for the topic being created (repeatable).
    #[arg(long, value_name = "name=value")]
    config: Vec<String>,
    /// If set when creating topics, the action will only execute if the topic does not already exist.
    #[arg(long)]
    if_not_exists: bool,
    /// If set when altering, deleting or describing topics, act only if the topic exists.
    #[arg(long)]
    if_exists: bool,
    /// If set when describing topics, only show under-replicated partitions.
    #[arg(long)]
    under_replicated_partitions: bool,
    /// If set when describing topics, only show partitions whose leader is not available.
    #[arg(long)]
    unavailable_partitions: bool,
    /// Exclude internal topics when listing or describing topics.
    #[arg(long)]
    exclude_internal: bool,
}

/// Runs kafka-topics.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match crate::parse_args(argv) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let bootstrap = match crate::client::require_bootstrap(args.bootstrap_server.as_deref()) {
        Ok(b) => b.to_string(),
        Err(code) => return Ok(code),
    };
    let actions = [
        args.create,
        args.list,
        args.describe,
        args.alter,
        args.delete,
    ]
    .iter()
    .filter(|a| **a)
    .count();
    if actions != 1 {
        return Ok(crate::usage::<Args>("Command must include exactly one action: --list, --describe, --create, --alter or --delete"));
    }
    if (args.create || args.alter || args.delete) && args.topic.is_none() {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[topic]\"",
        ));
    }
    let mut conn = match Connection::bootstrap(&bootstrap) {
        Ok(c) => c,
        Err(e) => return Ok(fail(&e)),
    };
    let result = if args.create {
        create(&mut conn, &args)
    } else if args.list {
        list(&mut conn, &args)
    } else if args.describe {
        describe(&mut conn, &args)
    } else if args.alter {
        alter(&mut conn, &args)
    } else {
        delete(&mut conn, &args)
    };
    Ok(match result {
        Ok(()) => 0,
        Err(e) => fail(&e),
    })
}

/// Prints an error as TopicCommand does and returns its exit status.
fn fail(e: &ToolError) -> i32 {
    println!("Error while executing topic command : {e}");
    1
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn create(conn: &mut Connection, args: &Args) -> Result<(), ToolError> {
    let name = args.topic.as_deref().unwrap_or_default();
    let mut topic = CreatableTopic::default();
    topic.name = topic_name(name);
    topic.num_partitions = args.partitions.unwrap_or(-1);
    topic.replication_factor = args.replication_factor.unwrap_or(-1);
    for kv in &args.config {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| ToolError::Usage(format!("Invalid topic config: all configs to be added must be in the format \"key=val\" ({kv})")))?;
        let mut c = CreatableTopicConfig::default();
        c.name = StrBytes::from_string(k.trim().to_string());
        c.value = Some(StrBytes::from_string(v.trim().to_string()));
        topic.configs.push(c);
    }
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![topic];
    request.timeout_ms = TIMEOUT_MS;
    let response = conn.send(request)?;
    for result in response.topics {
        match result.error_code {
            0 => println!("Created topic {name}."),
            TOPIC_ALREADY_EXISTS if args.if_not_exists => {}
            TOPIC_ALREADY_EXISTS => {
                return Err(ToolError::Kafka {
                    code: TOPIC_ALREADY_EXISTS,
                    message: format!("Topic '{name}' already exists."),
                })
            }
            code => return Err(ToolError::from_code(code, result.error_message.as_deref())),
        }
    }
    Ok(())
}

/// Topics matching `--topic` (Kafka treats it as a regex for list and describe), sorted.
fn matching_topics(
    conn: &mut Connection,
    args: &Args,
) -> Result<Vec<MetadataResponseTopic>, ToolError> {
    let metadata = conn.metadata(None)?;
    let pattern = match &args.topic {
        Some(t) => Some(
            regex::Regex::new(&format!("^(?:{t})$"))
                .map_err(|e| ToolError::Usage(format!("Invalid topic regex {t}: {e}")))?,
        ),
        None => None,
    };
    let mut topics: Vec<_> = metadata
        .topics
        .into_iter()
        .filter(|t| t.error_code == 0)
        .filter(|t| !(args.exclude_internal && t.is_internal))
        .filter(|t| {
            let name = t.name.as_ref().map(|n| n.0.as_str()).unwrap_or_default();
            pattern.as_ref().is_none_or(|p| p.is_match(name))
        })
        .collect();
    topics.sort_by(|a, b| {
        a.name
            .as_ref()
            .map(|n| n.0.as_str())
            .cmp(&b.name.as_ref().map(|n| n.0.as_str()))
    });
    Ok(topics)
}

fn name_of(t: &MetadataResponseTopic) -> &str {
    t.name.as_ref().map(|n| n.0.as_str()).unwrap_or_default()
}

/// Fails as Kafka does when a named topic is missing, unless `--if-exists`.
fn ensure_found(topics: &[MetadataResponseTopic], args: &Args) -> Result<(), ToolError> {
    match &args.topic {
        Some(t) if topics.is_empty() && !args.if_exists => Err(ToolError::Kafka {
            code: UNKNOWN_TOPIC,
            message: format!("Topic '{t}' does not exist as expected"),
        }),
        _ => Ok(()),
    }
}

fn list(conn: &mut Connection, args: &Args) -> Result<(), ToolError> {
    for t in matching_topics(conn, args)? {
        println!("{}", name_of(&t));
    }
    Ok(())
}

fn describe(conn: &mut Connection, args: &Args) -> Result<(), ToolError> {
    let topics = matching_topics(conn, args)?;
    ensure_found(&topics, args)?;
    let topics = java_presized_string_order(topics, name_of);
    let partition_filter = args.under_replicated_partitions || args.unavailable_partitions;
    for t in &topics {
        let name = name_of(t);
        if !partition_filter {
            let configs = describe_configs(conn, &ConfigResource::Topic(name.to_string()), false)?
                .into_iter()
                .filter(|c| c.source != SOURCE_DEFAULT)
                .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("null")))
                .collect::<Vec<_>>()
                .join(",");
            let rf = t.partitions.first().map_or(0, |p| p.replica_nodes.len());
            println!(
                "Topic: {name}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {configs}",
                kafka_uuid(&t.topic_id),
                t.partitions.len()
            );
        }
        let mut partitions: Vec<_> = t.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition_index);
        for p in partitions {
            let replicas: Vec<i32> = p.replica_nodes.iter().map(|b| b.0).collect();
            let isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
            if args.under_replicated_partitions && isr.len() >= replicas.len() {
                continue;
            }
            if args.unavailable_partitions && p.leader_id.0 >= 0 {
                continue;
            }
            let leader = if p.leader_id.0 < 0 {
                "none".to_string()
            } else {
                p.leader_id.0.to_string()
            };
            println!(
                "\tTopic: {name}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\tElr: \tLastKnownElr: ",
                p.partition_index,
                ids(&replicas),
                ids(&isr)
            );
        }
    }
    Ok(())
}

fn alter(conn: &mut Connection, args: &Args) -> Result<(), ToolError> {
    let topics = matching_topics(conn, args)?;
    ensure_found(&topics, args)?;
    let Some(count) = args.partitions else {
        return Ok(());
    };
    for t in &topics {
        let mut topic = CreatePartitionsTopic::default();
        topic.name = topic_name(name_of(t));
        topic.count = count;
        topic.assignments = None;
        let mut request = CreatePartitionsRequest::default();
        request.topics = vec![topic];
        request.timeout_ms = TIMEOUT_MS;
        for r in conn.send(request)?.results {
            if r.error_code != 0 {
                return Err(ToolError::from_code(
                    r.error_code,
                    r.error_message.as_deref(),
                ));
            }
        }
    }
    Ok(())
}

fn delete(conn: &mut Connection, args: &Args) -> Result<(), ToolError> {
    let topics = matching_topics(conn, args)?;
    ensure_found(&topics, args)?;
    if topics.is_empty() {
        return Ok(());
    }
    let mut request = DeleteTopicsRequest::default();
    request.topic_names = topics.iter().map(|t| topic_name(name_of(t))).collect();
    request.topics = topics
        .iter()
        .map(|t| {
            let mut s = DeleteTopicState::default();
            s.name = Some(topic_name(name_of(t)));
            s
        })
        .collect();
    request.timeout_ms = TIMEOUT_MS;
    for r in conn.send(request)?.responses {
        if r.error_code != 0 {
            return Err(ToolError::from_code(
                r.error_code,
                r.error_message.as_deref(),
            ));
        }
    }
    Ok(())
}
