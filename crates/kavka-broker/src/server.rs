//! Accepting connections and running the background tasks (retention, rolls,
//! flushes, replica fetchers, ISR upkeep, and the log cleaner's threads) until
//! shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::security::ListenerSecurity;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::connection::serve_connection;
use crate::connection_quotas::ConnectionQuotas;
use crate::http::HttpServer;
use crate::log_cleaner::LogCleaner;
use crate::log_upkeep::LogUpkeep;
use crate::state::{now_ms, BrokerState, StartError};

/// A running broker.
pub struct Broker {
    state: Arc<BrokerState>,
    /// Every client listener, the first one the primary (`local_port`).
    listeners: Vec<BoundListener>,
    /// `/metrics`, `/health`, `/ready`; `None` when `http.listeners` is empty.
    http: Option<HttpServer>,
}

/// A bound socket and what its listener asks of connections.
struct BoundListener {
    socket: TcpListener,
    security: Arc<ListenerSecurity>,
}

impl Broker {
    /// Opens storage and binds the listeners; nothing is served until [`Broker::run`].
    pub async fn start(config: crate::config::BrokerConfig) -> Result<Self, StartError> {
        let mut listeners = Vec::new();
        for named in config.served_listeners() {
            // TLS stores are read before anything binds: a bad path fails the start.
            let security = ListenerSecurity::build(&config.raw, &named)
                .map_err(|e| StartError::Listener(e.to_string()))?;
            let host = if named.host.is_empty() {
                "0.0.0.0".to_string()
            } else {
                named.host.clone()
            };
            let address = format!("{host}:{}", named.port);
            // Bind before touching the disk so a port clash fails fast and harmlessly.
            let socket = TcpListener::bind(&address)
                .await
                .map_err(|source| StartError::Bind {
                    address: address.clone(),
                    source,
                })?;
            listeners.push(BoundListener { socket, security });
        }
        // Also before the disk: a taken port fails the start, and while storage
        // opens `/ready` says so.
        let http = HttpServer::start(&config.http).await?;
        let state = BrokerState::open(config).await?;
        if let Some(http) = &http {
            http.serve_broker(state.clone());
        }
        Ok(Self {
            state,
            listeners,
            http,
        })
    }

    /// The HTTP listener's bound addresses (none when it is turned off).
    pub fn http_addrs(&self) -> &[std::net::SocketAddr] {
        self.http.as_ref().map_or(&[], |h| h.local_addrs())
    }

    /// The port actually bound by the first listener (useful when configured as 0).
    pub fn local_port(&self) -> Option<u16> {
        self.listeners
            .first()
            .and_then(|l| l.socket.local_addr().ok())
            .map(|a| a.port())
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
        tasks.spawn(crate::txn_markers::run_marker_channel(
            self.state.clone(),
            stop_rx.clone(),
        ));
        tasks.spawn(heartbeats(self.state.clone(), stop_rx.clone()));
        tasks.spawn(follow_metadata(self.state.clone(), stop_rx.clone()));
        if let Some(controller) = self.state.controller_service.clone() {
            let (rebalance, unclean_every) =
                crate::controller_node::controller_timers(&self.state.config);
            tasks.spawn(controller.run_timers(rebalance, unclean_every, stop_rx.clone()));
        }
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
        for l in &self.listeners {
            tracing::info!(
                listener = %l.security.name,
                protocol = %l.security.protocol,
                address = ?l.socket.local_addr().ok(),
                "listening"
            );
        }
        tracing::info!(
            port = self.local_port(),
            cluster_id = %self.state.cluster_id,
            node_id = self.state.config.node_id,
            "Kavka broker started"
        );
        tokio::pin!(shutdown);
        let quotas = self.state.connections.clone();
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                // At max.connections nothing is accepted until one closes; the
                // clients wait in the kernel's accept queue, as with Kafka.
                (accepted, from) = accept_in_quota(&self.listeners, &quotas) => match accepted {
                    Ok((socket, peer)) => {
                        let slot = match quotas.admit(peer.ip()) {
                            Ok(slot) => slot,
                            Err(too_many) => {
                                tracing::info!(
                                    "Rejected connection from {}, address already has the configured maximum of {} connections.",
                                    too_many.ip, too_many.max
                                );
                                drop(socket);
                                continue;
                            }
                        };
                        let _ = socket.set_nodelay(true);
                        let state = self.state.clone();
                        let stop = stop_rx.clone();
                        let listener = self.listeners[from].security.clone();
                        tasks.spawn(serve_connection(state, socket, peer, stop, slot, listener));
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
        if let Some(http) = &self.http {
            http.stopping();
        }
        controlled_shutdown(&self.state).await;
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
        if let Err(e) = self.state.metadata.quorum().shutdown().await {
            tracing::warn!(error = %e, "metadata quorum did not stop cleanly");
        }
        tracing::info!("shut down cleanly");
    }
}

/// Waits for room under `max.connections`, then accepts the next connection on
/// any listener; also says which one.
async fn accept_in_quota(
    listeners: &[BoundListener],
    quotas: &ConnectionQuotas,
) -> (
    std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)>,
    usize,
) {
    quotas.wait_for_slot().await;
    std::future::poll_fn(|cx| {
        for (i, l) in listeners.iter().enumerate() {
            if let std::task::Poll::Ready(accepted) = l.socket.poll_accept(cx) {
                return std::task::Poll::Ready((accepted, i));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Kafka's controlled shutdown: tells the controller this broker is going, so it
/// moves this broker's leaderships to other ISR members first and clients fail
/// over at once instead of after the session timeout. Bounded: a controller that
/// cannot be reached does not hold the shutdown up.
async fn controlled_shutdown(state: &BrokerState) {
    let others = state
        .metadata
        .image()
        .brokers()
        .any(|b| b.broker_id != state.config.node_id && b.is_eligible());
    if !others {
        return;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout_at(deadline, state.heartbeat(true)).await {
            Ok(Ok(answer)) if answer.should_shut_down => {
                tracing::info!("controlled shutdown: leaderships moved");
                return;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(_) => break,
        }
    }
    tracing::warn!("controlled shutdown did not complete in time; stopping anyway");
}

/// Heartbeats to the active controller every `broker.heartbeat.interval.ms`, so
/// it keeps this broker unfenced.
async fn heartbeats(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let every = state.config.cluster.broker_heartbeat_interval_ms.max(10) as u64;
    let mut tick = tokio::time::interval(Duration::from_millis(every));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = state.heartbeat(false).await {
            tracing::debug!(error = %e, "heartbeat failed");
        }
    }
}

/// Applies every committed metadata image to the hosted partitions, whoever
/// made the change (another broker's admin request, the controller's fencing or
/// leader elections).
async fn follow_metadata(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let mut images = state.metadata.quorum().subscribe();
    loop {
        tokio::select! {
            changed = images.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
        let image = images.borrow_and_update().image.clone();
        let applier = state.clone();
        let result = tokio::task::spawn_blocking(move || {
            applier.replicas.reconcile(&image, &applier.config)
        })
        .await;
        // Group ownership follows the roles just applied: unloads at once, loads
        // on their own thread so the next image is not held up by a long replay.
        let jobs = state.groups.follow_leadership(&state);
        let txn_jobs = state.txns.follow_leadership(&state);
        if !jobs.is_empty() || !txn_jobs.is_empty() {
            let loader = state.clone();
            tokio::task::spawn_blocking(move || {
                for job in jobs {
                    loader.groups.load(&loader, job);
                }
                for job in txn_jobs {
                    loader.txns.load(&loader, job);
                }
            });
        }
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "cannot apply metadata to partition logs"),
            Err(e) => tracing::error!(error = %e, "metadata applier failed"),
        }
    }
}

/// Drives group timers (session expiry, join phase ends) every 100 ms; they act
/// only on the groups this broker coordinates, the only ones it holds.
async fn group_timers(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                state.groups.tick(&state);
                state.txns.tick(&state);
            }
            _ = stop.changed() => return,
        }
    }
}

/// Periodic log upkeep: time-based rolls and flushes, checked each second for
/// the logs that have one due or were used ([`LogUpkeep`]); the idle-file sweep
/// every 10 s over the logs holding files; retention over every log at
/// `log.retention.check.interval.ms`.
async fn maintenance(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let retention_every = state.config.retention_check_interval_ms.max(1000);
    let mut last_retention = now_ms();
    let mut last_descriptor_check = now_ms();
    let mut last_descriptor_warning: Option<i64> = None;
    let upkeep = Arc::new(parking_lot::Mutex::new(LogUpkeep::default()));
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
        let check_descriptors = now_ms() - last_descriptor_check >= DESCRIPTOR_CHECK_MS;
        if check_descriptors {
            last_descriptor_check = now_ms();
        }
        let swept = state.clone();
        let upkeep = upkeep.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            if run_retention {
                // Through `Partition::log`: a log retention changed comes up in
                // the upkeep pass below.
                for p in state.replicas.all() {
                    match p.log(|log| log.apply_retention(now)) {
                        Ok(deleted) if deleted > 0 => {
                            tracing::info!(topic = %p.topic, partition = p.index, deleted, "retention deleted segments");
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "retention skipped");
                        }
                    }
                }
            }
            upkeep.lock().pass(&state, now, check_descriptors);
        })
        .await;
        if check_descriptors {
            check_descriptor_use(&swept, &mut last_descriptor_warning);
        }
    }
}

/// How often idle segment files are closed and descriptor use is checked. A file
/// untouched for one whole period is closed at the next.
const DESCRIPTOR_CHECK_MS: i64 = 10_000;
/// While near the limit, the warning repeats at most this often.
const DESCRIPTOR_WARNING_EVERY_MS: i64 = 60_000;

/// Counts the open descriptors and warns when they near the process limit.
fn check_descriptor_use(state: &BrokerState, last_warning: &mut Option<i64>) {
    let open = match crate::descriptors::count_open() {
        Ok(n) => n,
        Err(e) => {
            tracing::debug!(error = %e, "cannot count open descriptors");
            return;
        }
    };
    let budget = &state.descriptors;
    if !budget.observe(open) {
        *last_warning = None;
        return;
    }
    let now = now_ms();
    if last_warning.is_some_and(|at| now - at < DESCRIPTOR_WARNING_EVERY_MS) {
        return;
    }
    *last_warning = Some(now);
    tracing::warn!(
        open_descriptors = open,
        open_file_limit = budget.limit,
        segment_files = kavka_storage::open_segment_files(),
        hosted_partitions = state.replicas.all().len(),
        "open descriptors near the process limit (RLIMIT_NOFILE); raise the limit before creating more partitions"
    );
}
