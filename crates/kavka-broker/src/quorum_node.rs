//! Joining the metadata quorum at start-up: which quorum this node is part of
//! (from `controller.quorum.voters`, or a quorum of one for a node configured
//! alone), its controller if it has the controller role, and taking over a
//! single-node `metadata.log` from before the quorum existed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kavka_metadata::{MetadataLog, MetadataRecord};
use kavka_raft::{MetadataQuorum, QuorumConfig, QuorumTimeouts, Voter};

use crate::config::{BrokerConfig, ProcessRole};
use crate::controller::{ControllerClient, ControllerHandle, ControllerService};
use crate::state::StartError;

/// The directory of the metadata log, as Kafka names it.
pub(crate) const METADATA_DIR: &str = "__cluster_metadata-0";
/// The single-node metadata log of earlier Kavka versions.
const LEGACY_LOG: &str = "metadata.log";

/// This node's place in the quorum.
pub(crate) struct QuorumNode {
    pub(crate) quorum: MetadataQuorum,
    pub(crate) controller: Option<Arc<ControllerService>>,
    pub(crate) client: ControllerClient,
}

/// Whether the configuration describes a cluster of more than this node.
pub(crate) fn is_multi_node(config: &BrokerConfig) -> bool {
    let c = &config.cluster;
    c.voters.iter().any(|v| v.id != config.node_id) || !c.bootstrap_controllers.is_empty()
}

fn quorum_config(config: &BrokerConfig, cluster_id: &str) -> Result<QuorumConfig, StartError> {
    let c = &config.cluster;
    let node =
        u64::try_from(config.node_id).map_err(|_| invalid("node.id must not be negative"))?;
    let data_dir = config.log_dir.join(METADATA_DIR);
    if c.voters.is_empty() {
        // A node on its own: a quorum of one that nobody else dials, so it
        // listens on loopback on any port, and elects itself at once.
        let voters = vec![Voter {
            id: node,
            addr: "127.0.0.1:0".into(),
        }];
        let mut q = QuorumConfig::new(cluster_id, node, "127.0.0.1:0", voters, data_dir);
        q.timeouts = QuorumTimeouts {
            election_timeout: Duration::from_millis(50),
            fetch_timeout: Duration::from_millis(100),
            heartbeat_interval: Duration::from_millis(20),
            ..QuorumTimeouts::kafka_defaults()
        };
        return Ok(q);
    }
    let voters = c
        .voters
        .iter()
        .map(|v| {
            Ok(Voter {
                id: u64::try_from(v.id).map_err(|_| invalid("voter ids must not be negative"))?,
                addr: format!("{}:{}", v.host, v.port),
            })
        })
        .collect::<Result<Vec<_>, StartError>>()?;
    let listen = match c.controller_listener() {
        Some(l) if c.has_role(ProcessRole::Controller) => {
            let host = if l.host.is_empty() {
                "0.0.0.0"
            } else {
                &l.host
            };
            format!("{host}:{}", l.port)
        }
        // A broker-only node follows the log as an observer: the leader pushes
        // entries to it wherever it listens.
        _ => {
            let host = if config.advertised.host.is_empty() {
                "127.0.0.1"
            } else {
                &config.advertised.host
            };
            format!("{host}:0")
        }
    };
    let mut q = QuorumConfig::new(cluster_id, node, listen, voters, data_dir);
    // Kafka's followers give up on a leader after the fetch timeout and then
    // stand after a random part of the election timeout: [fetch, fetch +
    // election). openraft's follower waits out a leader lease (its maximum
    // election timeout) and then a random timeout between its minimum and
    // maximum: [max + min, 2 max). Half the fetch timeout as the maximum and half
    // the election timeout as the minimum give [1.5, 2) s for Kafka's defaults,
    // a little earlier than Kafka's [2, 3). The lease also bounds how soon a
    // crashed leader is replaced (`kavka_raft`'s crash watch elects as soon as it
    // ends): about a second after a kill -9 of the active controller.
    let election = Duration::from_millis(c.controller_quorum_election_timeout_ms.max(20) as u64);
    let fetch = Duration::from_millis(c.controller_quorum_fetch_timeout_ms.max(40) as u64);
    let min = election / 2;
    let max = (fetch / 2).max(min * 2);
    q.timeouts = QuorumTimeouts {
        election_timeout: min,
        fetch_timeout: max,
        heartbeat_interval: (min / 2).max(Duration::from_millis(5)),
        ..QuorumTimeouts::kafka_defaults()
    };
    Ok(q)
}

fn invalid(reason: &str) -> StartError {
    StartError::Quorum(reason.to_string())
}

/// Starts this node's part of the quorum and waits until it knows a leader.
pub(crate) async fn join(
    config: &BrokerConfig,
    cluster_id: &str,
) -> Result<QuorumNode, StartError> {
    let qc = quorum_config(config, cluster_id)?;
    let is_voter = qc.is_voter();
    let quorum = MetadataQuorum::start(qc)
        .await
        .map_err(|e| StartError::Quorum(e.to_string()))?;
    let controller = if is_voter && config.cluster.has_role(ProcessRole::Controller) {
        let control = kavka_metadata::cluster::ControlConfig {
            session_timeout_ms: config.cluster.broker_session_timeout_ms,
            unclean_leader_election: config.cluster.unclean_leader_election_enable,
            leader_imbalance_per_broker_percentage: config
                .cluster
                .leader_imbalance_per_broker_percentage,
        };
        let service = ControllerService::new(quorum.clone(), control);
        quorum.set_controller(Arc::new(ControllerHandle(service.clone())));
        Some(service)
    } else {
        None
    };
    let client = ControllerClient::new(quorum.clone(), controller.clone(), Duration::from_secs(15));
    if controller.is_some() {
        crate::controller_apis::ControllerApis::install(&quorum, &client, config, cluster_id);
    }
    if !is_voter {
        let addr = quorum.listen_addr().to_string();
        let mut waited = 0u64;
        while let Err(e) = client.add_observer(config.node_id, addr.clone()).await {
            waited += 1;
            if waited % 4 == 1 {
                tracing::warn!(error = %e, "waiting to join the metadata quorum as an observer");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let mut waited = 0u64;
    while quorum
        .wait_for_leader(Duration::from_secs(5))
        .await
        .is_none()
    {
        waited += 5;
        tracing::warn!(
            waited_s = waited,
            "no metadata quorum leader yet; waiting for the other controllers"
        );
    }
    Ok(QuorumNode {
        quorum,
        controller,
        client,
    })
}

/// Moves a single-node `metadata.log` (Kavka before the quorum) into the quorum
/// once: its records become the first entry, then the old file is renamed so it
/// is never applied twice.
pub(crate) async fn take_over_legacy_log(
    node: &QuorumNode,
    log_dir: &Path,
) -> Result<(), StartError> {
    let path = log_dir.join(METADATA_DIR).join(LEGACY_LOG);
    if !path.exists() {
        return Ok(());
    }
    let path_for_read = path.clone();
    let records: Vec<MetadataRecord> = tokio::task::spawn_blocking(move || {
        MetadataLog::open(&path_for_read).map(|(_, records)| records)
    })
    .await
    .map_err(|e| StartError::Quorum(e.to_string()))??;
    if node.quorum.image().image.next_offset() == 0 && !records.is_empty() {
        tracing::info!(
            records = records.len(),
            "moving the single-node metadata log into the metadata quorum"
        );
        // Records a newer version wrote that no longer apply are left out, as
        // the old store skipped them.
        let mut image = kavka_metadata::MetadataImage::default();
        let applicable: Vec<MetadataRecord> = records
            .into_iter()
            .filter(|r| image.apply(r).is_ok())
            .collect();
        node.client
            .write(Some(0), applicable)
            .await
            .map_err(|e| StartError::Quorum(format!("moving metadata.log: {e}")))?;
    }
    let done = path.with_extension("log.moved-to-quorum");
    std::fs::rename(&path, &done).map_err(|source| StartError::LogDir {
        path: path.display().to_string(),
        source,
    })?;
    kavka_storage::durable::sync_dir(&log_dir.join(METADATA_DIR)).map_err(|source| {
        StartError::LogDir {
            path: log_dir.join(METADATA_DIR).display().to_string(),
            source,
        }
    })?;
    Ok(())
}
