//! `kafka-leader-election`: preferred or unclean leader elections by ElectLeaders
//! (API key 43), for one partition, the partitions of a JSON file, or all.
//!
//! Kafka's tool prints a failure's message and then its stack trace on stderr; the
//! stack frames (`\tat …`) are left out here, the rest is Kafka's text.

use std::collections::HashMap;
use std::ffi::OsString;

use clap::{CommandFactory, Parser};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::error::{java_exception_class, ToolError};
use crate::output::java_hashmap_order;
use crate::wire::Connection;

/// The time the controller may take, Kafka's `default.api.timeout.ms` for this tool.
const TIMEOUT_MS: i32 = 30_000;
const ELECTION_NOT_NEEDED: i16 = 84;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const DESCRIPTION: &str = "This tool attempts to elect a new leader for a set of topic partitions. The type of elections supported are preferred replicas and unclean replicas.";

/// Kafka's LeaderElectionCommandOptions. Values are read as strings and converted
/// where Kafka's joptsimple converts them, so errors come in Kafka's order.
#[derive(Parser, Debug, Default)]
#[command(name = "kafka-leader-election", about = DESCRIPTION)]
#[command(
    infer_long_args = true,
    disable_version_flag = true,
    disable_help_flag = true
)]
pub(crate) struct Args {
    /// A hostname and port for the broker to connect to, in the form host:port. Multiple comma separated URLs can be given. REQUIRED.
    #[arg(long, value_name = "host:port")]
    bootstrap_server: Option<String>,
    /// (DEPRECATED) Configuration properties files to pass to the admin client. This option will be removed in a future version. Use --command-config instead.
    #[arg(long = "admin.config", value_name = "config file")]
    admin_config: Option<String>,
    /// Config properties file to pass to the admin client.
    #[arg(long, value_name = "Config file")]
    command_config: Option<String>,
    /// The JSON file with the list  of partition for which leader elections should be performed. Not allowed if --all-topic-partitions or --topic flags are specified.
    #[arg(long, value_name = "Path to JSON file")]
    path_to_json_file: Option<String>,
    /// Name of topic for which to perform an election. Not allowed if --path-to-json-file or --all-topic-partitions is specified.
    #[arg(long, value_name = "topic name")]
    topic: Option<String>,
    /// Partition id for which to perform an election. REQUIRED if --topic is specified.
    #[arg(long, value_name = "partition id")]
    partition: Option<String>,
    /// Perform election on all of the eligible topic partitions based on the type of election (see the --election-type flag). Not allowed if --topic or --path-to-json-file is specified.
    #[arg(long)]
    all_topic_partitions: bool,
    /// Type of election to attempt. Possible values are "preferred" for preferred leader election or "unclean" for unclean leader election. REQUIRED.
    #[arg(long, value_name = "election type")]
    election_type: Option<String>,
    /// Print usage information.
    #[arg(long)]
    help: bool,
    /// Display Kafka version.
    #[arg(long)]
    version: bool,
}

/// Kafka's `ElectionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ElectionType {
    Preferred,
    Unclean,
}

impl ElectionType {
    fn wire(self) -> i8 {
        match self {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        }
    }
}

impl std::fmt::Display for ElectionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ElectionType::Preferred => "PREFERRED",
            ElectionType::Unclean => "UNCLEAN",
        })
    }
}

/// A Java exception as the tool reports it: the message on one line, then the
/// exception (class and message), its causes and suppressed exceptions, and an
/// empty line (where the stack trace ends).
#[derive(Debug, Clone, PartialEq, Eq)]
struct JavaFailure {
    message: String,
    trace: Vec<String>,
}

impl JavaFailure {
    /// An exception of `class` with `message` and no cause.
    fn new(class: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            trace: vec![format!("{class}: {message}")],
            message,
        }
    }

    fn admin_command(message: impl Into<String>) -> Self {
        Self::new(
            "org.apache.kafka.tools.AdminCommandFailedException",
            message,
        )
    }

    fn admin_operation(message: impl Into<String>) -> Self {
        Self::new("org.apache.kafka.tools.AdminOperationException", message)
    }

    /// joptsimple's failure to convert an option's argument.
    fn conversion(value: &str, option: &str, causes: &[&str]) -> Self {
        let mut failure = Self::new(
            "joptsimple.OptionArgumentConversionException",
            format!("Cannot parse argument '{value}' of option {option}"),
        );
        failure
            .trace
            .extend(causes.iter().map(|c| format!("Caused by: {c}")));
        failure
    }

    /// `new RuntimeException(cause)`: its message is the cause's `toString()`.
    fn runtime(cause: String, causes: &[String]) -> Self {
        let mut trace = vec![format!("java.lang.RuntimeException: {cause}")];
        trace.extend(causes.iter().map(|c| format!("Caused by: {c}")));
        Self {
            message: cause,
            trace,
        }
    }

    fn stderr(&self) -> String {
        format!("{}\n{}\n\n", self.message, self.trace.join("\n"))
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Election {
    bootstrap: String,
    election_type: ElectionType,
    /// None: all partitions (`--all-topic-partitions`).
    partitions: Option<Vec<(String, i32)>>,
}

/// Runs kafka-leader-election.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let args = match Args::try_parse_from(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprint!("{}", clap_failure(&e).stderr());
            return Ok(1);
        }
    };
    if argv.len() <= 1 {
        eprintln!("{DESCRIPTION}");
        eprintln!("{}", Args::command().render_help());
        return Ok(1);
    }
    if args.help {
        println!("{DESCRIPTION}");
        println!("{}", Args::command().render_help());
        return Ok(0);
    }
    if args.version {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    let election = match election(&args, |path| std::fs::read_to_string(path)) {
        Ok(e) => e,
        Err(f) => {
            eprint!("{}", f.stderr());
            return Ok(1);
        }
    };
    if args.admin_config.is_some() {
        println!("Option --admin.config has been deprecated and will be removed in a future version. Use --command-config instead.");
    }
    let response = Connection::bootstrap(&election.bootstrap).and_then(|mut conn| {
        if election.election_type == ElectionType::Unclean
            && conn.version::<ElectLeadersRequest>(i16::MAX)? < 1
        {
            return Err(ToolError::Kafka {
                code: 35,
                message: "Unclean leader election is not supported by the broker".to_string(),
            });
        }
        conn.send(request(&election))
    });
    let report = match response {
        Ok(r) => report(election.election_type, &r),
        Err(e @ ToolError::Kafka { .. }) => Err(top_level_failure(&e)),
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    match report {
        Ok(out) => {
            print!("{}", out.stdout);
            match out.failure {
                None => Ok(0),
                Some(f) => {
                    eprint!("{}", f.stderr());
                    Ok(1)
                }
            }
        }
        Err((stdout, failure)) => {
            print!("{stdout}");
            eprint!("{}", failure.stderr());
            Ok(1)
        }
    }
}

/// joptsimple's errors for what clap refuses while parsing.
fn clap_failure(e: &clap::Error) -> JavaFailure {
    use clap::error::{ContextKind, ErrorKind};
    let arg = e
        .get(ContextKind::InvalidArg)
        .map(ToString::to_string)
        .unwrap_or_default();
    let name = arg.trim_start_matches('-');
    let name = name.split_once([' ', '=']).map_or(name, |(n, _)| n);
    match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::NoEquals => JavaFailure::new(
            "joptsimple.OptionMissingRequiredArgumentException",
            format!("Option {name} requires an argument"),
        ),
        ErrorKind::UnknownArgument => JavaFailure::new(
            "joptsimple.UnrecognizedOptionException",
            format!("{name} is not a recognized option"),
        ),
        _ => JavaFailure::new(
            "joptsimple.OptionException",
            e.render().to_string().trim().to_string(),
        ),
    }
}

/// Kafka's `validate()`, then the conversions of the election type, the JSON file
/// and the partition, in Kafka's order.
fn election(
    args: &Args,
    read: impl Fn(&str) -> std::io::Result<String>,
) -> Result<Election, JavaFailure> {
    let mut missing = Vec::new();
    if args.bootstrap_server.is_none() {
        missing.push("bootstrap-server");
    }
    if args.election_type.is_none() {
        missing.push("election-type");
    }
    if !missing.is_empty() {
        return Err(JavaFailure::admin_command(format!(
            "Missing required option(s): {}",
            missing.join(", ")
        )));
    }
    if args.admin_config.is_some() && args.command_config.is_some() {
        return Err(JavaFailure::admin_command(
            "Option \"[admin.config]\" can't be used with option \"[command-config]\"",
        ));
    }
    let exclusive = [
        args.topic.is_some(),
        args.all_topic_partitions,
        args.path_to_json_file.is_some(),
    ];
    if exclusive.iter().filter(|x| **x).count() != 1 {
        return Err(JavaFailure::admin_command(
            "One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file",
        ));
    }
    if args.topic.is_some() && args.partition.is_none() {
        return Err(JavaFailure::admin_command(
            "Missing required option(s): partition",
        ));
    }
    if args.topic.is_none() && args.partition.is_some() {
        return Err(JavaFailure::admin_command(
            "Option partition is only allowed if topic is used",
        ));
    }
    let raw_type = args.election_type.as_deref().unwrap_or_default();
    let election_type = match raw_type.to_ascii_uppercase().as_str() {
        "PREFERRED" => ElectionType::Preferred,
        "UNCLEAN" => ElectionType::Unclean,
        _ => {
            return Err(JavaFailure::conversion(
                raw_type,
                "election-type",
                &[&format!(
                    "joptsimple.ValueConversionException: Value [{raw_type}] is not one of [[PREFERRED,UNCLEAN]]"
                )],
            ))
        }
    };
    let partitions = if let Some(path) = &args.path_to_json_file {
        let text = read(path).map_err(|e| unreadable(path, &e))?;
        Some(parse_election_json(&text)?)
    } else if let (Some(topic), Some(partition)) = (&args.topic, &args.partition) {
        let index = partition.parse::<i32>().map_err(|_| {
            let nfe = format!("java.lang.NumberFormatException: For input string: \"{partition}\"");
            JavaFailure::conversion(
                partition,
                "partition",
                &[
                    &format!("joptsimple.internal.ReflectionException: {nfe}"),
                    &nfe,
                ],
            )
        })?;
        Some(vec![(topic.clone(), index)])
    } else {
        None
    };
    Ok(Election {
        bootstrap: args.bootstrap_server.clone().unwrap_or_default(),
        election_type,
        partitions,
    })
}

/// Kafka's `Utils.readFileAsString` failure, wrapped in a RuntimeException.
fn unreadable(path: &str, e: &std::io::Error) -> JavaFailure {
    let io = format!("java.io.IOException: Unable to read file {path}");
    let nio = match e.kind() {
        std::io::ErrorKind::NotFound => format!("java.nio.file.NoSuchFileException: {path}"),
        std::io::ErrorKind::PermissionDenied => {
            format!("java.nio.file.AccessDeniedException: {path}")
        }
        _ => format!("java.io.IOException: {e}"),
    };
    JavaFailure::runtime(io.clone(), &[io, nio])
}

/// The partitions of a `--path-to-json-file` document:
/// `{"partitions": [{"topic": "foo", "partition": 1}, …]}`, without duplicates.
fn parse_election_json(text: &str) -> Result<Vec<(String, i32)>, JavaFailure> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return Err(JavaFailure::admin_operation(
            "Replica election data is empty",
        ));
    };
    let mapping = |what: &str| {
        let cause = format!("com.fasterxml.jackson.databind.JsonMappingException: {what}");
        JavaFailure::runtime(cause.clone(), &[cause])
    };
    let Some(object) = json.as_object() else {
        return Err(mapping(&format!("Expected JSON object, received {json}")));
    };
    let Some(list) = object.get("partitions") else {
        return Err(JavaFailure::admin_operation(
            "Replica election data is missing \"partitions\" field",
        ));
    };
    let Some(list) = list.as_array() else {
        return Err(mapping(&format!("Expected JSON array, received {list}")));
    };
    let mut partitions = Vec::new();
    for entry in list {
        let Some(entry) = entry.as_object() else {
            return Err(mapping(&format!("Expected JSON object, received {entry}")));
        };
        let field = |name: &str| {
            entry
                .get(name)
                .ok_or_else(|| mapping(&format!("No such field exists: `{name}`")))
        };
        let topic = field("topic")?;
        let topic = topic
            .as_str()
            .ok_or_else(|| mapping(&format!("Expected `String` value, received {topic}")))?;
        let partition = field("partition")?;
        let partition = partition
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| mapping(&format!("Expected `Int` value, received {partition}")))?;
        partitions.push((topic.to_string(), partition));
    }
    let mut seen = std::collections::HashSet::new();
    let duplicates: Vec<(String, i32)> = partitions
        .iter()
        .filter(|p| !seen.insert((*p).clone()))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !duplicates.is_empty() {
        let duplicates = java_hashmap_order(duplicates, |(t, p)| (t.as_str(), *p));
        let names: Vec<String> = duplicates.iter().map(|(t, p)| format!("{t}-{p}")).collect();
        return Err(JavaFailure::admin_operation(format!(
            "Replica election data contains duplicate partitions: [{}]",
            names.join(", ")
        )));
    }
    let mut unique = std::collections::HashSet::new();
    partitions.retain(|p| unique.insert(p.clone()));
    Ok(partitions)
}

/// The ElectLeaders request for `election`, partitions grouped by topic.
fn request(election: &Election) -> ElectLeadersRequest {
    let topic_partitions = election.partitions.as_ref().map(|partitions| {
        let mut by_topic: Vec<(String, Vec<i32>)> = Vec::new();
        for (topic, partition) in partitions {
            match by_topic.iter_mut().find(|(t, _)| t == topic) {
                Some((_, ps)) => ps.push(*partition),
                None => by_topic.push((topic.clone(), vec![*partition])),
            }
        }
        by_topic
            .into_iter()
            .map(|(topic, partitions)| {
                TopicPartitions::default()
                    .with_topic(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(partitions)
            })
            .collect()
    });
    ElectLeadersRequest::default()
        .with_election_type(election.election_type.wire())
        .with_topic_partitions(topic_partitions)
        .with_timeout_ms(TIMEOUT_MS)
}

/// What the tool prints for a response: stdout, and the failure (on stderr, exit
/// status 1) when some partitions could not be elected.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Report {
    stdout: String,
    failure: Option<JavaFailure>,
}

/// A top-level error of the call: Kafka wraps it (and prints a line for a timeout
/// or an authorization failure).
fn top_level_failure(e: &ToolError) -> (String, JavaFailure) {
    let ToolError::Kafka { code, message } = e else {
        return (String::new(), JavaFailure::admin_command(e.to_string()));
    };
    let cause = format!("{}: {message}", java_exception_class(*code));
    match *code {
        7 => {
            let text = "Timeout waiting for election results";
            let mut failure = JavaFailure::admin_command(text);
            failure.trace.push(format!("Caused by: {cause}"));
            (format!("{text}\n"), failure)
        }
        CLUSTER_AUTHORIZATION_FAILED => {
            let text = "Not authorized to perform leader election";
            (format!("{text}\n"), JavaFailure::admin_command(text))
        }
        _ => {
            let execution = format!("java.util.concurrent.ExecutionException: {cause}");
            (
                String::new(),
                JavaFailure::runtime(execution.clone(), &[execution, cause]),
            )
        }
    }
}

/// Kafka's `electLeaders` output for a response: the partitions elected, those
/// that already had their leader, and one line per failure, each group in the
/// order of the Java hash sets and maps Kafka collects them in.
fn report(
    election_type: ElectionType,
    response: &ElectLeadersResponse,
) -> Result<Report, (String, JavaFailure)> {
    if response.error_code != 0 {
        return Err(top_level_failure(&ToolError::from_code(
            response.error_code,
            None,
        )));
    }
    // The admin client's result map, filled in response order.
    let mut results: Vec<(String, i32, i16, Option<String>)> = Vec::new();
    for topic in &response.replica_election_results {
        for p in &topic.partition_result {
            results.push((
                topic.topic.0.to_string(),
                p.partition_id,
                p.error_code,
                p.error_message.as_ref().map(ToString::to_string),
            ));
        }
    }
    let mut dedup: HashMap<(String, i32), usize> = HashMap::new();
    let mut unique = Vec::new();
    for r in results {
        match dedup.get(&(r.0.clone(), r.1)) {
            Some(&i) => unique[i] = r,
            None => {
                dedup.insert((r.0.clone(), r.1), unique.len());
                unique.push(r);
            }
        }
    }
    let results = java_hashmap_order(unique, |r| (r.0.as_str(), r.1));
    let (mut succeeded, mut noop, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for r in results {
        match r.2 {
            0 => succeeded.push(r),
            ELECTION_NOT_NEEDED => noop.push(r),
            _ => failed.push(r),
        }
    }
    let names = |rows: Vec<(String, i32, i16, Option<String>)>| {
        java_hashmap_order(rows, |r| (r.0.as_str(), r.1))
            .iter()
            .map(|r| format!("{}-{}", r.0, r.1))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut stdout = String::new();
    if !succeeded.is_empty() {
        stdout.push_str(&format!(
            "Successfully completed leader election ({election_type}) for partitions {}\n",
            names(succeeded)
        ));
    }
    if !noop.is_empty() {
        stdout.push_str(&format!(
            "Valid replica already elected for partitions {}\n",
            names(noop)
        ));
    }
    if failed.is_empty() {
        return Ok(Report {
            stdout,
            failure: None,
        });
    }
    let failed = java_hashmap_order(failed, |r| (r.0.as_str(), r.1));
    let mut failure =
        JavaFailure::admin_command(format!("{} replica(s) could not be elected", failed.len()));
    for (topic, partition, code, message) in &failed {
        let exception = match ToolError::from_code(*code, message.as_deref()) {
            ToolError::Kafka { message, .. } => {
                format!("{}: {message}", java_exception_class(*code))
            }
            other => other.to_string(),
        };
        stdout.push_str(&format!(
            "Error completing leader election ({election_type}) for partition: {topic}-{partition}: {exception}\n"
        ));
        failure.trace.push(format!("\tSuppressed: {exception}"));
    }
    Ok(Report {
        stdout,
        failure: Some(failure),
    })
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::elect_leaders_response::{
        PartitionResult, ReplicaElectionResult,
    };

    use super::*;

    fn parse(line: &str) -> Result<Election, JavaFailure> {
        let argv = std::iter::once("kafka-leader-election").chain(line.split_whitespace());
        let args = Args::try_parse_from(argv).map_err(|e| clap_failure(&e))?;
        election(&args, |path| {
            match path {
            "two.json" => Ok(
                "{\"partitions\":\n\t[{\"topic\": \"orders\", \"partition\": 1},\n\t {\"topic\": \"orders\", \"partition\": 2}]\n}\n"
                    .to_string(),
            ),
            "dup.json" => Ok("{\"partitions\": [{\"topic\": \"orders\", \"partition\": 1}, {\"topic\": \"orders\", \"partition\": 1}]}".to_string()),
            "nopart.json" => Ok("{\"topics\": []}".to_string()),
            "bad.json" => Ok("{not json".to_string()),
            _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
        }
        })
    }

    fn stderr(line: &str) -> String {
        parse(line).unwrap_err().stderr()
    }

    const B: &str = "--bootstrap-server 127.0.0.1:19192";

    #[test]
    fn one_partition_or_all() {
        let e = parse(&format!(
            "{B} --election-type PREFERRED --topic orders --partition 0"
        ))
        .unwrap();
        assert_eq!(e.election_type, ElectionType::Preferred);
        assert_eq!(e.partitions, Some(vec![("orders".to_string(), 0)]));
        let e = parse(&format!(
            "{B} --election-type unclean --all-topic-partitions"
        ))
        .unwrap();
        assert_eq!(e.election_type, ElectionType::Unclean);
        assert_eq!(e.partitions, None);
        let e = parse(&format!(
            "{B} --election-type preferred --path-to-json-file two.json"
        ))
        .unwrap();
        assert_eq!(
            e.partitions,
            Some(vec![("orders".to_string(), 1), ("orders".to_string(), 2)])
        );
    }

    // Each expected text is Kafka's stderr from compat/reference-outputs/cluster-tools/
    // transcript.txt ("Bad arguments of kafka-leader-election"), stack frames removed.

    #[test]
    fn missing_required_options() {
        assert_eq!(
            stderr(&format!("{B} --all-topic-partitions")),
            "Missing required option(s): election-type\n\
             org.apache.kafka.tools.AdminCommandFailedException: Missing required option(s): election-type\n\n"
        );
        assert_eq!(
            stderr("--election-type preferred --all-topic-partitions"),
            "Missing required option(s): bootstrap-server\n\
             org.apache.kafka.tools.AdminCommandFailedException: Missing required option(s): bootstrap-server\n\n"
        );
        assert_eq!(
            stderr(&format!("{B} --election-type preferred --topic orders")),
            "Missing required option(s): partition\n\
             org.apache.kafka.tools.AdminCommandFailedException: Missing required option(s): partition\n\n"
        );
    }

    #[test]
    fn exactly_one_partition_selector() {
        let expected = "One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file\n\
             org.apache.kafka.tools.AdminCommandFailedException: One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file\n\n";
        assert_eq!(stderr(&format!("{B} --election-type preferred")), expected);
        assert_eq!(
            stderr(&format!("{B} --election-type preferred --partition 0")),
            expected
        );
        assert_eq!(
            stderr(&format!(
                "{B} --election-type preferred --topic orders --partition 0 --all-topic-partitions"
            )),
            expected
        );
        assert_eq!(
            stderr(&format!("{B} --election-type preferred --partition 0 --all-topic-partitions")),
            "Option partition is only allowed if topic is used\n\
             org.apache.kafka.tools.AdminCommandFailedException: Option partition is only allowed if topic is used\n\n"
        );
    }

    #[test]
    fn bad_values_and_options() {
        assert_eq!(
            stderr(&format!("{B} --election-type sideways --all-topic-partitions")),
            "Cannot parse argument 'sideways' of option election-type\n\
             joptsimple.OptionArgumentConversionException: Cannot parse argument 'sideways' of option election-type\n\
             Caused by: joptsimple.ValueConversionException: Value [sideways] is not one of [[PREFERRED,UNCLEAN]]\n\n"
        );
        assert_eq!(
            stderr(&format!("{B} --election-type preferred --topic orders --partition x")),
            "Cannot parse argument 'x' of option partition\n\
             joptsimple.OptionArgumentConversionException: Cannot parse argument 'x' of option partition\n\
             Caused by: joptsimple.internal.ReflectionException: java.lang.NumberFormatException: For input string: \"x\"\n\
             Caused by: java.lang.NumberFormatException: For input string: \"x\"\n\n"
        );
        assert_eq!(
            stderr(&format!("{B} --election-type preferred --bogus")),
            "bogus is not a recognized option\n\
             joptsimple.UnrecognizedOptionException: bogus is not a recognized option\n\n"
        );
    }

    #[test]
    fn json_file_errors() {
        let base = format!("{B} --election-type preferred --path-to-json-file");
        assert_eq!(
            stderr(&format!("{base} dup.json")),
            "Replica election data contains duplicate partitions: [orders-1]\n\
             org.apache.kafka.tools.AdminOperationException: Replica election data contains duplicate partitions: [orders-1]\n\n"
        );
        assert_eq!(
            stderr(&format!("{base} nopart.json")),
            "Replica election data is missing \"partitions\" field\n\
             org.apache.kafka.tools.AdminOperationException: Replica election data is missing \"partitions\" field\n\n"
        );
        assert_eq!(
            stderr(&format!("{base} /tmp/x/missing.json")),
            "java.io.IOException: Unable to read file /tmp/x/missing.json\n\
             java.lang.RuntimeException: java.io.IOException: Unable to read file /tmp/x/missing.json\n\
             Caused by: java.io.IOException: Unable to read file /tmp/x/missing.json\n\
             Caused by: java.nio.file.NoSuchFileException: /tmp/x/missing.json\n\n"
        );
        assert!(stderr(&format!("{base} bad.json")).starts_with("Replica election data is empty\n"));
    }

    fn response(results: &[(&str, i32, i16, Option<&str>)]) -> ElectLeadersResponse {
        let mut topics: Vec<ReplicaElectionResult> = Vec::new();
        for (topic, partition, code, message) in results {
            let result = PartitionResult::default()
                .with_partition_id(*partition)
                .with_error_code(*code)
                .with_error_message(message.map(|m| StrBytes::from_string(m.to_string())));
            match topics.iter_mut().find(|t| t.topic.0.as_str() == *topic) {
                Some(t) => t.partition_result.push(result),
                None => topics.push(
                    ReplicaElectionResult::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                        .with_partition_result(vec![result]),
                ),
            }
        }
        ElectLeadersResponse::default().with_replica_election_results(topics)
    }

    #[test]
    fn elected_partitions_in_kafkas_order() {
        // Transcript section 4: eight partitions of wide, orders-2 and pair-0.
        let mut rows: Vec<(&str, i32, i16, Option<&str>)> =
            vec![("pair", 0, 0, None), ("orders", 2, 0, None)];
        rows.extend((0..8).rev().map(|p| ("wide", p, 0, None)));
        let out = report(ElectionType::Preferred, &response(&rows)).unwrap();
        assert_eq!(
            out.stdout,
            "Successfully completed leader election (PREFERRED) for partitions wide-0, wide-1, wide-2, wide-3, wide-4, wide-5, wide-6, wide-7, orders-2, pair-0\n"
        );
        assert_eq!(out.failure, None);
    }

    #[test]
    fn elected_and_already_elected() {
        // Transcript section 3, two.json after node 3 came back.
        let out = report(
            ElectionType::Preferred,
            &response(&[("orders", 1, 84, None), ("orders", 2, 0, None)]),
        )
        .unwrap();
        assert_eq!(
            out.stdout,
            "Successfully completed leader election (PREFERRED) for partitions orders-2\n\
             Valid replica already elected for partitions orders-1\n"
        );
    }

    #[test]
    fn nothing_to_elect_prints_nothing() {
        let out = report(ElectionType::Preferred, &response(&[])).unwrap();
        assert_eq!(out.stdout, "");
        assert_eq!(out.failure, None);
    }

    #[test]
    fn failures_are_listed_and_fail_the_command() {
        // Transcript section 2: the preferred leader (node 3) is down.
        let out = report(
            ElectionType::Unclean,
            &response(&[(
                "solo",
                0,
                83,
                Some("Eligible topic partition leaders are not available."),
            )]),
        )
        .unwrap();
        assert_eq!(
            out.stdout,
            "Error completing leader election (UNCLEAN) for partition: solo-0: org.apache.kafka.common.errors.EligibleLeadersNotAvailableException: Eligible topic partition leaders are not available.\n"
        );
        assert_eq!(
            out.failure.unwrap().stderr(),
            "1 replica(s) could not be elected\n\
             org.apache.kafka.tools.AdminCommandFailedException: 1 replica(s) could not be elected\n\
             \tSuppressed: org.apache.kafka.common.errors.EligibleLeadersNotAvailableException: Eligible topic partition leaders are not available.\n\n"
        );
        // Without a message from the broker, Kafka's default text for the code.
        let out = report(
            ElectionType::Preferred,
            &response(&[("orders", 2, 80, None)]),
        )
        .unwrap();
        assert!(out.stdout.ends_with(
            "orders-2: org.apache.kafka.common.errors.PreferredLeaderNotAvailableException: The preferred leader was not available.\n"
        ));
    }

    #[test]
    fn many_failures_in_kafkas_order() {
        // Transcript section 5: preferred election of everything while node 3 is down.
        let mut rows: Vec<(&str, i32, i16, Option<&str>)> = vec![("orders", 2, 80, None)];
        rows.extend((0..8).map(|p| ("wide", p, 80, None)));
        rows.push(("solo", 0, 80, None));
        rows.push(("pair", 0, 80, None));
        let out = report(ElectionType::Preferred, &response(&rows)).unwrap();
        let order: Vec<&str> = out
            .stdout
            .lines()
            .map(|l| l.split(": ").nth(1).unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "wide-0", "wide-1", "wide-2", "solo-0", "wide-3", "wide-4", "wide-5", "wide-6",
                "wide-7", "orders-2", "pair-0"
            ]
        );
        let failure = out.failure.unwrap();
        assert_eq!(failure.message, "11 replica(s) could not be elected");
        assert_eq!(failure.trace.len(), 12);
    }

    #[test]
    fn request_groups_partitions_by_topic() {
        let election = Election {
            bootstrap: String::new(),
            election_type: ElectionType::Unclean,
            partitions: Some(vec![("a".into(), 1), ("b".into(), 0), ("a".into(), 0)]),
        };
        let r = request(&election);
        assert_eq!(r.election_type, 1);
        let tps = r.topic_partitions.unwrap();
        assert_eq!(tps.len(), 2);
        assert_eq!(tps[0].partitions, vec![1, 0]);
        let all = request(&Election {
            partitions: None,
            ..election
        });
        assert_eq!(all.topic_partitions, None);
    }
}
