//! `kavka cluster`: a local cluster of node processes in one command (like
//! `rpk container start -n 3`, without a container engine), and the controls
//! fault tests need: stop, kill -9, pause, resume, start and restart one node.
//!
//! Every node is a combined broker and controller on 127.0.0.1 with its own
//! `server.properties`, data and log under `DIR/node-<id>/`; `DIR/cluster.json`
//! records PIDs and ports (`state.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

mod commands;
mod process;
mod props;
mod state;
mod up;

/// Where a cluster lives unless `--dir` or `KAVKA_CLUSTER_DIR` say otherwise.
pub(crate) const DEFAULT_DIR: &str = "/tmp/kavka-cluster";
/// The first client port; the controller ports follow the client ports.
pub(crate) const DEFAULT_BASE_PORT: u16 = 19092;

/// `kavka cluster ...`
#[derive(Args)]
pub(crate) struct ClusterArgs {
    /// The cluster's directory: configs, data, logs and cluster.json.
    #[arg(
        long,
        global = true,
        env = "KAVKA_CLUSTER_DIR",
        default_value = DEFAULT_DIR,
        value_name = "DIR"
    )]
    dir: PathBuf,
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Write configs, format and start N nodes, wait until each answers, print the bootstrap list.
    Up {
        /// Number of nodes (1 to 9).
        #[arg(short = 'n', long = "nodes", default_value_t = 1)]
        nodes: i32,
        /// First client port; node i listens on BASE+i-1, its controller on BASE+N+i-1.
        #[arg(long, default_value_t = DEFAULT_BASE_PORT, value_name = "PORT")]
        base_port: u16,
        /// A property for every node's server.properties (repeatable).
        #[arg(long = "property", value_name = "KEY=VALUE")]
        properties: Vec<String>,
        /// A property for one node (repeatable), e.g. `2:broker.rack=b`.
        #[arg(long = "node-property", value_name = "ID:KEY=VALUE")]
        node_properties: Vec<String>,
        /// Seconds to wait for every node to answer.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
    },
    /// Node id, PID, state (running/paused/stopped) and ports of every node.
    Status,
    /// Stop one node cleanly (SIGTERM) and wait for it to exit.
    Stop {
        id: i32,
        /// Seconds to wait before giving up (then use `kill`).
        #[arg(long, default_value_t = 15, value_name = "SECS")]
        timeout: u64,
    },
    /// Crash one node (SIGKILL).
    Kill { id: i32 },
    /// Freeze one node (SIGSTOP): it keeps its sockets but answers nothing.
    Pause { id: i32 },
    /// Thaw a paused node (SIGCONT).
    Resume { id: i32 },
    /// Start a stopped node again with its data.
    Start {
        id: i32,
        /// Seconds to wait for it to answer.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
    },
    /// Stop (SIGTERM) and start one node.
    Restart {
        id: i32,
        /// Seconds to wait for it to stop, then for it to answer.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
    },
    /// Stop every node, keeping the data (`--purge`: delete DIR as well).
    Down {
        /// Also delete the cluster directory.
        #[arg(long)]
        purge: bool,
    },
}

/// Everything `kavka cluster` can fail at, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    #[error("-n must be between 1 and {max}, got {0}", max = props::MAX_NODES)]
    NodeCount(i32),
    #[error("--base-port {0} leaves no room for the cluster's ports")]
    BasePort(u16),
    #[error("expected KEY=VALUE (--property) or ID:KEY=VALUE (--node-property), got '{0}'")]
    BadProperty(String),
    #[error("port {0} on 127.0.0.1 is in use; choose another --base-port")]
    PortInUse(u16),
    #[error(
        "{dir} already holds a running cluster (nodes {running}); \
         use it, or stop it with `kavka cluster down --dir {dir}`"
    )]
    AlreadyRunning { dir: String, running: String },
    #[error(
        "{dir} holds a stopped {nodes}-node cluster with other settings; start it with \
         `kavka cluster up -n {nodes}` and its properties, or delete it with \
         `kavka cluster down --purge --dir {dir}`"
    )]
    ExistingCluster { dir: String, nodes: usize },
    #[error("{0} is not empty and holds no cluster.json; give `--dir` a new or empty directory")]
    ForeignDir(PathBuf),
    #[error("no cluster in {0} (no cluster.json); start one with `kavka cluster up`")]
    NoCluster(PathBuf),
    #[error("no node {id} in this cluster (nodes: {known})")]
    NoSuchNode { id: i32, known: String },
    #[error("node {id} is {state}")]
    WrongState { id: i32, state: &'static str },
    #[error("formatting node {id} failed:\n{output}")]
    Format { id: i32, output: String },
    #[error("node {id} exited at start ({status}); last lines of {}:\n{tail}", log.display())]
    NodeExited {
        id: i32,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("node {id} did not answer on {addr} within {secs} s; last lines of {}:\n{tail}", log.display())]
    NotReady {
        id: i32,
        addr: SocketAddr,
        secs: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("node {id} listed {seen} of the cluster's {expected} brokers after {secs} s; last lines of {}:\n{tail}", log.display())]
    NotAllRegistered {
        id: i32,
        seen: usize,
        expected: usize,
        secs: u64,
        log: PathBuf,
        tail: String,
    },
    #[error(
        "node {id} did not exit within {secs} s of SIGTERM; `kavka cluster kill {id}` ends it"
    )]
    StopTimeout { id: i32, secs: u64 },
    #[error("recorded pid {0} is not a valid process id")]
    BadPid(u32),
    #[error("state file {0}: {1}")]
    State(PathBuf, String),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

/// Runs one `kavka cluster` command.
pub(crate) fn run(args: ClusterArgs) -> Result<(), ClusterError> {
    let dir = args.dir;
    match args.command {
        ClusterCommand::Up {
            nodes,
            base_port,
            properties,
            node_properties,
            timeout,
        } => up::up(
            &dir,
            up::UpOptions {
                nodes,
                base_port,
                properties,
                node_properties,
                timeout: secs(timeout),
            },
        ),
        ClusterCommand::Status => commands::status(&dir),
        ClusterCommand::Stop { id, timeout } => commands::stop(&dir, id, secs(timeout)),
        ClusterCommand::Kill { id } => commands::kill(&dir, id),
        ClusterCommand::Pause { id } => commands::pause(&dir, id),
        ClusterCommand::Resume { id } => commands::resume(&dir, id),
        ClusterCommand::Start { id, timeout } => commands::start(&dir, id, secs(timeout)),
        ClusterCommand::Restart { id, timeout } => commands::restart(&dir, id, secs(timeout)),
        ClusterCommand::Down { purge } => commands::down(&dir, purge),
    }
}

fn secs(s: u64) -> std::time::Duration {
    std::time::Duration::from_secs(s)
}
