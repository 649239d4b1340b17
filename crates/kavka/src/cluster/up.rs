//! `kavka cluster up`: write each node's configuration, format every node with
//! one cluster id, start the nodes and wait until each answers. A failed `up`
//! ends what it started, so nothing is left running that nobody asked for.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use super::commands::{own_binary, STOP_TIMEOUT};
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

pub(crate) fn up(dir: &Path, opts: UpOptions) -> Result<(), ClusterError> {
    let overrides = parse_overrides(&opts)?;
    let layout = Layout {
        dir: dir.to_path_buf(),
        nodes: opts.nodes,
        base_port: opts.base_port,
    };
    let plan = layout.plan()?;
    for n in overrides.iter().filter_map(|o| o.node) {
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
    // Up means formed: every node lists every broker, so the first CreateTopics
    // with the cluster's full replication factor is placed, whichever node takes it.
    let expected = state.nodes.len();
    for i in 0..state.nodes.len() {
        let node = state.nodes[i].clone();
        if let Err(e) = process::wait_all_registered(&node, expected, opts.timeout) {
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
    super::commands::print_table(&state);
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
