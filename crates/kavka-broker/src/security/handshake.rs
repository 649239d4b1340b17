//! A new connection's security step before its first Kafka request: on a TLS
//! listener the handshake and the principal from the client's certificate.
//! A client that fails it is closed with one line naming its address and why;
//! nothing it sends can do more than end its own connection.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::{KafkaPrincipal, ListenerSecurity, Session};
use crate::stream::ClientStream;

/// A TLS record of type handshake (22) starts every ClientHello.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Whether `prefix` (a connection's first bytes) looks like a TLS ClientHello:
/// a handshake record of TLS major version 3.
pub fn looks_like_tls(prefix: &[u8]) -> bool {
    prefix.len() >= 2 && prefix[0] == TLS_HANDSHAKE_RECORD && prefix[1] == 0x03
}

/// Runs the listener's security step; `None` when the connection was refused
/// (already logged).
pub(crate) async fn secure(
    socket: TcpStream,
    peer: SocketAddr,
    listener: &ListenerSecurity,
    timeout: Duration,
) -> Option<(ClientStream, Session)> {
    let Some(acceptor) = &listener.tls else {
        return Some((
            ClientStream::Plain(socket),
            Session::anonymous(listener.name.clone()),
        ));
    };
    // A plaintext Kafka request starts with a length, whose first byte is 0 for
    // any sane frame: say so rather than report a TLS parse error.
    let mut first = [0u8; 2];
    match tokio::time::timeout(timeout, socket.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 && first[0] != TLS_HANDSHAKE_RECORD => {
            tracing::info!(
                %peer,
                listener = %listener.name,
                "Failed authentication with {peer} (SSL handshake failed: not a TLS handshake, \
                 a plaintext client on a {} listener?); closing connection",
                listener.protocol
            );
            return None;
        }
        Ok(Ok(0)) | Ok(Err(_)) => return None,
        Err(_) => {
            tracing::info!(%peer, listener = %listener.name, "closing connection: no TLS handshake within connections.max.idle.ms");
            return None;
        }
        Ok(Ok(_)) => {}
    }
    let tls = match tokio::time::timeout(timeout, acceptor.accept(socket)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(
                %peer,
                listener = %listener.name,
                "Failed authentication with {peer} (SSL handshake failed: {e}); closing connection"
            );
            return None;
        }
        Err(_) => {
            tracing::info!(%peer, listener = %listener.name, "closing connection: TLS handshake did not finish within connections.max.idle.ms");
            return None;
        }
    };
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .cloned();
    let principal = match leaf {
        // No certificate (ssl.client.auth=none or requested): Kafka's ANONYMOUS.
        None => KafkaPrincipal::anonymous(),
        Some(leaf) => {
            let mapped = kavka_tls::peer_subject(&leaf)
                .map_err(|e| e.to_string())
                .and_then(|dn| {
                    listener
                        .principal_mapper
                        .map(&dn)
                        .map_err(|e| e.to_string())
                });
            match mapped {
                Ok(name) => {
                    let principal = KafkaPrincipal::user(name);
                    // An audit line per certificate-authenticated connection.
                    tracing::info!(%peer, listener = %listener.name, %principal, "TLS client authenticated");
                    principal
                }
                Err(reason) => {
                    tracing::info!(
                        %peer,
                        listener = %listener.name,
                        "Failed authentication with {peer} ({reason}); closing connection"
                    );
                    return None;
                }
            }
        }
    };
    tracing::debug!(%peer, listener = %listener.name, %principal, "TLS connection established");
    Some((
        ClientStream::Tls(Box::new(tls)),
        Session::authenticated(principal, listener.name.clone()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_is_told_from_a_kafka_frame() {
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        // ApiVersions request of 33 bytes: a length prefix starting with zeros.
        assert!(!looks_like_tls(&[0x00, 0x00, 0x00, 0x21, 0x00]));
        assert!(!looks_like_tls(&[0x16]));
    }
}
