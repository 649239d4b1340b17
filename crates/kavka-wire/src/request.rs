//! Turns one frame body into a request header and a decoded message.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

use crate::versions::{decodable, supported_range};
use crate::WireError;

/// A request ready for a handler.
#[derive(Debug)]
pub struct DecodedRequest {
    pub header: RequestHeader,
    pub api_key: ApiKey,
    pub version: i16,
    /// None only for an ApiVersions request of a version newer than Kavka knows:
    /// the broker answers it with v0 and UNSUPPORTED_VERSION so the client retries.
    pub body: Option<RequestKind>,
}

/// Decodes a frame body (without its size prefix).
pub fn decode_request(mut frame: Bytes) -> Result<DecodedRequest, WireError> {
    if frame.len() < 8 {
        return Err(WireError::TruncatedHeader(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api_key = ApiKey::try_from(raw_key).map_err(|_| WireError::UnknownApiKey(raw_key))?;
    let api = api_key;
    let Some((_, max)) = supported_range(api_key) else {
        return Err(WireError::UnknownApiKey(raw_key));
    };

    if api_key == ApiKey::ApiVersions && version > max {
        // The client speaks a newer ApiVersions than we do; its body may have a
        // layout we cannot know, so only the v1 header prefix is read.
        let header =
            RequestHeader::decode(&mut frame, 1).map_err(|e| malformed(api, version, e))?;
        return Ok(DecodedRequest {
            header,
            api_key,
            version,
            body: None,
        });
    }
    if !decodable(api_key, version) {
        return Err(WireError::UnsupportedVersion { api, version });
    }

    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| malformed(api, version, e))?;
    let body = RequestKind::decode(api_key, &mut frame, version)
        .map_err(|e| malformed(api, version, e))?;
    if frame.has_remaining() {
        return Err(WireError::Malformed {
            api,
            version,
            reason: format!("{} trailing bytes", frame.remaining()),
        });
    }
    Ok(DecodedRequest {
        header,
        api_key,
        version,
        body: Some(body),
    })
}

fn malformed(api: ApiKey, version: i16, e: impl std::fmt::Display) -> WireError {
    WireError::Malformed {
        api,
        version,
        reason: e.to_string(),
    }
}
