//! The web console: a page (HTML, CSS and JavaScript embedded in the binary)
//! under `/console/` and its JSON API under `/api/v1/`, served by the HTTP
//! listener beside `/metrics`. Every API handler turns into Kafka requests
//! handled in-process (`kafka.rs`), so the console shows and changes exactly
//! what a Kafka client would; see ARCHITECTURE.md.

mod cluster;
mod error;
mod groups;
mod kafka;
mod messages;
mod offsets;
mod partitioner;
mod query;
mod render;
mod topics;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::state::BrokerState;
use error::ApiError;
use query::Query;

/// How the console finds the broker: none until it has opened.
pub(crate) type BrokerSource = Arc<dyn Fn() -> Option<Arc<BrokerState>> + Send + Sync>;

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// The console's routes, to merge into the HTTP listener's router.
pub(crate) fn router(broker: BrokerSource) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(index))
        .route("/console/console.js", get(script))
        .route("/console/console.css", get(style))
        .route("/api/v1/cluster", get(get_cluster))
        .route("/api/v1/topics", get(list_topics).post(create_topic))
        .route(
            "/api/v1/topics/{topic}",
            get(describe_topic).delete(delete_topic),
        )
        .route(
            "/api/v1/topics/{topic}/configs",
            axum::routing::patch(alter_configs),
        )
        .route("/api/v1/topics/{topic}/messages", get(browse).post(produce))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{group}", get(describe_group))
        .route(
            "/api/v1/groups/{group}/reset-offsets",
            axum::routing::post(reset_offsets),
        )
        .route("/api/v1/{*rest}", get(api_not_found).post(api_not_found))
        .with_state(broker)
}

/// Security headers for every console page: nothing from elsewhere may run,
/// load or frame it, so a value that slipped through escaping still cannot act.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

fn broker(source: &BrokerSource) -> Result<Arc<BrokerState>, ApiError> {
    source().ok_or_else(|| {
        ApiError::unavailable("the broker is starting: storage and metadata are not open yet")
    })
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
        Err(e) => ApiError::internal(format!("cannot render the answer: {e}")).into_response(),
    }
}

fn reply<T: Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

/// A change may only come from the console's own page (or a tool without a
/// browser): a browser on another site sends an `Origin` that is not this
/// listener's, and cannot send `application/json` without a CORS preflight,
/// which this listener never grants. So no other web page can make a visitor's
/// browser create, delete, produce or reset here (cross-site request forgery).
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default();
    let host_part = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if host.is_empty() || host_part != Some(host) {
        return Err(ApiError::forbidden(format!(
            "a change must come from this console's own page, not from {origin}"
        )));
    }
    Ok(())
}

/// A JSON body of a change, or a 4xx that says what is wrong with it.
fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, ApiError> {
    same_origin(headers)?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| {
            c.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Err(ApiError::not_json());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("bad request body: {e}")))
}

async fn get_cluster(State(source): State<BrokerSource>) -> Response {
    reply(async { cluster::cluster(&*broker(&source)?).await }.await)
}

async fn list_topics(State(source): State<BrokerSource>) -> Response {
    reply(async { topics::list(&*broker(&source)?).await }.await)
}

async fn describe_topic(State(source): State<BrokerSource>, Path(topic): Path<String>) -> Response {
    reply(async { topics::describe(&*broker(&source)?, &topic).await }.await)
}

#[derive(Serialize)]
struct Done {
    ok: bool,
}

async fn create_topic(
    State(source): State<BrokerSource>,
    headers: HeaderMap,
    payload: Bytes,
) -> Response {
    let result = async {
        let new = body(&headers, &payload)?;
        topics::create(&*broker(&source)?, new).await
    }
    .await;
    match result {
        Ok(()) => json(StatusCode::CREATED, &Done { ok: true }),
        Err(e) => e.into_response(),
    }
}

async fn delete_topic(
    State(source): State<BrokerSource>,
    Path(topic): Path<String>,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            same_origin(&headers)?;
            topics::delete(&*broker(&source)?, &topic).await?;
            Ok(Done { ok: true })
        }
        .await,
    )
}

async fn alter_configs(
    State(source): State<BrokerSource>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    payload: Bytes,
) -> Response {
    reply(
        async {
            let change = body(&headers, &payload)?;
            topics::alter_configs(&*broker(&source)?, &topic, change).await?;
            Ok(Done { ok: true })
        }
        .await,
    )
}

async fn browse(
    State(source): State<BrokerSource>,
    Path(topic): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    reply(
        async {
            let b = messages::Browse::from_query(&Query::parse(raw.as_deref())?)?;
            messages::browse(&*broker(&source)?, &topic, b).await
        }
        .await,
    )
}

async fn produce(
    State(source): State<BrokerSource>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    payload: Bytes,
) -> Response {
    reply(
        async {
            let new = body(&headers, &payload)?;
            messages::produce(&*broker(&source)?, &topic, new).await
        }
        .await,
    )
}

async fn list_groups(State(source): State<BrokerSource>) -> Response {
    reply(async { groups::list(&*broker(&source)?).await }.await)
}

async fn describe_group(State(source): State<BrokerSource>, Path(group): Path<String>) -> Response {
    reply(async { groups::describe(&*broker(&source)?, &group).await }.await)
}

async fn reset_offsets(
    State(source): State<BrokerSource>,
    Path(group): Path<String>,
    headers: HeaderMap,
    payload: Bytes,
) -> Response {
    reply(
        async {
            let reset = body(&headers, &payload)?;
            groups::reset(&*broker(&source)?, &group, reset).await
        }
        .await,
    )
}

async fn api_not_found() -> Response {
    ApiError::not_found("no such API; see ARCHITECTURE.md for the console's API").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn changes_come_only_from_this_listener_as_json() {
        let json = (header::CONTENT_TYPE, "application/json");
        let ok: Result<serde_json::Value, _> =
            body(&headers(std::slice::from_ref(&json)), &Bytes::from("{}"));
        assert!(ok.is_ok());
        let same = headers(&[
            json.clone(),
            (header::HOST, "127.0.0.1:9644"),
            (header::ORIGIN, "http://127.0.0.1:9644"),
        ]);
        assert!(body::<serde_json::Value>(&same, &Bytes::from("{}")).is_ok());
        let other = headers(&[
            json,
            (header::HOST, "127.0.0.1:9644"),
            (header::ORIGIN, "http://evil.example"),
        ]);
        let e = body::<serde_json::Value>(&other, &Bytes::from("{}")).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let form = headers(&[(header::CONTENT_TYPE, "text/plain")]);
        let e = body::<serde_json::Value>(&form, &Bytes::from("{}")).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
