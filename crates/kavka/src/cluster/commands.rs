//! The `kavka cluster` commands on an existing cluster. Each loads
//! `cluster.json`, acts on the recorded processes only, and saves the state again
//! after every change, so an interrupted command never leaves a node running that
//! the file does not name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{self, NodeSignal, NodeStatus};
use super::state::{ClusterState, NodeState};
use super::ClusterError;

/// Seconds a clean stop may take: the broker itself waits up to 5 s for connections.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Seconds a SIGKILLed process may take to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

fn load(dir: &Path) -> Result<ClusterState, ClusterError> {
    ClusterState::load(dir)?.ok_or_else(|| ClusterError::NoCluster(dir.to_path_buf()))
}

pub(crate) fn own_binary() -> Result<PathBuf, ClusterError> {
    std::env::current_exe().map_err(|e| ClusterError::Io("locating the kavka binary".into(), e))
}

pub(crate) fn status(dir: &Path) -> Result<(), ClusterError> {
    let state = load(dir)?;
    print_table(&state);
    Ok(())
}

pub(crate) fn print_table(state: &ClusterState) {
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
