//! One client connection: frames in, responses out in request order. Requests on
//! a connection are handled one at a time (as Apache Kafka does), which keeps
//! responses ordered; a long-polling fetch only holds up its own connection.
//! Each request holds a place in the broker's [`RequestQueue`] from being read
//! until its handling starts, and its bytes until answered; an idle connection
//! holds no buffers.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use kafka_protocol::messages::{RequestKind, ResponseKind};
use kavka_wire::{decode_request, encode_response, frame_length, DecodedRequest, FrameCheck};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::connection_quotas::{ConnectionSlot, ConnectionStats};
use crate::handlers::{handle, RequestContext};
use crate::metrics::RequestMetric;
use crate::quotas::throttle;
use crate::request_queue::{BytesPermit, RequestPermit, RequestQueue};
use crate::security::handshake::{looks_like_tls, secure};
use crate::security::sasl::{Admission, ConnectionAuth};
use crate::security::ListenerSecurity;
use crate::state::BrokerState;
use crate::stream::ClientStream;

/// What becomes of one request.
// Moved once per request; boxing the response would allocate for every answer.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    Send(ResponseKind),
    /// No answer (Produce with acks=0).
    Nothing,
    /// Close the connection (an API this listener does not serve).
    Close,
    /// Send this answer, then close (a failed authentication).
    SendAndClose(ResponseKind),
    /// The client is over a quota: send the answer (if any) at once, then read
    /// nothing more from this connection for the duration (Kafka's muting).
    Throttled(Option<ResponseKind>, Duration),
}

/// Answers one decoded request on a connection.
pub(crate) trait Answer {
    async fn answer(&self, request: DecodedRequest, peer: SocketAddr) -> Reply;

    /// Whether the next frame is a raw SASL token, not a Kafka request.
    fn expects_raw_token(&self) -> bool {
        false
    }

    /// The raw token answering a raw token; None closes the connection.
    fn answer_raw(&self, _token: &[u8], _peer: SocketAddr) -> Option<Vec<u8>> {
        None
    }
}

/// A broker's answers: every API Kavka serves, to one connection's session.
struct BrokerAnswers {
    state: Arc<BrokerState>,
    auth: ConnectionAuth,
}

impl BrokerAnswers {
    /// Past authentication, quotas around the handler.
    async fn serve(&self, request: DecodedRequest, peer: SocketAddr) -> Reply {
        let image = self.state.metadata.image();
        let (mut request, session) = match self.auth.admit(request, peer, &image) {
            Admission::Serve(request, session) => (request, session),
            Admission::Done(reply) => return reply,
        };
        drop(image);
        let ctx = RequestContext {
            state: &self.state,
            peer,
            client_id: request.header.client_id.clone(),
            session: &session,
        };
        let client_id = ctx.client_id.as_deref().unwrap_or("").to_string();
        let metered =
            throttle::before_handling(&self.state, &session, &client_id, request.body.as_mut());
        let mut response = handle(&ctx, request).await;
        let mute =
            throttle::after_handling(&self.state, &session, &client_id, metered, &mut response);
        match (response, mute) {
            (response, Some(mute)) => Reply::Throttled(response, mute),
            (Some(response), None) => Reply::Send(response),
            (None, None) => Reply::Nothing,
        }
    }
}

/// A Fetch from a follower replica (Kafka counts it as `FetchFollower`).
fn from_follower(request: &DecodedRequest) -> bool {
    match &request.body {
        Some(RequestKind::Fetch(f)) => f.replica_id.0 >= 0 || f.replica_state.replica_id.0 >= 0,
        _ => false,
    }
}

impl Answer for BrokerAnswers {
    async fn answer(&self, request: DecodedRequest, peer: SocketAddr) -> Reply {
        let started = Instant::now();
        let metric = RequestMetric::of(request.api_key, request.version, from_follower(&request));
        let reply = self.serve(request, peer).await;
        self.state
            .metrics
            .requests
            .record(metric, started.elapsed());
        reply
    }

    fn expects_raw_token(&self) -> bool {
        self.auth.expects_raw_token()
    }

    fn answer_raw(&self, token: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        self.auth
            .answer_raw(token, peer, &self.state.metadata.image())
    }
}

/// How one connection is held to the broker's limits.
pub(crate) struct FrameLimits<'a> {
    /// `socket.request.max.bytes`.
    pub max_frame: usize,
    /// `connections.max.idle.ms`; `None`: never closed for being idle.
    pub idle: Option<Duration>,
    /// The broker-wide request queue; `None`: unbounded (the controller listener).
    pub queue: Option<&'a RequestQueue>,
    /// Where an idle close is counted.
    pub stats: Option<&'a ConnectionStats>,
}

/// At most this much room is made ahead for the rest of a frame.
const READ_AHEAD: usize = 1024 * 1024;
/// Answers gathered before one write; a bigger answer is written on its own.
const WRITE_BATCH: usize = 64 * 1024;

/// Serves one client connection until the peer closes it, it misbehaves, it
/// stays idle for `connections.max.idle.ms`, or shutdown. `slot` is its place
/// under the connection quotas, given back when this returns. The listener's
/// security step (TLS handshake, principal) comes first.
pub(crate) async fn serve_connection(
    state: Arc<BrokerState>,
    socket: TcpStream,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
    slot: ConnectionSlot,
    listener: Arc<ListenerSecurity>,
) {
    let limits = FrameLimits {
        max_frame: state.config.socket_request_max_bytes,
        idle: Some(Duration::from_millis(
            state.config.connections.connections_max_idle_ms,
        )),
        queue: Some(&state.requests),
        stats: Some(&slot.quotas().stats),
    };
    let handshake_timeout = Duration::from_millis(state.config.connections.connections_max_idle_ms);
    let Some((stream, session)) = secure(socket, peer, &listener, handshake_timeout).await else {
        return;
    };
    // On a SASL listener the session is anonymous (or, on SASL_SSL, the TLS
    // one) until the client logs in.
    let auth = ConnectionAuth::new(session, state.config.sasl.get(&listener.name).cloned());
    serve_frames(
        &BrokerAnswers {
            state: state.clone(),
            auth,
        },
        stream,
        peer,
        &limits,
        Some(stop),
    )
    .await;
    drop(slot);
}

/// Resolves when `stop` changes; never, without one.
async fn stopped(stop: &mut Option<watch::Receiver<bool>>) {
    match stop {
        Some(rx) => {
            let _ = rx.changed().await;
        }
        None => std::future::pending().await,
    }
}

/// Room in the request queue for a frame of `size` bytes; none without a queue.
async fn reserve_bytes<'a>(limits: &FrameLimits<'a>, size: usize) -> Option<BytesPermit<'a>> {
    match limits.queue {
        Some(q) => Some(q.reserve_bytes(size).await),
        None => None,
    }
}

/// A place in the request queue; none without a queue.
async fn enqueue<'a>(limits: &FrameLimits<'a>) -> Option<RequestPermit<'a>> {
    match limits.queue {
        Some(q) => q.enqueue().await,
        None => None,
    }
}

/// Sends what is gathered, then waits out a quota's throttle time without
/// reading the next request (frames already buffered wait too). False when the
/// connection is done (write failed or shutdown).
async fn muted(
    stream: &mut ClientStream,
    outbound: &mut Vec<u8>,
    mute: Duration,
    stop: &mut Option<watch::Receiver<bool>>,
) -> bool {
    if !outbound.is_empty() {
        if stream.send(outbound).await.is_err() {
            return false;
        }
        outbound.clear();
    }
    tokio::select! {
        _ = tokio::time::sleep(mute) => true,
        _ = stopped(stop) => false,
    }
}

/// The size a partly read frame announces, once its prefix is here.
fn announced_size(buf: &[u8]) -> Option<usize> {
    let prefix = buf.get(..4)?;
    usize::try_from(i32::from_be_bytes([
        prefix[0], prefix[1], prefix[2], prefix[3],
    ]))
    .ok()
}

/// The request loop of a Kafka-protocol connection: frames in, `answers`'
/// responses out in request order. Requests are read only while the request
/// queue has room, so a full queue holds clients back through TCP.
pub(crate) async fn serve_frames<A: Answer>(
    answers: &A,
    mut stream: ClientStream,
    peer: SocketAddr,
    limits: &FrameLimits<'_>,
    mut stop: Option<watch::Receiver<bool>>,
) {
    // Both buffers stay unallocated while the connection is idle, so thousands
    // of idle clients cost the broker no buffer memory.
    let mut inbound = BytesMut::new();
    let mut outbound: Vec<u8> = Vec::new();
    // The queue's room for the frame being read, taken once its size is known.
    let mut reading: Option<Option<BytesPermit<'_>>> = None;
    loop {
        // Answer every whole frame already buffered before writing, so pipelined
        // requests share one write.
        loop {
            let size = match frame_length(&inbound, limits.max_frame) {
                Ok(FrameCheck::Complete(size)) => size,
                Ok(FrameCheck::Incomplete) => break,
                Err(_) if looks_like_tls(&inbound) => {
                    tracing::info!(%peer, "closing connection: a TLS handshake on a plaintext listener (a client configured for SSL?)");
                    return;
                }
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection");
                    return;
                }
            };
            let held = match reading.take() {
                Some(held) => held,
                None => tokio::select! {
                    held = reserve_bytes(limits, size) => held,
                    _ = stopped(&mut stop) => return,
                },
            };
            let queued = tokio::select! {
                queued = enqueue(limits) => queued,
                _ = stopped(&mut stop) => return,
            };
            inbound.advance(4);
            let frame = inbound.split_to(size).freeze();
            if answers.expects_raw_token() {
                // After a v0 SaslHandshake, tokens travel size-prefixed without
                // Kafka headers, as Kafka's SaslServerAuthenticator reads them.
                drop(queued);
                let Some(token) = answers.answer_raw(&frame, peer) else {
                    let _ = stream.send(&outbound).await;
                    return;
                };
                drop(held);
                outbound.extend_from_slice(&(token.len() as u32).to_be_bytes());
                outbound.extend_from_slice(&token);
                continue;
            }
            let request = match decode_request(frame) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection");
                    return;
                }
            };
            // Handling starts now (there is no handler pool to wait for), so the
            // request leaves the queue, as Kafka's does when a handler thread takes
            // it: a long-polling Fetch or a JoinGroup waiting for its group must not
            // hold a place, or 500 of them would stall every other request. Its
            // bytes stay counted until it is answered.
            drop(queued);
            let api_key = request.api_key;
            let version = request.version;
            let correlation_id = request.header.correlation_id;
            // Boxed: the handlers' state lives on the heap only while a request
            // is in progress, not in every idle connection's task.
            let answering = Box::pin(answers.answer(request, peer));
            let response = tokio::select! {
                r = answering => r,
                _ = stopped(&mut stop) => return,
            };
            let (response, close_after, mute) = match response {
                Reply::Send(r) => (r, false, None),
                Reply::SendAndClose(r) => (r, true, None),
                Reply::Nothing => continue,
                Reply::Close => return,
                Reply::Throttled(Some(r), mute) => (r, false, Some(mute)),
                Reply::Throttled(None, mute) => {
                    drop(held);
                    if !muted(&mut stream, &mut outbound, mute, &mut stop).await {
                        return;
                    }
                    continue;
                }
            };
            let bytes = match encode_response(api_key, version, correlation_id, &response) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(%peer, ?api_key, version, error = %e, "cannot encode response");
                    return;
                }
            };
            drop(response);
            drop(held);
            if close_after {
                // The answer goes out before the close, so the client learns why.
                outbound.extend_from_slice(&bytes);
                let _ = stream.send(&outbound).await;
                return;
            }
            if outbound.len() + bytes.len() > WRITE_BATCH && !outbound.is_empty() {
                if stream.send(&outbound).await.is_err() {
                    return;
                }
                outbound.clear();
            }
            if bytes.len() >= WRITE_BATCH {
                if stream.send(&bytes).await.is_err() {
                    return;
                }
            } else {
                outbound.extend_from_slice(&bytes);
            }
            if let Some(mute) = mute {
                if !muted(&mut stream, &mut outbound, mute, &mut stop).await {
                    return;
                }
            }
        }
        if !outbound.is_empty() {
            if stream.send(&outbound).await.is_err() {
                return;
            }
            outbound.clear();
        }
        match announced_size(&inbound) {
            // Part of a frame is here: make room for all of it, counted against
            // the queue's bytes before it is read.
            Some(size) => {
                if reading.is_none() {
                    reading = Some(tokio::select! {
                        held = reserve_bytes(limits, size) => held,
                        _ = stopped(&mut stop) => return,
                    });
                }
                // Grown as the frame arrives, not at once: a client that only
                // announces a large frame does not get its size allocated.
                inbound.reserve((4 + size).saturating_sub(inbound.len()).min(READ_AHEAD));
            }
            None if inbound.is_empty() => {
                inbound = BytesMut::new();
                outbound = Vec::new();
            }
            None => {}
        }
        let idle = async {
            match limits.idle {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        let read = tokio::select! {
            read = stream.read_some(&mut inbound) => read,
            _ = idle => {
                tracing::debug!(%peer, "closing connection idle for connections.max.idle.ms");
                if let Some(stats) = limits.stats {
                    stats.closed_idle_total.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            _ = stopped(&mut stop) => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
