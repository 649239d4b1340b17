//! `kavka`: the broker and Kafka's command-line tools in one binary.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kavka_broker::{Broker, BrokerConfig, ControllerNode};

mod cluster;
mod completions;
mod link_tools;
mod logging;
mod storage_tool;

#[derive(Parser)]
#[command(
    name = "kavka",
    version,
    about = "An event streaming platform that speaks the Kafka protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (and controller) node. With no options: port 9092, data in /tmp/kavka-logs.
    Broker {
        /// A Kafka `server.properties` file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Override one property, as with Kafka's start script (repeatable).
        #[arg(long = "override", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Log lines as text for people or as one JSON object per line for log collectors.
        #[arg(long, value_enum, env = "KAVKA_LOG_FORMAT", default_value_t = logging::LogFormat::Text)]
        log_format: logging::LogFormat,
    },
    /// A local cluster of node processes: up, status, stop, kill, pause, resume, down.
    Cluster(cluster::ClusterArgs),
    /// Create Kafka's script names (kafka-topics.sh, ...) in DIR as links to this binary.
    LinkTools {
        /// The directory for the links, e.g. /opt/kafka/bin.
        dir: PathBuf,
    },
    /// Print a shell completion script for kavka and its tools, e.g.
    /// `kavka completions bash > /etc/bash_completion.d/kavka`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// A command-line tool whose output goes into a pipe that closes early
/// (`kavka topics --describe | head`) ends quietly with the status a process
/// killed by SIGPIPE has, as Kafka's tools and other Unix programs do, instead of
/// a panic message: `println!` panics on a closed stdout, and this hook turns
/// that one panic into a quiet exit. Every other panic is reported as before.
fn die_quietly_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> anyhow::Result<()> {
    if let Some(code) = run_tool_if_asked() {
        std::process::exit(code);
    }
    let cli = parse_cli();
    let log_format = match &cli.command {
        Command::Broker { log_format, .. } => *log_format,
        _ => logging::LogFormat::Text,
    };
    logging::init(log_format);
    match cli.command {
        Command::Broker {
            config, overrides, ..
        } => run_broker(config, overrides),
        Command::Completions { shell } => {
            // Generated whole first: the generator panics on a failed write, and a
            // closed pipe (`kavka completions bash | head`) is no error.
            let mut script = Vec::new();
            completions::write(shell, &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            Ok(())
        }
        Command::LinkTools { dir } => {
            let exe = std::env::current_exe().context("cannot find this program's path")?;
            for link in link_tools::link_tools(&dir, &exe)? {
                println!("{}", link.display());
            }
            Ok(())
        }
        Command::Cluster(args) => {
            // Each cluster error already says what to do; a backtrace would bury it.
            if let Err(e) = cluster::run(args) {
                eprintln!("Error: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// The command line, with Kafka's tools (parsed by the tools themselves) listed
/// in `kavka --help`.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let mut tools =
        String::from("Kafka's tools (also run under Kafka's script names, kafka-topics[.sh], ...; see link-tools):\n");
    let listed = kavka_tools::Tool::ALL
        .iter()
        .map(|(tool, name)| (*name, tool.summary()))
        .chain([(
            "storage",
            "format log directories (random-uuid, format, info)",
        )]);
    for (name, summary) in listed {
        tools.push_str(&format!("  {name:<22}{summary}\n"));
    }
    let matches = Cli::command().after_help(tools).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Runs a command-line tool when invoked as `kafka-topics[.sh]` (argv[0]) or as
/// `kavka topics ...`; the tools parse their own Kafka-style arguments.
fn run_tool_if_asked() -> Option<i32> {
    let mut args = std::env::args_os();
    let argv0 = args.next()?;
    if is_storage_tool(&argv0) {
        return Some(storage_tool::main(std::env::args_os().collect()));
    }
    let mut peek = std::env::args_os().skip(1);
    if peek.next().is_some_and(|a| a == "storage") {
        let argv = std::iter::once(storage_tool::NAME.into())
            .chain(peek)
            .collect();
        return Some(storage_tool::main(argv));
    }
    if let Some(tool) = kavka_tools::tool_from_argv0(&argv0) {
        die_quietly_on_closed_pipe();
        return Some(kavka_tools::run(tool, args.collect()));
    }
    let tool = kavka_tools::Tool::from_subcommand(args.next()?.to_str()?)?;
    die_quietly_on_closed_pipe();
    Some(kavka_tools::run(tool, args.collect()))
}

fn run_broker(file: Option<PathBuf>, overrides: Vec<String>) -> anyhow::Result<()> {
    let config = BrokerConfig::load(file.as_deref(), &overrides, std::env::vars())
        .context("invalid configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        if config.cluster.is_controller_only() {
            let controller = ControllerNode::start(config)
                .await
                .context("cannot start controller")?;
            controller.run(shutdown_signal()).await;
            return Ok(());
        }
        let broker = Broker::start(config).await.context("cannot start broker")?;
        broker.run(shutdown_signal()).await;
        Ok(())
    })
}

/// `kafka-storage` or `kafka-storage.sh`, by program name.
fn is_storage_tool(argv0: &std::ffi::OsStr) -> bool {
    let name = std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.strip_suffix(".sh").unwrap_or(name) == storage_tool::NAME
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
