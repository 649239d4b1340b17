//! A minimal async Kafka-protocol client for one leader: length-prefixed frames,
//! request headers, bodies through `kafka-protocol`. One request in flight at a time,
//! which is all a replica fetcher needs.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a call to the leader failed; the fetcher drops the connection and backs off.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("connection to {address}: {source}")]
    Io {
        address: String,
        source: std::io::Error,
    },
    #[error("no answer from {0} in time")]
    Timeout(String),
    #[error("protocol error with {address}: {reason}")]
    Protocol { address: String, reason: String },
}

/// A connection to a partition leader.
#[derive(Debug)]
pub(crate) struct LeaderConnection {
    stream: TcpStream,
    address: String,
    correlation_id: i32,
    client_id: StrBytes,
    max_response_bytes: usize,
}

impl LeaderConnection {
    /// Connects within `timeout`.
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        node_id: i32,
        timeout: Duration,
        max_response_bytes: usize,
    ) -> Result<Self, ClientError> {
        let address = format!("{host}:{port}");
        let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| ClientError::Timeout(address.clone()))?
            .map_err(|source| ClientError::Io {
                address: address.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            address,
            correlation_id: 0,
            client_id: StrBytes::from_string(format!("broker-{node_id}-fetcher")),
            max_response_bytes,
        })
    }

    /// Sends `request` at `version` and waits up to `timeout` for its answer.
    pub(crate) async fn call<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, ClientError> {
        let address = self.address.clone();
        match tokio::time::timeout(timeout, self.round_trip(request, version)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout(address)),
        }
    }

    async fn round_trip<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, R::header_version(version))
            .map_err(|e| self.protocol(e.to_string()))?;
        request
            .encode(&mut body, version)
            .map_err(|e| self.protocol(e.to_string()))?;
        let size = i32::try_from(body.len()).map_err(|_| self.protocol("request too large"))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(size);
        frame.extend_from_slice(&body);
        self.stream
            .write_all(&frame)
            .await
            .map_err(|source| self.io(source))?;
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .await
            .map_err(|source| self.io(source))?;
        let size = i32::from_be_bytes(size);
        // Checked before allocating: a peer's garbage must not size our buffer.
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= self.max_response_bytes)
            .ok_or_else(|| self.protocol(format!("response size {size} out of bounds")))?;
        let mut buf = vec![0u8; size];
        self.stream
            .read_exact(&mut buf)
            .await
            .map_err(|source| self.io(source))?;
        let mut buf = Bytes::from(buf);
        let header = ResponseHeader::decode(&mut buf, R::Response::header_version(version))
            .map_err(|e| self.protocol(e.to_string()))?;
        if header.correlation_id != self.correlation_id {
            return Err(self.protocol("response to another request"));
        }
        let response =
            R::Response::decode(&mut buf, version).map_err(|e| self.protocol(e.to_string()))?;
        // Trailing bytes would be tagged fields newer than the codec: ignored.
        let _ = buf.remaining();
        Ok(response)
    }

    fn io(&self, source: std::io::Error) -> ClientError {
        ClientError::Io {
            address: self.address.clone(),
            source,
        }
    }

    fn protocol(&self, reason: impl Into<String>) -> ClientError {
        ClientError::Protocol {
            address: self.address.clone(),
            reason: reason.into(),
        }
    }
}
