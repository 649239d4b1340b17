//! Everything a request handler can reach: config, metadata, hosted partitions.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kavka_metadata::{MetadataError, MetadataImage, MetadataRecord};
use kavka_storage::durable::{self, StateFileError};
use tokio::sync::Notify;

use crate::config::BrokerConfig;
use crate::controller::ControllerClient;
use crate::group_service::GroupService;
use crate::meta_properties::{MetaProperties, META_PROPERTIES_FILE};
use crate::metadata_store::MetadataStore;
use crate::producer_ids::ProducerIdManager;
use crate::replica_manager::ReplicaManager;

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
    /// Requests to the active controller (ISR changes, registration, heartbeats).
    pub controller: ControllerClient,
    /// Woken on every append so long-polling fetches can answer at once.
    pub appended: Notify,
}

impl BrokerState {
    /// Opens the log directory: cluster identity, metadata log, partition logs.
    pub fn open(config: BrokerConfig) -> Result<Arc<Self>, StartError> {
        let dir = config.log_dir.clone();
        let io_err = |source| StartError::LogDir {
            path: dir.display().to_string(),
            source,
        };
        durable::create_dir_all_durably(&dir).map_err(io_err)?;
        let cluster_id = load_or_create_cluster_id(&dir, config.node_id)?;
        let metadata = MetadataStore::open(&dir.join("__cluster_metadata-0").join("metadata.log"))?;
        let producer_ids = ProducerIdManager::open(&dir)?;
        let config_for_groups = config.clone();
        let state = Arc::new(Self {
            config,
            cluster_id,
            metadata,
            replicas: ReplicaManager::default(),
            producer_ids,
            groups: GroupService::new(&config_for_groups),
            controller: ControllerClient::default(),
            appended: Notify::new(),
        });
        if state.metadata.image().next_offset() == 0 {
            state.format_cluster()?;
        }
        state.register_self()?;
        state
            .replicas
            .reconcile(&state.metadata.image(), &state.config)?;
        state.groups.load(&state);
        Ok(state)
    }

    /// First start of a new cluster: like `kafka-storage format`, record the
    /// cluster-wide `min.insync.replicas` default as a dynamic config, which is
    /// where Kafka 4.x reports it from.
    fn format_cluster(&self) -> Result<(), MetadataError> {
        let record = MetadataRecord::Config {
            resource: kavka_metadata::ConfigResource::Broker(None),
            name: "min.insync.replicas".to_string(),
            value: Some(self.config.min_insync_replicas.to_string()),
        };
        self.metadata.commit(|_| Ok((vec![record], ())))?;
        Ok(())
    }

    /// Records this broker's advertised endpoint when it is new or has changed.
    fn register_self(&self) -> Result<(), MetadataError> {
        let c = &self.config;
        let record = MetadataRecord::RegisterBroker {
            broker_id: c.node_id,
            host: c.advertised.host.clone(),
            port: i32::from(c.advertised.port),
            rack: c.raw.get("broker.rack").cloned(),
            incarnation_id: None,
            broker_epoch: 0,
            fenced: false,
        };
        self.metadata.commit(|image| {
            let same = image.broker(c.node_id).is_some_and(|b| {
                b.host == c.advertised.host && b.port == i32::from(c.advertised.port)
            });
            Ok((if same { vec![] } else { vec![record] }, ()))
        })?;
        Ok(())
    }

    /// Commits a metadata change and brings hosted partitions in line with it.
    pub fn commit<T>(
        &self,
        decide: impl FnOnce(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), MetadataError>,
    ) -> Result<T, MetadataError> {
        let (image, out) = self.metadata.commit(decide)?;
        self.replicas
            .reconcile(&image, &self.config)
            .map_err(|e| MetadataError::Log(e.to_string()))?;
        Ok(out)
    }

    /// Ids of live brokers (just this one until the cluster issue).
    pub fn live_brokers(&self) -> Vec<i32> {
        vec![self.config.node_id]
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads `meta.properties`, or writes one with a new cluster id on first start.
/// A file that exists but lacks a cluster id, or names another node, stops the
/// start: a new cluster id would silently orphan everything the directory holds.
fn load_or_create_cluster_id(dir: &Path, node_id: i32) -> Result<String, StartError> {
    if let Some(meta) = MetaProperties::read(dir)? {
        if let Some(stored) = meta.node_id.filter(|&n| n != node_id) {
            return Err(StartError::NodeIdMismatch {
                path: dir.display().to_string(),
                stored,
                configured: node_id,
            });
        }
        return Ok(meta.cluster_id);
    }
    let meta = MetaProperties::new_cluster(node_id);
    meta.write(dir).map_err(|source| StartError::LogDir {
        path: dir.join(META_PROPERTIES_FILE).display().to_string(),
        source,
    })?;
    Ok(meta.cluster_id)
}
