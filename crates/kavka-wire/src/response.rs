//! Encodes a response frame: size prefix, response header, body.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::Encodable;

use crate::WireError;

/// Encodes `body` as the response to a request of `api_key` at `version`.
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<Bytes, WireError> {
    // ApiVersions responses always use header v0 so that a client that sent a
    // version we do not know can still read the answer.
    let header_version = if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    };
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_size = header
        .compute_size(header_version)
        .map_err(|e| WireError::Encode(e.to_string()))?;
    let mut buf = BytesMut::with_capacity(4 + header_size + 256);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| WireError::Encode(e.to_string()))?;
    body.encode(&mut buf, version)
        .map_err(|e| WireError::Encode(e.to_string()))?;
    let size = i32::try_from(buf.len() - 4)
        .map_err(|_| WireError::Encode(format!("response of {} bytes", buf.len())))?;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}
