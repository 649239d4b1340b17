//! The `kavka cluster` commands. Each loads `cluster.json`, acts on the recorded
//! processes only, and saves the state again after every change, so an
//! interrupted command never leaves a node running that the file does not name.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use super::process::{self, NodeSignal, NodeStatus};
use super::props::{self, Layout, Override};
use super::state::{ClusterState, NodeState};
use super::ClusterError;

/// The options of `up`.
pub(crate) struct UpOptions {
    pub(crate) nodes: i32,
    pub(crate) base_port: u16,
    pub(crate) properties: Vec<String>,
    pub(crate) node_properties: Vec<String>,
    pub(crate) timeout: Duration,
}

/// Seconds a clean stop may take: the broker itself waits up to 5 s for connections.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Seconds a SIGKILLed process may take to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn up(dir: &Path, opts: UpOptions) -> Result<(), ClusterError> {
    let overrides = parse_overrides(&opts)?;
    let layout = Layout {
        dir: dir.to_path_buf(),
        nodes: opts.nodes,
        base_port: opts.base_port,
    };
    let plan = layout.plan()?;
    if let Some(n) = overrides.iter().find_map(|o| o.node) {
        if !plan.iter().any(|p| p.id == n) {
            return Err(ClusterError::NoSuchNode {
                id: n,
                known: plan
                    .iter()
                    .map(|p| p.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let recorded: Vec<String> = opts
        .properties
        .iter()
        .chain(opts.node_properties.iter())
        .cloned()
        .collect();
    let mut state = match ClusterState::load(dir)? {
        Some(existing) => {
            refuse_if_running(dir, &existing)?;
            if existing.nodes.len() != plan.len()
                || existing.base_port != opts.base_port
                || existing.properties != recorded
            {
                return Err(ClusterError::ExistingCluster {
                    dir: dir.display().to_string(),
                    nodes: existing.nodes.len(),
                });
            }
            println!("Starting the stopped cluster in {}", dir.display());
            existing
        }
        None => {
            refuse_foreign_dir(dir)?;
            let fresh = !dir.exists();
            create(dir, &plan, &overrides, opts.base_port, recorded).inspect_err(|_| {
                // Half-written configs would make the next `up` fail differently;
                // only a directory this run created is removed.
                if fresh {
                    let _ = std::fs::remove_dir_all(dir);
                }
            })?
        }
    };
    let binary = own_binary()?;
    let mut children = Vec::new();
    for i in 0..state.nodes.len() {
        let child = process::spawn(&binary, &state.nodes[i]);
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                stop_started(dir, &mut state, &mut children);
                return Err(e);
            }
        };
        state.nodes[i].pid = Some(child.id());
        // Recorded before the next spawn: `down` can always find what was started.
        state.save(dir)?;
        children.push((state.nodes[i].id, child));
    }
    for i in 0..children.len() {
        let (id, child) = &mut children[i];
        let node = state.node(*id)?.clone();
        if let Err(e) = process::wait_ready(&node, child, opts.timeout) {
            stop_started(dir, &mut state, &mut children);
            return Err(e);
        }
    }
    println!(
        "Kavka cluster of {} node{} is up (cluster id {}, in {}).",
        state.nodes.len(),
        if state.nodes.len() == 1 { "" } else { "s" },
        state.cluster_id,
        dir.display()
    );
    print_table(&state);
    println!();
    println!("Bootstrap servers: {}", state.bootstrap());
    println!();
    println!("Stop it:        kavka cluster down --dir {}", dir.display());
    println!(
        "Delete it too:  kavka cluster down --purge --dir {}",
        dir.display()
    );
    Ok(())
}

fn parse_overrides(opts: &UpOptions) -> Result<Vec<Override>, ClusterError> {
    let all = opts.properties.iter().map(|p| Override::for_all(p));
    let own = opts.node_properties.iter().map(|p| Override::for_node(p));
    all.chain(own).collect()
}

/// `down --purge` deletes DIR, so a cluster is only ever created in a new or
/// empty directory: purging can never take anything the tool did not write.
fn refuse_foreign_dir(dir: &Path) -> Result<(), ClusterError> {
    let empty = std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none());
    if empty {
        Ok(())
    } else {
        Err(ClusterError::ForeignDir(dir.to_path_buf()))
    }
}

fn refuse_if_running(dir: &Path, state: &ClusterState) -> Result<(), ClusterError> {
    let running: Vec<String> = state
        .nodes
        .iter()
        .filter(|n| process::status(n) != NodeStatus::Stopped)
        .map(|n| n.id.to_string())
        .collect();
    if running.is_empty() {
        Ok(())
    } else {
        Err(ClusterError::AlreadyRunning {
            dir: dir.display().to_string(),
            running: running.join(", "),
        })
    }
}

/// Writes every node's config and formats its directories with one cluster id.
fn create(
    dir: &Path,
    plan: &[props::NodePlan],
    overrides: &[Override],
    base_port: u16,
    properties: Vec<String>,
) -> Result<ClusterState, ClusterError> {
    for p in plan {
        for port in [p.client_port, p.controller_port] {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(ClusterError::PortInUse(port));
            }
        }
    }
    let binary = own_binary()?;
    let cluster_id = kavka_broker::meta_properties::random_uuid();
    let mut nodes = Vec::with_capacity(plan.len());
    for p in plan {
        kavka_storage::durable::create_dir_all_durably(&p.dir)
            .map_err(|e| ClusterError::Io(format!("creating {}", p.dir.display()), e))?;
        let config = p.dir.join("server.properties");
        let text = props::render(p, plan, overrides);
        kavka_storage::durable::write_atomic(&config, text.as_bytes())
            .map_err(|e| ClusterError::Io(format!("writing {}", config.display()), e))?;
        let mut format = Command::new(&binary);
        process::without_kafka_env(&mut format);
        let out = format
            .args(["storage", "format", "--config"])
            .arg(&config)
            .args(["--cluster-id", &cluster_id])
            .output()
            .map_err(|e| ClusterError::Io(format!("formatting node {}", p.id), e))?;
        if !out.status.success() {
            return Err(ClusterError::Format {
                id: p.id,
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            });
        }
        nodes.push(NodeState {
            id: p.id,
            pid: None,
            client_port: p.client_port,
            controller_port: p.controller_port,
            config,
            log: p.dir.join("broker.log"),
        });
    }
    let state = ClusterState {
        version: super::state::VERSION,
        cluster_id,
        base_port,
        properties,
        nodes,
    };
    state.save(dir)?;
    Ok(state)
}

/// After a failed `up`: ends the nodes this run started, so none is left behind.
fn stop_started(dir: &Path, state: &mut ClusterState, children: &mut [(i32, Child)]) {
    for (id, child) in children.iter_mut() {
        if let Ok(node) = state.node(*id) {
            let _ = process::signal(node, NodeSignal::Term);
            if !process::wait_stopped(node, STOP_TIMEOUT) {
                let _ = process::signal(node, NodeSignal::Kill);
            }
        }
        // We are the parent here: reap, so the PID does not linger as a zombie.
        let _ = child.wait();
        if let Ok(node) = state.node_mut(*id) {
            node.pid = None;
        }
    }
    let _ = state.save(dir);
}

fn load(dir: &Path) -> Result<ClusterState, ClusterError> {
    ClusterState::load(dir)?.ok_or_else(|| ClusterError::NoCluster(dir.to_path_buf()))
}

fn own_binary() -> Result<PathBuf, ClusterError> {
    std::env::current_exe().map_err(|e| ClusterError::Io("locating the kavka binary".into(), e))
}

pub(crate) fn status(dir: &Path) -> Result<(), ClusterError> {
    let state = load(dir)?;
    print_table(&state);
    Ok(())
}

fn print_table(state: &ClusterState) {
    println!(
        "{:<5} {:<8} {:<8} {:<21} {:<21}",
        "NODE", "PID", "STATE", "CLIENT", "CONTROLLER"
    );
    for n in &state.nodes {
        let status = process::status(n);
        let pid = match (status, n.pid) {
            (NodeStatus::Stopped, _) | (_, None) => "-".to_string(),
            (_, Some(pid)) => pid.to_string(),
        };
        println!(
            "{:<5} {:<8} {:<8} {:<21} {:<21}",
            n.id,
            pid,
            status.as_str(),
            format!("127.0.0.1:{}", n.client_port),
            format!("127.0.0.1:{}", n.controller_port)
        );
    }
}

pub(crate) fn stop(dir: &Path, id: i32, timeout: Duration) -> Result<(), ClusterError> {
    let mut state = load(dir)?;
    let node = state.node(id)?.clone();
    if process::status(&node) == NodeStatus::Stopped {
        println!("node {id} is not running");
    } else {
        terminate(&node, timeout)?;
        println!("node {id} stopped");
    }
    forget_pid(dir, &mut state, id)
}

/// SIGTERM, and SIGCONT in case it is paused (a stopped process cannot act on
/// SIGTERM), then waits for it to exit.
fn terminate(node: &NodeState, timeout: Duration) -> Result<(), ClusterError> {
    process::signal(node, NodeSignal::Term)?;
    process::signal(node, NodeSignal::Cont)?;
    if process::wait_stopped(node, timeout) {
        Ok(())
    } else {
        Err(ClusterError::StopTimeout {
            id: node.id,
            secs: timeout.as_secs(),
        })
    }
}

fn forget_pid(dir: &Path, state: &mut ClusterState, id: i32) -> Result<(), ClusterError> {
    state.node_mut(id)?.pid = None;
    state.save(dir)
}

pub(crate) fn kill(dir: &Path, id: i32) -> Result<(), ClusterError> {
    let mut state = load(dir)?;
    let node = state.node(id)?.clone();
    if process::signal(&node, NodeSignal::Kill)? {
        if !process::wait_stopped(&node, KILL_TIMEOUT) {
            return Err(ClusterError::StopTimeout {
                id,
                secs: KILL_TIMEOUT.as_secs(),
            });
        }
        println!("node {id} killed");
    } else {
        println!("node {id} is not running");
    }
    forget_pid(dir, &mut state, id)
}

pub(crate) fn pause(dir: &Path, id: i32) -> Result<(), ClusterError> {
    let state = load(dir)?;
    let node = state.node(id)?;
    require(node, NodeStatus::Running)?;
    process::signal(node, NodeSignal::Stop)?;
    println!("node {id} paused");
    Ok(())
}

pub(crate) fn resume(dir: &Path, id: i32) -> Result<(), ClusterError> {
    let state = load(dir)?;
    let node = state.node(id)?;
    require(node, NodeStatus::Paused)?;
    process::signal(node, NodeSignal::Cont)?;
    println!("node {id} resumed");
    Ok(())
}

fn require(node: &NodeState, wanted: NodeStatus) -> Result<(), ClusterError> {
    let now = process::status(node);
    if now == wanted {
        Ok(())
    } else {
        Err(ClusterError::WrongState {
            id: node.id,
            state: now.as_str(),
        })
    }
}

pub(crate) fn start(dir: &Path, id: i32, timeout: Duration) -> Result<(), ClusterError> {
    let mut state = load(dir)?;
    let node = state.node(id)?.clone();
    require(&node, NodeStatus::Stopped)?;
    let mut child = process::spawn(&own_binary()?, &node)?;
    state.node_mut(id)?.pid = Some(child.id());
    state.save(dir)?;
    let node = state.node(id)?.clone();
    if let Err(e) = process::wait_ready(&node, &mut child, timeout) {
        let _ = process::signal(&node, NodeSignal::Kill);
        let _ = child.wait();
        forget_pid(dir, &mut state, id)?;
        return Err(e);
    }
    println!(
        "node {id} running (pid {}) on 127.0.0.1:{}",
        child.id(),
        node.client_port
    );
    Ok(())
}

pub(crate) fn restart(dir: &Path, id: i32, timeout: Duration) -> Result<(), ClusterError> {
    let mut state = load(dir)?;
    let node = state.node(id)?.clone();
    if process::status(&node) != NodeStatus::Stopped {
        terminate(&node, timeout)?;
    }
    forget_pid(dir, &mut state, id)?;
    start(dir, id, timeout)
}

pub(crate) fn down(dir: &Path, purge: bool) -> Result<(), ClusterError> {
    let mut state = load(dir)?;
    for node in state.nodes.clone() {
        if process::status(&node) == NodeStatus::Stopped {
            continue;
        }
        // `down` means down: a node that ignores SIGTERM is killed.
        if terminate(&node, STOP_TIMEOUT).is_err() {
            eprintln!("node {} ignored SIGTERM; killing it", node.id);
            process::signal(&node, NodeSignal::Kill)?;
            process::wait_stopped(&node, KILL_TIMEOUT);
        }
        println!("node {} stopped", node.id);
    }
    for node in &mut state.nodes {
        node.pid = None;
    }
    state.save(dir)?;
    if purge {
        // Only a directory holding our state file gets here (`load` succeeded).
        std::fs::remove_dir_all(dir)
            .map_err(|e| ClusterError::Io(format!("deleting {}", dir.display()), e))?;
        println!("deleted {}", dir.display());
    } else {
        println!(
            "cluster stopped; data kept in {} (`kavka cluster up` starts it again)",
            dir.display()
        );
    }
    Ok(())
}
