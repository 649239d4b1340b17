//! A client connection's byte stream: plain TCP, or TLS over TCP. The request
//! loop reads and writes through this, so it does not care which.

use bytes::BytesMut;
use kavka_tls::tokio_rustls::server::TlsStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read per system call when no bigger frame is known to be coming.
const READ_CHUNK: usize = 8 * 1024;

/// One accepted connection, after its TLS handshake if its listener has TLS.
pub(crate) enum ClientStream {
    Plain(TcpStream),
    // Boxed: a TLS session is large and most connections of a mixed broker are not.
    Tls(Box<TlsStream<TcpStream>>),
}

impl ClientStream {
    /// Reads what is there into `buf`; 0 at end of stream. Cancel-safe: nothing
    /// read is lost when the caller gives up waiting.
    pub(crate) async fn read_some(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Self::Plain(socket) => loop {
                // Room is made only once bytes are waiting, so an idle plaintext
                // connection holds no read buffer.
                socket.readable().await?;
                make_room(buf);
                match socket.try_read_buf(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
            },
            Self::Tls(tls) => {
                make_room(buf);
                tls.read_buf(buf).await
            }
        }
    }

    /// Writes all of `bytes` and flushes them to the socket (TLS buffers records).
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Plain(socket) => socket.write_all(bytes).await,
            Self::Tls(tls) => {
                tls.write_all(bytes).await?;
                tls.flush().await
            }
        }
    }
}

fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < READ_CHUNK / 8 {
        buf.reserve(READ_CHUNK);
    }
}
