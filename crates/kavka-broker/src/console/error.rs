//! What the console's API answers when a request cannot be served: a status,
//! a sentence for the page, and Kafka's error name when Kafka refused.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::kafka::error_name;

/// An API failure; rendered as `{"error": ..., "kafka_error": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) kafka_error: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kafka_error: Option<&'a str>,
}

impl ApiError {
    /// The request itself is wrong (a bad offset, a malformed body).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kafka_error: None,
        }
    }

    /// The thing asked for does not exist.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            kafka_error: None,
        }
    }

    /// A request the console refuses to act on (e.g. sent from another site).
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
            kafka_error: None,
        }
    }

    /// A body that is not JSON by its Content-Type.
    pub(crate) fn not_json() -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "send the body as Content-Type: application/json".into(),
            kafka_error: None,
        }
    }

    /// The broker is not open yet.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            kafka_error: None,
        }
    }

    /// Something inside failed; never the client's fault.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            kafka_error: None,
        }
    }

    /// Kafka answered `code`: the status says whose fault it is.
    pub(crate) fn kafka(code: i16, message: Option<String>) -> Self {
        let name = error_name(code);
        let status = kafka_status(code);
        let message = match message {
            Some(m) if !m.is_empty() => format!("{name}: {m}"),
            _ => name.clone(),
        };
        Self {
            status,
            message,
            kafka_error: Some(name),
        }
    }
}

/// The HTTP status for a Kafka error code: not found, conflict, client error,
/// or unavailable for the retriable ones the broker may outgrow.
fn kafka_status(code: i16) -> StatusCode {
    match code {
        // UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID, GROUP_ID_NOT_FOUND
        3 | 100 | 69 => StatusCode::NOT_FOUND,
        // TOPIC_ALREADY_EXISTS, UNKNOWN_MEMBER_ID (group active), REBALANCE_IN_PROGRESS,
        // ILLEGAL_GENERATION, NON_EMPTY_GROUP, FENCED_INSTANCE_ID
        36 | 25 | 27 | 22 | 68 | 82 => StatusCode::CONFLICT,
        // TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED
        29..=31 => StatusCode::FORBIDDEN,
        // NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, COORDINATOR_*, NOT_COORDINATOR,
        // REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS*, NOT_CONTROLLER
        5 | 6 | 7 | 14 | 15 | 16 | 19 | 20 | 41 => StatusCode::SERVICE_UNAVAILABLE,
        -1 => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Body {
            error: &self.message,
            kafka_error: self.kafka_error.as_deref(),
        })
        .unwrap_or_else(|_| b"{\"error\":\"unrenderable error\"}".to_vec());
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_keep_the_name_and_pick_the_status() {
        let e = ApiError::kafka(3, Some("no such topic".into()));
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.message, "UNKNOWN_TOPIC_OR_PARTITION: no such topic");
        assert_eq!(e.kafka_error.as_deref(), Some("UNKNOWN_TOPIC_OR_PARTITION"));
        assert_eq!(ApiError::kafka(37, None).status, StatusCode::BAD_REQUEST);
        assert_eq!(ApiError::kafka(25, None).status, StatusCode::CONFLICT);
    }
}
