//! `kafka-get-offsets`: the offset of each matching partition at a point in time
//! (latest, earliest, max-timestamp or a timestamp), printed `topic:partition:offset`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;

use clap::Parser;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use regex::Regex;

use crate::error::{java_exception, ToolError};
use crate::wire::Connection;

const USAGE_TEXT: &str = "An interactive shell for getting topic-partition offsets.";
/// What ListOffsets answers for a partition with no offset for the timestamp.
const UNKNOWN_OFFSET: i64 = -1;

/// Kafka's GetOffsetShell options.
#[derive(Parser, Debug)]
#[command(name = "kafka-get-offsets", about = USAGE_TEXT)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// REQUIRED. The server(s) to connect to in the form HOST1:PORT1,HOST2:PORT2.
    #[arg(long, value_name = "HOST1:PORT1,...,HOST3:PORT3")]
    bootstrap_server: Option<String>,
    /// Comma separated list of topic-partition patterns to get the offsets for, with the format of 'TOPIC_REGEX:PARTITIONS'. The section after ':' can be a number, a range 'NUMBER-NUMBER' (lower inclusive, upper exclusive), 'NUMBER-', '-NUMBER', or omitted for all partitions.
    #[arg(long, value_name = "topic1:1,topic2:0-3,topic3,topic4:5-,topic5:-3")]
    topic_partitions: Option<String>,
    /// The topic to get the offsets for. It also accepts a regular expression. If not present, all authorized topics are queried. Cannot be used if --topic-partitions is present.
    #[arg(long, value_name = "topic")]
    topic: Option<String>,
    /// Comma separated list of partition ids to get the offsets for. If not present, all partitions of the authorized topics are queried. Cannot be used if --topic-partitions is present.
    #[arg(long, value_name = "partition ids")]
    partitions: Option<String>,
    /// timestamp of the offsets before that. [Note: No offset is returned, if the timestamp greater than recently committed record timestamp is given.]
    #[arg(
        long,
        value_name = "<timestamp> / -1 or latest / -2 or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or latest-tiered / -6 or earliest-pending-upload",
        default_value = "latest",
        allow_hyphen_values = true
    )]
    time: String,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "config file")]
    command_config: Option<String>,
    /// By default, internal topics are included. If specified, internal topics are excluded.
    #[arg(long)]
    exclude_internal_topics: bool,
}

/// Runs kafka-get-offsets.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    if argv.len() <= 1 {
        return Ok(crate::usage::<Args>(USAGE_TEXT));
    }
    let args: Args = match crate::parse_args_terse(argv, "Error occurred: ", USAGE_TEXT) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let Some(bootstrap) = args.bootstrap_server.clone() else {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[bootstrap-server]\"",
        ));
    };
    match run(&args, &bootstrap) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            Ok(0)
        }
        Err(message) => {
            eprintln!("Error occurred: {message}");
            Ok(1)
        }
    }
}

/// Lists, filters and asks; the lines to print, or the message of the failure.
fn run(args: &Args, bootstrap: &str) -> Result<Vec<String>, String> {
    if args.topic_partitions.is_some() && (args.topic.is_some() || args.partitions.is_some()) {
        return Err("--topic-partitions cannot be used with --topic or --partitions".into());
    }
    let timestamp = parse_offset_spec(&args.time)?;
    let filter = match &args.topic_partitions {
        Some(list) => Filter::from_pattern_list(list)?,
        None => {
            Filter::from_topic_and_partitions(args.topic.as_deref(), args.partitions.as_deref())?
        }
    };
    if let Some(path) = &args.command_config {
        crate::props::Props::load(std::path::Path::new(path)).map_err(|e| e.to_string())?;
    }
    let mut conn = Connection::bootstrap(bootstrap).map_err(|e| e.to_string())?;
    let metadata = conn.metadata(None).map_err(|e| e.to_string())?;
    let mut partitions: Vec<(String, i32)> = Vec::new();
    for t in &metadata.topics {
        let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
            continue;
        };
        if (args.exclude_internal_topics && t.is_internal) || !filter.topic_allowed(&name) {
            continue;
        }
        for p in &t.partitions {
            if filter.partition_allowed(&name, p.partition_index) {
                partitions.push((name.clone(), p.partition_index));
            }
        }
    }
    if partitions.is_empty() {
        return Err("Could not match any topic-partitions with the specified filters".into());
    }
    let leaders: HashMap<(String, i32), i32> = metadata
        .topics
        .iter()
        .flat_map(|t| {
            let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            t.partitions
                .iter()
                .map(move |p| ((name.clone(), p.partition_index), p.leader_id.0))
        })
        .collect();
    let brokers: HashMap<i32, String> = metadata
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
        .collect();
    let results = list_offsets(&mut conn, &partitions, &leaders, &brokers, timestamp);
    let mut found: Vec<(String, i64)> = Vec::new();
    for (topic, partition) in &partitions {
        let tp = format!("{topic}-{partition}");
        match results.get(&(topic.clone(), *partition)) {
            Some(Ok(offset)) if *offset != UNKNOWN_OFFSET => {
                found.push((tp, *offset));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => eprintln!(
                "Skip getting offsets for topic-partition {tp} due to error: {}",
                java_exception(e)
            ),
            None => eprintln!(
                "Skip getting offsets for topic-partition {tp} due to error: {}",
                java_exception(&ToolError::from_code(5, None))
            ),
        }
    }
    Ok(format_offsets(&partitions, found))
}

/// `topic:partition:offset` lines in Kafka's order: by the text `topic-partition`.
fn format_offsets(partitions: &[(String, i32)], found: Vec<(String, i64)>) -> Vec<String> {
    let names: HashMap<String, (String, i32)> = partitions
        .iter()
        .map(|(t, p)| (format!("{t}-{p}"), (t.clone(), *p)))
        .collect();
    let sorted: BTreeMap<String, i64> = found.into_iter().collect();
    sorted
        .into_iter()
        .filter_map(|(key, offset)| {
            let (t, p) = names.get(&key)?;
            Some(format!("{t}:{p}:{offset}"))
        })
        .collect()
}

/// ListOffsets to each partition's leader; a result (or Kafka's error) per partition.
fn list_offsets(
    conn: &mut Connection,
    partitions: &[(String, i32)],
    leaders: &HashMap<(String, i32), i32>,
    brokers: &HashMap<i32, String>,
    timestamp: i64,
) -> HashMap<(String, i32), Result<i64, ToolError>> {
    let mut out = HashMap::new();
    let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
    for (t, p) in partitions {
        match leaders.get(&(t.clone(), *p)) {
            Some(leader) if *leader >= 0 => by_leader
                .entry(*leader)
                .or_default()
                .entry(t.as_str())
                .or_default()
                .push(*p),
            _ => {
                out.insert((t.clone(), *p), Err(ToolError::from_code(5, None)));
            }
        }
    }
    for (leader, topics) in by_leader {
        let asked: Vec<(String, i32)> = topics
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(|p| (t.to_string(), *p)))
            .collect();
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        ListOffsetsTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partitions(
                                ps.into_iter()
                                    .map(|p| {
                                        ListOffsetsPartition::default()
                                            .with_partition_index(p)
                                            .with_current_leader_epoch(-1)
                                            .with_timestamp(timestamp)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response = conn.send_to(brokers.get(&leader), request);
        match response {
            Ok(response) => {
                for t in response.topics {
                    for p in t.partitions {
                        let result = if p.error_code != 0 {
                            Err(ToolError::from_code(p.error_code, None))
                        } else {
                            Ok(p.offset)
                        };
                        out.insert((t.name.0.to_string(), p.partition_index), result);
                    }
                }
            }
            Err(e) => {
                let message = e.to_string();
                for key in asked {
                    out.insert(key, Err(ToolError::Protocol(message.clone())));
                }
            }
        }
    }
    out
}

/// `--time` as a ListOffsets timestamp: a name, a negative special value or a
/// timestamp in milliseconds.
fn parse_offset_spec(time: &str) -> Result<i64, String> {
    match time {
        "latest" => Ok(-1),
        "earliest" => Ok(-2),
        "max-timestamp" => Ok(-3),
        "earliest-local" => Ok(-4),
        "latest-tiered" => Ok(-5),
        "earliest-pending-upload" => Ok(-6),
        other => other.parse::<i64>().map_err(|_| {
            format!(
                "Malformed time argument {other}. Please use -1 or latest / -2 or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or latest-tiered / -6 or earliest-pending-upload, or a specified long format timestamp"
            )
        }),
    }
}

/// Which partitions of which topics to ask about.
#[derive(Debug)]
struct Filter {
    /// A partition is wanted when any rule takes its topic and partition.
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    /// Matches the whole topic name.
    topic: Regex,
    partitions: Partitions,
}

#[derive(Debug, PartialEq)]
enum Partitions {
    /// These ids; empty means every partition.
    Set(Vec<i32>),
    /// From `lower` (inclusive) to `upper` (exclusive).
    Range(i32, i32),
}

impl Partitions {
    fn allows(&self, partition: i32) -> bool {
        match self {
            Partitions::Set(ids) => ids.is_empty() || ids.contains(&partition),
            Partitions::Range(lo, hi) => partition >= *lo && partition < *hi,
        }
    }
}

impl Filter {
    /// `--topic` (a regex, default every topic) and `--partitions` (ids).
    fn from_topic_and_partitions(
        topic: Option<&str>,
        partitions: Option<&str>,
    ) -> Result<Self, String> {
        let ids = match partitions.filter(|p| !p.is_empty()) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|p| p.parse::<i32>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    format!(
                        "--partitions expects a comma separated list of numeric partition ids, but received: {list}"
                    )
                })?,
        };
        Ok(Self {
            rules: vec![Rule {
                topic: include_list(topic.unwrap_or(".*"))?,
                partitions: Partitions::Set(ids),
            }],
        })
    }

    /// `--topic-partitions`: comma-separated `TOPIC_REGEX[:PARTITIONS]` rules.
    fn from_pattern_list(list: &str) -> Result<Self, String> {
        // Kafka's rule grammar: a topic regex without ':' or ',', then optionally
        // ':' and a number, a range, an open range or nothing.
        let grammar = Regex::new(r"^([^:,]*)(?::(?:([0-9]*)|(?:([0-9]*)-([0-9]*))))?$")
            .map_err(|e| e.to_string())?;
        let rules = list
            .split(',')
            .map(|spec| {
                let invalid = || {
                    format!(
                        "org.apache.kafka.tools.TerseException: Invalid rule specification: {spec}"
                    )
                };
                let caps = grammar.captures(spec).ok_or_else(invalid)?;
                let group = |i: usize| caps.get(i).map(|m| m.as_str()).filter(|s| !s.is_empty());
                let number = |s: &str| {
                    s.parse::<i32>().map_err(|_| {
                        format!("java.lang.NumberFormatException: For input string: \"{s}\"")
                    })
                };
                let topic = include_list(group(1).unwrap_or(".*"))?;
                let partitions = match group(2) {
                    Some(n) => Partitions::Set(vec![number(n)?]),
                    None => Partitions::Range(
                        group(3).map(number).transpose()?.unwrap_or(0),
                        group(4).map(number).transpose()?.unwrap_or(i32::MAX),
                    ),
                };
                Ok(Rule { topic, partitions })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { rules })
    }

    fn topic_allowed(&self, topic: &str) -> bool {
        self.rules.iter().any(|r| r.topic.is_match(topic))
    }

    fn partition_allowed(&self, topic: &str, partition: i32) -> bool {
        self.rules
            .iter()
            .any(|r| r.topic.is_match(topic) && r.partitions.allows(partition))
    }
}

/// Kafka's `IncludeList`: the regex trimmed, ',' as '|', spaces and surrounding
/// quotes dropped, matched against the whole topic name.
fn include_list(raw: &str) -> Result<Regex, String> {
    let regex = raw
        .trim()
        .replace(',', "|")
        .replace(' ', "")
        .trim_start_matches(['"', '\''])
        .trim_end_matches(['"', '\''])
        .to_string();
    Regex::new(&format!("^(?:{regex})$")).map_err(|_| format!("{regex} is an invalid regex."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_names_and_numbers_become_list_offsets_timestamps() {
        assert_eq!(parse_offset_spec("latest"), Ok(-1));
        assert_eq!(parse_offset_spec("-2"), Ok(-2));
        assert_eq!(parse_offset_spec("max-timestamp"), Ok(-3));
        assert_eq!(parse_offset_spec("1700000000000"), Ok(1_700_000_000_000));
        let err = parse_offset_spec("yesterday").unwrap_err();
        assert!(err.starts_with("Malformed time argument yesterday. Please use -1 or latest"));
    }

    #[test]
    fn topic_partition_rules_take_numbers_and_ranges() {
        let f =
            Filter::from_pattern_list("orders:1,pay.*:2-4,logs:5-,audit:-2,all").expect("rules");
        assert!(f.partition_allowed("orders", 1));
        assert!(!f.partition_allowed("orders", 0));
        assert!(f.partition_allowed("payments", 3));
        assert!(!f.partition_allowed("payments", 4));
        assert!(f.partition_allowed("logs", 9));
        assert!(!f.partition_allowed("logs", 4));
        assert!(f.partition_allowed("audit", 1));
        assert!(!f.partition_allowed("audit", 2));
        assert!(f.partition_allowed("all", 7));
        assert!(!f.topic_allowed("other"));
        assert!(Filter::from_pattern_list("a:b").is_err());
    }

    #[test]
    fn topic_regex_matches_whole_names() {
        let f = Filter::from_topic_and_partitions(Some("ord"), None).expect("filter");
        assert!(!f.topic_allowed("orders"));
        let f = Filter::from_topic_and_partitions(Some("ord.*"), Some("0,2")).expect("filter");
        assert!(f.partition_allowed("orders", 2));
        assert!(!f.partition_allowed("orders", 1));
        assert!(Filter::from_topic_and_partitions(None, Some("x")).is_err());
    }

    #[test]
    fn offsets_print_sorted_as_topic_dash_partition_text() {
        let parts = vec![
            ("t".to_string(), 2),
            ("t".to_string(), 10),
            ("s".to_string(), 0),
        ];
        let found = vec![("t-2".into(), 5), ("t-10".into(), 7), ("s-0".into(), 1)];
        assert_eq!(
            format_offsets(&parts, found),
            vec!["s:0:1", "t:10:7", "t:2:5"]
        );
    }
}
