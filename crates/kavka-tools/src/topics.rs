//! `kafka-topics`: create, list, describe, alter and delete topics.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;

use clap::Parser;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_topic_partitions_request::{
    Cursor as DtpCursor, TopicRequest,
};
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeTopicPartitionsRequest, ListPartitionReassignmentsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::configs::{describe_configs, ConfigResource, SOURCE_DEFAULT};
use crate::error::ToolError;
use crate::output::{java_presized_string_order, kafka_uuid};
use crate::partition_report::{PartitionView, ReportFilters};
use crate::wire::Connection;

const TIMEOUT_MS: i32 = 30_000;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const UNKNOWN_TOPIC: i16 = 3;
/// Kafka's default `--partition-size-limit-per-response`.
const PARTITIONS_PER_RESPONSE: i32 = 2000;

/// Kafka's TopicCommand options.
#[derive(Parser, Debug)]
#[command(
    name = "kafka-topics",
    about = "This tool helps to create, delete, describe, or change a topic."
)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
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
    /// A list of manual partition-to-broker assignments for the topic being created: broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...
    #[arg(
        long,
        value_name = "broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , ..."
    )]
    replica_assignment: Option<String>,
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
    /// If set when describing topics, only show partitions whose isr count is less than the configured minimum.
    #[arg(long)]
    under_min_isr_partitions: bool,
    /// If set when describing topics, only show partitions whose isr count is equal to the configured minimum.
    #[arg(long)]
    at_min_isr_partitions: bool,
    /// If set when describing topics, only show topics that have overridden configs.
    #[arg(long)]
    topics_with_overrides: bool,
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
    if let Some(message) = invalid_combination(&args) {
        return Ok(crate::usage::<Args>(&message));
    }
    if (args.create || args.alter || args.delete) && args.topic.is_none() {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[topic]\"",
        ));
    }
    let connected = crate::wire::use_command_config(args.command_config.as_deref())
        .and_then(|()| Connection::bootstrap(&bootstrap));
    let mut conn = match connected {
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

/// `--replica-assignment` as Kafka reads it: partitions separated by commas,
/// each a colon-separated list of broker ids.
fn parse_replica_assignment(text: &str) -> Result<Vec<Vec<i32>>, ToolError> {
    text.split(',')
        .map(|partition| {
            partition
                .split(':')
                .map(|b| {
                    b.trim().parse::<i32>().map_err(|_| {
                        ToolError::Usage(format!("For input string: \"{}\"", b.trim()))
                    })
                })
                .collect()
        })
        .collect()
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
    if let Some(assignment) = &args.replica_assignment {
        topic.assignments = parse_replica_assignment(assignment)?
            .into_iter()
            .enumerate()
            .map(|(i, brokers)| {
                CreatableReplicaAssignment::default()
                    .with_partition_index(i as i32)
                    .with_broker_ids(brokers.into_iter().map(BrokerId).collect())
            })
            .collect();
    }
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
    Ok(matching(conn, args)?.0)
}

/// Like `matching_topics`, with the ids of the live brokers.
fn matching(
    conn: &mut Connection,
    args: &Args,
) -> Result<(Vec<MetadataResponseTopic>, HashSet<i32>), ToolError> {
    let metadata = conn.metadata(None)?;
    let live: HashSet<i32> = metadata.brokers.iter().map(|b| b.node_id.0).collect();
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
    Ok((topics, live))
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
    let (topics, live) = matching(conn, args)?;
    ensure_found(&topics, args)?;
    let topics = java_presized_string_order(topics, name_of);
    let names: Vec<String> = topics.iter().map(|t| name_of(t).to_string()).collect();
    // Kafka's admin client reads partitions with DescribeTopicPartitions (which
    // carries the KIP-966 ELR fields) where the broker has it, else from Metadata.
    let mut described = if conn.supports(ApiKey::DescribeTopicPartitions) {
        describe_topic_partitions(conn, &names, &live)?
    } else {
        HashMap::new()
    };
    let filters = ReportFilters {
        under_replicated: args.under_replicated_partitions,
        under_min_isr: args.under_min_isr_partitions,
        at_min_isr: args.at_min_isr_partitions,
        unavailable: args.unavailable_partitions,
    };
    let moving = reassignments(conn, &names);
    for t in &topics {
        let name = name_of(t);
        let configs = describe_configs(conn, &ConfigResource::Topic(name.to_string()), false)?;
        let min_isr = configs
            .iter()
            .find(|c| c.name == "min.insync.replicas")
            .and_then(|c| c.value.as_deref())
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(1);
        let overrides: Vec<String> = configs
            .iter()
            .filter(|c| c.source != SOURCE_DEFAULT)
            .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("null")))
            .collect();
        let mut partitions = described
            .remove(name)
            .unwrap_or_else(|| metadata_partitions(t, &live));
        partitions.sort_by_key(|p| p.partition);
        for p in &mut partitions {
            p.reassignment = moving.get(&(name.to_string(), p.partition)).cloned();
        }
        if !filters.any() && (!args.topics_with_overrides || !overrides.is_empty()) {
            let rf = partitions
                .first()
                .map_or(0, PartitionView::replication_factor);
            println!(
                "Topic: {name}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {}",
                kafka_uuid(&t.topic_id),
                partitions.len(),
                overrides.join(",")
            );
        }
        if args.topics_with_overrides {
            continue;
        }
        for p in partitions
            .iter()
            .filter(|p| filters.selects(p, min_isr, &live))
        {
            println!("{}", p.line(name));
        }
    }
    Ok(())
}

/// Ongoing reassignments of the described topics' partitions: (adding, removing)
/// by partition. A broker without ListPartitionReassignments has none, as Kafka's
/// tool assumes.
fn reassignments(
    conn: &mut Connection,
    names: &[String],
) -> HashMap<(String, i32), (Vec<i32>, Vec<i32>)> {
    let mut out = HashMap::new();
    if names.is_empty() || !conn.supports(ApiKey::ListPartitionReassignments) {
        return out;
    }
    let request = ListPartitionReassignmentsRequest::default()
        .with_timeout_ms(TIMEOUT_MS)
        .with_topics(None);
    let Ok(response) = conn.send(request) else {
        return out;
    };
    for t in response.topics {
        if !names.iter().any(|n| n.as_str() == t.name.0.as_str()) {
            continue;
        }
        for p in t.partitions {
            let list = |v: Vec<BrokerId>| v.into_iter().map(|b| b.0).collect();
            out.insert(
                (t.name.0.to_string(), p.partition_index),
                (list(p.adding_replicas), list(p.removing_replicas)),
            );
        }
    }
    out
}

/// The partitions of a Metadata response topic (no ELR fields there).
fn metadata_partitions(t: &MetadataResponseTopic, live: &HashSet<i32>) -> Vec<PartitionView> {
    t.partitions
        .iter()
        .map(|p| {
            let mut view = PartitionView::new(
                p.partition_index,
                p.leader_id.0,
                p.replica_nodes.iter().map(|b| b.0).collect(),
                p.isr_nodes.iter().map(|b| b.0).collect(),
                live,
            );
            view.elr = Some(vec![]);
            view.last_known_elr = Some(vec![]);
            view
        })
        .collect()
}

/// The partitions of `names` by DescribeTopicPartitions, following its cursor.
fn describe_topic_partitions(
    conn: &mut Connection,
    names: &[String],
    live: &HashSet<i32>,
) -> Result<HashMap<String, Vec<PartitionView>>, ToolError> {
    let mut out: HashMap<String, Vec<PartitionView>> = HashMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    let mut cursor = None;
    loop {
        let request = DescribeTopicPartitionsRequest::default()
            .with_topics(
                names
                    .iter()
                    .map(|n| TopicRequest::default().with_name(topic_name(n)))
                    .collect(),
            )
            .with_response_partition_limit(PARTITIONS_PER_RESPONSE)
            .with_cursor(cursor);
        let response = conn.send(request)?;
        for t in response.topics {
            if t.error_code != 0 {
                return Err(ToolError::from_code(t.error_code, None));
            }
            let name = t.name.map(|n| n.0.to_string()).unwrap_or_default();
            let views = out.entry(name).or_default();
            for p in t.partitions {
                let mut view = PartitionView::new(
                    p.partition_index,
                    p.leader_id.0,
                    p.replica_nodes.iter().map(|b| b.0).collect(),
                    p.isr_nodes.iter().map(|b| b.0).collect(),
                    live,
                );
                view.elr = p
                    .eligible_leader_replicas
                    .map(|v| v.iter().map(|b| b.0).collect());
                view.last_known_elr = p.last_known_elr.map(|v| v.iter().map(|b| b.0).collect());
                views.push(view);
            }
        }
        match response.next_cursor {
            Some(next) => {
                cursor = Some(
                    DtpCursor::default()
                        .with_topic_name(next.topic_name)
                        .with_partition_index(next.partition_index),
                )
            }
            None => return Ok(out),
        }
    }
}

/// Kafka's `checkInvalidArgs` for the describe report options and their neighbours:
/// the first option used with an action (or option) it cannot go with.
fn invalid_combination(args: &Args) -> Option<String> {
    let actions = [
        (args.alter, "alter"),
        (args.create, "create"),
        (args.list, "list"),
        (args.delete, "delete"),
    ];
    let reports = [
        (
            args.under_replicated_partitions,
            "under-replicated-partitions",
        ),
        (args.under_min_isr_partitions, "under-min-isr-partitions"),
        (args.at_min_isr_partitions, "at-min-isr-partitions"),
        (args.unavailable_partitions, "unavailable-partitions"),
    ];
    let clash = |used: &str, with: &str| {
        Some(format!(
            "Option \"[{used}]\" can't be used with option \"[{with}]\""
        ))
    };
    for (set, used) in reports {
        if !set {
            continue;
        }
        if let Some((_, with)) = actions.iter().find(|(a, _)| *a) {
            return clash(used, with);
        }
        if args.topics_with_overrides {
            return clash(used, "topics-with-overrides");
        }
    }
    if args.topics_with_overrides {
        if let Some((_, with)) = actions.iter().find(|(a, _)| *a) {
            return clash("topics-with-overrides", with);
        }
    }
    if args.exclude_internal {
        let with = [
            (args.alter, "alter"),
            (args.create, "create"),
            (args.delete, "delete"),
        ];
        if let Some((_, with)) = with.iter().find(|(a, _)| *a) {
            return clash("exclude-internal", with);
        }
    }
    None
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
