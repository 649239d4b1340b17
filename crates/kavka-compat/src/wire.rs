//! A small blocking Kafka protocol client (the approach of kavka-tools' `wire.rs`):
//! one connection to one broker, versions negotiated with ApiVersions, every
//! request bounded by timeouts so an unresponsive broker cannot hang the run.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiVersionsRequest, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

const IO_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One connection to one broker, with the API versions it advertised.
pub(crate) struct Connection {
    stream: TcpStream,
    correlation_id: i32,
    /// api key -> (min, max) as the broker advertised them.
    pub(crate) versions: BTreeMap<i16, (i16, i16)>,
    pub(crate) address: String,
}

impl Connection {
    /// Connects to `host:port` and negotiates API versions.
    pub(crate) fn connect(address: &str) -> Result<Self> {
        let addrs: Vec<_> = address
            .to_socket_addrs()
            .with_context(|| format!("resolving {address}"))?
            .collect();
        let stream = addrs
            .iter()
            .find_map(|a| TcpStream::connect_timeout(a, CONNECT_TIMEOUT).ok())
            .ok_or_else(|| anyhow!("cannot connect to {address}"))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let mut conn = Self {
            stream,
            correlation_id: 0,
            versions: BTreeMap::new(),
            address: address.to_string(),
        };
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kavka-diff"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let response = conn.send_version(request, 3)?;
        if response.error_code != 0 {
            bail!("ApiVersions failed with error code {}", response.error_code);
        }
        conn.versions = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(conn)
    }

    /// The newest version of `R` both sides know, at most `cap`.
    pub(crate) fn version<R: Request>(&self, cap: i16) -> Result<i16> {
        let (min, max) = self
            .versions
            .get(&R::KEY)
            .copied()
            .ok_or_else(|| anyhow!("{} does not serve API key {}", self.address, R::KEY))?;
        let version = R::VERSIONS.max.min(max).min(cap);
        if version < R::VERSIONS.min.max(min) {
            bail!(
                "no common version of API key {} with {}",
                R::KEY,
                self.address
            );
        }
        Ok(version)
    }

    /// Sends `request` at the newest common version, at most `cap`.
    pub(crate) fn send<R: Request>(&mut self, request: R, cap: i16) -> Result<R::Response> {
        let version = self.version::<R>(cap)?;
        self.send_version(request, version)
    }

    /// Sends `request` at exactly `version` and waits for its response.
    pub(crate) fn send_version<R: Request>(
        &mut self,
        request: R,
        version: i16,
    ) -> Result<R::Response> {
        let mut body = BytesMut::new();
        self.correlation_id += 1;
        RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("kavka-diff")))
            .encode(&mut body, R::header_version(version))?;
        request.encode(&mut body, version)?;
        let mut buf = self.round_trip(&body)?;
        let header = ResponseHeader::decode(&mut buf, R::Response::header_version(version))?;
        if header.correlation_id != self.correlation_id {
            bail!("{}: response to another request", self.address);
        }
        R::Response::decode(&mut buf, version)
    }

    /// Writes one framed request body and reads one framed response.
    fn round_trip(&mut self, body: &[u8]) -> Result<Bytes> {
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(i32::try_from(body.len())?);
        frame.extend_from_slice(body);
        let address = self.address.clone();
        self.stream
            .write_all(&frame)
            .with_context(|| format!("writing to {address}"))?;
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .with_context(|| format!("{address} closed the connection or timed out"))?;
        let size = usize::try_from(i32::from_be_bytes(size))
            .map_err(|_| anyhow!("{address}: negative response size"))?;
        if size > 64 * 1024 * 1024 {
            bail!("{address}: response of {size} bytes");
        }
        let mut buf = vec![0u8; size];
        self.stream
            .read_exact(&mut buf)
            .with_context(|| format!("reading from {address}"))?;
        Ok(Bytes::from(buf))
    }
}
