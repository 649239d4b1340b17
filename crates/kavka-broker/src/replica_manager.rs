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

/// Hosted partitions by topic name and index, and how far into the metadata log
/// they have been brought.
#[derive(Debug, Default)]
struct Hosted {
    topics: HashMap<String, TopicPartitions>,
    /// `next_offset` of the newest image applied. Images are applied in commit
    /// order only: an older image arriving late (two admin changes racing past the
    /// metadata lock) would otherwise delete a newer topic's directory.
    applied: Option<u64>,
}

/// Hosted partitions by topic name and index.
#[derive(Debug, Default)]
pub struct ReplicaManager {
    hosted: RwLock<Hosted>,
}

impl ReplicaManager {
    /// A hosted partition.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.hosted
            .read()
            .topics
            .get(topic)?
            .get(&partition)
            .cloned()
    }

    /// Every hosted partition.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.hosted
            .read()
            .topics
            .values()
            .flat_map(|ps| ps.values().cloned())
            .collect()
    }

    /// Opens logs for partitions the image assigns to this node, deletes logs of
    /// topics that are gone, and pushes config changes down to the logs. The one
    /// applier of metadata to logs: under its lock images are applied in commit
    /// order, and an image older than one already applied is skipped, since the
    /// newer one already holds everything it says.
    pub fn reconcile(
        &self,
        image: &MetadataImage,
        config: &BrokerConfig,
    ) -> Result<(), StorageError> {
        let node = config.node_id;
        let mut hosted = self.hosted.write();
        if hosted
            .applied
            .is_some_and(|applied| image.next_offset() < applied)
        {
            return Ok(());
        }
        let topics = &mut hosted.topics;

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
        hosted.applied = Some(image.next_offset());
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kavka_metadata::controller::{create_topic, delete_topic, NewTopic};

    use super::*;

    /// Commits serialized as the metadata quorum serializes them, without one.
    #[derive(Default)]
    struct MetadataStore(parking_lot::Mutex<Arc<MetadataImage>>);

    impl MetadataStore {
        fn image(&self) -> Arc<MetadataImage> {
            self.0.lock().clone()
        }

        fn commit(
            &self,
            decide: impl FnOnce(
                &MetadataImage,
            ) -> Result<
                (Vec<kavka_metadata::MetadataRecord>, ()),
                kavka_metadata::MetadataError,
            >,
        ) -> Result<(Arc<MetadataImage>, ()), kavka_metadata::MetadataError> {
            let mut current = self.0.lock();
            let (records, ()) = decide(&current)?;
            let mut next = MetadataImage::clone(&current);
            next.apply_all(&records)?;
            *current = Arc::new(next);
            Ok((current.clone(), ()))
        }
    }

    fn config(dir: &Path) -> BrokerConfig {
        BrokerConfig::load(
            None,
            &[format!("log.dirs={}", dir.display())],
            std::iter::empty(),
        )
        .unwrap()
    }

    fn new_topic(name: &str) -> NewTopic {
        NewTopic {
            name: name.to_string(),
            num_partitions: 1,
            replication_factor: 1,
            assignments: None,
            configs: Default::default(),
        }
    }

    fn create(store: &MetadataStore, name: &str) -> Arc<MetadataImage> {
        let topic = new_topic(name);
        store
            .commit(|image| Ok((create_topic(image, &topic, &[1])?, ())))
            .unwrap()
            .0
    }

    fn delete(store: &MetadataStore, name: &str) -> Arc<MetadataImage> {
        store
            .commit(|image| Ok((delete_topic(image, name)?, ())))
            .unwrap()
            .0
    }

    #[test]
    fn an_older_image_never_deletes_a_newer_topics_log() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let store = MetadataStore::default();
        let first = create(&store, "t");
        let deleted = delete(&store, "t");
        let again = create(&store, "t");
        let new_id = again.topic("t").unwrap().topic_id;

        let replicas = ReplicaManager::default();
        replicas.reconcile(&again, &config).unwrap();
        let p = replicas.get("t", 0).unwrap();
        p.append(one_record(), 0).unwrap();

        // The two older images arrive late, as a racing commit's reconcile would.
        replicas.reconcile(&deleted, &config).unwrap();
        replicas.reconcile(&first, &config).unwrap();

        let hosted = replicas.get("t", 0).expect("newer topic still hosted");
        assert_eq!(hosted.topic_id, new_id);
        assert_eq!(hosted.high_watermark(), 1, "record of the newer topic kept");
        assert!(partition_dir(&config.log_dir, "t", 0).is_dir());
    }

    #[test]
    fn racing_admin_changes_leave_every_live_topic_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(config(dir.path()));
        let store = Arc::new(MetadataStore::default());
        let replicas = Arc::new(ReplicaManager::default());
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (store, replicas, config) = (store.clone(), replicas.clone(), config.clone());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        // Two workers share each name, so deletes and re-creates race.
                        let name = format!("topic-{}", (w + i) % 2);
                        let image = match store.image().topic(&name) {
                            Some(_) => store.commit(|img| Ok((delete_topic(img, &name)?, ()))),
                            None => {
                                let topic = new_topic(&name);
                                store.commit(|img| Ok((create_topic(img, &topic, &[1])?, ())))
                            }
                        };
                        // Losing the race to the other worker is fine; reconcile what won.
                        if let Ok((image, ())) = image {
                            replicas.reconcile(&image, &config).unwrap();
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let image = store.image();
        replicas.reconcile(&image, &config).unwrap();
        for topic in image.topics() {
            let p = replicas.get(&topic.name, 0).expect("live topic hosted");
            assert_eq!(p.topic_id, topic.topic_id);
            assert!(partition_dir(&config.log_dir, &topic.name, 0).is_dir());
            p.append(one_record(), 0)
                .expect("live topic's log writable");
        }
    }

    fn one_record() -> bytes::Bytes {
        use kafka_protocol::records::{
            Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
        };
        let record = Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: 0,
            key: Some(bytes::Bytes::from_static(b"k")),
            value: Some(bytes::Bytes::from_static(b"v")),
            headers: Default::default(),
        };
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            [record].iter(),
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        buf.freeze()
    }
}
