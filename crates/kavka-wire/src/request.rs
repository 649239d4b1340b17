//! Turns one frame body into a request header and a decoded message.

use bytes::Bytes;
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
    // Apache Kafka ignores bytes after the fields it knows (a newer client may
    // send more); so do we.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(parts: &[&[u8]]) -> Bytes {
        Bytes::from(parts.concat())
    }

    #[test]
    fn hostile_array_counts_do_not_abort_the_broker() {
        // Metadata v1, header v1, then a topics array claiming i32::MAX entries.
        let f = frame(&[
            &[0, 3, 0, 1],
            &1i32.to_be_bytes(),
            &(-1i16).to_be_bytes(),
            &i32::MAX.to_be_bytes(),
            b"\x00\x05hello",
        ]);
        assert!(matches!(
            decode_request(f),
            Err(WireError::Malformed { .. })
        ));
        // Produce v9 (flexible), compact array count near u32::MAX.
        let f = frame(&[
            &[0, 0, 0, 9],
            &1i32.to_be_bytes(),
            &(-1i16).to_be_bytes(),
            &[0],
            &[0],
            &[0, 1],
            &[0, 0, 0, 1],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
        ]);
        assert!(decode_request(f).is_err());
    }

    #[test]
    fn unknown_api_and_short_frames_are_errors() {
        assert!(matches!(
            decode_request(frame(&[&[0, 3]])),
            Err(WireError::TruncatedHeader(2))
        ));
        let f = frame(&[&[0x7f, 0, 0, 0], &1i32.to_be_bytes()]);
        assert!(matches!(
            decode_request(f),
            Err(WireError::UnknownApiKey(0x7f00))
        ));
    }

    #[test]
    fn newer_api_versions_request_is_answered_not_refused() {
        let f = frame(&[
            &[0, 18, 0, 99],
            &7i32.to_be_bytes(),
            &(-1i16).to_be_bytes(),
            &[1, 2, 3],
        ]);
        let r = decode_request(f).unwrap();
        assert!(r.body.is_none());
        assert_eq!(r.header.correlation_id, 7);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_request(Bytes::from(bytes));
        }

        #[test]
        fn arbitrary_bodies_of_known_apis_never_panic(key in 0i16..70, version in 0i16..14, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let mut f = key.to_be_bytes().to_vec();
            f.extend_from_slice(&version.to_be_bytes());
            f.extend_from_slice(&1i32.to_be_bytes());
            f.extend_from_slice(&(-1i16).to_be_bytes());
            f.extend_from_slice(&body);
            let _ = decode_request(Bytes::from(f));
        }
    }
}
