//! [`MetadataQuorum`]: one node of the replicated metadata log, the handle the
//! broker and controller use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kavka_metadata::MetadataRecord;
use openraft::error::{ChangeMembershipError, ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, ChangeMembers, RaftMetrics, ServerState};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::QuorumConfig;
use crate::controller_rpc::{ControllerHandler, HandlerSlot};
use crate::crash_watch::{LeaderContact, Timers};
use crate::error::{QuorumError, StartError};
use crate::kafka_listener::{KafkaConnectionHandler, KafkaSlot};
use crate::log_store::LogStore;
use crate::network::{now_ms, NetworkFactory, PeerClient, PeerTracker};
use crate::rpc::Addressee;
use crate::server::Served;
use crate::state_machine::{CommittedImage, StateMachineStore};
use crate::types::{MetadataBatch, NodeId, Raft};

/// What Kafka's DescribeQuorum shows, as this node sees it. Offsets are Kafka's:
/// the log end offset is the index after the last entry, the high watermark the
/// index after the last committed entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuorumDescription {
    /// The leader, if one is known.
    pub leader_id: Option<NodeId>,
    /// The leader epoch: the Raft term.
    pub leader_epoch: u64,
    /// Index after the last entry applied on this node (committed; on the leader it
    /// trails the commit by the time it takes to apply).
    pub high_watermark: u64,
    /// The voters.
    pub voters: Vec<ReplicaDescription>,
    /// The observers: learners that follow the log without voting.
    pub observers: Vec<ReplicaDescription>,
}

/// One replica in a [`QuorumDescription`]. Progress of other nodes is known only
/// on the leader; elsewhere those fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplicaDescription {
    /// Its node id.
    pub node_id: NodeId,
    /// Its address as the membership records it.
    pub addr: String,
    /// Index after the last entry it is known to hold.
    pub log_end_offset: Option<u64>,
    /// When it last acknowledged the leader (ms since the epoch).
    pub last_fetch_timestamp_ms: Option<u64>,
    /// When it was last seen at the leader's log end (ms since the epoch).
    pub last_caught_up_timestamp_ms: Option<u64>,
}

/// A running node of the metadata quorum. Cheap to clone.
#[derive(Clone)]
pub struct MetadataQuorum {
    inner: Arc<Inner>,
}

struct Inner {
    config: QuorumConfig,
    raft: Raft,
    images: watch::Receiver<CommittedImage>,
    tracker: Arc<PeerTracker>,
    /// Stops the RPC server when set, or when dropped with the last handle: the
    /// server's connections hold the other Raft handles, so openraft's core stops
    /// once they are gone.
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The address the listener is bound to (the configured one, with the port
    /// filled in when it was 0).
    bound_addr: String,
    controller: HandlerSlot,
    /// Who serves Kafka-protocol connections on the listener.
    kafka: KafkaSlot,
    /// One connection per peer for controller requests, reused across calls.
    controller_clients: tokio::sync::Mutex<BTreeMap<NodeId, PeerClient>>,
    /// True while the log waits for disk space.
    disk_full: watch::Receiver<bool>,
}

impl std::fmt::Debug for MetadataQuorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataQuorum")
            .field("node_id", &self.inner.config.node_id)
            .field("listen_addr", &self.inner.config.listen_addr)
            .finish_non_exhaustive()
    }
}

impl MetadataQuorum {
    /// Opens the node's directory, binds its listener and starts it. On a fresh
    /// cluster the voter with the lowest id writes the initial membership (the
    /// static voters), exactly once: a node whose directory already holds a log
    /// resumes from it.
    pub async fn start(config: QuorumConfig) -> Result<Self, StartError> {
        config.validate()?;
        let raft_config = Arc::new(config.raft_config()?);
        let mut log_store = LogStore::open(&config.data_dir)?;
        let disk_full = log_store.disk_full.subscribe();
        let state_machine = StateMachineStore::open(&config.data_dir)?;
        log_store.purge_after_snapshots(state_machine.durable_snapshot_index());
        let images = state_machine.subscribe();
        let listener = TcpListener::bind(&config.listen_addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen_addr.clone(),
                source,
            })?;
        let bound_addr = match listener.local_addr() {
            Ok(local) if config.listen_addr.ends_with(":0") => {
                let host = config.listen_addr.trim_end_matches(":0");
                format!("{host}:{}", local.port())
            }
            _ => config.listen_addr.clone(),
        };
        let tracker = Arc::new(PeerTracker::default());
        let network = NetworkFactory {
            node_id: config.node_id,
            cluster_id: config.cluster_id.clone(),
            max_frame_bytes: config.max_frame_bytes,
            rpc_timeout: config.timeouts.rpc_timeout,
            tracker: tracker.clone(),
        };
        let raft = Raft::new(
            config.node_id,
            raft_config,
            network,
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let me = Addressee {
            cluster_id: config.cluster_id.clone(),
            node_id: config.node_id,
        };
        let controller = HandlerSlot::default();
        let contact = Arc::new(LeaderContact::default());
        let kafka = KafkaSlot::default();
        let server = tokio::spawn(crate::server::serve(
            listener,
            Served {
                raft: raft.clone(),
                me,
                max_frame_bytes: config.max_frame_bytes,
                controller: controller.clone(),
                contact: contact.clone(),
                kafka: kafka.clone(),
            },
            shutdown_rx.clone(),
        ));
        let crash_watch = tokio::spawn(crate::crash_watch::watch(
            raft.clone(),
            config.node_id,
            contact,
            Timers {
                heartbeat: config.timeouts.heartbeat_interval,
                lease: config.timeouts.fetch_timeout,
            },
            shutdown_rx,
        ));
        let watcher = tokio::spawn(track_leadership(raft.metrics(), tracker.clone()));

        let quorum = Self {
            inner: Arc::new(Inner {
                config,
                raft,
                images,
                tracker,
                shutdown,
                tasks: Mutex::new(vec![server, watcher, crash_watch]),
                bound_addr,
                controller,
                kafka,
                controller_clients: tokio::sync::Mutex::new(BTreeMap::new()),
                disk_full,
            }),
        };
        if let Err(e) = quorum.bootstrap_if_fresh().await {
            let _ = quorum.shutdown().await;
            return Err(e);
        }
        quorum.warn_if_voters_differ();
        let config = &quorum.inner.config;
        tracing::info!(node_id = config.node_id, addr = %config.listen_addr,
            voter = config.is_voter(), "metadata quorum node started");
        Ok(quorum)
    }

    /// The voters are the membership in the log, written once at bootstrap; a
    /// changed `controller.quorum.voters` is not applied (there is no voter change
    /// yet, KIP-853), so say so instead of silently running with the old set.
    fn warn_if_voters_differ(&self) {
        let metrics = self.inner.raft.metrics();
        let logged: BTreeSet<NodeId> = metrics
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        let configured: BTreeSet<NodeId> = self.inner.config.voters.iter().map(|v| v.id).collect();
        if !logged.is_empty() && logged != configured {
            tracing::warn!(
                ?logged,
                ?configured,
                "controller.quorum.voters differs from the voters in the metadata log; \
                 the log's voters stay in force"
            );
        }
    }

    /// On a fresh cluster, the voter with the lowest id writes the initial
    /// membership: the static voters. Any node with a log (or a vote) skips this.
    async fn bootstrap_if_fresh(&self) -> Result<(), StartError> {
        let config = &self.inner.config;
        let raft = &self.inner.raft;
        if config.voters.iter().map(|v| v.id).min() != Some(config.node_id) {
            return Ok(());
        }
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if initialized {
            return Ok(());
        }
        let members: BTreeMap<NodeId, BasicNode> = config
            .voters
            .iter()
            .map(|v| {
                (
                    v.id,
                    BasicNode {
                        addr: v.addr.clone(),
                    },
                )
            })
            .collect();
        tracing::info!(node_id = config.node_id, voters = ?members.keys(),
            "bootstrapping the metadata quorum");
        match raft.initialize(members).await {
            Ok(()) => Ok(()),
            // Another voter's log reached us first: nothing to do.
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(StartError::Raft(e.to_string())),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.inner.config.node_id
    }

    /// Where this node listens (with the actual port if 0 was configured).
    pub fn listen_addr(&self) -> &str {
        &self.inner.bound_addr
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &QuorumConfig {
        &self.inner.config
    }

    /// Installs the controller that answers controller requests sent to this node.
    pub fn set_controller(&self, handler: Arc<dyn ControllerHandler>) {
        self.inner.controller.set(handler);
    }

    /// Installs what serves connections speaking Kafka's protocol on this node's
    /// listener (`--bootstrap-controller`); until then they are closed.
    pub fn set_kafka_handler(&self, handler: Arc<dyn KafkaConnectionHandler>) {
        self.inner.kafka.set(handler);
    }

    /// The address of a node: from the membership in the log, else from
    /// `controller.quorum.voters`.
    pub fn node_addr(&self, node: NodeId) -> Option<String> {
        let metrics = self.inner.raft.metrics();
        let from_log = metrics
            .borrow()
            .membership_config
            .membership()
            .get_node(&node)
            .map(|n| n.addr.clone());
        from_log.or_else(|| {
            self.inner
                .config
                .voters
                .iter()
                .find(|v| v.id == node)
                .map(|v| v.addr.clone())
        })
    }

    /// Sends a request to the controller running beside node `target` and
    /// returns its answer; `Ok(None)` if that node runs no controller. Connections
    /// are kept per node; a failed call drops its connection.
    pub async fn call_controller(
        &self,
        target: NodeId,
        request: serde_json::Value,
        timeout: Duration,
    ) -> Result<Option<serde_json::Value>, QuorumError> {
        let addr = self.node_addr(target).ok_or(QuorumError::NotLeader {
            leader: Some(target),
            leader_addr: None,
        })?;
        let mut clients = self.inner.controller_clients.lock().await;
        let config = &self.inner.config;
        let client = clients.entry(target).or_insert_with(|| {
            PeerClient::standalone(
                config.node_id,
                config.cluster_id.clone(),
                target,
                addr.clone(),
                config.max_frame_bytes,
                config.timeouts.rpc_timeout,
            )
        });
        if client.addr() != addr {
            *client = PeerClient::standalone(
                config.node_id,
                config.cluster_id.clone(),
                target,
                addr,
                config.max_frame_bytes,
                config.timeouts.rpc_timeout,
            );
        }
        client
            .call_controller(request, timeout)
            .await
            .map_err(QuorumError::Raft)
    }

    /// Appends `records` as one entry and waits until it is committed and applied
    /// here; returns its log index. Only the leader accepts proposals; elsewhere the
    /// error names the leader so the caller can forward. The records land whole or
    /// not at all: if the image refuses one, the entry is committed but changes
    /// nothing, and the error says why.
    pub async fn propose(&self, records: Vec<MetadataRecord>) -> Result<u64, QuorumError> {
        self.propose_if(None, records).await
    }

    /// Like [`Self::propose`], but the records apply only if the image has applied
    /// exactly `expect_next_offset` records when the entry is applied; otherwise
    /// the entry changes nothing and the answer is [`QuorumError::Stale`].
    pub async fn propose_if(
        &self,
        expect_next_offset: Option<u64>,
        records: Vec<MetadataRecord>,
    ) -> Result<u64, QuorumError> {
        // An entry must fit one AppendEntries frame with room for its envelope, or
        // replication could never carry it.
        let limit = self.inner.config.max_frame_bytes / 2;
        let size = serde_json::to_vec(&records).map_or(usize::MAX, |b| b.len());
        if size > limit {
            return Err(QuorumError::BatchTooLarge { size, limit });
        }
        let write = self.inner.raft.client_write(MetadataBatch {
            records,
            expect_next_offset,
        });
        let timeout = self.inner.config.timeouts.propose_timeout;
        let mut disk_full = self.inner.disk_full.clone();
        let written = tokio::select! {
            written = tokio::time::timeout(timeout, write) => written,
            _ = disk_full.wait_for(|full| *full) => {
                return Err(QuorumError::DiskFull(
                    "the metadata log's disk is full; the change may still commit once space is freed"
                        .to_string(),
                ))
            }
        };
        match written {
            Ok(Ok(response)) if response.data.stale => Err(QuorumError::Stale {
                index: response.log_id.index,
            }),
            Ok(Ok(response)) => match response.data.refused {
                None => Ok(response.log_id.index),
                Some(refusal) => Err(QuorumError::Refused {
                    index: response.log_id.index,
                    code: refusal.code,
                    reason: refusal.reason,
                }),
            },
            Ok(Err(e)) => Err(client_write_error(e)),
            Err(_) => Err(QuorumError::Timeout(format!(
                "the entry was not committed within {timeout:?}; it may still commit"
            ))),
        }
    }

    /// Committed images, in order: each one has a larger applied index than the
    /// one before. A watch: a slow subscriber skips to the newest image.
    pub fn subscribe(&self) -> watch::Receiver<CommittedImage> {
        self.inner.images.clone()
    }

    /// The current image.
    pub fn image(&self) -> CommittedImage {
        self.inner.images.borrow().clone()
    }

    /// The leader this node knows of.
    pub fn leader(&self) -> Option<NodeId> {
        self.inner.raft.metrics().borrow().current_leader
    }

    /// Whether this node is the leader.
    pub fn is_leader(&self) -> bool {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.node_id())
    }

    /// Waits until this node knows a leader, up to `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<NodeId> {
        let mut metrics = self.inner.raft.metrics();
        let found =
            tokio::time::timeout(timeout, metrics.wait_for(|m| m.current_leader.is_some())).await;
        match found {
            Ok(Ok(m)) => m.current_leader,
            _ => None,
        }
    }

    /// What Kafka's DescribeQuorum shows.
    pub fn describe(&self) -> QuorumDescription {
        let metrics = self.inner.raft.metrics().borrow().clone();
        describe(&metrics, self.node_id(), &self.inner.tracker)
    }

    /// Openraft's metrics, for callers that want more than [`Self::describe`].
    pub fn metrics(&self) -> watch::Receiver<RaftMetrics<NodeId, BasicNode>> {
        self.inner.raft.metrics()
    }

    /// Adds a node that follows the log without voting (Kafka's observer, e.g. a
    /// broker-only node); waits until it holds the entry that added it, and returns
    /// that entry's index. Only on the leader. The node
    /// runs its own `MetadataQuorum` (not among the voters) listening on `addr`:
    /// the leader pushes the log to it.
    pub async fn add_learner(
        &self,
        node: NodeId,
        addr: impl Into<String>,
    ) -> Result<u64, QuorumError> {
        let addr = addr.into();
        let timeout = self.inner.config.timeouts.propose_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        // A restarted observer listens on a new port: point the membership at it,
        // or the leader would keep pushing the log to the old one.
        let known = self.node_addr(node);
        let is_learner = {
            let metrics = self.inner.raft.metrics();
            let m = metrics.borrow();
            let membership = m.membership_config.membership();
            membership.get_node(&node).is_some() && !membership.voter_ids().any(|v| v == node)
        };
        // Only a learner's address moves this way: learners do not vote, so no
        // quorum can be split by it; voters are static.
        if is_learner && known.as_deref() != Some(addr.as_str()) {
            let change =
                ChangeMembers::SetNodes(BTreeMap::from([(node, BasicNode { addr: addr.clone() })]));
            let moved = self.inner.raft.change_membership(change, false);
            match tokio::time::timeout_at(deadline, moved).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(client_write_error(e)),
                Err(_) => {
                    return Err(QuorumError::Timeout(format!(
                        "observer {node}'s new address not recorded within {timeout:?}"
                    )))
                }
            }
        }
        // Not openraft's blocking mode: it stops waiting after a short while and
        // reports success either way.
        let index = loop {
            let added = self
                .inner
                .raft
                .add_learner(node, BasicNode { addr: addr.clone() }, false);
            match tokio::time::timeout_at(deadline, added).await {
                Ok(Ok(response)) => break response.log_id.index,
                // A new leader's own membership entry (or another change) is not
                // committed yet; one change at a time, so wait for it.
                Ok(Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(
                    ChangeMembershipError::InProgress(_),
                )))) => tokio::time::sleep(Duration::from_millis(50)).await,
                Ok(Err(e)) => return Err(client_write_error(e)),
                Err(_) => {
                    return Err(QuorumError::Timeout(format!(
                        "learner {node} not added within {timeout:?}"
                    )))
                }
            }
        };
        let mut metrics = self.inner.raft.metrics();
        let caught_up = metrics.wait_for(|m| {
            let matched = m.replication.as_ref().and_then(|r| r.get(&node).copied());
            matched.flatten().is_some_and(|l| l.index >= index)
        });
        let caught_up = tokio::time::timeout_at(deadline, caught_up)
            .await
            .map(|r| r.is_ok());
        match caught_up {
            Ok(true) => Ok(index),
            Ok(false) => Err(QuorumError::Shutdown("metrics closed".to_string())),
            Err(_) => Err(QuorumError::Timeout(format!(
                "learner {node} added at index {index} but not caught up within {timeout:?}"
            ))),
        }
    }

    /// Removes an observer: the leader stops replicating to it. A voter cannot be
    /// removed this way (the voters are static). Only on the leader.
    pub async fn remove_learner(&self, node: NodeId) -> Result<u64, QuorumError> {
        let change = ChangeMembers::RemoveNodes(BTreeSet::from([node]));
        let removed = self.inner.raft.change_membership(change, false);
        let timeout = self.inner.config.timeouts.propose_timeout;
        match tokio::time::timeout(timeout, removed).await {
            Ok(Ok(response)) => Ok(response.log_id.index),
            Ok(Err(e)) => Err(client_write_error(e)),
            Err(_) => Err(QuorumError::Timeout(format!(
                "learner {node} not removed within {timeout:?}"
            ))),
        }
    }

    /// Takes a snapshot now (the log it covers is then purged), rather than after
    /// `snapshot_every_entries`.
    pub async fn snapshot_now(&self) -> Result<(), QuorumError> {
        self.inner
            .raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| QuorumError::Shutdown(e.to_string()))
    }

    /// Stops the node: Raft first (nothing more is appended or applied), then the
    /// listener and its connections. The directory stays as it is for a restart.
    pub async fn shutdown(&self) -> Result<(), QuorumError> {
        // The controller holds handles on this quorum; let it go first.
        self.inner.controller.clear();
        self.inner.kafka.clear();
        let result = self.inner.raft.shutdown().await;
        // openraft's state machine task outlives its core by a moment; the image
        // channel closes when it is gone, and only then is the directory free for
        // a restart.
        let mut images = self.inner.images.clone();
        let stopped = tokio::time::timeout(Duration::from_secs(5), async {
            while images.changed().await.is_ok() {}
        })
        .await;
        if stopped.is_err() {
            tracing::warn!(
                node_id = self.node_id(),
                "state machine still running after shutdown"
            );
        }
        let _ = self.inner.shutdown.send(true);
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.inner.tasks.lock());
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        tracing::info!(node_id = self.node_id(), "metadata quorum node stopped");
        result.map_err(|e| QuorumError::Shutdown(e.to_string()))
    }
}

fn client_write_error(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> QuorumError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => QuorumError::NotLeader {
            leader: f.leader_id,
            leader_addr: f.leader_node.map(|n| n.addr),
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            QuorumError::Membership(e.to_string())
        }
        RaftError::Fatal(e) => QuorumError::Shutdown(e.to_string()),
    }
}

/// Keeps the tracker's log end current, and resets it when the term changes, so
/// follower progress describes the current leadership only.
async fn track_leadership(
    mut metrics: watch::Receiver<RaftMetrics<NodeId, BasicNode>>,
    tracker: Arc<PeerTracker>,
) {
    let mut term = None;
    loop {
        {
            let m = metrics.borrow_and_update();
            tracker
                .log_end
                .store(m.last_log_index.map_or(0, |i| i + 1), Ordering::Relaxed);
            if term != Some(m.current_term) {
                term = Some(m.current_term);
                tracker.reset();
            }
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

fn describe(
    m: &RaftMetrics<NodeId, BasicNode>,
    me: NodeId,
    tracker: &PeerTracker,
) -> QuorumDescription {
    let membership = m.membership_config.membership();
    let voter_ids: BTreeSet<NodeId> = membership.voter_ids().collect();
    let leading = m.state == ServerState::Leader;
    let now = now_ms();
    let replica = |id: NodeId, addr: String| {
        if id == me {
            let caught_up = if leading { Some(now) } else { None };
            return ReplicaDescription {
                node_id: id,
                addr,
                log_end_offset: Some(m.last_log_index.map_or(0, |i| i + 1)),
                last_fetch_timestamp_ms: caught_up,
                last_caught_up_timestamp_ms: caught_up,
            };
        }
        let matched = m
            .replication
            .as_ref()
            .filter(|_| leading)
            .and_then(|r| r.get(&id).cloned());
        let progress = if leading {
            tracker.progress(id)
        } else {
            Default::default()
        };
        ReplicaDescription {
            node_id: id,
            addr,
            log_end_offset: matched.map(|l| l.map_or(0, |l| l.index + 1)),
            last_fetch_timestamp_ms: progress.last_ack_ms,
            last_caught_up_timestamp_ms: progress.last_caught_up_ms,
        }
    };
    let mut voters = Vec::new();
    let mut observers = Vec::new();
    for (id, node) in membership.nodes() {
        let r = replica(*id, node.addr.clone());
        if voter_ids.contains(id) {
            voters.push(r);
        } else {
            observers.push(r);
        }
    }
    QuorumDescription {
        leader_id: m.current_leader,
        leader_epoch: m.current_term,
        high_watermark: m.last_applied.map_or(0, |l| l.index + 1),
        voters,
        observers,
    }
}
