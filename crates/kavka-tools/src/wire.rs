//! A small blocking Kafka protocol client for the admin calls the `rdkafka` crate does
//! not expose (topic ids, config synonyms, incremental config changes, offset deletes).
//!
//! It speaks to one broker at a time, negotiates versions with ApiVersions, and gives
//! up after a few seconds instead of hanging when the broker is unreachable.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kavka_tls::tokio_rustls::rustls;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, FindCoordinatorRequest, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use crate::error::ToolError;
use crate::sasl_login::SaslLogin;

/// How long connecting and each request may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The TLS config of this tool run (`security.protocol=SSL` in its client
/// properties), for every broker it connects to: a tool run talks to one
/// cluster with one set of client properties, as Kafka's tools make one admin
/// client from `--command-config`.
static TLS: RwLock<Option<Arc<rustls::ClientConfig>>> = RwLock::new(None);
/// The SASL login every new connection runs, when the properties ask for one.
static LOGIN: RwLock<Option<Arc<SaslLogin>>> = RwLock::new(None);

/// Takes the TLS and SASL settings (if any) of the tool's client properties.
pub(crate) fn use_client_properties(props: &crate::props::Props) -> Result<(), ToolError> {
    let config = crate::tls::wire_config(props)?;
    let login = SaslLogin::from_props(props)?;
    if let Ok(mut slot) = TLS.write() {
        *slot = config;
    }
    if let Ok(mut slot) = LOGIN.write() {
        *slot = login.map(Arc::new);
    }
    Ok(())
}

/// Reads `--command-config` (if given) for its TLS and SASL settings.
pub(crate) fn use_command_config(file: Option<&std::path::Path>) -> Result<(), ToolError> {
    match file {
        Some(path) => use_client_properties(&crate::props::Props::load(path)?),
        None => Ok(()),
    }
}

/// A connection's bytes: plain TCP or TLS.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One connection to one broker, with the API versions it advertised.
pub(crate) struct Connection {
    stream: Box<dyn Stream>,
    correlation_id: i32,
    versions: HashMap<i16, (i16, i16)>,
    /// "host:port" this connection goes to.
    pub(crate) address: String,
}

/// ApiVersions as the tools send it: v3 and up require the client's software name
/// and version (Apache Kafka refuses the request with INVALID_REQUEST without them).
pub(crate) fn api_versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("kavka-tools"))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")))
}

impl Connection {
    /// Connects to the first reachable server of a `--bootstrap-server` list.
    pub(crate) fn bootstrap(servers: &str) -> Result<Self, ToolError> {
        let mut last = None;
        for server in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match Self::connect(server) {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ToolError::Unreachable(servers.to_string())))
    }

    /// Connects to `host:port` and negotiates API versions.
    pub(crate) fn connect(address: &str) -> Result<Self, ToolError> {
        let unreachable = || ToolError::Unreachable(address.to_string());
        let addrs: Vec<_> = address
            .to_socket_addrs()
            .map_err(|_| unreachable())?
            .collect();
        let stream = addrs
            .iter()
            .find_map(|a| TcpStream::connect_timeout(a, CONNECT_TIMEOUT).ok())
            .ok_or_else(unreachable)?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|_| unreachable())?;
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .map_err(|_| unreachable())?;
        stream.set_nodelay(true).map_err(|_| unreachable())?;
        let tls = TLS.read().ok().and_then(|t| t.clone());
        let stream: Box<dyn Stream> = match tls {
            None => Box::new(stream),
            Some(config) => {
                let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|_| unreachable())?;
                let mut session = rustls::ClientConnection::new(config, name)
                    .map_err(|e| ToolError::Protocol(format!("TLS with {address}: {e}")))?;
                let mut socket = stream;
                // The handshake now, so a refused certificate is reported as such.
                while session.is_handshaking() {
                    session.complete_io(&mut socket).map_err(|e| {
                        ToolError::Protocol(format!("SSL handshake with {address} failed: {e}"))
                    })?;
                }
                Box::new(rustls::StreamOwned::new(session, socket))
            }
        };
        let mut conn = Self {
            stream,
            correlation_id: 0,
            versions: HashMap::new(),
            address: address.to_string(),
        };
        let response = conn.send_version(api_versions_request(), 3)?;
        if response.error_code != 0 {
            return Err(ToolError::Protocol(format!(
                "ApiVersions failed with error code {}",
                response.error_code
            )));
        }
        conn.versions = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        let login = LOGIN.read().ok().and_then(|l| l.clone());
        if let Some(login) = login {
            login.authenticate(&mut conn)?;
        }
        Ok(conn)
    }

    /// Sends `request` to the broker at `address` (a partition's leader): over
    /// this connection when it is that broker or the address is unknown, else
    /// over a new connection to it.
    pub(crate) fn send_to<R: Request>(
        &mut self,
        address: Option<&String>,
        request: R,
    ) -> Result<R::Response, ToolError> {
        match address {
            Some(address) if *address != self.address => {
                Connection::connect(address)?.send(request)
            }
            _ => self.send(request),
        }
    }

    /// Sends `request` at the newest version both sides know, and waits for the response.
    pub(crate) fn send<R: Request>(&mut self, request: R) -> Result<R::Response, ToolError> {
        self.send_capped(request, i16::MAX)
    }

    /// Like `send`, at no newer version than `cap` (for APIs whose newer versions
    /// name topics by id only).
    pub(crate) fn send_capped<R: Request>(
        &mut self,
        request: R,
        cap: i16,
    ) -> Result<R::Response, ToolError> {
        let version = self.version::<R>(cap)?;
        self.send_version(request, version)
    }

    /// The version of `R` this connection will use, at most `cap`: for requests whose
    /// fields differ between versions.
    pub(crate) fn version<R: Request>(&self, cap: i16) -> Result<i16, ToolError> {
        let ours = R::VERSIONS;
        let (min, max) = self.versions.get(&R::KEY).copied().ok_or_else(|| {
            ToolError::Unsupported(format!(
                "the broker at {} does not support {}",
                self.address,
                api_name(R::KEY)
            ))
        })?;
        let version = ours.max.min(max).min(cap);
        if version < ours.min.max(min) {
            return Err(ToolError::Unsupported(format!(
                "no common version of {} with the broker at {}",
                api_name(R::KEY),
                self.address
            )));
        }
        Ok(version)
    }

    /// The version range of every API the broker advertised, by key.
    pub(crate) fn api_versions(&self) -> std::collections::BTreeMap<i16, (i16, i16)> {
        self.versions.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Whether the broker serves API `key` at all.
    pub(crate) fn supports(&self, key: ApiKey) -> bool {
        self.versions.contains_key(&(key as i16))
    }

    /// Sends `request` at exactly `version`.
    pub(crate) fn send_version<R: Request>(
        &mut self,
        request: R,
        version: i16,
    ) -> Result<R::Response, ToolError> {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("kavka-tools")));
        let mut body = BytesMut::new();
        let io = |e: anyhow::Error| ToolError::Protocol(e.to_string());
        header
            .encode(&mut body, R::header_version(version))
            .map_err(io)?;
        request.encode(&mut body, version).map_err(io)?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(
            i32::try_from(body.len())
                .map_err(|_| ToolError::Protocol("request too large".into()))?,
        );
        frame.extend_from_slice(&body);
        let lost = |_| ToolError::Disconnected(self.address.clone());
        self.stream.write_all(&frame).map_err(lost)?;
        self.stream.flush().map_err(lost)?;
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).map_err(lost)?;
        let size = usize::try_from(i32::from_be_bytes(size))
            .map_err(|_| ToolError::Protocol("negative response size".into()))?;
        let mut buf = vec![0u8; size];
        self.stream.read_exact(&mut buf).map_err(lost)?;
        let mut buf = bytes::Bytes::from(buf);
        let header =
            ResponseHeader::decode(&mut buf, R::Response::header_version(version)).map_err(io)?;
        if header.correlation_id != self.correlation_id {
            return Err(ToolError::Protocol("response to another request".into()));
        }
        let response = R::Response::decode(&mut buf, version).map_err(io)?;
        if buf.has_remaining() {
            // Trailing bytes: a newer tagged field we ignore.
        }
        Ok(response)
    }

    /// Cluster metadata for `topics` (all topics when None).
    pub(crate) fn metadata(
        &mut self,
        topics: Option<&[String]>,
    ) -> Result<MetadataResponse, ToolError> {
        use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
        use kafka_protocol::messages::TopicName;
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect()
            }));
        self.send(request)
    }

    /// Opens a connection to the coordinator of `group`.
    pub(crate) fn group_coordinator(
        &mut self,
        group: &str,
    ) -> Result<(Connection, i32), ToolError> {
        self.coordinator(group, 0)
    }

    /// Opens a connection to the coordinator of `key` (key type 0: a group, 1: a
    /// transactional id) and returns it with the coordinator's node id.
    pub(crate) fn coordinator(
        &mut self,
        key: &str,
        key_type: i8,
    ) -> Result<(Connection, i32), ToolError> {
        let version = self.version::<FindCoordinatorRequest>(i16::MAX)?;
        let key = StrBytes::from_string(key.to_string());
        let mut request = FindCoordinatorRequest::default().with_key_type(key_type);
        if version >= 4 {
            request.coordinator_keys = vec![key];
        } else {
            request.key = key;
        }
        let response = self.send_version(request, version)?;
        let (error, node, host, port) = match response.coordinators.first() {
            Some(c) => (c.error_code, c.node_id.0, c.host.to_string(), c.port),
            None => (
                response.error_code,
                response.node_id.0,
                response.host.to_string(),
                response.port,
            ),
        };
        if error != 0 {
            return Err(ToolError::from_code(error, None));
        }
        Ok((Connection::connect(&format!("{host}:{port}"))?, node))
    }
}

/// The name of an API key, as Kafka spells it.
fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}"),
        Err(()) => format!("API key {key}"),
    }
}
