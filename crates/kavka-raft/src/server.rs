//! The server side of node-to-node RPCs: accepts connections on the controller
//! listener and hands each request to the local Raft node. A malformed frame or
//! request closes that connection only, with one log line naming the peer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::controller_rpc::HandlerSlot;
use crate::crash_watch::LeaderContact;
use crate::kafka_listener::{classify, KafkaSlot, Protocol};
use crate::rpc::{self, Addressee, Envelope, Request, Response};
use crate::types::Raft;
use std::sync::Arc;

/// Connections beyond this many are closed at once: a quorum has a handful of
/// peers, each with a few connections.
const MAX_CONNECTIONS: usize = 256;

/// A connection with no complete request for this long is closed, so peers that
/// vanished without a FIN (or a half-sent frame) do not hold a task forever. A
/// leader sends heartbeats far more often.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What every connection of the listener is served with.
#[derive(Clone)]
pub(crate) struct Served {
    pub(crate) raft: Raft,
    /// This node, as requests must address it.
    pub(crate) me: Addressee,
    pub(crate) max_frame_bytes: usize,
    pub(crate) controller: HandlerSlot,
    pub(crate) contact: Arc<LeaderContact>,
    pub(crate) kafka: KafkaSlot,
}

/// Serves RPCs until `shutdown` turns true; then stops accepting, ends every
/// connection and returns, releasing the listener.
pub(crate) async fn serve(
    listener: TcpListener,
    served: Served,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if connections.len() >= MAX_CONNECTIONS {
                        tracing::warn!(%peer, "refusing metadata quorum connection: too many open");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, peer, served.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather
                    // than spin, and keep serving the connections we have.
                    tracing::warn!(error = %e, "metadata quorum listener accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
}

async fn serve_connection(mut stream: TcpStream, peer: SocketAddr, served: Served) {
    let Served {
        raft,
        me,
        max_frame_bytes: max,
        controller,
        contact,
        kafka,
    } = served;
    match classify(&stream, IDLE_TIMEOUT).await {
        Protocol::Quorum => {}
        Protocol::Kafka => {
            match kafka.get() {
                Some(handler) => handler.serve(stream, peer).await,
                None => {
                    tracing::debug!(%peer, "closing a Kafka connection on the controller listener: not served yet")
                }
            }
            return;
        }
        Protocol::Unknown => return,
    }
    loop {
        let read = tokio::time::timeout(IDLE_TIMEOUT, rpc::read_frame(&mut stream, max)).await;
        let frame = match read {
            Ok(Ok(Some(frame))) => frame,
            Ok(Ok(None)) => return,
            Err(_) => {
                tracing::debug!(%peer, "closing idle metadata quorum connection");
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(%peer, error = %e, "closing metadata quorum connection: bad frame");
                return;
            }
        };
        let envelope: Envelope = match serde_json::from_slice(&frame) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing metadata quorum connection: undecodable request");
                return;
            }
        };
        if envelope.to != me {
            tracing::warn!(%peer, to = ?envelope.to, me = ?me,
                "closing metadata quorum connection: request for another node or cluster");
            if let Ok(payload) = serde_json::to_vec(&Response::Misdirected(me)) {
                let _ = rpc::write_frame(&mut stream, &payload, max).await;
            }
            return;
        }
        let response = match envelope.request {
            Request::AppendEntries(r) => {
                contact.heard();
                Response::AppendEntries(raft.append_entries(r).await)
            }
            Request::Vote(r) => Response::Vote(raft.vote(r).await),
            Request::InstallSnapshot(r) => {
                Response::InstallSnapshot(raft.install_snapshot(r).await)
            }
            Request::Controller(r) => match controller.get() {
                Some(handler) => Response::Controller(handler.handle(r).await),
                None => Response::NoController,
            },
        };
        let payload = match serde_json::to_vec(&response) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(%peer, error = %e, "cannot encode a metadata quorum response");
                return;
            }
        };
        if let Err(e) = rpc::write_frame(&mut stream, &payload, max).await {
            tracing::debug!(%peer, error = %e, "metadata quorum connection lost");
            return;
        }
    }
}
