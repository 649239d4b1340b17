//! Everything a request handler can reach: config, metadata, hosted partitions.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kavka_metadata::{MetadataError, MetadataImage, MetadataRecord};
use kavka_storage::durable::{self, StateFileError};

use crate::config::BrokerConfig;
use crate::connection_quotas::ConnectionQuotas;
use crate::controller::{
    ControllerCallError, ControllerClient, ControllerService, HeartbeatAnswer,
};
use crate::descriptors::{self, DescriptorBudget};
use crate::group_service::GroupService;
use crate::meta_properties::{MetaProperties, META_PROPERTIES_FILE};
use crate::metadata_store::MetadataStore;
use crate::producer_ids::ProducerIdManager;
use crate::quorum_node;
use crate::replica_manager::ReplicaManager;
use crate::request_queue::RequestQueue;
use crate::txn_service::TxnService;
use uuid::Uuid;

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("log directory {path}: {source}")]
    LogDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("opening partition logs: {0}")]
    Storage(#[from] kavka_storage::StorageError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    StateFile(#[from] StateFileError),
    /// A listener's security settings cannot be used (TLS stores, mapping rules).
    #[error("{0}")]
    Listener(String),
    #[error(transparent)]
    Http(#[from] crate::http::HttpBindError),
    #[error("metadata quorum: {0}")]
    Quorum(String),
    #[error(
        "log directory {path} belongs to node {stored} (meta.properties), but this broker \
         is node.id={configured}; point log.dirs at this node's own directory"
    )]
    NodeIdMismatch {
        path: String,
        stored: i32,
        configured: i32,
    },
}

/// Shared broker state, one per process.
#[derive(Debug)]
pub struct BrokerState {
    pub config: BrokerConfig,
    pub cluster_id: String,
    pub metadata: MetadataStore,
    pub replicas: ReplicaManager,
    pub producer_ids: ProducerIdManager,
    pub(crate) groups: GroupService,
    /// The transaction coordinator of the `__transaction_state` partitions led here.
    pub(crate) txns: TxnService,
    /// Requests to the active controller (ISR changes, registration, heartbeats).
    pub controller: ControllerClient,
    /// This broker's epoch: the offset of its registration record (-1 until
    /// registered). AlterPartition and heartbeats carry it.
    broker_epoch: AtomicI64,
    /// New on every process start, so the controller tells a restart from a
    /// second process with the same node id.
    incarnation_id: Uuid,
    /// The controller beside this node's quorum member, if it is a controller.
    pub(crate) controller_service: Option<Arc<ControllerService>>,
    /// Connection counts and limits of the client listener.
    pub connections: Arc<ConnectionQuotas>,
    /// Requests read and not yet answered, and their bytes.
    pub requests: RequestQueue,
    /// The open-file limit and what partitions may use of it.
    pub descriptors: DescriptorBudget,
    /// Client quota measurements and throttle counts (`quotas/`).
    pub quotas: crate::quotas::ClientQuotaManagers,
    /// Request counts and latencies, for `/metrics`.
    pub metrics: crate::metrics::BrokerMetrics,
}

impl BrokerState {
    /// Opens the log directory, joins the metadata quorum, registers with the
    /// active controller and opens the partition logs the metadata assigns here.
    /// Returns once the controller has unfenced this broker.
    pub async fn open(config: BrokerConfig) -> Result<Arc<Self>, StartError> {
        let descriptors = DescriptorBudget::new(descriptors::raise_open_file_limit());
        // Segment files stay open only within their share of the limit; past it
        // each read or write opens its file for itself.
        kavka_storage::set_segment_file_budget(
            usize::try_from(descriptors.segment_files()).unwrap_or(usize::MAX),
        );
        let cluster_id = open_cluster_id(&config).await?;
        let dir = config.log_dir.clone();
        let producer_ids = blocking(move || Ok(ProducerIdManager::open(&dir)?)).await?;
        let node = quorum_node::join(&config, &cluster_id).await?;
        quorum_node::take_over_legacy_log(&node, &config.log_dir).await?;
        let config_for_groups = config.clone();
        let state = Arc::new(Self {
            config,
            cluster_id,
            metadata: MetadataStore::new(node.quorum.clone(), node.client.clone()),
            replicas: ReplicaManager::default(),
            producer_ids,
            groups: GroupService::new(&config_for_groups),
            txns: TxnService::new(&config_for_groups),
            controller: node.client.clone(),
            broker_epoch: AtomicI64::new(-1),
            incarnation_id: Uuid::new_v4(),
            controller_service: node.controller.clone(),
            connections: ConnectionQuotas::new(
                config_for_groups
                    .cluster
                    .broker_listener()
                    .map_or("PLAINTEXT", |l| l.name.as_str()),
                config_for_groups.connections.clone(),
            ),
            requests: RequestQueue::new(&config_for_groups.connections),
            descriptors,
            quotas: crate::quotas::ClientQuotaManagers::new(config_for_groups.quotas),
            metrics: Default::default(),
        });
        state.format_cluster().await?;
        state.register().await;
        state.wait_until_unfenced().await;
        state.producer_ids.prefetch(&state);
        let opened = state.clone();
        blocking(move || {
            opened
                .replicas
                .reconcile(&opened.metadata.image(), &opened.config)?;
            // Loaded before serving, so a restarted node answers its groups at once.
            opened.load_led_groups();
            Ok(())
        })
        .await?;
        Ok(state)
    }

    /// First start of a new cluster: like `kafka-storage format`, record the
    /// cluster-wide `min.insync.replicas` default as a dynamic config, which is
    /// where Kafka 4.x reports it from. Every node tries; the metadata's
    /// compare-and-set lets only the first one write it.
    async fn format_cluster(&self) -> Result<(), MetadataError> {
        let record = MetadataRecord::Config {
            resource: kavka_metadata::ConfigResource::Broker(None),
            name: "min.insync.replicas".to_string(),
            value: Some(self.config.min_insync_replicas.to_string()),
        };
        self.metadata
            .commit(|image| {
                let fresh = image.next_offset() == 0;
                Ok((if fresh { vec![record.clone()] } else { vec![] }, ()))
            })
            .await?;
        Ok(())
    }

    /// Registers this broker with the active controller, retrying until it
    /// answers (the other controllers may still be starting).
    pub(crate) async fn register(&self) {
        let c = &self.config;
        let mut attempts = 0u32;
        loop {
            let answer = self
                .controller
                .register(
                    c.node_id,
                    self.incarnation_id,
                    c.advertised.host.clone(),
                    i32::from(c.advertised.port),
                    c.cluster.rack.clone(),
                )
                .await;
            match answer {
                Ok(epoch) => {
                    self.broker_epoch.store(epoch, Ordering::Release);
                    tracing::info!(broker_epoch = epoch, "registered with the controller");
                    return;
                }
                Err(e) => {
                    attempts += 1;
                    if attempts % 5 == 1 {
                        tracing::warn!(error = %e, "broker registration failed; retrying");
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Heartbeats until the controller unfences this broker, which it does once
    /// this node has applied the metadata up to its own registration.
    async fn wait_until_unfenced(&self) {
        let mut attempts = 0u32;
        loop {
            match self.heartbeat(false).await {
                Ok(answer) if !answer.is_fenced => return,
                Ok(_) => {}
                Err(e) => {
                    attempts += 1;
                    if attempts % 10 == 1 {
                        tracing::warn!(error = %e, "waiting for the controller to unfence this broker");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One heartbeat to the active controller; re-registers when the controller
    /// no longer knows this broker's epoch (it was fenced and replaced, or the
    /// registration was lost with an old leader).
    pub(crate) async fn heartbeat(
        &self,
        want_shutdown_now: bool,
    ) -> Result<HeartbeatAnswer, ControllerCallError> {
        let answer = self
            .controller
            .heartbeat(
                self.config.node_id,
                self.broker_epoch(),
                self.metadata.image().next_offset(),
                want_shutdown_now,
            )
            .await;
        if let Err(ControllerCallError::Refused { code, .. }) = &answer {
            // STALE_BROKER_EPOCH, BROKER_ID_NOT_REGISTERED
            if *code == 77 || *code == 102 {
                self.register().await;
            }
        }
        answer
    }

    /// This broker's epoch, -1 before registration.
    pub fn broker_epoch(&self) -> i64 {
        self.broker_epoch.load(Ordering::Acquire)
    }

    /// Commits a metadata change and brings hosted partitions in line with it.
    pub async fn commit<T>(
        &self,
        decide: impl FnMut(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), MetadataError>,
    ) -> Result<T, MetadataError> {
        let (image, out) = self.metadata.commit(decide).await?;
        self.replicas
            .reconcile(&image, &self.config)
            .map_err(|e| MetadataError::Log(e.to_string()))?;
        // Creating `__consumer_offsets` makes this broker leader of some of it at
        // once; its groups are served from now rather than from the next image.
        self.load_led_groups();
        Ok(out)
    }

    /// Unloads the groups of `__consumer_offsets` partitions no longer led here and
    /// loads those newly led, in this thread (blocking: it reads their logs).
    pub(crate) fn load_led_groups(&self) {
        for job in self.groups.follow_leadership(self) {
            self.groups.load(self, job);
        }
        for job in self.txns.follow_leadership(self) {
            self.txns.load(self, job);
        }
    }

    /// Ids of the brokers that can take replicas now: registered, unfenced and
    /// not shutting down.
    pub fn live_brokers(&self) -> Vec<i32> {
        self.metadata
            .image()
            .brokers()
            .filter(|b| b.is_eligible())
            .map(|b| b.broker_id)
            .collect()
    }

    /// The active controller's node id, as Metadata and DescribeCluster report it.
    pub fn active_controller(&self) -> i32 {
        self.metadata
            .quorum()
            .leader()
            .and_then(|l| i32::try_from(l).ok())
            .unwrap_or(-1)
    }
}

/// Runs blocking start-up work (files, fsyncs) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StartError> + Send + 'static,
) -> Result<T, StartError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StartError::LogDir {
            path: "startup".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Creates the data directory if needed and returns the cluster id this node
/// belongs to (see [`load_or_create_cluster_id`]).
pub(crate) async fn open_cluster_id(config: &BrokerConfig) -> Result<String, StartError> {
    let dir = config.log_dir.clone();
    let multi_node = quorum_node::is_multi_node(config);
    let node_id = config.node_id;
    let voters = config.cluster.voters.clone();
    let initial = config.initial_cluster_id.clone();
    blocking(move || {
        let io_err = |source| StartError::LogDir {
            path: dir.display().to_string(),
            source,
        };
        durable::create_dir_all_durably(&dir).map_err(io_err)?;
        load_or_create_cluster_id(&dir, node_id, multi_node, &voters, initial.as_deref())
    })
    .await
}

/// Reads `meta.properties`, or writes one on first start. A file that exists but
/// lacks a cluster id, or names another node, stops the start: a new cluster id
/// would silently orphan everything the directory holds.
///
/// An unformatted node of a multi-node cluster takes its cluster id from the
/// voters it was given, so nodes started with the same `controller.quorum.voters`
/// and no `kafka-storage format` step still agree on one cluster; a node alone
/// gets a random id, as before. An `initial` id (the container images'
/// `CLUSTER_ID`) is what a fresh directory gets instead.
fn load_or_create_cluster_id(
    dir: &Path,
    node_id: i32,
    multi_node: bool,
    voters: &[crate::config::Voter],
    initial: Option<&str>,
) -> Result<String, StartError> {
    if let Some(meta) = MetaProperties::read(dir)? {
        if let Some(stored) = meta.node_id.filter(|&n| n != node_id) {
            return Err(StartError::NodeIdMismatch {
                path: dir.display().to_string(),
                stored,
                configured: node_id,
            });
        }
        if let Some(asked) = initial.filter(|&id| id != meta.cluster_id) {
            // As the images' `kafka-storage format --ignore-formatted` does.
            tracing::warn!(
                dir = %dir.display(),
                stored = %meta.cluster_id,
                asked,
                "data directory already formatted: keeping its cluster id, not CLUSTER_ID"
            );
        }
        return Ok(meta.cluster_id);
    }
    let mut meta = MetaProperties::new_cluster(node_id);
    if let Some(id) = initial {
        meta.cluster_id = id.to_string();
    } else if multi_node {
        meta.cluster_id = crate::meta_properties::cluster_id_for_voters(voters);
    }
    meta.write(dir).map_err(|source| StartError::LogDir {
        path: dir.join(META_PROPERTIES_FILE).display().to_string(),
        source,
    })?;
    Ok(meta.cluster_id)
}

#[cfg(test)]
mod cluster_id_tests {
    use super::*;

    #[test]
    fn a_fresh_directory_takes_the_given_id_and_a_formatted_one_keeps_its_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first =
            load_or_create_cluster_id(dir.path(), 1, true, &[], Some("given-id")).expect("fresh");
        assert_eq!(first, "given-id");
        let again = load_or_create_cluster_id(dir.path(), 1, true, &[], Some("other-id"))
            .expect("formatted");
        assert_eq!(again, "given-id");
        let other = tempfile::tempdir().expect("tempdir");
        let random = load_or_create_cluster_id(other.path(), 1, false, &[], None).expect("fresh");
        assert_ne!(random, "given-id");
    }
}
