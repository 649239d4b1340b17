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
    // An ApiVersions request newer than we know is answered at v0 (error plus the
    // version table), the one layout every client can read before retrying.
    let version = match crate::supported_range(ApiKey::ApiVersions) {
        Some((_, max)) if api_key == ApiKey::ApiVersions && version > max => 0,
        _ => version,
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

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ApiVersionsResponse;

    #[test]
    fn newer_api_versions_is_answered_at_v0() {
        let body = ResponseKind::ApiVersions(ApiVersionsResponse::default().with_error_code(35));
        let bytes = encode_response(ApiKey::ApiVersions, 5, 9, &body).unwrap();
        // size, correlation id, then the v0 body: error code 35 and an empty array.
        assert_eq!(&bytes[4..8], &9i32.to_be_bytes());
        assert_eq!(&bytes[8..10], &35i16.to_be_bytes());
        assert_eq!(bytes.len(), 4 + 4 + 2 + 4);
    }
}
