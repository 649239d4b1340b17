//! The client side of node-to-node RPCs: openraft's `RaftNetwork` over plain TCP.
//!
//! One connection per openraft client (openraft keeps one per replication stream
//! and opens short-lived ones for votes), connected lazily and dropped on any error
//! or timeout, since a late answer would otherwise be read as the answer to the next
//! request. Failures map to openraft's errors so that it retries: a refused or timed
//! out connect is `Unreachable` (openraft backs off), a broken connection or an
//! undecodable answer is a `NetworkError`, and an RPC over its deadline is a
//! `Timeout`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError, Timeout,
    Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RPCTypes, RaftNetwork, RaftNetworkFactory};
use parking_lot::Mutex;
use tokio::net::TcpStream;

use crate::rpc::{self, Addressee, Envelope, Request, Response};
use crate::types::{NodeId, TypeConfig};

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

/// What the leader last heard from each follower, for DescribeQuorum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PeerProgress {
    /// When the follower last acknowledged an AppendEntries (Kafka: last fetch).
    pub(crate) last_ack_ms: Option<u64>,
    /// When an acknowledgement last showed the follower at the leader's log end.
    pub(crate) last_caught_up_ms: Option<u64>,
}

/// Progress of followers as seen by this node while it leads.
#[derive(Debug, Default)]
pub(crate) struct PeerTracker {
    /// This node's log end (last index + 1; 0 when empty), kept current by the
    /// quorum's metrics task.
    pub(crate) log_end: AtomicU64,
    peers: Mutex<BTreeMap<NodeId, PeerProgress>>,
}

impl PeerTracker {
    fn acknowledged(&self, target: NodeId, matched: Option<u64>) {
        let now = now_ms();
        let caught_up = matched.map_or(0, |m| m + 1) >= self.log_end.load(Ordering::Relaxed);
        let mut peers = self.peers.lock();
        let p = peers.entry(target).or_default();
        p.last_ack_ms = Some(now);
        if caught_up {
            p.last_caught_up_ms = Some(now);
        }
    }

    /// The progress recorded for `node`.
    pub(crate) fn progress(&self, node: NodeId) -> PeerProgress {
        self.peers.lock().get(&node).copied().unwrap_or_default()
    }

    /// Forgets everything, when a new term starts: the numbers describe one
    /// leadership.
    pub(crate) fn reset(&self) {
        self.peers.lock().clear();
    }
}

/// Milliseconds since the Unix epoch, as Kafka reports timestamps.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Makes clients for openraft.
#[derive(Debug, Clone)]
pub(crate) struct NetworkFactory {
    pub(crate) node_id: NodeId,
    pub(crate) cluster_id: String,
    pub(crate) max_frame_bytes: usize,
    pub(crate) rpc_timeout: Duration,
    pub(crate) tracker: Arc<PeerTracker>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            node_id: self.node_id,
            target,
            to: Addressee {
                cluster_id: self.cluster_id.clone(),
                node_id: target,
            },
            node: node.clone(),
            conn: None,
            max_frame_bytes: self.max_frame_bytes,
            rpc_timeout: self.rpc_timeout,
            tracker: self.tracker.clone(),
        }
    }
}

/// A connection to one peer.
#[derive(Debug)]
pub(crate) struct PeerClient {
    node_id: NodeId,
    target: NodeId,
    to: Addressee,
    node: BasicNode,
    conn: Option<TcpStream>,
    max_frame_bytes: usize,
    rpc_timeout: Duration,
    tracker: Arc<PeerTracker>,
}

/// How one round trip failed.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("rpc to {addr} failed: {reason}")]
    Broken { addr: String, reason: String },
    #[error("rpc timed out after {0:?}")]
    Timeout(Duration),
    #[error("request of {len} bytes exceeds the frame limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("{addr} is node {} of cluster {}, not the node expected", .answered.node_id, .answered.cluster_id)]
    Misdirected { addr: String, answered: Addressee },
}

impl PeerClient {
    /// A client for requests this node sends on its own (controller requests),
    /// outside openraft's connection management.
    pub(crate) fn standalone(
        from: NodeId,
        cluster_id: String,
        target: NodeId,
        addr: String,
        max_frame_bytes: usize,
        rpc_timeout: Duration,
    ) -> Self {
        PeerClient {
            node_id: from,
            target,
            to: Addressee {
                cluster_id,
                node_id: target,
            },
            node: BasicNode { addr },
            conn: None,
            max_frame_bytes,
            rpc_timeout,
            tracker: Arc::new(PeerTracker::default()),
        }
    }

    /// Sends a controller request; `Ok(None)` when the peer runs no controller.
    pub(crate) async fn call_controller(
        &mut self,
        request: serde_json::Value,
        ttl: Duration,
    ) -> Result<Option<serde_json::Value>, String> {
        match self.call(Request::Controller(request), ttl).await {
            Ok(Response::Controller(answer)) => Ok(Some(answer)),
            Ok(Response::NoController) => Ok(None),
            Ok(_) => {
                self.conn = None;
                Err(format!(
                    "{} answered a controller request with another kind",
                    self.node.addr
                ))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// The address this client talks to.
    pub(crate) fn addr(&self) -> &str {
        &self.node.addr
    }

    /// One round trip within `ttl` (openraft's deadline for the request, bounded by
    /// `rpc_timeout` except for snapshot chunks), connecting first if needed.
    async fn call(&mut self, request: Request, ttl: Duration) -> Result<Response, CallError> {
        let ttl = match request {
            Request::InstallSnapshot(_) | Request::Controller(_) => ttl,
            _ => ttl.min(self.rpc_timeout),
        }
        .max(Duration::from_millis(10));
        let envelope = Envelope {
            to: self.to.clone(),
            request,
        };
        let payload = serde_json::to_vec(&envelope).map_err(|e| CallError::Broken {
            addr: self.node.addr.clone(),
            reason: e.to_string(),
        })?;
        if payload.len() > self.max_frame_bytes {
            return Err(CallError::TooLarge {
                len: payload.len(),
                max: self.max_frame_bytes,
            });
        }
        match tokio::time::timeout(ttl, self.round_trip(&payload)).await {
            Ok(Ok(Response::Misdirected(answered))) => {
                self.conn = None;
                Err(CallError::Misdirected {
                    addr: self.node.addr.clone(),
                    answered,
                })
            }
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => {
                self.conn = None;
                Err(e)
            }
            Err(_) => {
                self.conn = None;
                Err(CallError::Timeout(ttl))
            }
        }
    }

    async fn round_trip(&mut self, payload: &[u8]) -> Result<Response, CallError> {
        let addr = self.node.addr.clone();
        let broken = |reason: String| CallError::Broken {
            addr: addr.clone(),
            reason,
        };
        if self.conn.is_none() {
            let stream = TcpStream::connect(&addr)
                .await
                .map_err(|source| CallError::Connect {
                    addr: addr.clone(),
                    source,
                })?;
            // Raft RPCs are small and latency-bound.
            let _ = stream.set_nodelay(true);
            self.conn = Some(stream);
        }
        let Some(stream) = self.conn.as_mut() else {
            return Err(broken("no connection".into()));
        };
        rpc::write_frame(stream, payload, self.max_frame_bytes)
            .await
            .map_err(|e| broken(e.to_string()))?;
        let frame = rpc::read_frame(stream, self.max_frame_bytes)
            .await
            .map_err(|e| broken(e.to_string()))?
            .ok_or_else(|| broken("connection closed by the peer".into()))?;
        serde_json::from_slice(&frame).map_err(|e| broken(format!("undecodable response: {e}")))
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        action: RPCTypes,
        e: CallError,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        tracing::debug!(target_node = self.target, %action, error = %e, "quorum rpc failed");
        match e {
            // Someone else listens there: back off as from a node that is down.
            CallError::Connect { .. } | CallError::Misdirected { .. } => {
                RPCError::Unreachable(Unreachable::new(&e))
            }
            CallError::Broken { .. } | CallError::TooLarge { .. } => {
                RPCError::Network(NetworkError::new(&e))
            }
            CallError::Timeout(timeout) => RPCError::Timeout(Timeout {
                action,
                id: self.node_id,
                target: self.target,
                timeout,
            }),
        }
    }

    fn remote<E: std::error::Error>(
        &self,
        e: RaftError<NodeId, E>,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        RPCError::RemoteError(RemoteError::new_with_node(
            self.target,
            self.node.clone(),
            e,
        ))
    }

    fn mismatch<E: std::error::Error>(
        &mut self,
        action: RPCTypes,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        self.conn = None;
        let e = CallError::Broken {
            addr: self.node.addr.clone(),
            reason: format!("answer of another kind to a {action} request"),
        };
        self.rpc_error(action, e)
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        // What the follower holds if it accepts: the last entry sent, or the entry
        // the request builds on.
        let sent_up_to = rpc
            .entries
            .last()
            .map(|e| e.log_id.index)
            .or(rpc.prev_log_id.map(|l| l.index));
        let entries = rpc.entries.len() as u64;
        let response = match self
            .call(Request::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(r) => r,
            // openraft retries with fewer entries per request. A single entry never
            // exceeds the frame: `propose` refuses batches that could.
            Err(e @ CallError::TooLarge { .. }) if entries > 1 => {
                return Err(RPCError::PayloadTooLarge(
                    PayloadTooLarge::new_entries_hint(entries / 2).with_source_error(&e),
                ))
            }
            Err(e) => return Err(self.rpc_error(RPCTypes::AppendEntries, e)),
        };
        match response {
            Response::AppendEntries(Ok(r)) => {
                match &r {
                    AppendEntriesResponse::Success => {
                        self.tracker.acknowledged(self.target, sent_up_to)
                    }
                    AppendEntriesResponse::PartialSuccess(matched) => self
                        .tracker
                        .acknowledged(self.target, matched.map(|l| l.index)),
                    _ => {}
                }
                Ok(r)
            }
            Response::AppendEntries(Err(e)) => Err(self.remote(e)),
            _ => Err(self.mismatch(RPCTypes::AppendEntries)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        let response = self
            .call(Request::InstallSnapshot(rpc), option.hard_ttl())
            .await
            .map_err(|e| self.rpc_error(RPCTypes::InstallSnapshot, e))?;
        match response {
            Response::InstallSnapshot(Ok(r)) => Ok(r),
            Response::InstallSnapshot(Err(e)) => Err(self.remote(e)),
            _ => Err(self.mismatch(RPCTypes::InstallSnapshot)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        let response = self
            .call(Request::Vote(rpc), option.hard_ttl())
            .await
            .map_err(|e| self.rpc_error(RPCTypes::Vote, e))?;
        match response {
            Response::Vote(Ok(r)) => Ok(r),
            Response::Vote(Err(e)) => Err(self.remote(e)),
            _ => Err(self.mismatch(RPCTypes::Vote)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, LogId, Vote};
    use tokio::net::TcpListener;

    fn client(addr: String) -> PeerClient {
        PeerClient {
            node_id: 1,
            target: 2,
            to: Addressee {
                cluster_id: "test".into(),
                node_id: 2,
            },
            node: BasicNode { addr },
            conn: None,
            max_frame_bytes: 1 << 20,
            rpc_timeout: Duration::from_secs(5),
            tracker: Arc::new(PeerTracker::default()),
        }
    }

    fn vote_request() -> VoteRequest<NodeId> {
        VoteRequest::new(
            Vote::new(2, 1),
            Some(LogId::new(CommittedLeaderId::new(1, 1), 3)),
        )
    }

    #[tokio::test]
    async fn refused_connection_is_unreachable_so_openraft_backs_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = client(addr)
            .vote(vote_request(), RPCOption::new(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, RPCError::Unreachable(_)), "{err}");
    }

    #[tokio::test]
    async fn silent_peer_times_out_within_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        // Accepts and never answers.
        let _hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let started = std::time::Instant::now();
        let mut c = client(addr);
        let err = c
            .vote(vote_request(), RPCOption::new(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(matches!(err, RPCError::Timeout(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        // The connection is dropped, so a late answer is never taken for the next.
        assert!(c.conn.is_none());
    }

    #[tokio::test]
    async fn garbage_answer_is_a_network_error_and_drops_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = rpc::read_frame(&mut s, 1 << 20).await;
            let _ = rpc::write_frame(&mut s, b"{\"no\":1}", 1 << 20).await;
        });
        let mut c = client(addr);
        let err = c
            .vote(vote_request(), RPCOption::new(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, RPCError::Network(_)), "{err}");
        assert!(c.conn.is_none());
    }

    #[tokio::test]
    async fn too_many_entries_for_a_frame_ask_openraft_to_send_fewer() {
        use crate::types::{Entry, MetadataBatch};
        use openraft::EntryPayload;
        let mut c = client("127.0.0.1:1".into());
        c.max_frame_bytes = 4096;
        let record = kavka_metadata::MetadataRecord::Config {
            resource: kavka_metadata::ConfigResource::Broker(None),
            name: "k".into(),
            value: Some("v".repeat(1000)),
        };
        let entries: Vec<Entry> = (1..=8)
            .map(|i| Entry {
                log_id: LogId::new(CommittedLeaderId::new(1, 1), i),
                payload: EntryPayload::Normal(MetadataBatch::new(vec![record.clone()])),
            })
            .collect();
        let rpc = AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: Some(LogId::new(CommittedLeaderId::new(1, 1), 0)),
            leader_commit: None,
            entries,
        };
        let err = c
            .append_entries(rpc, RPCOption::new(Duration::from_secs(1)))
            .await
            .unwrap_err();
        match err {
            RPCError::PayloadTooLarge(p) => assert_eq!(p.entries_hint(), 4),
            other => panic!("expected PayloadTooLarge, got {other}"),
        }
    }

    #[test]
    fn acknowledgement_at_the_log_end_counts_as_caught_up() {
        let t = PeerTracker::default();
        t.log_end.store(10, Ordering::Relaxed);
        t.acknowledged(2, Some(5));
        let p = t.progress(2);
        assert!(p.last_ack_ms.is_some());
        assert_eq!(p.last_caught_up_ms, None);
        t.acknowledged(2, Some(9));
        assert!(t.progress(2).last_caught_up_ms.is_some());
        t.reset();
        assert_eq!(t.progress(2), PeerProgress::default());
    }
}
