//! `kafka-storage` (`kavka storage`): formats log directories the way container
//! images and deployment scripts do before the first start, with Kafka's flags,
//! messages and exit codes. Formatting writes `meta.properties` (cluster id, node
//! id, directory id) in every log directory; the broker then starts with that cluster
//! id instead of making one up. Unformatted directories still work: a first start
//! formats them itself.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use kavka_broker::meta_properties::{random_uuid, MetaProperties};
use kavka_broker::BrokerConfig;

/// The metadata version Kavka reports, as Apache Kafka 4.4 does by default.
const METADATA_VERSION: &str = "4.4-IV2";

/// Kafka's script name for this tool, without `.sh`.
pub(crate) const NAME: &str = "kafka-storage";

#[derive(Parser)]
#[command(name = NAME, about = "The Kafka storage tool.")]
pub(crate) struct StorageCli {
    #[command(subcommand)]
    command: StorageCommand,
}

#[derive(Subcommand)]
enum StorageCommand {
    /// Get information about the Kafka log directories on this node.
    Info {
        /// The Kafka configuration file to use.
        #[arg(short = 'c', long = "config", value_name = "CONFIG")]
        config: PathBuf,
    },
    /// Format the Kafka log directories on this node.
    Format(FormatArgs),
    /// Print a random UUID.
    RandomUuid,
}

#[derive(Args)]
struct FormatArgs {
    /// The Kafka configuration file to use.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    config: PathBuf,
    /// The cluster ID to use.
    #[arg(short = 't', long = "cluster-id", value_name = "CLUSTER_ID")]
    cluster_id: String,
    /// SCRAM credentials to add (Kavka has no SASL yet: refused).
    #[arg(short = 'S', long = "add-scram", value_name = "ADD_SCRAM")]
    add_scram: Vec<String>,
    /// Do not fail when the directories are already formatted.
    #[arg(short = 'g', long = "ignore-formatted")]
    ignore_formatted: bool,
    /// The release version to use for the initial feature settings.
    #[arg(short = 'r', long = "release-version", value_name = "RELEASE_VERSION")]
    release_version: Option<String>,
    /// A feature upgrade to apply (accepted; Kavka has one feature level).
    #[arg(short = 'f', long = "feature", value_name = "FEATURE")]
    feature: Vec<String>,
    /// Format this node as the one voter of a new dynamic quorum.
    #[arg(short = 's', long = "standalone", conflicts_with_all = ["no_initial_controllers", "initial_controllers"])]
    standalone: bool,
    /// Format a node that joins an existing dynamic quorum.
    #[arg(
        short = 'N',
        long = "no-initial-controllers",
        conflicts_with = "initial_controllers"
    )]
    no_initial_controllers: bool,
    /// The initial voters of a dynamic quorum (id@host:port:directory-id,...).
    #[arg(
        short = 'I',
        long = "initial-controllers",
        value_name = "INITIAL_CONTROLLERS"
    )]
    initial_controllers: Option<String>,
}

/// Runs the tool with `argv` (program name first); returns the exit status.
pub(crate) fn main(argv: Vec<OsString>) -> i32 {
    let cli = match StorageCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    let result = match cli.command {
        StorageCommand::RandomUuid => {
            println!("{}", random_uuid());
            Ok(0)
        }
        StorageCommand::Info { config } => info(&config),
        StorageCommand::Format(args) => format(&args),
    };
    result.unwrap_or_else(|message| {
        eprintln!("{message}");
        1
    })
}

/// The node's log directories and the one holding the metadata log.
struct Dirs {
    node_id: i32,
    log_dirs: Vec<PathBuf>,
    metadata_dir: PathBuf,
    static_voters: bool,
}

fn dirs(config_file: &Path) -> Result<Dirs, String> {
    let config = BrokerConfig::load(Some(config_file), &[], std::iter::empty())
        .map_err(|e| e.to_string())?;
    let raw = &config.raw;
    let log_dirs: Vec<PathBuf> = raw
        .get("log.dirs")
        .or_else(|| raw.get("log.dir"))
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_else(|| vec![config.log_dir.clone()]);
    let metadata_dir = raw
        .get("metadata.log.dir")
        .map(PathBuf::from)
        .or_else(|| log_dirs.first().cloned())
        .unwrap_or_else(|| config.log_dir.clone());
    Ok(Dirs {
        node_id: config.node_id,
        log_dirs,
        metadata_dir,
        static_voters: raw.contains_key("controller.quorum.voters"),
    })
}

fn format(args: &FormatArgs) -> Result<i32, String> {
    let dirs = dirs(&args.config)?;
    if args.cluster_id.trim().is_empty() {
        return Err("Cluster ID string must not be empty.".to_string());
    }
    if !args.add_scram.is_empty() {
        return Err(
            "--add-scram: Kavka has no SASL/SCRAM authentication yet, so it refuses to \
             create credentials it would not check."
                .to_string(),
        );
    }
    let dynamic = args.standalone || args.initial_controllers.is_some();
    if dynamic && dirs.static_voters {
        return Err(
            "You cannot specify controller.quorum.voters and format the node with \
             --initial-controllers or --standalone. If you want to use dynamic quorum, please \
             remove controller.quorum.voters and specify controller.quorum.bootstrap.servers \
             instead."
                .to_string(),
        );
    }
    let mut all: Vec<PathBuf> = dirs.log_dirs.clone();
    if !all.contains(&dirs.metadata_dir) {
        all.push(dirs.metadata_dir.clone());
    }
    let mut unformatted = Vec::new();
    for dir in &all {
        match MetaProperties::read(dir).map_err(|e| e.to_string())? {
            Some(_) if !args.ignore_formatted => {
                return Err(format!(
                    "Log directory {} is already formatted. Use --ignore-formatted to ignore \
                     this directory and format the others.",
                    dir.display()
                ));
            }
            Some(_) => {}
            None => unformatted.push(dir.clone()),
        }
    }
    if unformatted.is_empty() {
        println!("All of the log directories are already formatted.");
        return Ok(0);
    }
    let version = args.release_version.as_deref().unwrap_or(METADATA_VERSION);
    // Data directories first, then the metadata directory, in Kafka's order.
    unformatted.sort_by_key(|d| *d == dirs.metadata_dir);
    for dir in &unformatted {
        let meta = MetaProperties {
            cluster_id: args.cluster_id.trim().to_string(),
            node_id: Some(dirs.node_id),
            directory_id: Some(random_uuid()),
        };
        meta.write(dir).map_err(|e| {
            format!(
                "Error while writing meta.properties file {}: {e}",
                dir.display()
            )
        })?;
        let kind = if *dir != dirs.metadata_dir {
            "data"
        } else {
            std::fs::create_dir_all(dir.join("__cluster_metadata-0"))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            if dynamic {
                "dynamic metadata voter"
            } else {
                "metadata"
            }
        };
        println!(
            "Formatting {kind} directory {} with metadata.version {version}.",
            dir.display()
        );
    }
    Ok(0)
}

fn info(config: &Path) -> Result<i32, String> {
    let dirs = dirs(config)?;
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut metadata = None;
    for dir in &dirs.log_dirs {
        if !dir.is_dir() {
            problems.push(format!("{} does not exist", dir.display()));
            continue;
        }
        found.push(dir.display().to_string());
        match MetaProperties::read(dir) {
            Ok(Some(meta)) => metadata = metadata.or(Some(meta)),
            Ok(None) => problems.push(format!("{} is not formatted.", dir.display())),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        let title = if problems.len() == 1 {
            "problem"
        } else {
            "problems"
        };
        println!("Found {title}:");
        for p in &problems {
            println!("  {p}");
        }
        println!();
    }
    if !found.is_empty() {
        let title = if found.len() == 1 {
            "directory"
        } else {
            "directories"
        };
        println!("Found log {title}:");
        for d in &found {
            println!("  {d}");
        }
        println!();
    }
    if let Some(meta) = metadata {
        let mut fields = vec![format!("cluster.id={}", meta.cluster_id)];
        if let Some(d) = meta.directory_id {
            fields.push(format!("directory.id={d}"));
        }
        if let Some(n) = meta.node_id {
            fields.push(format!("node.id={n}"));
        }
        fields.push("version=1".to_string());
        println!("Found metadata: {{{}}}", fields.join(", "));
        println!();
    }
    Ok(if problems.is_empty() { 0 } else { 1 })
}
