//! `DIR/cluster.json`: which processes belong to a local cluster and where they
//! listen. It is the only source of PIDs the tool ever signals, and the interface
//! the fault-test harness reads; it is written atomically so a crash of the tool
//! never leaves half a file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ClusterError;

/// The format version this code reads and writes.
pub(crate) const VERSION: u32 = 1;

/// The state file's name inside the cluster directory.
pub(crate) const STATE_FILE: &str = "cluster.json";

/// A local cluster as `kavka cluster` left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClusterState {
    /// Format of this file; bumped on incompatible changes.
    pub(crate) version: u32,
    pub(crate) cluster_id: String,
    pub(crate) base_port: u16,
    /// The `--property`/`--node-property` arguments of `up`, as given.
    pub(crate) properties: Vec<String>,
    pub(crate) nodes: Vec<NodeState>,
}

/// One node: its ports, files and the PID of its last start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeState {
    pub(crate) id: i32,
    /// `None` once the tool saw the process end.
    pub(crate) pid: Option<u32>,
    pub(crate) client_port: u16,
    pub(crate) controller_port: u16,
    pub(crate) config: PathBuf,
    pub(crate) log: PathBuf,
}

impl ClusterState {
    /// The state in `dir`, or `None` if no cluster was ever brought up there.
    pub(crate) fn load(dir: &Path) -> Result<Option<Self>, ClusterError> {
        let path = dir.join(STATE_FILE);
        let text = match kavka_storage::durable::read_optional(&path) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(None),
            Err(e) => return Err(ClusterError::State(path, e.to_string())),
        };
        let state: Self = serde_json::from_str(&text)
            .map_err(|e| ClusterError::State(path.clone(), e.to_string()))?;
        if state.version != VERSION {
            return Err(ClusterError::State(
                path,
                format!(
                    "format version {} (this kavka writes {VERSION})",
                    state.version
                ),
            ));
        }
        Ok(Some(state))
    }

    /// Writes the state through a temp file, fsync and rename.
    pub(crate) fn save(&self, dir: &Path) -> Result<(), ClusterError> {
        let path = dir.join(STATE_FILE);
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|e| ClusterError::State(path.clone(), e.to_string()))?;
        text.push(b'\n');
        kavka_storage::durable::write_atomic(&path, &text)
            .map_err(|e| ClusterError::Io(format!("writing {}", path.display()), e))
    }

    /// The node with this id.
    pub(crate) fn node(&self, id: i32) -> Result<&NodeState, ClusterError> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or_else(|| self.unknown(id))
    }

    /// The node with this id, to record a new PID.
    pub(crate) fn node_mut(&mut self, id: i32) -> Result<&mut NodeState, ClusterError> {
        let err = self.unknown(id);
        self.nodes.iter_mut().find(|n| n.id == id).ok_or(err)
    }

    fn unknown(&self, id: i32) -> ClusterError {
        ClusterError::NoSuchNode {
            id,
            known: self
                .nodes
                .iter()
                .map(|n| n.id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// `127.0.0.1:P1,127.0.0.1:P2,...`
    pub(crate) fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ClusterState {
        ClusterState {
            version: 1,
            cluster_id: "abc".into(),
            base_port: 19092,
            properties: vec!["num.partitions=3".into()],
            nodes: (1..=2)
                .map(|id| NodeState {
                    id,
                    pid: Some(100 + id as u32),
                    client_port: 19091 + id as u16,
                    controller_port: 19093 + id as u16,
                    config: PathBuf::from(format!("/x/node-{id}/server.properties")),
                    log: PathBuf::from(format!("/x/node-{id}/broker.log")),
                })
                .collect(),
        }
    }

    #[test]
    fn saves_and_loads_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ClusterState::load(dir.path()).unwrap(), None);
        state().save(dir.path()).unwrap();
        assert_eq!(ClusterState::load(dir.path()).unwrap(), Some(state()));
        assert_eq!(state().bootstrap(), "127.0.0.1:19092,127.0.0.1:19093");
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), "{ not json").unwrap();
        let err = ClusterState::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("cluster.json"), "{err}");
    }

    #[test]
    fn a_state_file_of_another_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        ClusterState {
            version: 2,
            ..state()
        }
        .save(dir.path())
        .unwrap();
        let err = ClusterState::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("format version 2"), "{err}");
    }

    #[test]
    fn unknown_node_names_the_known_ones() {
        let err = state().node(7).unwrap_err().to_string();
        assert!(err.contains("no node 7") && err.contains("1, 2"), "{err}");
    }
}
