//! `kafka-reassign-partitions`: move partition replicas between brokers with
//! AlterPartitionReassignments and ListPartitionReassignments (KIP-455):
//! `--generate` a candidate plan, `--execute` one, `--verify` it, `--cancel` it,
//! `--list` what is moving. Output is Kafka 4.4's (captures in
//! `compat/reference-outputs/reassign/`), with these differences:
//! - `--throttle` and `--replica-alter-log-dirs-throttle` set Kafka's throttle
//!   configs (topic `*.replication.throttled.replicas`, broker
//!   `*.replication.throttled.rate`), and `--verify`/`--cancel` clear them, as Kafka's
//!   tool does; but Kavka brokers do not enforce them yet, which a note on stderr
//!   says;
//! - log directory moves (`log_dirs` other than `any`) are refused (Kavka has one
//!   log directory per broker);
//! - `--generate` places replicas rack-unaware (Kafka's round-robin with a random
//!   start, as `--disable-rack-aware`);
//! - a Java failure prints its message and exception lines without stack frames.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, DescribeLogDirsRequest,
    IncrementalAlterConfigsRequest, ListPartitionReassignmentsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::{java_exception_class, ToolError};
use crate::output::java_string_order;
use crate::wire::Connection;

const HELP_TEXT: &str = "This tool helps to move topic partitions between replicas.";
const TIMEOUT_MS: i32 = 30_000;
const CANNOT_EXECUTE_BECAUSE_OF_EXISTING: &str = "Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment.";
const RUN_VERIFY_PERIODICALLY: &str = "Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.";
const THROTTLE_NOT_ENFORCED: &str = "Note: Kavka brokers store replication throttles but do not enforce them yet; the reassignment runs unthrottled.";
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const SET: i8 = 0;
const DELETE: i8 = 1;
const BROKER_THROTTLES: [&str; 3] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];
const TOPIC_THROTTLES: [&str; 2] = [
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

/// Kafka's ReassignPartitionsCommandOptions.
#[derive(Parser, Debug, Default)]
#[command(name = "kafka-reassign-partitions", about = HELP_TEXT)]
#[command(
    infer_long_args = true,
    disable_version_flag = true,
    disable_help_flag = true
)]
pub(crate) struct Args {
    /// Verify if the reassignment completed as specified by the --reassignment-json-file option. If there is a throttle engaged for the replicas specified, and the rebalance has completed, the throttle will be removed
    #[arg(long)]
    verify: bool,
    /// Execute this reassignment in addition to any other ongoing ones. This option can also be used to change the throttle of an ongoing reassignment.
    #[arg(long)]
    additional: bool,
    /// The controller to use for reassignment. By default, the tool will get the quorum controller. This option supports the actions --cancel and --list.
    #[arg(long, value_name = "bootstrap controller to connect to")]
    bootstrap_controller: Option<String>,
    /// the server(s) to use for bootstrapping.
    #[arg(long, value_name = "Server(s) to use for bootstrapping")]
    bootstrap_server: Option<String>,
    /// The list of brokers to which the partitions need to be reassigned in the form "0,1,2". This is required if --topics-to-move-json-file is used to generate reassignment configuration
    #[arg(long, value_name = "brokerlist")]
    broker_list: Option<String>,
    /// Cancel an active reassignment.
    #[arg(long)]
    cancel: bool,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "Admin client property file")]
    command_config: Option<String>,
    /// Disable rack aware replica assignment
    #[arg(long)]
    disable_rack_aware: bool,
    /// Denies the ability to change a partition's replication factor as part of this reassignment through adding validation against it.
    #[arg(long)]
    disallow_replication_factor_change: bool,
    /// Kick off the reassignment as specified by the --reassignment-json-file option.
    #[arg(long)]
    execute: bool,
    /// Generate a candidate partition reassignment configuration. Note that this only generates a candidate assignment, it does not execute it.
    #[arg(long)]
    generate: bool,
    /// Print usage information.
    #[arg(long)]
    help: bool,
    /// List all active partition reassignments.
    #[arg(long)]
    list: bool,
    /// Do not modify broker or topic throttles.
    #[arg(long)]
    preserve_throttles: bool,
    /// The JSON file with the partition reassignment configuration.
    #[arg(long, value_name = "manual assignment json file path")]
    reassignment_json_file: Option<String>,
    /// The movement of replicas between log directories on the same broker will be throttled to this value (bytes/sec).
    #[arg(long, value_name = "replicaAlterLogDirsThrottle")]
    replica_alter_log_dirs_throttle: Option<String>,
    /// The movement of partitions between brokers will be throttled to this value (bytes/sec).
    #[arg(long, value_name = "throttle")]
    throttle: Option<String>,
    /// The maximum time in ms to wait for log directory replica assignment to begin.
    #[arg(long, value_name = "timeout")]
    timeout: Option<String>,
    /// Generate a reassignment configuration to move the partitions of the specified topics to the list of brokers specified by the --broker-list option.
    #[arg(long, value_name = "topics to reassign json file path")]
    topics_to_move_json_file: Option<String>,
    /// Display Kafka version.
    #[arg(long)]
    version: bool,
}

/// The action asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Generate,
    Execute,
    Verify,
    Cancel,
    List,
}

impl Action {
    const ALL: [(Action, &'static str); 5] = [
        (Action::Generate, "generate"),
        (Action::Execute, "execute"),
        (Action::Verify, "verify"),
        (Action::Cancel, "cancel"),
        (Action::List, "list"),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("", |(_, n)| n)
    }

    /// Options the action needs, in the order Kafka checks them.
    fn required(self) -> &'static [&'static str] {
        match self {
            Action::Verify | Action::Execute | Action::Cancel => &["reassignment-json-file"],
            Action::Generate => &["topics-to-move-json-file", "broker-list"],
            Action::List => &[],
        }
    }

    /// Options the action allows besides those.
    fn permitted(self, bootstrap_server: bool) -> Vec<&'static str> {
        let bootstrap = if bootstrap_server {
            "bootstrap-server"
        } else {
            "bootstrap-controller"
        };
        match self {
            Action::Verify => vec!["bootstrap-server", "command-config", "preserve-throttles"],
            Action::Generate => vec![
                "bootstrap-server",
                "broker-list",
                "command-config",
                "disable-rack-aware",
            ],
            Action::Execute => vec![
                "additional",
                "bootstrap-server",
                "command-config",
                "throttle",
                "replica-alter-log-dirs-throttle",
                "timeout",
                "disallow-replication-factor-change",
            ],
            Action::Cancel => vec![bootstrap, "command-config", "preserve-throttles", "timeout"],
            Action::List => vec![bootstrap, "command-config"],
        }
    }
}

/// A validated command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Command {
    action: Action,
    bootstrap: String,
    reassignment_json_file: Option<String>,
    topics_to_move_json_file: Option<String>,
    broker_list: Option<String>,
    additional: bool,
    throttle: i64,
    log_dir_throttle: i64,
    preserve_throttles: bool,
    disallow_rf_change: bool,
}

/// The options given, as `--name`s, in command-line order.
fn given_in_order(matches: &ArgMatches) -> Vec<String> {
    let mut given: Vec<(usize, String)> = matches
        .ids()
        .filter(|id| {
            matches.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
        })
        .filter_map(|id| {
            let index = matches.index_of(id.as_str())?;
            Some((index, id.as_str().replace('_', "-")))
        })
        .collect();
    given.sort();
    given.into_iter().map(|(_, name)| name).collect()
}

/// Kafka's `validateAndParseArgs`: Err is the exit status, usage already printed.
fn parse(argv: &[OsString]) -> Result<Command, i32> {
    let matches = match Args::command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            if e.kind() == ErrorKind::UnknownArgument {
                let arg = e
                    .get(clap::error::ContextKind::InvalidArg)
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let name = arg.trim_start_matches('-');
                let name = name.split_once('=').map_or(name, |(n, _)| n);
                return Err(crate::usage::<Args>(&format!(
                    "{name} is not a recognized option"
                )));
            }
            eprint!("{}", e.render());
            return Err(1);
        }
    };
    let args = Args::from_arg_matches(&matches).map_err(|e| {
        eprint!("{}", e.render());
        1
    })?;
    if argv.len() <= 1 {
        eprintln!("{HELP_TEXT}");
        eprintln!("{}", Args::command().render_help());
        return Err(1);
    }
    if args.help {
        println!("{HELP_TEXT}");
        println!("{}", Args::command().render_help());
        return Err(0);
    }
    if args.version {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return Err(0);
    }
    let chosen: Vec<Action> = [
        (Action::Generate, args.generate),
        (Action::Execute, args.execute),
        (Action::Verify, args.verify),
        (Action::Cancel, args.cancel),
        (Action::List, args.list),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(a, _)| a)
    .collect();
    let [action] = chosen.as_slice() else {
        let names: Vec<String> = Action::ALL.iter().map(|(_, n)| format!("--{n}")).collect();
        return Err(crate::usage::<Args>(&format!(
            "Command must include exactly one action: {}",
            names.join(", ")
        )));
    };
    let action = *action;
    let bootstrap = match (&args.bootstrap_server, &args.bootstrap_controller) {
        (Some(_), Some(_)) => {
            return Err(crate::usage::<Args>(
                "Please don't specify both --bootstrap-server and --bootstrap-controller",
            ))
        }
        (None, None) => {
            return Err(crate::usage::<Args>(
                "Please specify either --bootstrap-server or --bootstrap-controller",
            ))
        }
        (Some(b), None) | (None, Some(b)) => b.clone(),
    };
    let given = given_in_order(&matches);
    for required in action.required() {
        if !given.iter().any(|g| g == required) {
            return Err(crate::usage::<Args>(&format!(
                "Missing required argument \"[{required}]\""
            )));
        }
    }
    let permitted = action.permitted(args.bootstrap_server.is_some());
    for option in &given {
        if option != action.name()
            && !action.required().contains(&option.as_str())
            && !permitted.contains(&option.as_str())
        {
            return Err(crate::usage::<Args>(&format!(
                "Option \"[{option}]\" can't be used with action \"[{}]\"",
                action.name()
            )));
        }
    }
    let long = |value: &Option<String>, option: &str| -> Result<i64, i32> {
        match value {
            None => Ok(-1),
            Some(v) => v.parse::<i64>().map_err(|_| {
                println!("Error: Cannot parse argument '{v}' of option {option}");
                1
            }),
        }
    };
    Ok(Command {
        action,
        bootstrap,
        reassignment_json_file: args.reassignment_json_file.clone(),
        topics_to_move_json_file: args.topics_to_move_json_file.clone(),
        broker_list: args.broker_list.clone(),
        additional: args.additional,
        throttle: long(&args.throttle, "throttle")?,
        log_dir_throttle: long(
            &args.replica_alter_log_dirs_throttle,
            "replica-alter-log-dirs-throttle",
        )?,
        preserve_throttles: args.preserve_throttles,
        disallow_rf_change: args.disallow_replication_factor_change,
    })
}

/// A failure as the tool reports it on stdout: a terse message alone, or Kafka's
/// "Error: …" line followed by the Java exception lines (without stack frames).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Terse(String),
    Java { message: String, trace: Vec<String> },
}

impl Failure {
    fn admin_command(message: impl Into<String>) -> Self {
        let message = message.into();
        Failure::Java {
            trace: vec![format!(
                "org.apache.kafka.tools.AdminCommandFailedException: {message}"
            )],
            message,
        }
    }

    fn admin_operation(message: impl Into<String>) -> Self {
        let message = message.into();
        Failure::Java {
            trace: vec![format!(
                "org.apache.kafka.tools.AdminOperationException: {message}"
            )],
            message,
        }
    }

    /// An error from the cluster, as an `ExecutionException` wrapping the client's
    /// exception for `code`.
    fn execution(code: i16, message: &str) -> Self {
        let cause = format!("{}: {message}", java_exception_class(code));
        Failure::Java {
            message: cause.clone(),
            trace: vec![
                format!("java.util.concurrent.ExecutionException: {cause}"),
                format!("Caused by: {cause}"),
            ],
        }
    }

    /// What the tool prints for it on stdout.
    fn render(&self) -> String {
        match self {
            Failure::Terse(m) => format!("{m}\n"),
            Failure::Java { message, trace } => {
                format!("Error: {message}\n{}\n\n", trace.join("\n"))
            }
        }
    }

    fn print(&self) {
        print!("{}", self.render());
    }
}

impl From<ToolError> for Failure {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::Kafka { code, message } => Failure::execution(code, &message),
            other => Failure::Java {
                message: other.to_string(),
                trace: vec![format!("org.apache.kafka.common.KafkaException: {other}")],
            },
        }
    }
}

/// `topic-partition`, ordered by topic then partition as Kafka sorts them.
type TopicPartition = (String, i32);

fn tp(p: &TopicPartition) -> String {
    format!("{}-{}", p.0, p.1)
}

fn ids(list: &[i32]) -> String {
    list.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A partition's replicas as the JSON files carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    partition: TopicPartition,
    replicas: Vec<i32>,
}

fn json_int(v: &serde_json::Value, what: &str) -> Result<i64, Failure> {
    v.as_i64()
        .ok_or_else(|| Failure::admin_operation(format!("Expected an integer for {what}")))
}

/// Parses a reassignment JSON file (version 1) into its partitions, in file order.
fn parse_reassignment_json(text: &str) -> Result<Vec<Target>, Failure> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Failure::admin_operation(format!("The input string is not a valid JSON: {e}"))
    })?;
    let version = match json.get("version") {
        Some(v) => json_int(v, "version")?,
        None => 1,
    };
    if version != 1 {
        return Err(Failure::admin_operation(format!(
            "Not supported version field value {version}"
        )));
    }
    let mut targets = Vec::new();
    for p in json
        .get("partitions")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let topic = p
            .get("topic")
            .and_then(|t| t.as_str())
            .ok_or_else(|| Failure::admin_operation("Expected a string for topic"))?
            .to_string();
        let partition = p
            .get("partition")
            .map(|v| json_int(v, "partition"))
            .transpose()?
            .ok_or_else(|| Failure::admin_operation("Missing partition"))?;
        let replicas: Vec<i32> = p
            .get("replicas")
            .and_then(|r| r.as_array())
            .ok_or_else(|| Failure::admin_operation("Missing replicas"))?
            .iter()
            .map(|r| json_int(r, "replicas").map(|r| r as i32))
            .collect::<Result<_, _>>()?;
        let name = format!("{topic}-{partition}");
        if let Some(dirs) = p.get("log_dirs").and_then(|d| d.as_array()) {
            let dirs: Vec<&str> = dirs.iter().filter_map(|d| d.as_str()).collect();
            if dirs.len() != replicas.len() {
                return Err(Failure::admin_command(format!(
                    "Size of replicas list [{}] is different from size of log dirs list [{}] for partition {name}",
                    replicas.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", "),
                    dirs.join(", ")
                )));
            }
            if dirs.iter().any(|d| *d != "any") {
                return Err(Failure::admin_command(format!(
                    "Moving replicas between log directories is not supported by Kavka (partition {name})"
                )));
            }
        }
        targets.push(Target {
            partition: (topic, partition as i32),
            replicas,
        });
    }
    Ok(targets)
}

/// Kafka's `parseExecuteAssignmentArgs` checks.
fn check_execute_targets(targets: &[Target]) -> Result<(), Failure> {
    if targets.is_empty() {
        return Err(Failure::admin_command(
            "Partition reassignment list cannot be empty",
        ));
    }
    if targets.iter().any(|t| t.replicas.is_empty()) {
        return Err(Failure::admin_command(
            "Partition replica list cannot be empty",
        ));
    }
    let mut seen = BTreeSet::new();
    let duplicated: BTreeSet<&TopicPartition> = targets
        .iter()
        .filter(|t| !seen.insert(&t.partition))
        .map(|t| &t.partition)
        .collect();
    if !duplicated.is_empty() {
        let list: Vec<String> = duplicated.into_iter().map(tp).collect();
        return Err(Failure::admin_command(format!(
            "Partition reassignment contains duplicate topic partitions: {}",
            list.join(",")
        )));
    }
    let messages: Vec<String> = targets
        .iter()
        .filter_map(|t| {
            let mut seen = BTreeSet::new();
            let dups: BTreeSet<i32> = t
                .replicas
                .iter()
                .copied()
                .filter(|r| !seen.insert(*r))
                .collect();
            (!dups.is_empty()).then(|| {
                format!(
                    "{} contains multiple entries for {}",
                    tp(&t.partition),
                    ids(&dups.into_iter().collect::<Vec<_>>())
                )
            })
        })
        .collect();
    if !messages.is_empty() {
        return Err(Failure::admin_command(format!(
            "Partition replica lists may not contain duplicate entries: {}",
            messages.join(". ")
        )));
    }
    Ok(())
}

/// Parses a topics-to-move JSON file (version 1).
fn parse_topics_json(text: &str) -> Result<Vec<String>, Failure> {
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| Failure::admin_operation("The input string is not a valid JSON"))?;
    let version = match json.get("version") {
        Some(v) => json_int(v, "version")?,
        None => 1,
    };
    if version != 1 {
        return Err(Failure::admin_operation(format!(
            "Not supported version field value {version}"
        )));
    }
    json.get("topics")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .map(|t| {
            t.get("topic")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .ok_or_else(|| Failure::admin_operation("Expected a string for topic"))
        })
        .collect()
}

/// Each replica's log directory, by partition and broker.
type LogDirs = BTreeMap<(TopicPartition, i32), String>;

/// Kafka's `formatAsReassignmentJson`: a replica's log directory where `dirs`
/// knows it, else `any`.
fn reassignment_json(parts: &BTreeMap<TopicPartition, Vec<i32>>, dirs: &LogDirs) -> String {
    let partitions: Vec<String> = parts
        .iter()
        .map(|(p, replicas)| {
            let (topic, partition) = p;
            let dirs: Vec<String> = replicas
                .iter()
                .map(|&r| {
                    let dir = dirs.get(&(p.clone(), r)).map_or("any", String::as_str);
                    serde_json::Value::String(dir.to_string()).to_string()
                })
                .collect();
            let dirs = dirs.join(",");
            format!(
                "{{\"topic\":{},\"partition\":{partition},\"replicas\":[{}],\"log_dirs\":[{dirs}]}}",
                serde_json::Value::String(topic.clone()),
                ids(replicas)
            )
        })
        .collect();
    format!(
        "{{\"version\":1,\"partitions\":[{}]}}",
        partitions.join(",")
    )
}

/// One ongoing reassignment as ListPartitionReassignments reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ongoing {
    replicas: Vec<i32>,
    adding: Vec<i32>,
    removing: Vec<i32>,
}

/// `--list`'s text.
fn list_text(ongoing: &BTreeMap<TopicPartition, Ongoing>) -> String {
    if ongoing.is_empty() {
        return "No partition reassignments found.".to_string();
    }
    let lines: Vec<String> = ongoing
        .iter()
        .map(|(p, o)| {
            let adding = if o.adding.is_empty() {
                String::new()
            } else {
                format!(" adding: {}.", ids(&o.adding))
            };
            let removing = if o.removing.is_empty() {
                String::new()
            } else {
                format!(" removing: {}.", ids(&o.removing))
            };
            format!(
                "{}: replicas: {}.{adding}{removing}",
                tp(p),
                ids(&o.replicas)
            )
        })
        .collect();
    format!("Current partition reassignments:\n{}", lines.join("\n"))
}

/// `--verify`'s status of each partition: (current replicas, target, done).
fn status_text(states: &BTreeMap<TopicPartition, (Vec<i32>, Vec<i32>, bool)>) -> String {
    let mut lines = vec!["Status of partition reassignment:".to_string()];
    for (p, (current, target, done)) in states {
        lines.push(if !done {
            format!("Reassignment of partition {} is still in progress.", tp(p))
        } else if current == target {
            format!("Reassignment of partition {} is completed.", tp(p))
        } else {
            format!(
                "There is no active reassignment of partition {}, but replica set is {} rather than {}.",
                tp(p),
                ids(current),
                ids(target)
            )
        });
    }
    lines.join("\n")
}

/// Kafka's rack-unaware `assignReplicasToBrokers`: partition p's first replica is
/// broker `(p + start) % n`, the followers shifted by `shift` (bumped every `n`
/// partitions) so replicas spread.
fn assign_replicas(
    brokers: &[i32],
    partitions: usize,
    replication_factor: usize,
    start: usize,
    shift: usize,
) -> Result<Vec<Vec<i32>>, Failure> {
    let n = brokers.len();
    if replication_factor == 0 {
        return Err(Failure::Java {
            message: "Replication factor must be larger than 0.".into(),
            trace: vec!["org.apache.kafka.common.errors.InvalidReplicationFactorException: Replication factor must be larger than 0.".into()],
        });
    }
    if replication_factor > n {
        let message =
            format!("Replication factor: {replication_factor} larger than available brokers: {n}.");
        return Err(Failure::Java {
            trace: vec![format!(
                "org.apache.kafka.common.errors.InvalidReplicationFactorException: {message}"
            )],
            message,
        });
    }
    let mut shift = shift;
    let mut out = Vec::with_capacity(partitions);
    for p in 0..partitions {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..replication_factor - 1 {
            let index = (first + 1 + (shift + j) % (n - 1)) % n;
            replicas.push(brokers[index]);
        }
        out.push(replicas);
    }
    Ok(out)
}

/// Where a partition's replicas come from and go to (Kafka's `PartitionMove`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PartitionMove {
    sources: BTreeSet<i32>,
    destinations: BTreeSet<i32>,
}

/// Kafka's `calculateProposedMoveMap`: the moves in flight (sources: replicas not
/// being added), then the proposed ones (sources: the in-flight sources, else the
/// current replicas; destinations: proposed replicas not among the sources).
fn move_map(
    ongoing: &BTreeMap<TopicPartition, Ongoing>,
    proposed: &BTreeMap<TopicPartition, Vec<i32>>,
    current: &BTreeMap<TopicPartition, Vec<i32>>,
) -> BTreeMap<String, BTreeMap<i32, PartitionMove>> {
    let mut moves: BTreeMap<String, BTreeMap<i32, PartitionMove>> = BTreeMap::new();
    for ((topic, partition), o) in ongoing {
        moves.entry(topic.clone()).or_default().insert(
            *partition,
            PartitionMove {
                sources: o
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| !o.adding.contains(r))
                    .collect(),
                destinations: o.adding.iter().copied().collect(),
            },
        );
    }
    for ((topic, partition), replicas) in proposed {
        let parts = moves.entry(topic.clone()).or_default();
        let sources: BTreeSet<i32> = match parts.get(partition) {
            Some(m) => m.sources.clone(),
            None => current
                .get(&(topic.clone(), *partition))
                .into_iter()
                .flatten()
                .copied()
                .collect(),
        };
        let destinations = replicas
            .iter()
            .copied()
            .filter(|r| !sources.contains(r))
            .collect();
        parts.insert(
            *partition,
            PartitionMove {
                sources,
                destinations,
            },
        );
    }
    moves
}

/// Kafka's leader and follower throttled-replica lists per topic:
/// `partition:broker` entries, sorted as strings.
fn throttled_replicas(
    moves: &BTreeMap<String, BTreeMap<i32, PartitionMove>>,
) -> BTreeMap<String, (String, String)> {
    moves
        .iter()
        .map(|(topic, parts)| {
            let mut leader = BTreeSet::new();
            let mut follower = BTreeSet::new();
            for (partition, m) in parts {
                leader.extend(m.sources.iter().map(|s| format!("{partition}:{s}")));
                follower.extend(
                    m.destinations
                        .iter()
                        .filter(|d| !m.sources.contains(d))
                        .map(|d| format!("{partition}:{d}")),
                );
            }
            let join = |set: BTreeSet<String>| set.into_iter().collect::<Vec<_>>().join(",");
            (topic.clone(), (join(leader), join(follower)))
        })
        .collect()
}

/// A small random number below `n` (Kafka picks the start broker at random).
fn random_below(n: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as usize ^ d.as_secs() as usize);
    let mixed = nanos.wrapping_mul(0x9E37_79B9) ^ std::process::id() as usize;
    if n == 0 {
        0
    } else {
        mixed % n
    }
}

/// The cluster as the tool needs it: brokers and each partition's replicas.
struct Cluster {
    conn: Connection,
}

impl Cluster {
    fn brokers(&mut self) -> Result<BTreeSet<i32>, ToolError> {
        let response = self.conn.metadata(Some(&[]))?;
        Ok(response.brokers.iter().map(|b| b.node_id.0).collect())
    }

    /// Replicas of every partition of `topics`; an unknown topic is Kafka's
    /// "Topic X not found.".
    fn replicas(
        &mut self,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<TopicPartition, Vec<i32>>, Failure> {
        let names: Vec<String> = topics.iter().cloned().collect();
        let response = self.conn.metadata(Some(&names))?;
        let mut out = BTreeMap::new();
        for t in &response.topics {
            let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            if t.error_code != 0 {
                return Err(Failure::execution(
                    t.error_code,
                    &format!("Topic {name} not found."),
                ));
            }
            for p in &t.partitions {
                out.insert(
                    (name.clone(), p.partition_index),
                    p.replica_nodes.iter().map(|b| b.0).collect(),
                );
            }
        }
        Ok(out)
    }

    /// The log directory of each replica of `parts`, asked of each broker with
    /// DescribeLogDirs, as Kafka's tool does; a broker that cannot be asked
    /// leaves its replicas at `any`.
    fn log_dirs(&mut self, parts: &BTreeMap<TopicPartition, Vec<i32>>) -> LogDirs {
        let mut dirs = LogDirs::new();
        let Ok(metadata) = self.conn.metadata(Some(&[])) else {
            return dirs;
        };
        let brokers: BTreeSet<i32> = parts.values().flatten().copied().collect();
        for broker in brokers {
            let Some(b) = metadata.brokers.iter().find(|b| b.node_id.0 == broker) else {
                continue;
            };
            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for ((t, p), replicas) in parts {
                if replicas.contains(&broker) {
                    by_topic.entry(t).or_default().push(*p);
                }
            }
            let topics = by_topic
                .into_iter()
                .map(|(t, ps)| {
                    DescribableLogDirTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                        .with_partitions(ps)
                })
                .collect();
            let answer =
                Connection::connect(&format!("{}:{}", b.host, b.port)).and_then(|mut c| {
                    c.send(DescribeLogDirsRequest::default().with_topics(Some(topics)))
                });
            let Ok(answer) = answer else {
                continue;
            };
            for result in answer.results.into_iter().filter(|r| r.error_code == 0) {
                for t in &result.topics {
                    for p in &t.partitions {
                        if !p.is_future_key {
                            dirs.insert(
                                ((t.name.0.to_string(), p.partition_index), broker),
                                result.log_dir.to_string(),
                            );
                        }
                    }
                }
            }
        }
        dirs
    }

    /// IncrementalAlterConfigs of one resource, sent where Kafka's admin sends it:
    /// a broker's own configs to that broker, a topic's to any.
    fn alter_configs(
        &mut self,
        resource_type: i8,
        name: &str,
        ops: &[(&str, i8, Option<String>)],
    ) -> Result<(), ToolError> {
        let configs = ops
            .iter()
            .map(|(key, op, value)| {
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(key.to_string()))
                    .with_config_operation(*op)
                    .with_value(value.clone().map(StrBytes::from_string))
            })
            .collect();
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(StrBytes::from_string(name.to_string()))
                .with_configs(configs),
        ]);
        let response = if resource_type == BROKER {
            let metadata = self.conn.metadata(Some(&[]))?;
            let b = metadata
                .brokers
                .iter()
                .find(|b| b.node_id.0.to_string() == name)
                .ok_or_else(|| ToolError::from_code(7, Some("Timed out waiting for a node assignment. Call: incrementalAlterConfigs")))?;
            Connection::connect(&format!("{}:{}", b.host, b.port))?.send(request)?
        } else {
            self.conn.send(request)?
        };
        match response.responses.iter().find(|r| r.error_code != 0) {
            Some(r) => Err(ToolError::from_code(
                r.error_code,
                r.error_message.as_deref(),
            )),
            None => Ok(()),
        }
    }

    fn ongoing(
        &mut self,
        only: Option<&BTreeSet<TopicPartition>>,
    ) -> Result<BTreeMap<TopicPartition, Ongoing>, ToolError> {
        let topics = only.map(|parts| {
            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for (t, p) in parts {
                by_topic.entry(t).or_default().push(*p);
            }
            by_topic
                .into_iter()
                .map(|(t, ps)| {
                    ListPartitionReassignmentsTopics::default()
                        .with_name(TopicName(StrBytes::from_string(t.to_string())))
                        .with_partition_indexes(ps)
                })
                .collect()
        });
        let response = self.conn.send(
            ListPartitionReassignmentsRequest::default()
                .with_timeout_ms(TIMEOUT_MS)
                .with_topics(topics),
        )?;
        if response.error_code != 0 {
            return Err(ToolError::from_code(
                response.error_code,
                response.error_message.as_deref(),
            ));
        }
        let mut out = BTreeMap::new();
        for t in response.topics {
            for p in t.partitions {
                let list = |v: Vec<BrokerId>| v.into_iter().map(|b| b.0).collect();
                out.insert(
                    (t.name.0.to_string(), p.partition_index),
                    Ongoing {
                        replicas: list(p.replicas),
                        adding: list(p.adding_replicas),
                        removing: list(p.removing_replicas),
                    },
                );
            }
        }
        Ok(out)
    }

    /// Sends the reassignments (None: cancel); per partition the error message.
    fn alter(
        &mut self,
        parts: &BTreeMap<TopicPartition, Option<Vec<i32>>>,
        allow_rf_change: bool,
    ) -> Result<BTreeMap<TopicPartition, String>, ToolError> {
        let mut by_topic: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
        for ((topic, partition), replicas) in parts {
            by_topic.entry(topic).or_default().push(
                ReassignablePartition::default()
                    .with_partition_index(*partition)
                    .with_replicas(
                        replicas
                            .as_ref()
                            .map(|r| r.iter().map(|&b| BrokerId(b)).collect()),
                    ),
            );
        }
        let topics = by_topic
            .into_iter()
            .map(|(t, ps)| {
                ReassignableTopic::default()
                    .with_name(TopicName(StrBytes::from_string(t.to_string())))
                    .with_partitions(ps)
            })
            .collect();
        let mut request = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(TIMEOUT_MS)
            .with_topics(topics);
        if !allow_rf_change {
            if self
                .conn
                .version::<AlterPartitionReassignmentsRequest>(i16::MAX)?
                < 1
            {
                return Err(ToolError::from_code(
                    35,
                    Some("The broker does not support disallowing replication factor changes"),
                ));
            }
            request.allow_replication_factor_change = false;
        }
        let response = self.conn.send(request)?;
        let mut errors = BTreeMap::new();
        for t in response.responses {
            for p in t.partitions {
                let code = if p.error_code != 0 {
                    p.error_code
                } else {
                    response.error_code
                };
                if code != 0 {
                    let message = p.error_message.or(response.error_message.clone());
                    let e = ToolError::from_code(code, message.as_deref());
                    errors.insert((t.name.0.to_string(), p.partition_index), e.to_string());
                }
            }
        }
        Ok(errors)
    }
}

/// Runs kafka-reassign-partitions.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let command = match parse(&argv) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let outcome = Connection::bootstrap(&command.bootstrap)
        .map_err(Failure::from)
        .and_then(|conn| run(&command, &mut Cluster { conn }));
    match outcome {
        Ok(()) => Ok(0),
        Err(f) => {
            f.print();
            Ok(1)
        }
    }
}

fn read(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Java {
        message: format!("{path} ({e})"),
        trace: vec![format!("java.nio.file.NoSuchFileException: {path}")],
    })
}

fn run(command: &Command, cluster: &mut Cluster) -> Result<(), Failure> {
    match command.action {
        Action::List => {
            println!("{}", list_text(&cluster.ongoing(None)?));
            Ok(())
        }
        Action::Generate => generate(command, cluster),
        Action::Execute => execute(command, cluster),
        Action::Verify => verify(command, cluster),
        Action::Cancel => cancel(command, cluster),
    }
}

fn generate(command: &Command, cluster: &mut Cluster) -> Result<(), Failure> {
    let topics = parse_topics_json(&read(
        command.topics_to_move_json_file.as_deref().unwrap_or(""),
    )?)?;
    let listed = command.broker_list.as_deref().unwrap_or("");
    let brokers: Vec<i32> = listed
        .split(',')
        .map(|b| {
            b.trim().parse::<i32>().map_err(|_| {
                let message = format!("For input string: \"{b}\"");
                Failure::Java {
                    trace: vec![format!("java.lang.NumberFormatException: {message}")],
                    message,
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let dup = |items: Vec<String>| {
        let mut seen = BTreeSet::new();
        let d: Vec<String> = items
            .into_iter()
            .filter(|i| !seen.insert(i.clone()))
            .collect();
        d
    };
    let dup_brokers = dup(brokers.iter().map(|b| b.to_string()).collect());
    if !dup_brokers.is_empty() {
        return Err(Failure::admin_command(format!(
            "Broker list contains duplicate entries: {}",
            dup_brokers.join(",")
        )));
    }
    let dup_topics = dup(topics.clone());
    if !dup_topics.is_empty() {
        return Err(Failure::admin_command(format!(
            "List of topics to reassign contains duplicate entries: {}",
            dup_topics.join(",")
        )));
    }
    let current = cluster.replicas(&topics.iter().cloned().collect())?;
    let live = cluster.brokers()?;
    let mut eligible: Vec<i32> = brokers.into_iter().filter(|b| live.contains(b)).collect();
    eligible.sort_unstable();
    let mut proposed = BTreeMap::new();
    let mut by_topic: BTreeMap<&str, Vec<(i32, usize)>> = BTreeMap::new();
    for ((topic, partition), replicas) in &current {
        by_topic
            .entry(topic)
            .or_default()
            .push((*partition, replicas.len()));
    }
    for (topic, partitions) in by_topic {
        let rf = partitions.first().map_or(0, |p| p.1);
        let n = eligible.len().max(1);
        let placed = assign_replicas(
            &eligible,
            partitions.len(),
            rf,
            random_below(n),
            random_below(n),
        )?;
        for (i, replicas) in placed.into_iter().enumerate() {
            proposed.insert((topic.to_string(), i as i32), replicas);
        }
    }
    println!(
        "Current partition replica assignment\n{}\n",
        reassignment_json(&current, &cluster.log_dirs(&current))
    );
    println!(
        "Proposed partition reassignment configuration\n{}",
        reassignment_json(&proposed, &LogDirs::new())
    );
    Ok(())
}

fn execute(command: &Command, cluster: &mut Cluster) -> Result<(), Failure> {
    let targets = parse_reassignment_json(&read(
        command.reassignment_json_file.as_deref().unwrap_or(""),
    )?)?;
    check_execute_targets(&targets)?;
    let ongoing = cluster.ongoing(None)?;
    if !command.additional && !ongoing.is_empty() {
        return Err(Failure::Terse(CANNOT_EXECUTE_BECAUSE_OF_EXISTING.into()));
    }
    let wanted: BTreeSet<i32> = targets
        .iter()
        .flat_map(|t| t.replicas.iter().copied())
        .collect();
    let known = cluster.brokers()?;
    if let Some(unknown) = wanted.iter().find(|b| !known.contains(b)) {
        return Err(Failure::admin_command(format!(
            "Unknown broker id {unknown}"
        )));
    }
    let topics: BTreeSet<String> = targets.iter().map(|t| t.partition.0.clone()).collect();
    let all = cluster.replicas(&topics)?;
    let missing: Vec<String> = targets
        .iter()
        .filter(|t| !all.contains_key(&t.partition))
        .map(|t| tp(&t.partition))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::execution(
            3,
            &format!("Unable to find partition: {}", missing.join(", ")),
        ));
    }
    let current: BTreeMap<TopicPartition, Vec<i32>> = all
        .into_iter()
        .filter(|(p, _)| targets.iter().any(|t| &t.partition == p))
        .collect();
    println!(
        "Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback",
        reassignment_json(&current, &cluster.log_dirs(&current))
    );
    if command.throttle >= 0 || command.log_dir_throttle >= 0 {
        println!("{RUN_VERIFY_PERIODICALLY}");
        eprintln!("{THROTTLE_NOT_ENFORCED}");
        if command.throttle >= 0 {
            let proposed: BTreeMap<TopicPartition, Vec<i32>> = targets
                .iter()
                .map(|t| (t.partition.clone(), t.replicas.clone()))
                .collect();
            let moves = move_map(&ongoing, &proposed, &current);
            for (topic, (leader, follower)) in throttled_replicas(&moves) {
                cluster.alter_configs(
                    TOPIC,
                    &topic,
                    &[
                        (TOPIC_THROTTLES[0], SET, Some(leader)),
                        (TOPIC_THROTTLES[1], SET, Some(follower)),
                    ],
                )?;
            }
            let brokers: BTreeSet<i32> = moves
                .values()
                .flat_map(|parts| parts.values())
                .flat_map(|m| m.sources.iter().chain(&m.destinations).copied())
                .collect();
            let rate = Some(command.throttle.to_string());
            for broker in brokers {
                cluster.alter_configs(
                    BROKER,
                    &broker.to_string(),
                    &[
                        (BROKER_THROTTLES[0], SET, rate.clone()),
                        (BROKER_THROTTLES[1], SET, rate.clone()),
                    ],
                )?;
            }
            println!(
                "The inter-broker throttle limit was set to {} B/s",
                command.throttle
            );
        }
        if command.log_dir_throttle >= 0 {
            println!(
                "The replica-alter-dir throttle limit was set to {} B/s",
                command.log_dir_throttle
            );
        }
    }
    let parts: BTreeMap<TopicPartition, Option<Vec<i32>>> = targets
        .iter()
        .map(|t| (t.partition.clone(), Some(t.replicas.clone())))
        .collect();
    let errors = cluster.alter(&parts, !command.disallow_rf_change)?;
    if !errors.is_empty() {
        let lines: Vec<String> = errors
            .iter()
            .map(|(p, m)| format!("{}: {m}", tp(p)))
            .collect();
        return Err(Failure::Terse(format!(
            "Error reassigning partition(s):\n{}",
            lines.join("\n")
        )));
    }
    let names: Vec<String> = parts.keys().map(tp).collect();
    println!(
        "Successfully started partition reassignment{} for {}",
        if parts.len() == 1 { "" } else { "s" },
        names.join(",")
    );
    Ok(())
}

fn verify(command: &Command, cluster: &mut Cluster) -> Result<(), Failure> {
    let targets = parse_reassignment_json(&read(
        command.reassignment_json_file.as_deref().unwrap_or(""),
    )?)?;
    let ongoing = cluster.ongoing(None)?;
    let not_moving: BTreeSet<String> = targets
        .iter()
        .filter(|t| !ongoing.contains_key(&t.partition))
        .map(|t| t.partition.0.clone())
        .collect();
    // Topics that are gone read as partitions without replicas, as in Kafka.
    let mut current = BTreeMap::new();
    for topic in &not_moving {
        let one: BTreeSet<String> = [topic.clone()].into();
        if let Ok(found) = cluster.replicas(&one) {
            current.extend(found);
        }
    }
    let states: BTreeMap<TopicPartition, (Vec<i32>, Vec<i32>, bool)> = targets
        .iter()
        .map(|t| {
            let state = match ongoing.get(&t.partition) {
                Some(o) => (o.replicas.clone(), t.replicas.clone(), false),
                None => (
                    current.get(&t.partition).cloned().unwrap_or_default(),
                    t.replicas.clone(),
                    true,
                ),
            };
            (t.partition.clone(), state)
        })
        .collect();
    println!("{}", status_text(&states));
    // No log directory moves to report: Kafka prints their (empty) summary.
    println!();
    if ongoing.is_empty() && !command.preserve_throttles {
        clear_throttles(cluster, &targets)?;
    }
    Ok(())
}

fn cancel(command: &Command, cluster: &mut Cluster) -> Result<(), Failure> {
    let targets = parse_reassignment_json(&read(
        command.reassignment_json_file.as_deref().unwrap_or(""),
    )?)?;
    let named: BTreeSet<TopicPartition> = targets.iter().map(|t| t.partition.clone()).collect();
    let ongoing = cluster.ongoing(Some(&named))?;
    if ongoing.is_empty() {
        println!("None of the specified partition reassignments are active.");
    } else {
        let parts: BTreeMap<TopicPartition, Option<Vec<i32>>> =
            ongoing.keys().map(|p| (p.clone(), None)).collect();
        let errors = cluster.alter(&parts, true)?;
        if !errors.is_empty() {
            let lines: Vec<String> = errors
                .iter()
                .map(|(p, m)| format!("{}: {m}", tp(p)))
                .collect();
            return Err(Failure::Terse(format!(
                "Error cancelling partition reassignment{} for:\n{}",
                if errors.len() == 1 { "" } else { "s" },
                lines.join("\n")
            )));
        }
        let names: Vec<String> = parts.keys().map(tp).collect();
        println!(
            "Successfully cancelled partition reassignment{} for: {}",
            if parts.len() == 1 { "" } else { "s" },
            names.join(",")
        );
    }
    // Kafka prints this without a line end.
    print!("None of the specified partition moves are active.");
    if !command.preserve_throttles {
        clear_throttles(cluster, &targets)?;
    }
    Ok(())
}

/// Kafka's `clearAllThrottles` once a reassignment is over: the throttle rates of
/// every broker of the cluster or the plan, then the throttled replicas of the
/// plan's topics.
fn clear_throttles(cluster: &mut Cluster, targets: &[Target]) -> Result<(), Failure> {
    let mut brokers = cluster.brokers()?;
    brokers.extend(targets.iter().flat_map(|t| t.replicas.iter().copied()));
    let brokers: Vec<i32> = brokers.into_iter().collect();
    println!(
        "Clearing broker-level throttles on broker{} {}",
        if brokers.len() == 1 { "" } else { "s" },
        ids(&brokers)
    );
    let delete = |keys: &[&'static str]| -> Vec<(&'static str, i8, Option<String>)> {
        keys.iter().map(|k| (*k, DELETE, None)).collect()
    };
    for broker in &brokers {
        cluster.alter_configs(BROKER, &broker.to_string(), &delete(&BROKER_THROTTLES))?;
    }
    let topics: BTreeSet<String> = targets.iter().map(|t| t.partition.0.clone()).collect();
    let topics = java_string_order(topics.into_iter().collect(), |t: &String| t.as_str());
    println!(
        "Clearing topic-level throttles on topic{} {}",
        if topics.len() == 1 { "" } else { "s" },
        topics.join(",")
    );
    for topic in &topics {
        cluster.alter_configs(TOPIC, topic, &delete(&TOPIC_THROTTLES))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("kafka-reassign-partitions")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn each_action_takes_its_own_options() {
        let c = parse(&argv(&[
            "--bootstrap-server",
            "b:9092",
            "--execute",
            "--reassignment-json-file",
            "r.json",
            "--throttle",
            "1024",
            "--additional",
        ]))
        .unwrap();
        assert_eq!(
            (c.action, c.throttle, c.additional, c.log_dir_throttle),
            (Action::Execute, 1024, true, -1)
        );
        assert_eq!(
            parse(&argv(&["--bootstrap-controller", "c:9093", "--list"]))
                .unwrap()
                .action,
            Action::List
        );
        assert_eq!(
            parse(&argv(&["--bootstrap-server", "b", "--list", "--verify"])),
            Err(1)
        );
        assert_eq!(
            parse(&argv(&["--bootstrap-server", "b", "--execute"])),
            Err(1)
        );
        assert_eq!(
            parse(&argv(&[
                "--bootstrap-server",
                "b",
                "--generate",
                "--topics-to-move-json-file",
                "t.json",
                "--broker-list",
                "1,2",
                "--throttle",
                "10"
            ])),
            Err(1)
        );
        assert_eq!(parse(&argv(&["--list"])), Err(1));
    }

    #[test]
    fn reassignment_json_round_trips_in_kafkas_form() {
        let targets = parse_reassignment_json(
            r#"{"version":1,"partitions":[{"topic":"foo","partition":1,"replicas":[3,1]},{"topic":"foo","partition":0,"replicas":[2,3],"log_dirs":["any","any"]}]}"#,
        )
        .unwrap();
        assert_eq!(targets.len(), 2);
        let parts: BTreeMap<_, _> = targets
            .into_iter()
            .map(|t| (t.partition, t.replicas))
            .collect();
        assert_eq!(
            reassignment_json(&parts, &LogDirs::new()),
            r#"{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[2,3],"log_dirs":["any","any"]},{"topic":"foo","partition":1,"replicas":[3,1],"log_dirs":["any","any"]}]}"#
        );
    }

    #[test]
    fn bad_reassignment_files_are_refused_with_kafkas_messages() {
        let check = |json: &str| {
            let targets = parse_reassignment_json(json)?;
            check_execute_targets(&targets)
        };
        let message = |r: Result<(), Failure>| match r.unwrap_err() {
            Failure::Java { message, .. } | Failure::Terse(message) => message,
        };
        assert_eq!(
            message(check(r#"{"version":1,"partitions":[{"topic":"bar","partition":0,"replicas":[1,1]}]}"#)),
            "Partition replica lists may not contain duplicate entries: bar-0 contains multiple entries for 1"
        );
        assert_eq!(
            message(check(r#"{"version":1,"partitions":[]}"#)),
            "Partition reassignment list cannot be empty"
        );
        assert_eq!(
            message(check(
                r#"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[]}]}"#
            )),
            "Partition replica list cannot be empty"
        );
        assert_eq!(
            message(check(
                r#"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"a","partition":0,"replicas":[2]}]}"#
            )),
            "Partition reassignment contains duplicate topic partitions: a-0"
        );
        assert_eq!(
            message(check(r#"{"version":2,"partitions":[]}"#)),
            "Not supported version field value 2"
        );
    }

    #[test]
    fn list_and_status_read_as_kafkas() {
        let mut ongoing = BTreeMap::new();
        assert_eq!(list_text(&ongoing), "No partition reassignments found.");
        ongoing.insert(
            ("bar".to_string(), 0),
            Ongoing {
                replicas: vec![2, 3],
                adding: vec![2],
                removing: vec![],
            },
        );
        ongoing.insert(
            ("foo".to_string(), 1),
            Ongoing {
                replicas: vec![2, 3, 4, 1],
                adding: vec![4],
                removing: vec![1],
            },
        );
        assert_eq!(
            list_text(&ongoing),
            "Current partition reassignments:\nbar-0: replicas: 2,3. adding: 2.\nfoo-1: replicas: 2,3,4,1. adding: 4. removing: 1."
        );
        let mut states = BTreeMap::new();
        states.insert(("foo".to_string(), 1), (vec![3, 1], vec![3, 1], true));
        states.insert(("foo".to_string(), 0), (vec![2, 3], vec![2, 3], false));
        states.insert(("bar".to_string(), 0), (vec![3], vec![2, 3], true));
        assert_eq!(
            status_text(&states),
            "Status of partition reassignment:\nThere is no active reassignment of partition bar-0, but replica set is 3 rather than 2,3.\nReassignment of partition foo-0 is still in progress.\nReassignment of partition foo-1 is completed."
        );
    }

    /// A capture of Kafka 4.4's tool, without the stack frames Kavka leaves out.
    fn kafka(name: &str) -> String {
        let path = format!(
            "{}/../../compat/reference-outputs/reassign/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .lines()
            .filter(|l| !l.starts_with("\tat "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn output_matches_kafkas_captures() {
        assert_eq!(
            format!("{}\n", list_text(&BTreeMap::new())),
            kafka("list-empty.out")
        );
        let mut ongoing = BTreeMap::new();
        ongoing.insert(
            ("bar".to_string(), 0),
            Ongoing {
                replicas: vec![2, 3],
                adding: vec![2],
                removing: vec![],
            },
        );
        assert_eq!(
            format!("{}\n", list_text(&ongoing)),
            kafka("list-inflight.out")
        );

        let mut states = BTreeMap::new();
        states.insert(("bar".to_string(), 0), (vec![2, 3], vec![2, 3], false));
        assert_eq!(
            format!("{}\n\n", status_text(&states)),
            kafka("verify-inflight.out")
        );
        let mut states = BTreeMap::new();
        for p in [0, 1] {
            states.insert(("foo".to_string(), p), (vec![1], vec![1], true));
        }
        assert!(kafka("verify.out").starts_with(&format!("{}\n\n", status_text(&states))));

        assert_eq!(
            Failure::Terse(CANNOT_EXECUTE_BECAUSE_OF_EXISTING.into()).render(),
            kafka("execute-existing.out")
        );
        assert_eq!(
            Failure::admin_command("Unknown broker id 2").render(),
            kafka("execute-unknown-broker.out")
        );
        let dup = parse_reassignment_json(
            r#"{"version":1,"partitions":[{"topic":"bar","partition":0,"replicas":[1,1]}]}"#,
        )
        .and_then(|t| check_execute_targets(&t))
        .unwrap_err();
        assert_eq!(dup.render(), kafka("execute-dup.out"));
        assert_eq!(
            Failure::execution(3, "Topic nope not found.").render(),
            kafka("execute-unknown-topic.out")
        );
        let current: BTreeMap<TopicPartition, Vec<i32>> =
            [(("bar".to_string(), 0), vec![3])].into();
        let dirs: LogDirs = [(
            (("bar".to_string(), 0), 3),
            "/tmp/kref-reassign/node-3/data".to_string(),
        )]
        .into();
        let rollback = format!(
            "Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback\n",
            reassignment_json(&current, &dirs)
        );
        let kafka_rollback = kafka("execute-throttle.out");
        assert!(kafka_rollback.starts_with(&rollback), "{kafka_rollback}");
        let foo: BTreeMap<TopicPartition, Vec<i32>> = [
            (("foo".to_string(), 0), vec![1, 2]),
            (("foo".to_string(), 1), vec![2, 3]),
        ]
        .into();
        let mut dirs = LogDirs::new();
        for (p, replicas) in &foo {
            for &r in replicas {
                dirs.insert((p.clone(), r), format!("/tmp/kref-reassign/node-{r}/data"));
            }
        }
        let proposed: BTreeMap<TopicPartition, Vec<i32>> = [
            (("foo".to_string(), 0), vec![2, 3]),
            (("foo".to_string(), 1), vec![3, 1]),
        ]
        .into();
        assert_eq!(
            format!(
                "Current partition replica assignment\n{}\n\nProposed partition reassignment configuration\n{}\n",
                reassignment_json(&foo, &dirs),
                reassignment_json(&proposed, &LogDirs::new())
            ),
            kafka("generate.out")
        );
        assert!(kafka_rollback.ends_with(&format!(
            "{RUN_VERIFY_PERIODICALLY}\nThe inter-broker throttle limit was set to 1024 B/s\nSuccessfully started partition reassignment for bar-0\n"
        )));
    }

    #[test]
    fn throttles_name_sources_as_leaders_and_new_replicas_as_followers() {
        let current: BTreeMap<TopicPartition, Vec<i32>> = [
            (("foo".to_string(), 0), vec![1, 2]),
            (("foo".to_string(), 1), vec![2, 3]),
        ]
        .into();
        let proposed: BTreeMap<TopicPartition, Vec<i32>> = [
            (("foo".to_string(), 0), vec![2, 3]),
            (("foo".to_string(), 1), vec![3, 1]),
        ]
        .into();
        let mut ongoing = BTreeMap::new();
        ongoing.insert(
            ("bar".to_string(), 0),
            Ongoing {
                replicas: vec![2, 3],
                adding: vec![2],
                removing: vec![],
            },
        );
        let throttles = throttled_replicas(&move_map(&ongoing, &proposed, &current));
        assert_eq!(
            throttles["foo"],
            ("0:1,0:2,1:2,1:3".into(), "0:3,1:1".into())
        );
        assert_eq!(throttles["bar"], ("0:3".into(), "0:2".into()));
    }

    #[test]
    fn generated_assignments_spread_leaders_and_followers() {
        let placed = assign_replicas(&[1, 2, 3], 3, 2, 0, 0).unwrap();
        assert_eq!(placed, vec![vec![1, 2], vec![2, 3], vec![3, 1]]);
        let placed = assign_replicas(&[1, 2, 3], 2, 2, 1, 1).unwrap();
        assert_eq!(placed, vec![vec![2, 1], vec![3, 2]]);
        match assign_replicas(&[1, 2], 1, 3, 0, 0).unwrap_err() {
            Failure::Java { message, .. } => {
                assert_eq!(
                    message,
                    "Replication factor: 3 larger than available brokers: 2."
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
