//! The broker's HTTP listener (`http.listeners`): `/metrics` for Prometheus,
//! `/health` (the process serves) and `/ready` (the broker can take clients).
//! It is bound before storage opens, so an orchestrator sees the broker come up
//! and `/ready` say what it still waits for; a scrape runs on the blocking pool,
//! so a partition lock held by a flush never stalls the async threads.
//!
//! Built on `axum` (hyper underneath): a router, with the web console
//! (`crate::console`) merged beside these routes; hyper answers malformed HTTP with 400 and closes
//! only that connection. On a loopback listener every request must name loopback
//! in `Host` (`host_guard`: DNS-rebinding protection).

mod host_guard;
mod readiness;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Endpoint, HttpSettings};
use crate::state::BrokerState;
pub(crate) use readiness::{readiness, NotReady};

/// An address of `http.listeners` could not be bound.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {address} (http.listeners): {source}; choose another address in \
     http.listeners, or set it empty to turn the HTTP listener off"
)]
pub struct HttpBindError {
    pub address: String,
    pub source: std::io::Error,
}

/// What the routes read: the broker once it is open, and whether it is stopping.
#[derive(Debug, Default)]
struct Status {
    broker: OnceLock<Arc<BrokerState>>,
    stopping: AtomicBool,
}

/// The running HTTP listeners; dropping this stops them.
#[derive(Debug)]
pub struct HttpServer {
    status: Arc<Status>,
    addresses: Vec<SocketAddr>,
    _stop: watch::Sender<bool>,
}

impl HttpServer {
    /// Binds every address of `settings` and serves them; `None` when the
    /// listener is turned off.
    pub async fn start(settings: &HttpSettings) -> Result<Option<Self>, HttpBindError> {
        if settings.listeners.is_empty() {
            return Ok(None);
        }
        let mut bound = Vec::with_capacity(settings.listeners.len());
        for endpoint in &settings.listeners {
            bound.push(bind(endpoint).await?);
        }
        let status = Arc::new(Status::default());
        let (stop, stopped) = watch::channel(false);
        let mut addresses = Vec::new();
        for listener in bound {
            let address = listener.local_addr().ok();
            addresses.extend(address);
            let mut app = router(status.clone());
            if address.is_some_and(|a| a.ip().is_loopback()) {
                app = app.layer(axum::middleware::from_fn(host_guard::loopback_names_only));
            }
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.changed().await;
                };
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::warn!(error = %e, "HTTP listener stopped");
                }
            });
        }
        tracing::info!(
            ?addresses,
            "HTTP listener serving /metrics, /health, /ready and the console at /console/"
        );
        Ok(Some(Self {
            status,
            addresses,
            _stop: stop,
        }))
    }

    /// From now on the routes answer from `state`.
    pub fn serve_broker(&self, state: Arc<BrokerState>) {
        let _ = self.status.broker.set(state);
    }

    /// `/ready` answers 503 from now on: the broker is shutting down.
    pub fn stopping(&self) {
        self.status.stopping.store(true, Ordering::Relaxed);
    }

    /// The addresses bound (a configured port 0 shows the one taken).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addresses
    }
}

async fn bind(endpoint: &Endpoint) -> Result<TcpListener, HttpBindError> {
    let host = if endpoint.host.is_empty() {
        "0.0.0.0"
    } else {
        endpoint.host.as_str()
    };
    let address = if host.contains(':') {
        format!("[{host}]:{}", endpoint.port)
    } else {
        format!("{host}:{}", endpoint.port)
    };
    TcpListener::bind(&address)
        .await
        .map_err(|source| HttpBindError { address, source })
}

fn router(status: Arc<Status>) -> Router {
    let console = {
        let status = status.clone();
        crate::console::router(Arc::new(move || status.broker.get().cloned()))
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(status)
        .merge(console)
        .fallback(not_found)
}

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(State(status): State<Arc<Status>>) -> Response {
    let verdict = readiness(
        status.broker.get().map(|b| b.as_ref()),
        status.stopping.load(Ordering::Relaxed),
    );
    match verdict {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(status): State<Arc<Status>>) -> Response {
    let Some(broker) = status.broker.get().cloned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", NotReady::Starting),
        )
            .into_response();
    };
    match tokio::task::spawn_blocking(move || crate::metrics::render(&broker)).await {
        Ok(page) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], page).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics scrape failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n").into_response()
        }
    }
}

async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not found: this listener serves /metrics, /health, /ready and the console at /console/\n",
    )
}
