//! Kafka's command-line tools, native: `kafka-topics`, `kafka-console-producer`,
//! `kafka-console-consumer`, `kafka-consumer-groups`, `kafka-configs`,
//! `kafka-metadata-quorum`, `kafka-leader-election`, `kafka-reassign-partitions`,
//! `kafka-transactions`, `kafka-get-offsets`, `kafka-delete-records`, `kafka-log-dirs`,
//! `kafka-broker-api-versions`, `kafka-cluster`, `kafka-dump-log`,
//! `kafka-producer-perf-test`, `kafka-consumer-perf-test`, `kafka-e2e-latency`, `kafka-acls`
//! and `kafka-features`, with Kafka's flags and Kafka's output, against Kavka or Apache Kafka.

use std::ffi::OsString;
use std::path::Path;

mod acls;
mod broker_api_versions;
mod client;
mod client_quotas;
mod cluster_tool;
pub mod completion;
mod configs;
mod console_consumer;
mod console_producer;
mod consumer_groups;
mod consumer_perf;
mod delete_records;
mod dump_log;
mod e2e_latency;
mod error;
mod features;
mod get_offsets;
mod group_offsets;
mod java_hash;
mod leader_election;
mod log_dirs;
mod metadata_quorum;
pub mod output;
mod partition_report;
mod producer_perf;
pub mod props;
mod reassign_partitions;
mod sasl_login;
mod tls;
mod topics;
mod transactions;
mod user_scram;
mod wire;

pub use error::ToolError;

/// One of the tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `kafka-topics`
    Topics,
    /// `kafka-console-producer`
    ConsoleProducer,
    /// `kafka-console-consumer`
    ConsoleConsumer,
    /// `kafka-consumer-groups`
    ConsumerGroups,
    /// `kafka-configs`
    Configs,
    /// `kafka-metadata-quorum`
    MetadataQuorum,
    /// `kafka-leader-election`
    LeaderElection,
    ReassignPartitions,
    /// `kafka-transactions`
    Transactions,
    /// `kafka-get-offsets`
    GetOffsets,
    /// `kafka-delete-records`
    DeleteRecords,
    /// `kafka-log-dirs`
    LogDirs,
    /// `kafka-broker-api-versions`
    BrokerApiVersions,
    /// `kafka-cluster` (`kavka cluster-tool`: `kavka cluster` runs local clusters)
    Cluster,
    /// `kafka-dump-log`
    DumpLog,
    /// `kafka-producer-perf-test`
    ProducerPerfTest,
    /// `kafka-consumer-perf-test`
    ConsumerPerfTest,
    /// `kafka-e2e-latency`
    EndToEndLatency,
    /// `kafka-acls`
    Acls,
    /// `kafka-features`
    Features,
}

impl Tool {
    /// Every tool, with its `kavka` subcommand name.
    pub const ALL: [(Tool, &'static str); 20] = [
        (Tool::Topics, "topics"),
        (Tool::ConsoleProducer, "console-producer"),
        (Tool::ConsoleConsumer, "console-consumer"),
        (Tool::ConsumerGroups, "consumer-groups"),
        (Tool::Configs, "configs"),
        (Tool::MetadataQuorum, "metadata-quorum"),
        (Tool::LeaderElection, "leader-election"),
        (Tool::ReassignPartitions, "reassign-partitions"),
        (Tool::Transactions, "transactions"),
        (Tool::GetOffsets, "get-offsets"),
        (Tool::DeleteRecords, "delete-records"),
        (Tool::LogDirs, "log-dirs"),
        (Tool::BrokerApiVersions, "broker-api-versions"),
        (Tool::Cluster, "cluster-tool"),
        (Tool::DumpLog, "dump-log"),
        (Tool::ProducerPerfTest, "producer-perf-test"),
        (Tool::ConsumerPerfTest, "consumer-perf-test"),
        (Tool::EndToEndLatency, "e2e-latency"),
        (Tool::Acls, "acls"),
        (Tool::Features, "features"),
    ];

    /// The tool for a `kavka` subcommand name (`topics`, `console-producer`, ...).
    pub fn from_subcommand(name: &str) -> Option<Tool> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
    }

    /// What the tool does, in one line (for `kavka --help`).
    pub fn summary(self) -> &'static str {
        match self {
            Tool::Topics => "create, list, describe, alter and delete topics",
            Tool::ConsoleProducer => "write records from standard input to a topic",
            Tool::ConsoleConsumer => "print a topic's records",
            Tool::ConsumerGroups => "list, describe, delete consumer groups; reset their offsets",
            Tool::Configs => "describe and alter topic and broker configs",
            Tool::MetadataQuorum => "describe the metadata (Raft) quorum",
            Tool::LeaderElection => "elect preferred or unclean partition leaders",
            Tool::ReassignPartitions => "move partition replicas between brokers",
            Tool::Transactions => "list, describe and abort transactions",
            Tool::GetOffsets => "partition offsets at a time (latest, earliest, a timestamp)",
            Tool::DeleteRecords => "delete a partition's records below an offset",
            Tool::LogDirs => "describe brokers' log directories and replica sizes",
            Tool::BrokerApiVersions => "the API versions each broker supports",
            Tool::Cluster => "the cluster's id (cluster-id); unregister a broker",
            Tool::DumpLog => "print segment and index files offline",
            Tool::ProducerPerfTest => "produce at a target rate and report throughput and latency",
            Tool::ConsumerPerfTest => "consume in a group and report throughput and rebalance time",
            Tool::EndToEndLatency => "produce-then-consume latency, one record at a time",
            Tool::Acls => "add, remove and list ACLs",
            Tool::Features => "describe feature levels (metadata.version, ...); upgrade, downgrade",
        }
    }

    /// Kafka's script name for this tool, without `.sh`.
    pub fn kafka_name(self) -> &'static str {
        match self {
            Tool::Topics => "kafka-topics",
            Tool::ConsoleProducer => "kafka-console-producer",
            Tool::ConsoleConsumer => "kafka-console-consumer",
            Tool::ConsumerGroups => "kafka-consumer-groups",
            Tool::Configs => "kafka-configs",
            Tool::MetadataQuorum => "kafka-metadata-quorum",
            Tool::LeaderElection => "kafka-leader-election",
            Tool::ReassignPartitions => "kafka-reassign-partitions",
            Tool::Transactions => "kafka-transactions",
            Tool::GetOffsets => "kafka-get-offsets",
            Tool::DeleteRecords => "kafka-delete-records",
            Tool::LogDirs => "kafka-log-dirs",
            Tool::BrokerApiVersions => "kafka-broker-api-versions",
            Tool::Cluster => "kafka-cluster",
            Tool::DumpLog => "kafka-dump-log",
            Tool::ProducerPerfTest => "kafka-producer-perf-test",
            Tool::ConsumerPerfTest => "kafka-consumer-perf-test",
            Tool::EndToEndLatency => "kafka-e2e-latency",
            Tool::Acls => "kafka-acls",
            Tool::Features => "kafka-features",
        }
    }
}

/// The tool a program name stands for: `kafka-topics`, `kafka-topics.sh`, a path
/// ending in one of those, ... None for anything else (such as `kavka`).
pub fn tool_from_argv0(argv0: &OsString) -> Option<Tool> {
    let name = Path::new(argv0).file_name()?.to_str()?;
    let name = name.strip_suffix(".sh").unwrap_or(name);
    Tool::ALL
        .iter()
        .map(|(t, _)| *t)
        .find(|t| t.kafka_name() == name)
}

/// Runs `tool` with its arguments (without the program name) and returns the exit status.
pub fn run(tool: Tool, args: Vec<OsString>) -> i32 {
    let argv = std::iter::once(OsString::from(tool.kafka_name())).chain(args);
    let result = match tool {
        Tool::Topics => topics::main(argv),
        Tool::ConsoleProducer => console_producer::main(argv),
        Tool::ConsoleConsumer => console_consumer::main(argv),
        Tool::ConsumerGroups => consumer_groups::main(argv),
        Tool::Configs => configs::main(argv),
        Tool::MetadataQuorum => metadata_quorum::main(argv),
        Tool::LeaderElection => leader_election::main(argv),
        Tool::ReassignPartitions => reassign_partitions::main(argv),
        Tool::Transactions => transactions::main(argv),
        Tool::GetOffsets => get_offsets::main(argv),
        Tool::DeleteRecords => delete_records::main(argv),
        Tool::LogDirs => log_dirs::main(argv),
        Tool::BrokerApiVersions => broker_api_versions::main(argv),
        Tool::Cluster => cluster_tool::main(argv),
        Tool::DumpLog => dump_log::main(argv),
        Tool::ProducerPerfTest => producer_perf::main(argv),
        Tool::ConsumerPerfTest => consumer_perf::main(argv),
        Tool::EndToEndLatency => e2e_latency::main(argv),
        Tool::Acls => acls::main(argv),
        Tool::Features => features::main(argv),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            1
        }
    }
}

/// Parses a tool's arguments with clap, printing usage the way Kafka does (on stderr,
/// exit status 1) for `--help` and for bad arguments.
pub(crate) fn parse_args<P: clap::Parser>(
    argv: impl IntoIterator<Item = OsString>,
) -> Result<P, i32> {
    match P::try_parse_from(argv) {
        Ok(p) => Ok(p),
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayVersion => {
                    print!("{e}");
                    Err(0)
                }
                ErrorKind::UnknownArgument => {
                    // Kafka's wording (joptsimple), then the options.
                    let arg = e
                        .get(clap::error::ContextKind::InvalidArg)
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    let name = arg.trim_start_matches('-');
                    let name = name.split_once('=').map_or(name, |(n, _)| n);
                    Err(usage::<P>(&format!("{name} is not a recognized option")))
                }
                _ => {
                    eprint!("{}", e.render());
                    Err(1)
                }
            }
        }
    }
}

/// Parses a tool's arguments for the tools that report a bad option in one line, as
/// joptsimple words it (`foo is not a recognized option`, `Option time requires an
/// argument`), after `prefix`, with no usage; `--help` prints `about` and the usage.
pub(crate) fn parse_args_terse<P: clap::Parser>(
    argv: impl IntoIterator<Item = OsString>,
    prefix: &str,
    about: &str,
) -> Result<P, i32> {
    use clap::error::{ContextKind, ErrorKind};
    let e = match P::try_parse_from(argv) {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    let arg = e
        .get(ContextKind::InvalidArg)
        .map(ToString::to_string)
        .unwrap_or_default();
    // clap names an option missing its value with the placeholder: keep the name.
    let name = arg.trim_start_matches('-');
    let name = name.split([' ', '=']).next().unwrap_or(name);
    Err(match e.kind() {
        ErrorKind::DisplayHelp => usage::<P>(about),
        ErrorKind::UnknownArgument => {
            eprintln!("{prefix}{name} is not a recognized option");
            1
        }
        ErrorKind::InvalidValue if !name.is_empty() => {
            eprintln!("{prefix}Option {name} requires an argument");
            1
        }
        _ => {
            eprint!("{}", e.render());
            1
        }
    })
}

/// Prints a usage error as Kafka's tools do (the message, then the options, on
/// stderr) and returns exit status 1.
pub(crate) fn usage<P: clap::CommandFactory>(message: &str) -> i32 {
    eprintln!("{message}");
    eprintln!("{}", P::command().render_help());
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_script_names_map_to_tools() {
        let t = |s: &str| tool_from_argv0(&OsString::from(s));
        assert_eq!(t("kafka-topics"), Some(Tool::Topics));
        assert_eq!(t("/usr/local/bin/kafka-topics.sh"), Some(Tool::Topics));
        assert_eq!(t("kafka-console-producer.sh"), Some(Tool::ConsoleProducer));
        assert_eq!(t("kafka-consumer-groups"), Some(Tool::ConsumerGroups));
        assert_eq!(t("kafka-configs.sh"), Some(Tool::Configs));
        assert_eq!(t("kafka-metadata-quorum.sh"), Some(Tool::MetadataQuorum));
        assert_eq!(t("kafka-leader-election"), Some(Tool::LeaderElection));
        assert_eq!(
            t("kafka-reassign-partitions.sh"),
            Some(Tool::ReassignPartitions)
        );
        assert_eq!(t("kafka-transactions.sh"), Some(Tool::Transactions));
        assert_eq!(t("kafka-get-offsets.sh"), Some(Tool::GetOffsets));
        assert_eq!(t("kafka-delete-records"), Some(Tool::DeleteRecords));
        assert_eq!(t("kafka-log-dirs.sh"), Some(Tool::LogDirs));
        assert_eq!(
            t("kafka-broker-api-versions"),
            Some(Tool::BrokerApiVersions)
        );
        assert_eq!(t("kafka-cluster.sh"), Some(Tool::Cluster));
        assert_eq!(t("kafka-dump-log"), Some(Tool::DumpLog));
        assert_eq!(t("kafka-acls.sh"), Some(Tool::Acls));
        // `kavka cluster` manages local clusters; Kafka's cluster tool is cluster-tool.
        assert_eq!(Tool::from_subcommand("cluster"), None);
        assert_eq!(t("kavka"), None);
        assert_eq!(t("kafka-topics.py"), None);
    }
}
