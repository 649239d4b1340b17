//! `kafka-metadata-quorum`: the state of the metadata quorum (KRaft), by
//! DescribeQuorum (API key 55). `describe --status` and `describe --replication`
//! (optionally `--human-readable`); the voter changes (`add-controller`,
//! `remove-controller`) are not supported.
//!
//! Kafka parses this tool's arguments with argparse4j, not joptsimple, so its usage
//! and errors look different from the other tools'; they are reproduced here.

use std::collections::HashMap;
use std::ffi::OsString;
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    DescribeClusterRequest, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::{java_exception, ToolError};
use crate::output::{kafka_uuid, wrap_justified};
use crate::wire::Connection;

const PROG: &str = "kafka-metadata-quorum";
/// The metadata log's topic and partition, which DescribeQuorum names.
const METADATA_TOPIC: &str = "__cluster_metadata";
/// argparse4j wraps its messages at this width.
const WRAP_WIDTH: usize = 75;

const MAIN_USAGE: &str = "usage: kafka-metadata-quorum [-h] [--command-config COMMAND_CONFIG]
                             (--bootstrap-server BOOTSTRAP_SERVER |
                             --bootstrap-controller BOOTSTRAP_CONTROLLER)
                             {describe,add-controller,remove-controller}
                             ...";

const DESCRIBE_USAGE: &str = "usage: kafka-metadata-quorum (--bootstrap-server BOOTSTRAP_SERVER |
                             --bootstrap-controller BOOTSTRAP_CONTROLLER)
                             describe [-h] [--status] [--replication]
                             [--human-readable]";

const MAIN_HELP: &str = "
This tool describes kraft metadata quorum status.

positional arguments:
  {describe,add-controller,remove-controller}
    describe             Describe the metadata quorum info
    add-controller       Add a controller to the KRaft controller cluster
    remove-controller    Remove a  controller  from  the  KRaft  controller
                         cluster

optional arguments:
  -h, --help             show this help message and exit
  --bootstrap-server BOOTSTRAP_SERVER
                         A comma-separated list of  host:port  pairs to use
                         for  establishing  the  connection  to  the  Kafka
                         cluster.
  --bootstrap-controller BOOTSTRAP_CONTROLLER
                         A comma-separated list of  host:port  pairs to use
                         for  establishing  the  connection  to  the  Kafka
                         controllers.
  --command-config COMMAND_CONFIG
                         Property file containing configs  to  be passed to
                         Admin Client.  For  add-controller,  the  file  is
                         used to specify the controller properties as well.";

const DESCRIBE_HELP: &str = "
optional arguments:
  -h, --help             show this help message and exit

Status:
  --status               A short  summary  of  the  quorum  status  and the
                         other  provides  detailed  information  about  the
                         status of replication.

Replication:
  --replication          Detailed   information   about   the   status   of
                         replication
  --human-readable       Human-readable output";

/// Where the tool connects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bootstrap {
    /// `--bootstrap-server`: brokers.
    Server(String),
    /// `--bootstrap-controller`: controllers.
    Controller(String),
}

/// What to describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Describe {
    Status,
    Replication { human_readable: bool },
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    bootstrap: Bootstrap,
    command_config: Option<String>,
    command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Describe(Describe),
    /// `add-controller` / `remove-controller`: KIP-853 voter changes.
    VoterChange(String),
}

/// Why parsing stopped: what to print and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exit {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Exit {
    /// argparse4j's error: the usage, then `prog: error: message`, wrapped.
    fn argparse(usage: &str, message: &str) -> Self {
        Self {
            stdout: String::new(),
            stderr: format!(
                "{usage}\n{}\n",
                wrap_justified(&format!("{PROG}: error: {message}"), WRAP_WIDTH)
            ),
            code: 1,
        }
    }

    /// MetadataQuorumCommand's TerseException: only the message.
    fn terse(message: &str) -> Self {
        Self {
            stdout: String::new(),
            stderr: format!("{message}\n"),
            code: 1,
        }
    }

    fn help(usage: &str, body: &str) -> Self {
        Self {
            stdout: format!("{usage}\n{body}\n"),
            stderr: String::new(),
            code: 0,
        }
    }
}

/// Runs kafka-metadata-quorum.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let argv: Vec<String> = argv
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(exit) => {
            print!("{}", exit.stdout);
            eprint!("{}", exit.stderr);
            return Ok(exit.code);
        }
    };
    if let Some(path) = &args.command_config {
        if !std::path::Path::new(path).exists() {
            eprintln!("Properties file {path} does not exist.");
            return Ok(1);
        }
    }
    let describe = match &args.command {
        Command::Describe(d) => *d,
        Command::VoterChange(name) => {
            eprintln!("{name} is not supported by Kavka's kafka-metadata-quorum");
            return Ok(1);
        }
    };
    let (servers, controller) = match &args.bootstrap {
        Bootstrap::Server(s) => (s.as_str(), false),
        Bootstrap::Controller(s) => (s.as_str(), true),
    };
    let result = (|| -> Result<String, Failure> {
        let mut conn = Connection::bootstrap(servers)?;
        match describe {
            Describe::Status => {
                let cluster_id = cluster_id(&mut conn, controller)?;
                let info = describe_quorum(&mut conn)?;
                status_text(&cluster_id, &info)
            }
            Describe::Replication { human_readable } => {
                let info = describe_quorum(&mut conn)?;
                replication_text(&info, human_readable.then(now_ms))
            }
        }
    })();
    match result {
        Ok(text) => {
            print!("{text}");
            Ok(0)
        }
        Err(Failure::Tool(e @ ToolError::Kafka { .. })) => {
            // Kafka prints the ExecutionException's message, then its stack trace
            // (frames left out here).
            let cause = java_exception(&e);
            eprintln!("{cause}");
            eprintln!("java.util.concurrent.ExecutionException: {cause}");
            eprintln!("Caused by: {cause}");
            eprintln!();
            Ok(1)
        }
        Err(Failure::Tool(e)) => {
            eprintln!("{e}");
            Ok(1)
        }
        Err(Failure::Java { class, message }) => {
            eprintln!("{message}");
            eprintln!("{class}: {message}");
            eprintln!();
            Ok(1)
        }
    }
}

/// A failure after parsing: an error from the cluster, or one the Java tool
/// raises itself (class and message).
#[derive(Debug)]
enum Failure {
    Tool(ToolError),
    Java {
        class: &'static str,
        message: String,
    },
}

impl From<ToolError> for Failure {
    fn from(e: ToolError) -> Self {
        Failure::Tool(e)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Parses the arguments as argparse4j does for MetadataQuorumCommand.
fn parse(argv: &[String]) -> Result<Args, Exit> {
    let mut bootstrap: Option<Bootstrap> = None;
    let mut command_config = None;
    let mut i = 0;
    // Global options, up to the subcommand.
    let command = loop {
        let Some(arg) = argv.get(i) else {
            return Err(Exit::argparse(MAIN_USAGE, "too few arguments"));
        };
        i += 1;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        match name {
            "-h" | "--help" => return Err(Exit::help(MAIN_USAGE, MAIN_HELP)),
            "--bootstrap-server" | "--bootstrap-controller" | "--command-config" => {
                let value = match inline {
                    Some(v) => v,
                    None => match argv.get(i) {
                        Some(v) => {
                            i += 1;
                            v.clone()
                        }
                        None => {
                            return Err(Exit::argparse(
                                MAIN_USAGE,
                                &format!("argument {name}: expected one argument"),
                            ))
                        }
                    },
                };
                let given = match name {
                    "--bootstrap-server" => Bootstrap::Server(value),
                    "--bootstrap-controller" => Bootstrap::Controller(value),
                    _ => {
                        command_config = Some(value);
                        continue;
                    }
                };
                match (&bootstrap, &given) {
                    (Some(Bootstrap::Server(_)), Bootstrap::Controller(_)) => {
                        return Err(Exit::argparse(
                            MAIN_USAGE,
                            "argument --bootstrap-controller: not allowed with argument --bootstrap-server",
                        ))
                    }
                    (Some(Bootstrap::Controller(_)), Bootstrap::Server(_)) => {
                        return Err(Exit::argparse(
                            MAIN_USAGE,
                            "argument --bootstrap-server: not allowed with argument --bootstrap-controller",
                        ))
                    }
                    _ => bootstrap = Some(given),
                }
            }
            "describe" | "add-controller" | "remove-controller" => break name.to_string(),
            other if other.starts_with('-') => {
                return Err(Exit::argparse(
                    MAIN_USAGE,
                    &format!("unrecognized arguments: '{arg}'"),
                ))
            }
            other => {
                return Err(Exit::argparse(
                    MAIN_USAGE,
                    &format!(
                        "invalid choice: '{other}' (choose from 'describe', 'add-controller', 'remove-controller')"
                    ),
                ))
            }
        }
    };
    let command = if command == "describe" {
        let (mut status, mut replication, mut human_readable) = (false, false, false);
        for arg in &argv[i..] {
            match arg.as_str() {
                "-h" | "--help" => return Err(Exit::help(DESCRIBE_USAGE, DESCRIBE_HELP)),
                "--status" => status = true,
                "--replication" => replication = true,
                "--human-readable" => human_readable = true,
                other => {
                    return Err(Exit::argparse(
                        DESCRIBE_USAGE,
                        &format!("unrecognized arguments: '{other}'"),
                    ))
                }
            }
        }
        let Some(bootstrap) = bootstrap.clone() else {
            return Err(missing_bootstrap());
        };
        let describe = match (status, replication) {
            (true, true) => {
                return Err(Exit::terse(
                    "Only one of --status or --replication should be specified with describe sub-command",
                ))
            }
            (false, true) => Describe::Replication { human_readable },
            (true, false) if human_readable => {
                return Err(Exit::terse(
                    "The option --human-readable is only supported along with --replication",
                ))
            }
            (true, false) => Describe::Status,
            (false, false) => {
                return Err(Exit::terse(
                    "One of --status or --replication must be specified with describe sub-command",
                ))
            }
        };
        return Ok(Args {
            bootstrap,
            command_config,
            command: Command::Describe(describe),
        });
    } else {
        Command::VoterChange(command)
    };
    let Some(bootstrap) = bootstrap else {
        return Err(missing_bootstrap());
    };
    Ok(Args {
        bootstrap,
        command_config,
        command,
    })
}

fn missing_bootstrap() -> Exit {
    Exit::argparse(
        MAIN_USAGE,
        "one of the arguments --bootstrap-server --bootstrap-controller is required",
    )
}

/// The cluster id, as `describeCluster` reads it (from the controllers with
/// `--bootstrap-controller`).
fn cluster_id(conn: &mut Connection, controller: bool) -> Result<String, ToolError> {
    let version = conn.version::<DescribeClusterRequest>(i16::MAX)?;
    let mut request = DescribeClusterRequest::default();
    if version >= 1 {
        request.endpoint_type = if controller { 2 } else { 1 };
    }
    let response = conn.send_version(request, version)?;
    if response.error_code != 0 {
        return Err(ToolError::from_code(
            response.error_code,
            response.error_message.as_deref(),
        ));
    }
    Ok(response.cluster_id.to_string())
}

/// One voter or observer, as Kafka's `QuorumInfo.ReplicaState`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReplicaState {
    id: i32,
    directory_id: uuid::Uuid,
    log_end_offset: i64,
    last_fetch_timestamp: Option<i64>,
    last_caught_up_timestamp: Option<i64>,
}

/// Kafka's `QuorumInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QuorumInfo {
    leader_id: i32,
    leader_epoch: i32,
    high_watermark: i64,
    voters: Vec<ReplicaState>,
    observers: Vec<ReplicaState>,
    /// Node id → endpoints (listener, host, port), from v2 responses.
    nodes: HashMap<i32, Vec<(String, String, u16)>>,
}

fn describe_quorum(conn: &mut Connection) -> Result<QuorumInfo, ToolError> {
    let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    quorum_info(conn.send(request)?)
}

/// Reads a DescribeQuorum response as Kafka's admin client does.
fn quorum_info(response: DescribeQuorumResponse) -> Result<QuorumInfo, ToolError> {
    if response.error_code != 0 {
        return Err(ToolError::from_code(
            response.error_code,
            response.error_message.as_deref(),
        ));
    }
    let unexpected = |what: &str| ToolError::Kafka {
        code: -1,
        message: format!("DescribeQuorumResponse {what}"),
    };
    let [topic] = response.topics.as_slice() else {
        return Err(unexpected("had an unexpected number of topics"));
    };
    if topic.topic_name.0.as_str() != METADATA_TOPIC {
        return Err(unexpected("had an unexpected topic"));
    }
    let [partition] = topic.partitions.as_slice() else {
        return Err(unexpected("had an unexpected number of partitions"));
    };
    if partition.partition_index != 0 {
        return Err(unexpected("had an unexpected partition"));
    }
    if partition.error_code != 0 {
        return Err(ToolError::from_code(
            partition.error_code,
            partition.error_message.as_deref(),
        ));
    }
    let replica =
        |r: &kafka_protocol::messages::describe_quorum_response::ReplicaState| ReplicaState {
            id: r.replica_id.0,
            directory_id: r.replica_directory_id,
            log_end_offset: r.log_end_offset,
            last_fetch_timestamp: (r.last_fetch_timestamp != -1).then_some(r.last_fetch_timestamp),
            last_caught_up_timestamp: (r.last_caught_up_timestamp != -1)
                .then_some(r.last_caught_up_timestamp),
        };
    Ok(QuorumInfo {
        leader_id: partition.leader_id.0,
        leader_epoch: partition.leader_epoch,
        high_watermark: partition.high_watermark,
        voters: partition.current_voters.iter().map(replica).collect(),
        observers: partition.observers.iter().map(replica).collect(),
        nodes: response
            .nodes
            .iter()
            .map(|n| {
                let endpoints = n
                    .listeners
                    .iter()
                    .map(|l| (l.name.to_string(), l.host.to_string(), l.port))
                    .collect();
                (n.node_id.0, endpoints)
            })
            .collect(),
    })
}

/// The leader among the voters; Kafka's `Optional.get()` fails without one.
fn leader(info: &QuorumInfo) -> Result<usize, Failure> {
    info.voters
        .iter()
        .position(|v| v.id == info.leader_id)
        .ok_or_else(|| Failure::Java {
            class: "java.util.NoSuchElementException",
            message: "No value present".to_string(),
        })
}

/// `describe --status`.
fn status_text(cluster_id: &str, info: &QuorumInfo) -> Result<String, Failure> {
    let leader_index = leader(info)?;
    let leader = &info.voters[leader_index];
    // Stream.min keeps the first of equal elements.
    let (lag_index, max_lag) = info
        .voters
        .iter()
        .enumerate()
        .fold(None::<(usize, &ReplicaState)>, |min, (i, v)| match min {
            Some((_, m)) if m.log_end_offset <= v.log_end_offset => min,
            _ => Some((i, v)),
        })
        .unwrap_or((leader_index, leader));
    let max_follower_lag = leader.log_end_offset - max_lag.log_end_offset;
    let max_follower_lag_time_ms = if lag_index == leader_index {
        0
    } else {
        match (
            leader.last_caught_up_timestamp,
            max_lag.last_caught_up_timestamp,
        ) {
            (Some(l), Some(f)) => l - f,
            _ => -1,
        }
    };
    Ok(format!(
        "ClusterId:              {cluster_id}\n\
         LeaderId:               {}\n\
         LeaderEpoch:            {}\n\
         HighWatermark:          {}\n\
         MaxFollowerLag:         {max_follower_lag}\n\
         MaxFollowerLagTimeMs:   {max_follower_lag_time_ms}\n\
         CurrentVoters:          {}\n\
         CurrentObservers:       {}\n",
        info.leader_id,
        info.leader_epoch,
        info.high_watermark,
        replicas_json(info, &info.voters),
        replicas_json(info, &info.observers),
    ))
}

/// `[{"id": 1, "directoryId": "…", "endpoints": ["CONTROLLER://host:port"]}, …]`
fn replicas_json(info: &QuorumInfo, replicas: &[ReplicaState]) -> String {
    let nodes: Vec<String> = replicas
        .iter()
        .map(|r| {
            let mut s = format!("{{\"id\": {}", r.id);
            if !r.directory_id.is_nil() {
                s.push_str(&format!(
                    ", \"directoryId\": \"{}\"",
                    kafka_uuid(&r.directory_id)
                ));
            }
            let endpoints = info.nodes.get(&r.id).map(Vec::as_slice).unwrap_or(&[]);
            if !endpoints.is_empty() {
                let list: Vec<String> = endpoints
                    .iter()
                    .map(|(name, host, port)| format!("\"{name}://{host}:{port}\""))
                    .collect();
                s.push_str(&format!(", \"endpoints\": [{}]", list.join(", ")));
            }
            s.push('}');
            s
        })
        .collect();
    format!("[{}]", nodes.join(", "))
}

/// `describe --replication`: the leader, the other voters, then the observers.
/// With `now_ms`, timestamps are printed as "N ms ago" (`--human-readable`).
fn replication_text(info: &QuorumInfo, now_ms: Option<i64>) -> Result<String, Failure> {
    let leader = &info.voters[leader(info)?];
    let mut rows = Vec::new();
    let ordered = std::iter::once((leader, "Leader"))
        .chain(
            info.voters
                .iter()
                .filter(|v| v.id != info.leader_id)
                .map(|v| (v, "Follower")),
        )
        .chain(info.observers.iter().map(|o| (o, "Observer")));
    for (r, status) in ordered {
        let time = |t: Option<i64>, what: &str| -> Result<String, Failure> {
            match (t, now_ms) {
                (None, _) => Ok("-1".to_string()),
                (Some(t), None) => Ok(t.to_string()),
                (Some(t), Some(now)) => {
                    if t <= 0 || t > now {
                        return Err(Failure::Java {
                            class: "org.apache.kafka.common.KafkaException",
                            message: format!(
                                "Error while computing relative time, possible drift in system clock.\n\
                                 Current timestamp is {now}, {what} timestamp is {t}"
                            ),
                        });
                    }
                    Ok(format!("{} ms ago", now - t))
                }
            }
        };
        rows.push(vec![
            r.id.to_string(),
            kafka_uuid(&r.directory_id),
            r.log_end_offset.to_string(),
            (leader.log_end_offset - r.log_end_offset).to_string(),
            time(r.last_fetch_timestamp, "last fetch")?,
            time(r.last_caught_up_timestamp, "last caught up")?,
            status.to_string(),
        ]);
    }
    Ok(pretty_table(
        &[
            "NodeId",
            "DirectoryId",
            "LogEndOffset",
            "Lag",
            "LastFetchTimestamp",
            "LastCaughtUpTimestamp",
            "Status",
        ],
        &rows,
    ))
}

/// Kafka's `ToolsUtils.prettyPrintTable`: every cell padded to its column's
/// width and followed by a tab.
fn pretty_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        for (cell, w) in cells.zip(&widths) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            out.push('\t');
        }
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// compat/reference-outputs/cluster-tools/transcript.txt, the usage block.
    fn usage_error(last: &str) -> String {
        format!("{MAIN_USAGE}\n{last}\n")
    }

    #[test]
    fn describe_status_and_replication_parse() {
        let a = parse(&args("--bootstrap-server h:1 describe --status")).unwrap();
        assert_eq!(a.bootstrap, Bootstrap::Server("h:1".into()));
        assert_eq!(a.command, Command::Describe(Describe::Status));
        let a = parse(&args(
            "--bootstrap-controller=c:1 describe --replication --human-readable",
        ))
        .unwrap();
        assert_eq!(a.bootstrap, Bootstrap::Controller("c:1".into()));
        assert_eq!(
            a.command,
            Command::Describe(Describe::Replication {
                human_readable: true
            })
        );
    }

    #[test]
    fn no_subcommand_is_too_few_arguments() {
        let e = parse(&args("")).unwrap_err();
        assert_eq!(
            e.stderr,
            usage_error("kafka-metadata-quorum: error: too few arguments")
        );
        assert_eq!(e.code, 1);
        assert_eq!(parse(&args("--bootstrap-server h:1")).unwrap_err(), e);
    }

    #[test]
    fn both_bootstraps_are_refused_in_kafkas_words() {
        let e = parse(&args(
            "--bootstrap-server h:1 --bootstrap-controller c:1 describe --status",
        ))
        .unwrap_err();
        assert_eq!(
            e.stderr,
            usage_error(
                "kafka-metadata-quorum: error: argument  --bootstrap-controller: not allowed\n\
                 with argument --bootstrap-server"
            )
        );
    }

    #[test]
    fn a_bootstrap_is_required() {
        let e = parse(&args("describe --status")).unwrap_err();
        assert_eq!(
            e.stderr,
            usage_error(
                "kafka-metadata-quorum: error: one  of  the  arguments --bootstrap-server --\n\
                 bootstrap-controller is required"
            )
        );
    }

    #[test]
    fn an_unknown_subcommand_lists_the_choices() {
        let e = parse(&args("--bootstrap-server h:1 frobnicate")).unwrap_err();
        assert_eq!(
            e.stderr,
            usage_error(
                "kafka-metadata-quorum: error:  invalid  choice:  'frobnicate'  (choose from\n\
                 'describe', 'add-controller', 'remove-controller')"
            )
        );
    }

    #[test]
    fn unknown_options_are_named() {
        let e = parse(&args("--bootstrap-server h:1 describe --bogus")).unwrap_err();
        assert_eq!(
            e.stderr,
            format!("{DESCRIBE_USAGE}\nkafka-metadata-quorum: error: unrecognized arguments: '--bogus'\n")
        );
        let e = parse(&args("--bootstrap-server h:1 --bogus describe --status")).unwrap_err();
        assert_eq!(
            e.stderr,
            usage_error("kafka-metadata-quorum: error: unrecognized arguments: '--bogus'")
        );
    }

    #[test]
    fn describe_needs_exactly_one_of_status_and_replication() {
        let terse = |s: &str| parse(&args(s)).unwrap_err().stderr;
        assert_eq!(
            terse("--bootstrap-server h:1 describe"),
            "One of --status or --replication must be specified with describe sub-command\n"
        );
        assert_eq!(
            terse("--bootstrap-server h:1 describe --status --replication"),
            "Only one of --status or --replication should be specified with describe sub-command\n"
        );
        assert_eq!(
            terse("--bootstrap-server h:1 describe --status --human-readable"),
            "The option --human-readable is only supported along with --replication\n"
        );
    }

    #[test]
    fn help_goes_to_stdout_with_status_zero() {
        let e = parse(&args("-h")).unwrap_err();
        assert_eq!(e.code, 0);
        assert!(e.stdout.starts_with(MAIN_USAGE));
        assert!(e
            .stdout
            .contains("This tool describes kraft metadata quorum status."));
        let e = parse(&args("--bootstrap-server h:1 describe -h")).unwrap_err();
        assert!(e
            .stdout
            .contains("--human-readable       Human-readable output"));
    }

    fn replica(id: i32, leo: i64, fetch: i64, caught_up: i64) -> ReplicaState {
        ReplicaState {
            id,
            directory_id: uuid::Uuid::nil(),
            log_end_offset: leo,
            last_fetch_timestamp: (fetch != -1).then_some(fetch),
            last_caught_up_timestamp: (caught_up != -1).then_some(caught_up),
        }
    }

    fn three_voters(leos: [i64; 3], caught_up: [i64; 3]) -> QuorumInfo {
        let nodes = (1..=3)
            .map(|id| {
                let port = 19291 + id as u16;
                (
                    id,
                    vec![("CONTROLLER".to_string(), "127.0.0.1".to_string(), port)],
                )
            })
            .collect();
        QuorumInfo {
            leader_id: 1,
            leader_epoch: 1,
            high_watermark: 318,
            voters: (0..3)
                .map(|i| replica(i as i32 + 1, leos[i], caught_up[i], caught_up[i]))
                .collect(),
            observers: vec![],
            nodes,
        }
    }

    #[test]
    fn status_with_a_lagging_voter_is_kafkas() {
        // Transcript section 2 (node 3 stopped): lag and lag time of the voter with
        // the smallest log end offset.
        let info = three_voters(
            [318, 318, 272],
            [1796211748736, 1796211748611, 1796211725964],
        );
        assert_eq!(
            status_text("YqycOvI6Q9uNaSZZmz2AAQ", &info).unwrap(),
            "ClusterId:              YqycOvI6Q9uNaSZZmz2AAQ\n\
             LeaderId:               1\n\
             LeaderEpoch:            1\n\
             HighWatermark:          318\n\
             MaxFollowerLag:         46\n\
             MaxFollowerLagTimeMs:   22772\n\
             CurrentVoters:          [{\"id\": 1, \"endpoints\": [\"CONTROLLER://127.0.0.1:19292\"]}, {\"id\": 2, \"endpoints\": [\"CONTROLLER://127.0.0.1:19293\"]}, {\"id\": 3, \"endpoints\": [\"CONTROLLER://127.0.0.1:19294\"]}]\n\
             CurrentObservers:       []\n"
        );
    }

    #[test]
    fn status_of_a_caught_up_quorum_has_zero_lag() {
        let info = three_voters([149, 149, 149], [5, 4, 3]);
        let text = status_text("c", &info).unwrap();
        assert!(text.contains("MaxFollowerLag:         0\nMaxFollowerLagTimeMs:   0\n"));
    }

    #[test]
    fn voters_without_endpoints_or_with_directory_ids() {
        let mut info = three_voters([1, 1, 1], [1, 1, 1]);
        info.nodes.clear();
        info.voters.truncate(1);
        info.voters[0].directory_id = uuid::Uuid::from_u128(1);
        assert_eq!(
            replicas_json(&info, &info.voters),
            "[{\"id\": 1, \"directoryId\": \"AAAAAAAAAAAAAAAAAAAAAQ\"}]"
        );
    }

    #[test]
    fn replication_table_is_kafkas() {
        // Transcript section 2, `describe --replication`.
        let info = three_voters(
            [321, 321, 272],
            [1796211748736, 1796211748611, 1796211724556],
        );
        let mut info = info;
        info.voters[2].last_fetch_timestamp = Some(1796211725037);
        assert_eq!(
            replication_text(&info, None).unwrap(),
            "NodeId\tDirectoryId           \tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus  \t\n\
             1     \tAAAAAAAAAAAAAAAAAAAAAA\t321         \t0  \t1796211748736     \t1796211748736        \tLeader  \t\n\
             2     \tAAAAAAAAAAAAAAAAAAAAAA\t321         \t0  \t1796211748611     \t1796211748611        \tFollower\t\n\
             3     \tAAAAAAAAAAAAAAAAAAAAAA\t272         \t49 \t1796211725037     \t1796211724556        \tFollower\t\n"
        );
    }

    #[test]
    fn human_readable_replication_counts_back_from_now() {
        let info = three_voters([324, 324, 272], [1000, 958, 500]);
        let text = replication_text(&info, Some(1011)).unwrap();
        assert_eq!(
            text.lines().nth(3).unwrap(),
            "3     \tAAAAAAAAAAAAAAAAAAAAAA\t272         \t52 \t511 ms ago        \t511 ms ago           \tFollower\t"
        );
        // A timestamp from the future is Kafka's clock-drift error.
        assert!(matches!(
            replication_text(&info, Some(999)),
            Err(Failure::Java { .. })
        ));
    }

    #[test]
    fn the_leader_row_comes_first_and_observers_last() {
        let mut info = three_voters([10, 10, 10], [1, 1, 1]);
        info.leader_id = 2;
        info.observers = vec![replica(4, 7, -1, -1)];
        let text = replication_text(&info, None).unwrap();
        let ids: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split('\t').next().unwrap().trim_end())
            .collect();
        assert_eq!(ids, ["2", "1", "3", "4"]);
        assert!(text
            .lines()
            .last()
            .unwrap()
            .contains("\t-1                \t-1"));
        assert!(text.lines().last().unwrap().ends_with("Observer\t"));
    }

    #[test]
    fn no_leader_is_javas_no_value_present() {
        let mut info = three_voters([1, 1, 1], [1, 1, 1]);
        info.leader_id = -1;
        match status_text("c", &info) {
            Err(Failure::Java { message, .. }) => assert_eq!(message, "No value present"),
            other => panic!("{other:?}"),
        }
    }
}
