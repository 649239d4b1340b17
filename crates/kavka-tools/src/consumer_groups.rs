//! `kafka-consumer-groups`: list, describe, delete consumer groups and reset their offsets.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;

use clap::Parser;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::{java_exception, ToolError};
use crate::group_offsets::{list_offsets, parse_datetime_ms, parse_duration_ms, EARLIEST, LATEST};
use crate::output::{java_hashmap_order, java_string_order, pad};
use crate::wire::Connection;

/// Newest OffsetFetch/OffsetCommit versions that still name topics (v10 uses ids).
const OFFSETS_BY_NAME: i16 = 9;
const GROUP_ID_NOT_FOUND: i16 = 69;

/// Kafka's ConsumerGroupCommand options.
#[derive(Parser, Debug)]
#[command(
    name = "kafka-consumer-groups",
    about = "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets."
)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// REQUIRED: The server(s) to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// Property file containing configs to be passed to Admin Client and Consumer.
    #[arg(long)]
    command_config: Option<std::path::PathBuf>,
    /// List all consumer groups.
    #[arg(long)]
    list: bool,
    /// Describe consumer group and list offset lag related to given group.
    #[arg(long)]
    describe: bool,
    /// Delete consumer groups.
    #[arg(long)]
    delete: bool,
    /// Delete offsets of consumer group.
    #[arg(long)]
    delete_offsets: bool,
    /// Reset offsets of consumer group.
    #[arg(long)]
    reset_offsets: bool,
    /// The consumer group id (repeatable).
    #[arg(long)]
    group: Vec<String>,
    /// Apply to all consumer groups.
    #[arg(long)]
    all_groups: bool,
    /// The topic, optionally with partitions: topic:0,1,2 (repeatable).
    #[arg(long)]
    topic: Vec<String>,
    /// Consider all topics assigned to a group in the reset-offsets process.
    #[arg(long)]
    all_topics: bool,
    /// Describe members of the group.
    #[arg(long)]
    members: bool,
    /// Describe the group and list all topic partitions in the group along with their offset lag.
    #[arg(long)]
    offsets: bool,
    /// With --describe, the group state; with --list, filter by state (comma-separated).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    state: Option<String>,
    /// Provide additional information, if any, when describing the group.
    #[arg(long)]
    verbose: bool,
    /// Only show results without executing changes on consumer groups (the default).
    #[arg(long)]
    dry_run: bool,
    /// Execute the operation.
    #[arg(long)]
    execute: bool,
    /// Reset offsets to the earliest offset.
    #[arg(long)]
    to_earliest: bool,
    /// Reset offsets to the latest offset.
    #[arg(long)]
    to_latest: bool,
    /// Reset offsets to the current offset.
    #[arg(long)]
    to_current: bool,
    /// Reset offsets to a specific offset.
    #[arg(long)]
    to_offset: Option<i64>,
    /// Reset offsets shifting the current offset by n (may be negative).
    #[arg(long, allow_hyphen_values = true)]
    shift_by: Option<i64>,
    /// Reset offsets to the offset of a datetime: YYYY-MM-DDTHH:mm:SS.sss.
    #[arg(long)]
    to_datetime: Option<String>,
    /// Reset offsets to the offset of a duration ago: PnDTnHnMnS.
    #[arg(long)]
    by_duration: Option<String>,
    /// Timeout for some use cases, in ms.
    #[arg(long, default_value_t = 5000)]
    timeout: u64,
}

/// Runs kafka-consumer-groups.
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
        args.list,
        args.describe,
        args.delete,
        args.delete_offsets,
        args.reset_offsets,
    ];
    if actions.iter().filter(|a| **a).count() != 1 {
        return Ok(crate::usage::<Args>("Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets"));
    }
    if !args.list && args.group.is_empty() && !args.all_groups {
        return Ok(crate::usage::<Args>(&format!(
            "Option [{}] takes one of these options: [all-groups], [group]",
            action_name(&args)
        )));
    }
    if args.reset_offsets && args.topic.is_empty() && !args.all_topics {
        if !args.dry_run && !args.execute {
            eprintln!("{DRY_RUN_WARNING}");
        }
        return Ok(crate::usage::<Args>(
            "One of the reset scopes should be defined: --all-topics, --topic.",
        ));
    }
    let connected = crate::wire::use_command_config(args.command_config.as_deref())
        .and_then(|()| Connection::bootstrap(&bootstrap));
    let mut conn = match connected {
        Ok(c) => c,
        Err(e) => {
            println!("\nError: Executing consumer group command failed due to {e}");
            return Ok(1);
        }
    };
    let result = if args.list {
        list(&mut conn, &args)
    } else {
        let groups = if args.all_groups {
            listed_groups(&mut conn)?.into_iter().map(|g| g.0).collect()
        } else {
            args.group.clone()
        };
        if args.describe {
            describe(&mut conn, &args, &groups)
        } else if args.delete {
            delete(&mut conn, &groups)
        } else if args.delete_offsets {
            delete_offsets(&mut conn, &args, &groups)
        } else {
            reset(&mut conn, &args, &groups)
        }
    };
    Ok(match result {
        Ok(code) => code,
        Err(e) => {
            println!(
                "\nError: Executing consumer group command failed due to {}",
                java_exception(&e)
            );
            // Kafka's tool reports a broker's refusal and still exits 0.
            i32::from(!matches!(e, ToolError::Kafka { .. }))
        }
    })
}

fn action_name(args: &Args) -> &'static str {
    if args.describe {
        "describe"
    } else if args.delete {
        "delete"
    } else if args.delete_offsets {
        "delete-offsets"
    } else {
        "reset-offsets"
    }
}

const DRY_RUN_WARNING: &str = "WARN: No action will be performed as the --execute option is missing. In version 5.0, this command will require either --dry-run or --execute to be specified. You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.";

/// (group id, state) of every classic consumer group, sorted by id.
fn listed_groups(conn: &mut Connection) -> Result<Vec<(String, String)>, ToolError> {
    let response = conn.send(ListGroupsRequest::default())?;
    if response.error_code != 0 {
        return Err(ToolError::from_code(response.error_code, None));
    }
    let groups: Vec<(String, String)> = response
        .groups
        .into_iter()
        .filter(|g| g.protocol_type.is_empty() || g.protocol_type.as_str() == "consumer")
        .map(|g| (g.group_id.0.to_string(), g.group_state.to_string()))
        .collect();
    // Kafka prints them in the order of a Java HashMap keyed by group id.
    Ok(java_string_order(groups, |g| g.0.as_str()))
}

fn list(conn: &mut Connection, args: &Args) -> Result<i32, ToolError> {
    let groups = listed_groups(conn)?;
    match &args.state {
        None => {
            for (g, _) in groups {
                println!("{g}");
            }
        }
        Some(filter) => {
            let wanted: Vec<String> = filter
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            let groups: Vec<_> = groups
                .into_iter()
                .filter(|(_, s)| wanted.is_empty() || wanted.contains(&s.to_ascii_lowercase()))
                .collect();
            let width = groups.iter().map(|(g, _)| g.len()).max().unwrap_or(15) + 10;
            println!("{} {}", pad("GROUP", width), pad("STATE", 20));
            for (g, s) in groups {
                println!("{} {}", pad(&g, width), pad(&s, 20));
            }
        }
    }
    Ok(0)
}

/// The group as DescribeGroups returns it, from its coordinator.
fn describe_group(coordinator: &mut Connection, group: &str) -> Result<DescribedGroup, ToolError> {
    let mut request = DescribeGroupsRequest::default();
    request.groups = vec![GroupId(StrBytes::from_string(group.to_string()))];
    let described = coordinator.send(request)?.groups.into_iter().next();
    let described =
        described.ok_or_else(|| ToolError::Protocol("empty DescribeGroups response".into()))?;
    if described.error_code != 0 {
        return Err(ToolError::from_code(
            described.error_code,
            described.error_message.as_deref(),
        ));
    }
    if described.group_state.as_str() == "Dead" {
        return Err(ToolError::Kafka {
            code: GROUP_ID_NOT_FOUND,
            message: format!("Group {group} not found."),
        });
    }
    Ok(described)
}

/// Committed offsets of `group`: (topic, partition) -> offset.
fn committed_offsets(
    coordinator: &mut Connection,
    group: &str,
) -> Result<BTreeMap<(String, i32), i64>, ToolError> {
    let version = coordinator.version::<OffsetFetchRequest>(OFFSETS_BY_NAME)?;
    let group_id = GroupId(StrBytes::from_string(group.to_string()));
    let mut request = OffsetFetchRequest::default();
    if version >= 8 {
        let mut g = OffsetFetchRequestGroup::default();
        g.group_id = group_id;
        g.topics = None;
        request.groups = vec![g];
    } else {
        request.group_id = group_id;
        request.topics = None;
    }
    let response = coordinator.send_version(request, version)?;
    let mut offsets = BTreeMap::new();
    if let Some(group) = response.groups.into_iter().next() {
        if group.error_code != 0 {
            return Err(ToolError::from_code(group.error_code, None));
        }
        for t in group.topics {
            for p in t.partitions.into_iter().filter(|p| p.committed_offset >= 0) {
                offsets.insert(
                    (t.name.0.to_string(), p.partition_index),
                    p.committed_offset,
                );
            }
        }
    } else {
        if response.error_code != 0 {
            return Err(ToolError::from_code(response.error_code, None));
        }
        for t in response.topics {
            for p in t.partitions.into_iter().filter(|p| p.committed_offset >= 0) {
                offsets.insert(
                    (t.name.0.to_string(), p.partition_index),
                    p.committed_offset,
                );
            }
        }
    }
    Ok(offsets)
}

/// A member's assigned partitions, decoded from ConsumerProtocolAssignment bytes.
fn assignment(bytes: &[u8]) -> Vec<(String, i32)> {
    fn take<const N: usize>(b: &mut &[u8]) -> Option<[u8; N]> {
        let (head, rest) = b.split_first_chunk::<N>()?;
        *b = rest;
        Some(*head)
    }
    fn decode(mut b: &[u8]) -> Option<Vec<(String, i32)>> {
        let _version = i16::from_be_bytes(take::<2>(&mut b)?);
        let topics = i32::from_be_bytes(take::<4>(&mut b)?);
        let mut out = Vec::new();
        for _ in 0..topics.max(0) {
            let len = usize::try_from(i16::from_be_bytes(take::<2>(&mut b)?)).ok()?;
            let name = std::str::from_utf8(b.get(..len)?).ok()?.to_string();
            b = b.get(len..)?;
            let partitions = i32::from_be_bytes(take::<4>(&mut b)?);
            for _ in 0..partitions.max(0) {
                out.push((name.clone(), i32::from_be_bytes(take::<4>(&mut b)?)));
            }
        }
        Some(out)
    }
    decode(bytes).unwrap_or_default()
}

fn describe(conn: &mut Connection, args: &Args, groups: &[String]) -> Result<i32, ToolError> {
    for group in groups {
        let (mut coordinator, coordinator_id) = conn.group_coordinator(group)?;
        let described = describe_group(&mut coordinator, group)?;
        let state = described.group_state.to_string();
        if args.state.is_some() {
            let strategy = if described.protocol_data.is_empty() {
                "-".to_string()
            } else {
                described.protocol_data.to_string()
            };
            let gw = group.len().max(15);
            println!();
            println!(
                "{} {} {} {} #MEMBERS",
                pad("GROUP", gw),
                pad("COORDINATOR (ID)", 25),
                pad("ASSIGNMENT-STRATEGY", 20),
                pad("STATE", 20)
            );
            let coord = format!("{}  ({coordinator_id})", coordinator.address);
            println!(
                "{} {} {} {} {}",
                pad(group, gw),
                pad(&coord, 25),
                pad(&strategy, 20),
                pad(&state, 20),
                described.members.len()
            );
        } else if args.members {
            let members: Vec<_> = described.members.iter().collect();
            let gw = group.len().max(15);
            let cw = members
                .iter()
                .map(|m| m.member_id.len())
                .max()
                .unwrap_or(0)
                .max(15);
            let hw = members
                .iter()
                .map(|m| m.client_host.len())
                .max()
                .unwrap_or(0)
                .max(15);
            let lw = members
                .iter()
                .map(|m| m.client_id.len())
                .max()
                .unwrap_or(0)
                .max(15);
            println!();
            let mut header = format!(
                "{} {} {} {} {}",
                pad("GROUP", gw),
                pad("CONSUMER-ID", cw),
                pad("HOST", hw),
                pad("CLIENT-ID", lw),
                pad("#PARTITIONS", 15)
            );
            if !args.verbose {
                header.push(' ');
            }
            if args.verbose {
                header.push_str(&format!(
                    " {} {} {} {}",
                    pad("CURRENT-EPOCH", 15),
                    pad("CURRENT-ASSIGNMENT", 20),
                    pad("TARGET-EPOCH", 15),
                    pad("TARGET-ASSIGNMENT", 20)
                ));
            }
            println!("{header}");
            for m in members {
                let assigned = assignment(&m.member_assignment);
                let mut line = format!(
                    "{} {} {} {} {}",
                    pad(group, gw),
                    pad(&m.member_id, cw),
                    pad(&m.client_host, hw),
                    pad(&m.client_id, lw),
                    pad(&assigned.len().to_string(), 15)
                );
                if !args.verbose {
                    line.push(' ');
                }
                if args.verbose {
                    line.push_str(&format!(
                        " {} {} {} {}",
                        pad("-", 15),
                        pad(&assignment_text(&assigned), 20),
                        pad("-", 15),
                        pad("-", 20)
                    ));
                }
                println!("{line}");
            }
        } else {
            describe_offsets(conn, &mut coordinator, group, &described)?;
        }
        match state.as_str() {
            "Empty" => eprintln!("\nConsumer group '{group}' has no active members."),
            "PreparingRebalance" | "CompletingRebalance" | "Assigning" | "Reconciling" => {
                eprintln!("\nWarning: Consumer group '{group}' is rebalancing.")
            }
            _ => {}
        }
    }
    Ok(0)
}

/// `topic(0,1),other(2)`: a member's assignment.
fn assignment_text(assigned: &[(String, i32)]) -> String {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in assigned {
        by_topic.entry(t).or_default().push(*p);
    }
    if by_topic.is_empty() {
        return "-".to_string();
    }
    by_topic
        .iter()
        .map(|(t, ps)| {
            format!(
                "{t}:{}",
                ps.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn describe_offsets(
    conn: &mut Connection,
    coordinator: &mut Connection,
    group: &str,
    described: &DescribedGroup,
) -> Result<(), ToolError> {
    let committed = committed_offsets(coordinator, group)?;
    // (topic, partition) -> (consumer id, host, client id)
    let mut owners: BTreeMap<(String, i32), (String, String, String)> = BTreeMap::new();
    for m in &described.members {
        for tp in assignment(&m.member_assignment) {
            owners.insert(
                tp,
                (
                    m.member_id.to_string(),
                    m.client_host.to_string(),
                    m.client_id.to_string(),
                ),
            );
        }
    }
    let partitions: BTreeSet<(String, i32)> =
        owners.keys().chain(committed.keys()).cloned().collect();
    let partitions: Vec<_> = partitions.into_iter().collect();
    let ends = list_offsets(conn, &partitions, LATEST)?;
    let dash = || "-".to_string();
    let mut rows = Vec::new();
    // Assigned partitions first, by member, then the committed ones nobody owns.
    let mut assigned: Vec<_> = owners.iter().collect();
    assigned.sort_by(|a, b| (&a.1 .0, &a.0).cmp(&(&b.1 .0, &b.0)));
    for (tp, owner) in assigned {
        rows.push((tp.clone(), Some(owner.clone())));
    }
    for tp in committed.keys().filter(|tp| !owners.contains_key(*tp)) {
        rows.push((tp.clone(), None));
    }
    let gw = group.len().max(15);
    let tw = rows.iter().map(|r| r.0 .0.len()).max().unwrap_or(0).max(15);
    let cw = rows
        .iter()
        .filter_map(|r| r.1.as_ref().map(|o| o.0.len()))
        .max()
        .unwrap_or(0)
        .max(15);
    let hw = rows
        .iter()
        .filter_map(|r| r.1.as_ref().map(|o| o.1.len()))
        .max()
        .unwrap_or(0)
        .max(15);
    println!();
    println!(
        "{} {} {} {} {} {} {} {} CLIENT-ID",
        pad("GROUP", gw),
        pad("TOPIC", tw),
        pad("PARTITION", 10),
        pad("CURRENT-OFFSET", 15),
        pad("LOG-END-OFFSET", 15),
        pad("LAG", 15),
        pad("CONSUMER-ID", cw),
        pad("HOST", hw)
    );
    for ((topic, partition), owner) in rows {
        let current = committed.get(&(topic.clone(), partition)).copied();
        let end = ends.get(&(topic.clone(), partition)).copied();
        let lag = match (current, end) {
            (Some(c), Some(e)) => (e - c).max(0).to_string(),
            _ => dash(),
        };
        let (consumer, host, client) = owner.unwrap_or_else(|| (dash(), dash(), dash()));
        println!(
            "{} {} {} {} {} {} {} {} {client}",
            pad(group, gw),
            pad(&topic, tw),
            pad(&partition.to_string(), 10),
            pad(&current.map_or_else(dash, |c| c.to_string()), 15),
            pad(&end.map_or_else(dash, |e| e.to_string()), 15),
            pad(&lag, 15),
            pad(&consumer, cw),
            pad(&host, hw)
        );
    }
    Ok(())
}

fn delete(conn: &mut Connection, groups: &[String]) -> Result<i32, ToolError> {
    let mut failures = Vec::new();
    for group in groups {
        let (mut coordinator, _) = conn.group_coordinator(group)?;
        let mut request = DeleteGroupsRequest::default();
        request.groups_names = vec![GroupId(StrBytes::from_string(group.clone()))];
        for r in coordinator.send(request)?.results {
            if r.error_code != 0 {
                failures.push((group.clone(), ToolError::from_code(r.error_code, None)));
            }
        }
    }
    if failures.is_empty() {
        let names = groups
            .iter()
            .map(|g| format!("'{g}'"))
            .collect::<Vec<_>>()
            .join(", ");
        println!("Deletion of requested consumer groups ({names}) was successful.");
        return Ok(0);
    }
    println!("\nError: Deletion of some consumer groups failed:");
    for (g, e) in &failures {
        println!(
            "* Group '{g}' could not be deleted due to: {}",
            java_exception(e)
        );
    }
    Ok(0)
}

/// Partitions named by `--topic T` / `--topic T:0,1`, or all partitions of T.
fn named_partitions(
    conn: &mut Connection,
    specs: &[String],
) -> Result<Vec<(String, i32)>, ToolError> {
    let mut out = Vec::new();
    for spec in specs {
        match spec.split_once(':') {
            Some((topic, parts)) => {
                for p in parts.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let p = p.parse::<i32>().map_err(|_| {
                        ToolError::Usage(format!("Invalid partition '{p}' in {spec}"))
                    })?;
                    out.push((topic.to_string(), p));
                }
            }
            None => {
                let metadata = conn.metadata(Some(std::slice::from_ref(spec)))?;
                for t in metadata.topics {
                    if t.error_code != 0 {
                        return Err(ToolError::from_code(t.error_code, None));
                    }
                    let mut ps: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
                    ps.sort_unstable();
                    out.extend(ps.into_iter().map(|p| (spec.clone(), p)));
                }
            }
        }
    }
    Ok(out)
}

fn delete_offsets(conn: &mut Connection, args: &Args, groups: &[String]) -> Result<i32, ToolError> {
    let group = groups.first().cloned().unwrap_or_default();
    let partitions = named_partitions(conn, &args.topic)?;
    let (mut coordinator, _) = conn.group_coordinator(&group)?;
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (t, p) in &partitions {
        by_topic.entry(t.clone()).or_default().push(*p);
    }
    let mut request = OffsetDeleteRequest::default();
    request.group_id = GroupId(StrBytes::from_string(group.clone()));
    request.topics = by_topic
        .into_iter()
        .map(|(t, ps)| {
            let mut topic = OffsetDeleteRequestTopic::default();
            topic.name = TopicName(StrBytes::from_string(t));
            topic.partitions = ps
                .into_iter()
                .map(|p| {
                    let mut part = OffsetDeleteRequestPartition::default();
                    part.partition_index = p;
                    part
                })
                .collect();
            topic
        })
        .collect();
    let response = coordinator.send(request)?;
    if response.error_code != 0 {
        return Err(ToolError::from_code(response.error_code, None));
    }
    let mut results: Vec<((String, i32), i16)> = Vec::new();
    for t in response.topics {
        for p in t.partitions {
            results.push(((t.name.0.to_string(), p.partition_index), p.error_code));
        }
    }
    println!("Request succeeded for deleting offsets from group {group}.");
    let tw = results
        .iter()
        .map(|r| r.0 .0.len())
        .max()
        .unwrap_or(0)
        .max(15);
    println!();
    println!(
        "{} {} {}",
        pad("TOPIC", tw),
        pad("PARTITION", 10),
        pad("STATUS", 15)
    );
    for ((t, p), e) in java_hashmap_order(results, |r| (r.0 .0.as_str(), r.0 .1)) {
        let status = if e == 0 {
            "Successful".to_string()
        } else {
            format!("Error: {}", ToolError::from_code(e, None))
        };
        println!(
            "{} {} {}",
            pad(&t, tw),
            pad(&p.to_string(), 10),
            pad(&status, 15)
        );
    }
    Ok(0)
}

fn reset(conn: &mut Connection, args: &Args, groups: &[String]) -> Result<i32, ToolError> {
    let execute = args.execute;
    if !args.dry_run && !args.execute {
        eprintln!("{DRY_RUN_WARNING}");
    }
    for group in groups {
        let (mut coordinator, _) = conn.group_coordinator(group)?;
        let state = match describe_group(&mut coordinator, group) {
            Ok(d) => d.group_state.to_string(),
            Err(ToolError::Kafka {
                code: GROUP_ID_NOT_FOUND,
                ..
            }) => "Dead".to_string(),
            Err(e) => return Err(e),
        };
        if state != "Empty" && state != "Dead" {
            println!("\nError: Assignments can only be reset if the group '{group}' is inactive, but the current state is {state}.");
            println!();
            println!(
                "{} {} {} NEW-OFFSET",
                pad("GROUP", group.len().max(15)),
                pad("TOPIC", 15),
                pad("PARTITION", 10)
            );
            continue;
        }
        let committed = committed_offsets(&mut coordinator, group)?;
        let partitions = if args.all_topics {
            committed.keys().cloned().collect()
        } else {
            named_partitions(conn, &args.topic)?
        };
        let earliest = list_offsets(conn, &partitions, EARLIEST)?;
        let latest = list_offsets(conn, &partitions, LATEST)?;
        let clamp = |tp: &(String, i32), o: i64| {
            let lo = earliest.get(tp).copied().unwrap_or(0);
            let hi = latest.get(tp).copied().unwrap_or(o).max(lo);
            let (topic, partition) = tp;
            if o < lo {
                eprintln!("WARN New offset ({o}) is lower than earliest offset for topic partition {topic}-{partition}. Value will be set to {lo}. (org.apache.kafka.tools.GroupOffsetsResetter)");
            } else if o > hi {
                eprintln!("WARN New offset ({o}) is higher than latest offset for topic partition {topic}-{partition}. Value will be set to {hi}. (org.apache.kafka.tools.GroupOffsetsResetter)");
            }
            o.clamp(lo, hi)
        };
        let by_time = match (&args.to_datetime, &args.by_duration) {
            (Some(dt), _) => Some(parse_datetime_ms(dt)?),
            (None, Some(d)) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                Some(i64::try_from(now).unwrap_or(i64::MAX) - parse_duration_ms(d)?)
            }
            _ => None,
        };
        let at_time = match by_time {
            Some(ts) => list_offsets(conn, &partitions, ts)?,
            None => HashMap::new(),
        };
        let mut rows = Vec::new();
        // Kafka computes (and warns) in the order of its partition map.
        let partitions = java_hashmap_order(partitions, |tp| (tp.0.as_str(), tp.1));
        for tp in &partitions {
            let current = committed.get(tp).copied();
            let new = if args.to_earliest {
                earliest.get(tp).copied()
            } else if args.to_latest {
                latest.get(tp).copied()
            } else if let Some(o) = args.to_offset {
                Some(clamp(tp, o))
            } else if let Some(n) = args.shift_by {
                let Some(c) = current else {
                    return Ok(crate::usage::<Args>(&format!(
                        "Cannot shift offset for partition {}-{} since there is no current committed offset",
                        tp.0, tp.1
                    )));
                };
                Some(clamp(tp, c.saturating_add(n)))
            } else if by_time.is_some() {
                at_time
                    .get(tp)
                    .copied()
                    .filter(|o| *o >= 0)
                    .or_else(|| latest.get(tp).copied())
            } else if args.to_current {
                current.or_else(|| latest.get(tp).copied())
            } else {
                return Ok(crate::usage::<Args>("Option [reset-offsets] takes one of these options: [to-datetime], [by-duration], [to-earliest], [to-latest], [shift-by], [from-file], [to-current], [to-offset]"));
            };
            if let Some(o) = new {
                rows.push((tp.clone(), o));
            }
        }
        if execute {
            commit(&mut coordinator, group, &rows)?;
        }
        let gw = group.len().max(15);
        let tw = rows.iter().map(|r| r.0 .0.len()).max().unwrap_or(0).max(15);
        println!();
        println!(
            "{} {} {} NEW-OFFSET",
            pad("GROUP", gw),
            pad("TOPIC", tw),
            pad("PARTITION", 10)
        );
        for ((t, p), o) in java_hashmap_order(rows, |r| (r.0 .0.as_str(), r.0 .1)) {
            println!(
                "{} {} {} {o}",
                pad(group, gw),
                pad(&t, tw),
                pad(&p.to_string(), 10)
            );
        }
    }
    Ok(0)
}

/// Commits offsets for an inactive group, as a simple (generation-less) committer.
fn commit(
    coordinator: &mut Connection,
    group: &str,
    rows: &[((String, i32), i64)],
) -> Result<(), ToolError> {
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for ((t, p), o) in rows {
        by_topic.entry(t).or_default().push((*p, *o));
    }
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(StrBytes::from_string(group.to_string()));
    request.generation_id_or_member_epoch = -1;
    request.retention_time_ms = -1;
    request.topics = by_topic
        .into_iter()
        .map(|(t, ps)| {
            let mut topic = OffsetCommitRequestTopic::default();
            topic.name = TopicName(StrBytes::from_string(t.to_string()));
            topic.partitions = ps
                .into_iter()
                .map(|(p, o)| {
                    let mut part = OffsetCommitRequestPartition::default();
                    part.partition_index = p;
                    part.committed_offset = o;
                    part.committed_leader_epoch = -1;
                    part
                })
                .collect();
            topic
        })
        .collect();
    for t in coordinator.send_capped(request, OFFSETS_BY_NAME)?.topics {
        for p in t.partitions {
            if p.error_code != 0 {
                return Err(ToolError::from_code(p.error_code, None));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_protocol_assignment_decodes() {
        let mut b = vec![
            0u8, 0, 0, 0, 0, 1, 0, 2, b'o', b'p', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
        ];
        b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            assignment(&b),
            vec![("op".to_string(), 0), ("op".to_string(), 2)]
        );
        assert!(assignment(&[1, 2]).is_empty());
    }
}
