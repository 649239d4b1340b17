//! A dedicated controller (`process.roles=controller`), as Kafka runs them in
//! production: a voter of the metadata quorum and, when elected, the active
//! controller. It hosts no partitions and serves no clients; brokers reach it
//! over the quorum's connections, and follow the metadata log as observers.

use std::time::Duration;

use tokio::sync::watch;

use crate::config::BrokerConfig;
use crate::quorum_node::{self, QuorumNode};
use crate::state::{self, StartError};

/// A running dedicated controller.
pub struct ControllerNode {
    config: BrokerConfig,
    cluster_id: String,
    node: QuorumNode,
}

impl ControllerNode {
    /// Reads or derives the cluster id, joins the quorum as a voter and waits
    /// until the quorum has a leader.
    pub async fn start(config: BrokerConfig) -> Result<Self, StartError> {
        let cluster_id = state::open_cluster_id(&config).await?;
        let node = quorum_node::join(&config, &cluster_id).await?;
        Ok(Self {
            config,
            cluster_id,
            node,
        })
    }

    /// Where the quorum listens (the controller listener).
    pub fn listen_addr(&self) -> String {
        self.node.quorum.listen_addr().to_string()
    }

    /// Runs the controller's timers until `shutdown` resolves, then leaves the
    /// quorum cleanly.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let timers = self.node.controller.clone().map(|controller| {
            let (rebalance, unclean_every) = controller_timers(&self.config);
            tokio::spawn(controller.run_timers(rebalance, unclean_every, stop_rx))
        });
        tracing::info!(
            addr = %self.listen_addr(),
            cluster_id = %self.cluster_id,
            node_id = self.config.node_id,
            "Kavka controller started"
        );
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        if let Some(timers) = timers {
            let _ = timers.await;
        }
        if let Err(e) = self.node.quorum.shutdown().await {
            tracing::warn!(error = %e, "metadata quorum did not stop cleanly");
        }
    }
}

/// How often the active controller rebalances leadership (if enabled) and
/// retries unclean elections, from the node's configuration.
pub(crate) fn controller_timers(config: &BrokerConfig) -> (Option<Duration>, Duration) {
    let cluster = &config.cluster;
    let rebalance = cluster.auto_leader_rebalance_enable.then(|| {
        Duration::from_secs(cluster.leader_imbalance_check_interval_seconds.max(1) as u64)
    });
    let unclean_every =
        Duration::from_millis(cluster.unclean_leader_election_interval_ms.max(100) as u64);
    (rebalance, unclean_every)
}
