//! Each tool's command-line definition, for shell completion scripts.

use clap::CommandFactory;

use crate::Tool;

/// The tool's flags as clap knows them, named by its `kavka` subcommand; a tool
/// that parses its own arguments (Kafka's positional sub-commands) gets only its
/// name and summary.
pub fn tool_command(tool: Tool, name: &'static str) -> clap::Command {
    let defined = match tool {
        Tool::Topics => Some(crate::topics::Args::command()),
        Tool::ConsoleProducer => Some(crate::console_producer::Args::command()),
        Tool::ConsoleConsumer => Some(crate::console_consumer::Args::command()),
        Tool::ConsumerGroups => Some(crate::consumer_groups::Args::command()),
        Tool::Configs => Some(crate::configs::Args::command()),
        Tool::LeaderElection => Some(crate::leader_election::Args::command()),
        Tool::ReassignPartitions => Some(crate::reassign_partitions::Args::command()),
        Tool::GetOffsets => Some(crate::get_offsets::Args::command()),
        Tool::DeleteRecords => Some(crate::delete_records::Args::command()),
        Tool::LogDirs => Some(crate::log_dirs::Args::command()),
        Tool::BrokerApiVersions => Some(crate::broker_api_versions::Args::command()),
        Tool::Cluster => Some(crate::cluster_tool::Args::command()),
        Tool::DumpLog => Some(crate::dump_log::Args::command()),
        Tool::ProducerPerfTest => Some(crate::producer_perf::Args::command()),
        Tool::ConsumerPerfTest => Some(crate::consumer_perf::Args::command()),
        Tool::Features => Some(crate::features::Args::command()),
        Tool::Acls => Some(crate::acls::Args::command()),
        Tool::MetadataQuorum | Tool::Transactions | Tool::EndToEndLatency => None,
    };
    defined
        .unwrap_or_else(|| clap::Command::new(name))
        .name(name)
        .about(tool.summary())
}
