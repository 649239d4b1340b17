//! Kafka's command-line tools, native: `kafka-topics`, `kafka-console-producer`,
//! `kafka-console-consumer`, `kafka-consumer-groups`, `kafka-configs`,
//! `kafka-metadata-quorum`, `kafka-leader-election`, `kafka-reassign-partitions`
//! and `kafka-transactions`, with Kafka's flags and
//! Kafka's output, against Kavka or Apache Kafka.

use std::ffi::OsString;
use std::path::Path;

mod client;
mod client_quotas;
mod configs;
mod console_consumer;
mod console_producer;
mod consumer_groups;
mod error;
mod group_offsets;
mod leader_election;
mod metadata_quorum;
pub mod output;
mod partition_report;
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
}

impl Tool {
    /// Every tool, with its `kavka` subcommand name.
    pub const ALL: [(Tool, &'static str); 9] = [
        (Tool::Topics, "topics"),
        (Tool::ConsoleProducer, "console-producer"),
        (Tool::ConsoleConsumer, "console-consumer"),
        (Tool::ConsumerGroups, "consumer-groups"),
        (Tool::Configs, "configs"),
        (Tool::MetadataQuorum, "metadata-quorum"),
        (Tool::LeaderElection, "leader-election"),
        (Tool::ReassignPartitions, "reassign-partitions"),
        (Tool::Transactions, "transactions"),
    ];

    /// The tool for a `kavka` subcommand name (`topics`, `console-producer`, ...).
    pub fn from_subcommand(name: &str) -> Option<Tool> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
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
        assert_eq!(t("kavka"), None);
        assert_eq!(t("kafka-topics.py"), None);
    }
}
