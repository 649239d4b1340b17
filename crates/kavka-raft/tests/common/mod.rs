//! A harness for in-process quorums over loopback TCP: every node is a real
//! `MetadataQuorum` with its own directory and listener.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kavka_metadata::{ConfigResource, MetadataRecord};
use kavka_raft::{
    MetadataQuorum, NodeId, QuorumConfig, QuorumError, QuorumTimeouts, StartError, Voter,
};

/// A free port below Linux's ephemeral range (32768+), so an outgoing connection of
/// another test cannot take it while a node is down between a stop and a restart.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ (u64::from(std::process::id()) << 16);
    for i in 0..1000u64 {
        let n = seed.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed) * 7919 + i);
        let port = 20_000 + (n % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000");
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,openraft=off".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A config record that sets `key` on the cluster-wide default: unique keys make
/// every acknowledged proposal visible in the image.
pub fn config_record(key: &str, value: &str) -> MetadataRecord {
    MetadataRecord::Config {
        resource: ConfigResource::Broker(None),
        name: key.to_string(),
        value: Some(value.to_string()),
    }
}

pub fn topic_records(name: &str) -> Vec<MetadataRecord> {
    let topic_id = uuid::Uuid::new_v4();
    vec![
        MetadataRecord::Topic {
            name: name.to_string(),
            topic_id,
        },
        MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        },
    ]
}

/// Nodes 1..=n as voters, plus any observers added later.
pub struct Cluster {
    /// Unique per cluster, so that a port another test process reuses while a
    /// node of this one is down never joins this quorum.
    pub cluster_id: String,
    _root: tempfile::TempDir,
    root: PathBuf,
    pub voters: Vec<Voter>,
    addrs: BTreeMap<NodeId, String>,
    pub nodes: BTreeMap<NodeId, MetadataQuorum>,
    pub snapshot_every: u64,
    pub keep_after_snapshot: u64,
    pub max_frame_bytes: usize,
}

impl Cluster {
    /// A cluster whose nodes are configured but not started.
    pub fn new(voters: u64) -> Self {
        init_tracing();
        let root = tempfile::tempdir().unwrap();
        let mut addrs = BTreeMap::new();
        let mut list = Vec::new();
        for id in 1..=voters {
            let addr = format!("127.0.0.1:{}", free_port());
            addrs.insert(id, addr.clone());
            list.push(Voter { id, addr });
        }
        Self {
            cluster_id: uuid::Uuid::new_v4().to_string(),
            root: root.path().to_path_buf(),
            _root: root,
            voters: list,
            addrs,
            nodes: BTreeMap::new(),
            snapshot_every: 10_000,
            keep_after_snapshot: 1_000,
            max_frame_bytes: 16 << 20,
        }
    }

    /// Starts every voter and waits for a leader.
    pub async fn start(voters: u64) -> Self {
        let mut c = Self::new(voters);
        for id in 1..=voters {
            c.start_node(id).await;
        }
        c.leader(Duration::from_secs(10)).await;
        c
    }

    pub fn addr(&mut self, id: NodeId) -> String {
        self.addrs
            .entry(id)
            .or_insert_with(|| format!("127.0.0.1:{}", free_port()))
            .clone()
    }

    pub fn dir(&self, id: NodeId) -> PathBuf {
        self.root
            .join(format!("node-{id}"))
            .join("__cluster_metadata-0")
    }

    pub fn config(&mut self, id: NodeId) -> QuorumConfig {
        let mut c = QuorumConfig::new(
            self.cluster_id.clone(),
            id,
            self.addr(id),
            self.voters.clone(),
            self.dir(id),
        );
        c.timeouts = QuorumTimeouts::fast();
        c.snapshot_every_entries = self.snapshot_every;
        c.keep_entries_after_snapshot = self.keep_after_snapshot;
        c.max_frame_bytes = self.max_frame_bytes;
        c
    }

    /// Starts (or restarts, from its directory) node `id`.
    pub async fn start_node(&mut self, id: NodeId) -> MetadataQuorum {
        assert!(!self.nodes.contains_key(&id), "node {id} is running");
        let config = self.config(id);
        let deadline = Instant::now() + Duration::from_secs(5);
        let node = loop {
            match MetadataQuorum::start(config.clone()).await {
                Ok(node) => break node,
                // The old listener's port may take a moment to be released.
                Err(StartError::Bind { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("node {id} failed to start: {e}"),
            }
        };
        self.nodes.insert(id, node.clone());
        node
    }

    /// Stops node `id`, keeping its directory.
    pub async fn stop_node(&mut self, id: NodeId) {
        let node = self.nodes.remove(&id).expect("node is running");
        let _ = node.shutdown().await;
    }

    pub fn node(&self, id: NodeId) -> &MetadataQuorum {
        &self.nodes[&id]
    }

    /// The running node that leads in the highest term, waiting up to `timeout`.
    pub async fn leader(&self, timeout: Duration) -> NodeId {
        let deadline = Instant::now() + timeout;
        loop {
            let leader = self
                .nodes
                .values()
                .filter(|n| n.is_leader())
                .max_by_key(|n| n.describe().leader_epoch)
                .map(|n| n.node_id());
            if let Some(l) = leader {
                return l;
            }
            assert!(Instant::now() < deadline, "no leader within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Proposes through whichever node leads, following NotLeader answers, until
    /// the entry commits or `timeout` passes.
    pub async fn try_propose(
        &self,
        records: Vec<MetadataRecord>,
        timeout: Duration,
    ) -> Result<u64, QuorumError> {
        let deadline = Instant::now() + timeout;
        let mut target = self
            .nodes
            .values()
            .find(|n| n.is_leader())
            .map(|n| n.node_id());
        loop {
            let node = target
                .and_then(|t| self.nodes.get(&t))
                .or_else(|| self.nodes.values().find(|n| n.is_leader()));
            let result = match node {
                Some(node) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, node.propose(records.clone())).await {
                        Ok(r) => r,
                        Err(_) => Err(QuorumError::Raft("timed out".into())),
                    }
                }
                None => Err(QuorumError::NotLeader {
                    leader: None,
                    leader_addr: None,
                }),
            };
            match result {
                Ok(index) => return Ok(index),
                Err(QuorumError::NotLeader { leader, .. }) => target = leader,
                Err(_) => target = None,
            }
            if Instant::now() >= deadline {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    pub async fn propose(&self, records: Vec<MetadataRecord>) -> u64 {
        self.try_propose(records, Duration::from_secs(15))
            .await
            .expect("proposal committed")
    }

    /// Waits until every running node has applied `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for (id, node) in &self.nodes {
            let mut rx = node.subscribe();
            let left = deadline.saturating_duration_since(Instant::now());
            let reached = tokio::time::timeout(
                left,
                rx.wait_for(|i| i.applied_index.is_some_and(|a| a >= index)),
            )
            .await;
            assert!(
                matches!(reached, Ok(Ok(_))),
                "node {id} did not apply index {index} within {timeout:?} (at {:?})",
                node.image().applied_index
            );
        }
    }

    /// Waits until every running node holds the same image at the same index (a
    /// leader change may be appending a blank entry meanwhile), then returns it.
    pub async fn wait_images_equal(&self, timeout: Duration) -> kavka_raft::CommittedImage {
        let deadline = Instant::now() + timeout;
        loop {
            let images: Vec<(NodeId, kavka_raft::CommittedImage)> =
                self.nodes.iter().map(|(id, n)| (*id, n.image())).collect();
            let (fid, first) = &images[0];
            let differing = images
                .iter()
                .find(|(_, i)| i.applied_index != first.applied_index || i.image != first.image);
            match differing {
                None => return first.clone(),
                Some((id, other)) => assert!(
                    Instant::now() < deadline,
                    "nodes {fid} (at {:?}) and {id} (at {:?}) still differ after {timeout:?}",
                    first.applied_index,
                    other.applied_index
                ),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shutdown(mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop_node(id).await;
        }
    }
}
