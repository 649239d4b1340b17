//! A minimal async Kafka-protocol client for one leader: length-prefixed frames,
//! request headers, bodies through `kafka-protocol`. One request in flight at a time,
//! which is all a replica fetcher needs. On connect it asks the leader's ApiVersions,
//! so each call can use the highest version both sides speak (a cluster in the
//! middle of a rolling upgrade has leaders of two versions).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::security::inter_broker::InterBrokerTls;

/// The connection's bytes: plain TCP, or TLS to an SSL inter-broker listener.
trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug> PeerStream for T {}

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
    stream: Box<dyn PeerStream>,
    address: String,
    correlation_id: i32,
    client_id: StrBytes,
    max_response_bytes: usize,
    /// The leader's (min, max) version per API key, from its ApiVersions answer.
    leader_versions: BTreeMap<i16, (i16, i16)>,
}

/// ApiVersions v3 (flexible, names the client software); v0 for a peer that
/// answers UNSUPPORTED_VERSION to it.
const API_VERSIONS_VERSION: i16 = 3;
const UNSUPPORTED_VERSION: i16 = 35;

/// The highest version in `ours` that the leader's `(min, max)` range also has.
pub(crate) fn pick_version(leader: Option<(i16, i16)>, ours: RangeInclusive<i16>) -> Option<i16> {
    let (min, max) = leader?;
    let high = max.min(*ours.end());
    (high >= min.max(*ours.start())).then_some(high)
}

impl LeaderConnection {
    /// Connects (with TLS when `tls` is given) and asks the leader's API
    /// versions, within `timeout` each.
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        node_id: i32,
        timeout: Duration,
        max_response_bytes: usize,
        tls: Option<&InterBrokerTls>,
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
        let stream: Box<dyn PeerStream> = match tls {
            None => Box::new(stream),
            Some(tls) => Box::new(
                tokio::time::timeout(timeout, tls.connect(host, stream))
                    .await
                    .map_err(|_| ClientError::Timeout(address.clone()))?
                    .map_err(|source| ClientError::Io {
                        address: address.clone(),
                        source,
                    })?,
            ),
        };
        let mut connection = Self {
            stream,
            address,
            correlation_id: 0,
            client_id: StrBytes::from_string(format!("broker-{node_id}-fetcher")),
            max_response_bytes,
            leader_versions: BTreeMap::new(),
        };
        connection.negotiate(timeout).await?;
        Ok(connection)
    }

    /// Reads the leader's supported versions (ApiVersions), falling back to v0
    /// when it does not know v3, as Kafka's clients do.
    async fn negotiate(&mut self, timeout: Duration) -> Result<(), ClientError> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kavka-replica-fetcher"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let response: ApiVersionsResponse =
            match self.call(&request, API_VERSIONS_VERSION, timeout).await {
                Ok(r) if r.error_code != UNSUPPORTED_VERSION => r,
                // An older peer answers in v0's layout, which may not even decode as v3.
                Ok(_) | Err(ClientError::Protocol { .. }) => {
                    self.call(&ApiVersionsRequest::default(), 0, timeout)
                        .await?
                }
                Err(e) => return Err(e),
            };
        if response.error_code != 0 {
            return Err(self.protocol(format!(
                "ApiVersions answered with error {}",
                response.error_code
            )));
        }
        self.leader_versions = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(())
    }

    /// The version to send `key` at: the highest in `ours` the leader supports.
    pub(crate) fn version_for(
        &self,
        key: ApiKey,
        ours: RangeInclusive<i16>,
    ) -> Result<i16, ClientError> {
        let leader = self.leader_versions.get(&(key as i16)).copied();
        pick_version(leader, ours.clone()).ok_or_else(|| {
            self.protocol(format!(
                "the leader supports {key:?} {}, this broker needs v{}-v{}",
                leader.map_or("not at all".to_string(), |(a, b)| format!("v{a}-v{b}")),
                ours.start(),
                ours.end()
            ))
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
        // TLS holds records until flushed; plain TCP flushes at once.
        self.stream
            .flush()
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

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use tokio::net::TcpListener;

    use super::*;

    /// A leader from before ApiVersions v3 (serving ApiVersions v0-v2 and Fetch up
    /// to v14): it answers v3 with UNSUPPORTED_VERSION in v0's layout, as Kafka does.
    async fn old_leader(listener: TcpListener) {
        let (mut socket, _) = listener.accept().await.unwrap();
        loop {
            let mut size = [0u8; 4];
            if socket.read_exact(&mut size).await.is_err() {
                return;
            }
            let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
            socket.read_exact(&mut frame).await.unwrap();
            let mut frame = Bytes::from(frame);
            let (key, version, correlation) = (frame.get_i16(), frame.get_i16(), frame.get_i32());
            assert_eq!(key, ApiKey::ApiVersions as i16);
            let table = [
                (ApiKey::ApiVersions, 0, 2),
                (ApiKey::Fetch, 4, 14),
                (ApiKey::ListOffsets, 1, 7),
            ];
            let response = ApiVersionsResponse::default()
                .with_error_code(if version > 2 { UNSUPPORTED_VERSION } else { 0 })
                .with_api_keys(
                    table
                        .iter()
                        .map(|&(k, min, max)| {
                            ApiVersion::default()
                                .with_api_key(k as i16)
                                .with_min_version(min)
                                .with_max_version(max)
                        })
                        .collect(),
                );
            let mut body = BytesMut::new();
            body.put_i32(correlation);
            response.encode(&mut body, 0).unwrap();
            let mut out = BytesMut::new();
            out.put_i32(body.len() as i32);
            out.extend_from_slice(&body);
            socket.write_all(&out).await.unwrap();
        }
    }

    #[tokio::test]
    async fn an_older_leader_is_fetched_from_at_its_highest_fetch_version() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let leader = tokio::spawn(old_leader(listener));
        let timeout = Duration::from_secs(5);
        let c = LeaderConnection::connect("127.0.0.1", port, 2, timeout, 1 << 20, None)
            .await
            .unwrap();
        assert_eq!(c.version_for(ApiKey::Fetch, 13..=17).unwrap(), 14);
        assert_eq!(c.version_for(ApiKey::ListOffsets, 4..=7).unwrap(), 7);
        let err = c.version_for(ApiKey::Fetch, 15..=17).unwrap_err();
        assert!(err.to_string().contains("v4-v14"), "{err}");
        assert!(c.version_for(ApiKey::Produce, 3..=11).is_err());
        drop(c);
        leader.await.unwrap();
    }

    #[test]
    fn the_highest_version_both_sides_speak_is_picked() {
        // A leader of this version, a newer one, and an older one.
        assert_eq!(pick_version(Some((4, 18)), 13..=17), Some(17));
        assert_eq!(pick_version(Some((4, 15)), 13..=17), Some(15));
        assert_eq!(pick_version(Some((4, 13)), 13..=17), Some(13));
        assert_eq!(pick_version(Some((15, 17)), 13..=17), Some(17));
        // Nothing in common, or the API is not served at all.
        assert_eq!(pick_version(Some((4, 12)), 13..=17), None);
        assert_eq!(pick_version(Some((18, 20)), 13..=17), None);
        assert_eq!(pick_version(None, 13..=17), None);
    }
}
