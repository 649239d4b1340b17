//! Kafka's protocol on the controller listener. Kafka's controllers speak it to
//! tools and admin clients given `--bootstrap-controller` / `bootstrap.controllers`
//! (KIP-919), on the same port as their Raft traffic; Kavka's Raft frames are JSON.
//! Both are length-prefixed, and the first byte of the body tells them apart: a
//! JSON frame opens with `{`, a Kafka request with its API key, whose high byte is
//! zero. Kafka connections go to the handler the node installs.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::net::TcpStream;

/// Serves one connection speaking Kafka's protocol, until it ends.
pub trait KafkaConnectionHandler: Send + Sync + 'static {
    fn serve(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Where the server finds the handler, installed once the node is up.
#[derive(Default, Clone)]
pub(crate) struct KafkaSlot(Arc<RwLock<Option<Arc<dyn KafkaConnectionHandler>>>>);

impl KafkaSlot {
    pub(crate) fn set(&self, handler: Arc<dyn KafkaConnectionHandler>) {
        *self.0.write() = Some(handler);
    }

    pub(crate) fn clear(&self) {
        *self.0.write() = None;
    }

    pub(crate) fn get(&self) -> Option<Arc<dyn KafkaConnectionHandler>> {
        self.0.read().clone()
    }
}

/// What a new connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// Kavka's quorum RPCs (JSON frames).
    Quorum,
    /// Kafka's protocol.
    Kafka,
    /// Closed, or silent for `wait`, before saying.
    Unknown,
}

/// Looks at the first five bytes without consuming them. A peer that sends
/// fewer and stops (garbage, or a frame cut short) is left to the quorum's own
/// frame reader after a moment, which closes the connection as it should.
pub(crate) async fn classify(stream: &TcpStream, wait: Duration) -> Protocol {
    const PARTIAL_WAIT: Duration = Duration::from_millis(500);
    let deadline = tokio::time::Instant::now() + wait;
    let mut partial_since: Option<tokio::time::Instant> = None;
    let mut head = [0u8; 5];
    loop {
        let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut head)).await;
        match peeked {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Protocol::Unknown,
            Ok(Ok(n)) if n >= head.len() => return protocol_of(&head),
            // Part of the head is here; the rest normally follows at once.
            Ok(Ok(_)) => {
                let since = *partial_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= PARTIAL_WAIT {
                    return Protocol::Quorum;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

fn protocol_of(head: &[u8; 5]) -> Protocol {
    if head[4] == b'{' {
        Protocol::Quorum
    } else {
        Protocol::Kafka
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_frames_and_kafka_requests_are_told_apart() {
        assert_eq!(protocol_of(&[0, 0, 0, 40, b'{']), Protocol::Quorum);
        // ApiVersions (18) and DescribeQuorum (55): the API key's high byte is 0.
        assert_eq!(protocol_of(&[0, 0, 0, 40, 0]), Protocol::Kafka);
    }
}
