//! The console's one way into the broker: a Kafka request handled in-process by
//! the same `handlers::handle` a socket's request goes through, so the console
//! sees and changes exactly what a Kafka client would, with Kafka's errors.

use std::net::SocketAddr;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kavka_wire::DecodedRequest;

use super::error::ApiError;
use crate::handlers::{self, RequestContext};
use crate::security::Session;
use crate::state::BrokerState;

/// The listener name requests from the console carry, for authorization and logs.
pub(crate) const CONSOLE_LISTENER: &str = "CONSOLE";

/// Sends `body` at `version` through the broker's request handlers.
pub(crate) async fn call(
    state: &BrokerState,
    api_key: ApiKey,
    version: i16,
    body: RequestKind,
) -> Result<ResponseKind, ApiError> {
    let session = Session::anonymous(CONSOLE_LISTENER);
    let ctx = RequestContext {
        state,
        peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        client_id: Some(StrBytes::from_static_str("kavka-console")),
        session: &session,
    };
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version);
    let request = DecodedRequest {
        header,
        api_key,
        version,
        body: Some(body),
    };
    handlers::handle(&ctx, request)
        .await
        .ok_or_else(|| ApiError::internal(format!("no answer to {api_key:?}")))
}

/// Kafka's name for an error code (`UNKNOWN_TOPIC_OR_PARTITION`), as the Java
/// client and Kafka's tools print it.
pub(crate) fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_CODE_{c}"),
        Some(e) => screaming_snake(&format!("{e:?}")),
    }
}

/// Fails with Kafka's error when `code` is one, keeping the broker's message.
pub(crate) fn check(code: i16, message: Option<&StrBytes>) -> Result<(), ApiError> {
    if code == 0 {
        return Ok(());
    }
    Err(ApiError::kafka(code, message.map(|m| m.to_string())))
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_kafkas() {
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(36), "TOPIC_ALREADY_EXISTS");
        assert_eq!(error_name(0), "NONE");
    }
}
