//! The `server.properties` of each node of a local cluster: pure, so the layout of
//! ports and the Kafka settings can be checked without starting anything.

use std::path::{Path, PathBuf};

use super::ClusterError;

/// One `key=value` override, for every node (`node: None`) or for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Override {
    pub(crate) node: Option<i32>,
    pub(crate) key: String,
    pub(crate) value: String,
}

impl Override {
    /// Parses `--property key=value`.
    pub(crate) fn for_all(text: &str) -> Result<Self, ClusterError> {
        let (key, value) = split_kv(text)?;
        Ok(Self {
            node: None,
            key,
            value,
        })
    }

    /// Parses `--node-property ID:key=value`.
    pub(crate) fn for_node(text: &str) -> Result<Self, ClusterError> {
        let bad = || ClusterError::BadProperty(text.to_string());
        let (id, rest) = text.split_once(':').ok_or_else(bad)?;
        let node = id.trim().parse::<i32>().map_err(|_| bad())?;
        let (key, value) = split_kv(rest).map_err(|_| bad())?;
        Ok(Self {
            node: Some(node),
            key,
            value,
        })
    }
}

fn split_kv(text: &str) -> Result<(String, String), ClusterError> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(ClusterError::BadProperty(text.to_string())),
    }
}

/// Where the nodes of a cluster live and listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) dir: PathBuf,
    pub(crate) nodes: i32,
    pub(crate) base_port: u16,
}

/// One node's ports and paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodePlan {
    pub(crate) id: i32,
    pub(crate) client_port: u16,
    pub(crate) controller_port: u16,
    pub(crate) dir: PathBuf,
}

impl Layout {
    /// Client ports are `base..base+n`, controller ports follow them, so a cluster
    /// occupies one contiguous block of `2n` ports.
    pub(crate) fn plan(&self) -> Result<Vec<NodePlan>, ClusterError> {
        let n = u16::try_from(self.nodes).map_err(|_| ClusterError::NodeCount(self.nodes))?;
        if !(1..=MAX_NODES).contains(&n) {
            return Err(ClusterError::NodeCount(self.nodes));
        }
        if u32::from(self.base_port) + 2 * u32::from(n) > u32::from(u16::MAX) || self.base_port == 0
        {
            return Err(ClusterError::BasePort(self.base_port));
        }
        Ok((0..n)
            .map(|i| {
                let id = i32::from(i) + 1;
                NodePlan {
                    id,
                    client_port: self.base_port + i,
                    controller_port: self.base_port + n + i,
                    dir: node_dir(&self.dir, id),
                }
            })
            .collect())
    }
}

/// Nodes a local cluster may have: enough for any test, few enough that a typo
/// (`-n 300`) does not start hundreds of processes.
pub(crate) const MAX_NODES: u16 = 9;

/// `DIR/node-<id>`.
pub(crate) fn node_dir(dir: &Path, id: i32) -> PathBuf {
    dir.join(format!("node-{id}"))
}

/// The properties of `node` in a cluster of `all`, with `overrides` applied in
/// order (a later one wins; a node's own override wins over one for all nodes).
pub(crate) fn render(node: &NodePlan, all: &[NodePlan], overrides: &[Override]) -> String {
    let n = all.len();
    let voters = all
        .iter()
        .map(|p| format!("{}@127.0.0.1:{}", p.id, p.controller_port))
        .collect::<Vec<_>>()
        .join(",");
    let mut props: Vec<(String, String)> = [
        ("process.roles", "broker,controller".to_string()),
        ("node.id", node.id.to_string()),
        ("controller.quorum.voters", voters),
        ("controller.listener.names", "CONTROLLER".to_string()),
        (
            "listeners",
            format!(
                "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                node.client_port, node.controller_port
            ),
        ),
        (
            "advertised.listeners",
            format!("PLAINTEXT://127.0.0.1:{}", node.client_port),
        ),
        ("inter.broker.listener.name", "PLAINTEXT".to_string()),
        ("log.dirs", node.dir.join("data").display().to_string()),
        ("default.replication.factor", n.min(3).to_string()),
        ("min.insync.replicas", n.min(2).to_string()),
        ("offsets.topic.replication.factor", n.min(3).to_string()),
        // Off: every node would want the default port 9644. Turn it on per node
        // with `--node-property ID:http.listeners=http://127.0.0.1:PORT`.
        ("http.listeners", String::new()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let general = overrides.iter().filter(|o| o.node.is_none());
    let own = overrides.iter().filter(|o| o.node == Some(node.id));
    for o in general.chain(own) {
        match props.iter_mut().find(|(k, _)| *k == o.key) {
            Some(slot) => slot.1 = o.value.clone(),
            None => props.push((o.key.clone(), o.value.clone())),
        }
    }
    let mut out = format!(
        "# Node {} of a {n}-node local Kavka cluster, written by `kavka cluster up`.\n",
        node.id
    );
    for (k, v) in props {
        out.push_str(&k);
        out.push('=');
        out.push_str(&escape(&v));
        out.push('\n');
    }
    out
}

/// Java properties treat `\` as an escape; paths and values are written literally.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(n: i32) -> Layout {
        Layout {
            dir: PathBuf::from("/tmp/c"),
            nodes: n,
            base_port: 19092,
        }
    }

    fn props(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn get(text: &str, key: &str) -> String {
        props(text)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{key} missing"))
    }

    #[test]
    fn three_nodes_get_contiguous_ports_and_the_same_voters() {
        let plan = layout(3).plan().unwrap();
        let ports: Vec<_> = plan
            .iter()
            .map(|p| (p.client_port, p.controller_port))
            .collect();
        assert_eq!(ports, [(19092, 19095), (19093, 19096), (19094, 19097)]);
        let second = render(&plan[1], &plan, &[]);
        assert_eq!(get(&second, "node.id"), "2");
        assert_eq!(
            get(&second, "controller.quorum.voters"),
            "1@127.0.0.1:19095,2@127.0.0.1:19096,3@127.0.0.1:19097"
        );
        assert_eq!(
            get(&second, "listeners"),
            "PLAINTEXT://127.0.0.1:19093,CONTROLLER://127.0.0.1:19096"
        );
        assert_eq!(
            get(&second, "advertised.listeners"),
            "PLAINTEXT://127.0.0.1:19093"
        );
        assert_eq!(get(&second, "log.dirs"), "/tmp/c/node-2/data");
        assert_eq!(get(&second, "default.replication.factor"), "3");
        assert_eq!(get(&second, "min.insync.replicas"), "2");
        assert_eq!(get(&second, "offsets.topic.replication.factor"), "3");
        assert_eq!(
            get(&second, "http.listeners"),
            "",
            "no two nodes on port 9644"
        );
    }

    #[test]
    fn one_node_asks_for_no_more_replicas_than_it_has() {
        let plan = layout(1).plan().unwrap();
        let text = render(&plan[0], &plan, &[]);
        assert_eq!(get(&text, "default.replication.factor"), "1");
        assert_eq!(get(&text, "min.insync.replicas"), "1");
        assert_eq!(get(&text, "offsets.topic.replication.factor"), "1");
        assert_eq!(get(&text, "controller.quorum.voters"), "1@127.0.0.1:19093");
    }

    #[test]
    fn node_override_beats_cluster_override_and_new_keys_are_appended() {
        let plan = layout(2).plan().unwrap();
        let overrides = [
            Override::for_node("2:min.insync.replicas=1").unwrap(),
            Override::for_all("min.insync.replicas=2").unwrap(),
            Override::for_all("num.partitions=6").unwrap(),
        ];
        let first = render(&plan[0], &plan, &overrides);
        let second = render(&plan[1], &plan, &overrides);
        assert_eq!(get(&first, "min.insync.replicas"), "2");
        assert_eq!(get(&second, "min.insync.replicas"), "1");
        assert_eq!(get(&second, "num.partitions"), "6");
        let keys: Vec<_> = props(&second).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys.iter().filter(|k| *k == "min.insync.replicas").count(),
            1
        );
    }

    #[test]
    fn bad_sizes_and_properties_are_refused() {
        assert!(matches!(layout(0).plan(), Err(ClusterError::NodeCount(0))));
        assert!(matches!(
            layout(10).plan(),
            Err(ClusterError::NodeCount(10))
        ));
        let high = Layout {
            base_port: 65530,
            ..layout(3)
        };
        assert!(matches!(high.plan(), Err(ClusterError::BasePort(65530))));
        assert!(Override::for_all("novalue").is_err());
        assert!(Override::for_all("=x").is_err());
        assert!(Override::for_node("x:a=b").is_err());
        assert!(Override::for_node("a=b").is_err());
    }
}
