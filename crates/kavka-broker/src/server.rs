//! Accepting connections and running the background tasks (retention, rolls,
//! flushes, replica fetchers, ISR upkeep, and the log cleaner's threads) until
//! shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::connection::serve_connection;
use crate::log_cleaner::LogCleaner;
use crate::state::{now_ms, BrokerState, StartError};

/// A running broker.
pub struct Broker {
    state: Arc<BrokerState>,
    listener: TcpListener,
}

impl Broker {
    /// Opens storage and binds the listener; nothing is served until [`Broker::run`].
    pub async fn start(config: crate::config::BrokerConfig) -> Result<Self, StartError> {
        let host = if config.listener.host.is_empty() {
            "0.0.0.0".to_string()
        } else {
            config.listener.host.clone()
        };
        let address = format!("{host}:{}", config.listener.port);
        // Bind before touching the disk so a port clash fails fast and harmlessly.
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| StartError::Bind {
                address: address.clone(),
                source,
            })?;
        let state = tokio::task::spawn_blocking(move || BrokerState::open(config))
            .await
            .map_err(|e| StartError::LogDir {
                path: "startup".into(),
                source: std::io::Error::other(e.to_string()),
            })??;
        Ok(Self { state, listener })
    }

    /// The port actually bound (useful when configured as 0).
    pub fn local_port(&self) -> Option<u16> {
        self.listener.local_addr().ok().map(|a| a.port())
    }

    /// Shared state, for embedding and tests.
    pub fn state(&self) -> Arc<BrokerState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then closes every log cleanly.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(maintenance(self.state.clone(), stop_rx.clone()));
        tasks.spawn(group_timers(self.state.clone(), stop_rx.clone()));
        tasks.spawn(crate::replication::run_fetchers(
            self.state.clone(),
            stop_rx.clone(),
        ));
        tasks.spawn(crate::replication::run_isr_upkeep(
            self.state.clone(),
            stop_rx.clone(),
        ));
        // Its own threads, off the runtime: cleaning is long, blocking file work.
        let cleaner = LogCleaner::start(self.state.clone());
        tracing::info!(
            port = self.local_port(),
            cluster_id = %self.state.cluster_id,
            node_id = self.state.config.node_id,
            "Kavka broker started"
        );
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((socket, peer)) => {
                        let _ = socket.set_nodelay(true);
                        let state = self.state.clone();
                        let stop = stop_rx.clone();
                        tasks.spawn(async move { serve_connection(state, socket, peer, stop).await });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .is_err()
        {
            tracing::warn!("connections did not finish within 5 s; closing anyway");
        }
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            // A pass in progress is aborted and its output discarded before the
            // logs close, so nothing is swapped into a closed log.
            cleaner.shutdown();
            state.replicas.close_all()
        })
        .await;
        tracing::info!("shut down cleanly");
    }
}

/// Drives group timers (session expiry, join phase ends) every 100 ms.
async fn group_timers(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => state.groups.tick(&state),
            _ = stop.changed() => return,
        }
    }
}

/// Periodic log upkeep: time-based rolls and flushes every second, retention at
/// `log.retention.check.interval.ms`.
async fn maintenance(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let retention_every = state.config.retention_check_interval_ms.max(1000);
    let mut last_retention = now_ms();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let state = state.clone();
        let run_retention = now_ms() - last_retention >= retention_every as i64;
        if run_retention {
            last_retention = now_ms();
        }
        let _ = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            for p in state.replicas.all() {
                let result = p.log(|log| {
                    log.maybe_roll(now)?;
                    log.flush(false, now)?;
                    if run_retention {
                        let deleted = log.apply_retention(now)?;
                        if deleted > 0 {
                            tracing::info!(topic = %p.topic, partition = p.index, deleted, "retention deleted segments");
                        }
                    }
                    Ok(())
                });
                if let Err(e) = result {
                    tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "log upkeep skipped");
                }
            }
        })
        .await;
    }
}
