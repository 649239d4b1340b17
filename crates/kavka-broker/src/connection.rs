//! One client connection: frames in, responses out in request order. Requests on
//! a connection are handled one at a time (as Apache Kafka does), which keeps
//! responses ordered; a long-polling fetch only holds up its own connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use kafka_protocol::messages::ResponseKind;
use kavka_wire::{decode_request, encode_response, frame_length, DecodedRequest, FrameCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::handlers::{handle, RequestContext};
use crate::state::BrokerState;

/// What becomes of one request.
// Moved once per request; boxing the response would allocate for every answer.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    Send(ResponseKind),
    /// No answer (Produce with acks=0).
    Nothing,
    /// Close the connection (an API this listener does not serve).
    Close,
}

/// Answers one decoded request on a connection.
pub(crate) trait Answer {
    async fn answer(&self, request: DecodedRequest, peer: SocketAddr) -> Reply;
}

/// A broker's answers: every API Kavka serves.
struct BrokerAnswers(Arc<BrokerState>);

impl Answer for BrokerAnswers {
    async fn answer(&self, request: DecodedRequest, peer: SocketAddr) -> Reply {
        let ctx = RequestContext {
            state: &self.0,
            peer,
            client_id: request.header.client_id.clone(),
        };
        match handle(&ctx, request).await {
            Some(response) => Reply::Send(response),
            None => Reply::Nothing,
        }
    }
}

/// Serves one client connection until the peer closes it, it misbehaves, or shutdown.
pub(crate) async fn serve_connection(
    state: Arc<BrokerState>,
    socket: TcpStream,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
) {
    let max_frame = state.config.socket_request_max_bytes;
    serve_frames(&BrokerAnswers(state), socket, peer, max_frame, Some(stop)).await;
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

/// The request loop of a Kafka-protocol connection: frames in, `answers`'
/// responses out in request order.
pub(crate) async fn serve_frames<A: Answer>(
    answers: &A,
    socket: TcpStream,
    peer: SocketAddr,
    max_frame: usize,
    mut stop: Option<watch::Receiver<bool>>,
) {
    let (mut reader, writer) = socket.into_split();
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        // Answer every whole frame already buffered before flushing, so pipelined
        // requests share one write.
        loop {
            let size = match frame_length(&buf, max_frame) {
                Ok(FrameCheck::Complete(size)) => size,
                Ok(FrameCheck::Incomplete) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection");
                    return;
                }
            };
            buf.advance(4);
            let frame = buf.split_to(size).freeze();
            let request = match decode_request(frame) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection");
                    return;
                }
            };
            let api_key = request.api_key;
            let version = request.version;
            let correlation_id = request.header.correlation_id;
            let response = tokio::select! {
                r = answers.answer(request, peer) => r,
                _ = stopped(&mut stop) => return,
            };
            let response = match response {
                Reply::Send(r) => r,
                Reply::Nothing => continue,
                Reply::Close => return,
            };
            let bytes = match encode_response(api_key, version, correlation_id, &response) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(%peer, ?api_key, version, error = %e, "cannot encode response");
                    return;
                }
            };
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        tokio::select! {
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = stopped(&mut stop) => return,
        }
    }
}
