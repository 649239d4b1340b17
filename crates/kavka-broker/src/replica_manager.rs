//! The partitions this broker hosts, kept in step with the metadata image.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use kavka_metadata::{ConfigResource, MetadataImage};
use kavka_storage::{PartitionLog, StorageError};
use parking_lot::RwLock;

use crate::config::BrokerConfig;
use crate::partition::Partition;
use crate::topic_config::{log_config, BrokerDefaults};

type TopicPartitions = HashMap<i32, Arc<Partition>>;

/// Hosted partitions by topic name and index.
#[derive(Debug, Default)]
pub struct ReplicaManager {
    topics: RwLock<HashMap<String, TopicPartitions>>,
}

impl ReplicaManager {
    /// A hosted partition.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.topics.read().get(topic)?.get(&partition).cloned()
    }

    /// Every hosted partition.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.topics
            .read()
            .values()
            .flat_map(|ps| ps.values().cloned())
            .collect()
    }

    /// Opens logs for partitions the image assigns to this node, deletes logs of
    /// topics that are gone, and pushes config changes down to the logs.
    pub fn reconcile(
        &self,
        image: &MetadataImage,
        config: &BrokerConfig,
    ) -> Result<(), StorageError> {
        let node = config.node_id;
        let mut topics = self.topics.write();

        let gone: Vec<String> = topics
            .iter()
            .filter(|(name, parts)| {
                let current = image.topic(name);
                parts
                    .values()
                    .any(|p| current.is_none_or(|t| t.topic_id != p.topic_id))
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some(parts) = topics.remove(&name) {
                for p in parts.values() {
                    if let Some(log) = p.take_log() {
                        log.delete()?;
                    }
                }
            }
        }

        for topic in image.topics() {
            let explicit = image.configs(&ConfigResource::Topic(topic.name.clone()));
            let log_cfg = log_config(&BrokerDefaults::new(config, image), explicit);
            let hosted = topics.entry(topic.name.clone()).or_default();
            for (&index, p) in &topic.partitions {
                if !p.replicas.contains(&node) {
                    continue;
                }
                match hosted.get(&index) {
                    Some(existing) => existing.set_config(log_cfg.clone()),
                    None => {
                        let dir = partition_dir(&config.log_dir, &topic.name, index);
                        let log = PartitionLog::open(&dir, log_cfg.clone())?;
                        hosted.insert(
                            index,
                            Arc::new(Partition::new(
                                topic.name.clone(),
                                topic.topic_id,
                                index,
                                log,
                                p.leader_epoch,
                            )),
                        );
                    }
                }
            }
        }
        topics.retain(|_, parts| !parts.is_empty());
        Ok(())
    }

    /// Closes every log cleanly so the next start skips recovery.
    pub fn close_all(&self) {
        for p in self.all() {
            if let Some(log) = p.take_log() {
                if let Err(e) = log.close() {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "closing log failed");
                }
            }
        }
    }
}

/// `<log.dirs>/<topic>-<partition>`, as Kafka lays partitions out.
pub(crate) fn partition_dir(log_dir: &Path, topic: &str, partition: i32) -> std::path::PathBuf {
    log_dir.join(format!("{topic}-{partition}"))
}
