//! The partitions this broker hosts, kept in step with the metadata image: their
//! logs (opened, reconfigured, deleted) and their roles (leader, follower, neither).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use kavka_metadata::{BrokerImage, ConfigResource, MetadataImage, PartitionImage, TopicImage};
use kavka_replica::{BrokerStatus, ReplicaConfig};
use kavka_storage::log_dir::{self, LogDirShutdown};
use kavka_storage::StorageError;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::hw_checkpoint::{self, HighWatermarks};
use crate::log_loader::{self, OpenJob};
use crate::metrics::TrafficRegistry;
use crate::partition::{AlterJob, Assignment, Partition, ReplicaSignals};
use crate::state::now_ms;
use crate::topic_config::{log_config, min_insync_replicas, BrokerDefaults};

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
    /// What the last reconcile applied in full; None after one that failed
    /// part-way, so that the next applies everything again.
    last: Option<AppliedInputs>,
}

/// The inputs of the partitions' roles and log settings as last applied, to skip
/// topics no record changed since: one topic created among thousands must not
/// cost a pass over every partition (that made creating topics quadratic).
#[derive(Debug)]
struct AppliedInputs {
    /// Inputs every partition depends on: brokers (eligibility, leader
    /// endpoints), the dynamic broker defaults, this broker's epoch.
    shared: SharedInputs,
    /// Per topic: its image (compared by allocation: an image shares every topic
    /// no record changed) and its own configs.
    topics: HashMap<String, (Arc<TopicImage>, Option<TopicConfigs>)>,
}

/// A topic's own config entries, as the image holds them.
type TopicConfigs = BTreeMap<String, String>;

#[derive(Debug, PartialEq)]
struct SharedInputs {
    brokers: Vec<BrokerImage>,
    node_configs: Option<BTreeMap<String, String>>,
    cluster_configs: Option<BTreeMap<String, String>>,
    local_epoch: i64,
}

impl SharedInputs {
    fn of(image: &MetadataImage, node: i32, local_epoch: i64) -> Self {
        Self {
            brokers: image.brokers().cloned().collect(),
            node_configs: image.configs(&ConfigResource::Broker(Some(node))).cloned(),
            cluster_configs: image.configs(&ConfigResource::Broker(None)).cloned(),
            local_epoch,
        }
    }
}

/// Hosted partitions by topic name and index.
#[derive(Debug)]
pub struct ReplicaManager {
    hosted: RwLock<Hosted>,
    signals: Arc<ReplicaSignals>,
    /// The ISR changes leaders propose, taken once by the task that sends them.
    alter_rx: Mutex<Option<mpsc::UnboundedReceiver<AlterJob>>>,
    /// This broker's epoch (its registration) as of the last image applied.
    local_broker_epoch: AtomicI64,
    /// High watermarks: as read from the checkpoint at the first reconcile (for
    /// partitions opened from then on), and as last written.
    hw_checkpoint: Mutex<HwCheckpointState>,
    /// `num.recovery.threads.per.data.dir`, as of the last image applied, for
    /// the clean stop.
    recovery_threads: AtomicUsize,
    /// Bytes and records in and out per topic, shared by its hosted partitions.
    pub traffic: TrafficRegistry,
}

#[derive(Debug, Default)]
struct HwCheckpointState {
    log_dir: Option<PathBuf>,
    stored: Option<HighWatermarks>,
    written: HighWatermarks,
}

impl Default for ReplicaManager {
    fn default() -> Self {
        let (signals, rx) = ReplicaSignals::new();
        Self {
            hosted: RwLock::default(),
            signals: Arc::new(signals),
            alter_rx: Mutex::new(Some(rx)),
            local_broker_epoch: AtomicI64::new(-1),
            hw_checkpoint: Mutex::default(),
            recovery_threads: AtomicUsize::new(1),
            traffic: TrafficRegistry::default(),
        }
    }
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

    /// A hosted partition by topic id (Fetch v13+ names topics by id).
    pub fn get_by_id(&self, topic_id: &Uuid, partition: i32) -> Option<Arc<Partition>> {
        self.hosted
            .read()
            .topics
            .values()
            .filter_map(|parts| parts.get(&partition))
            .find(|p| p.topic_id == *topic_id)
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

    /// Wake-ups shared with the partitions.
    pub(crate) fn signals(&self) -> &ReplicaSignals {
        &self.signals
    }

    /// The queue of ISR changes to send to the controller (once).
    pub(crate) fn take_alter_queue(&self) -> Option<mpsc::UnboundedReceiver<AlterJob>> {
        self.alter_rx.lock().take()
    }

    /// This broker's epoch as the last image applied shows it (-1: not registered).
    pub(crate) fn local_broker_epoch(&self) -> i64 {
        self.local_broker_epoch.load(Ordering::Acquire)
    }

    /// Opens logs for partitions the image assigns to this node, deletes logs of
    /// topics that are gone, pushes config changes down to the logs, and makes this
    /// broker leader, follower or neither of each hosted partition as the image
    /// says. The one applier of metadata to logs: under its lock images are applied
    /// in commit order, and an image older than one already applied is skipped,
    /// since the newer one already holds everything it says.
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
        // The same image again (the committing request and the metadata follower
        // both apply each change), already applied in full.
        if hosted.applied == Some(image.next_offset()) && hosted.last.is_some() {
            return Ok(());
        }
        let local_epoch = image.broker(node).map_or(-1, |b| b.broker_epoch);
        self.local_broker_epoch
            .store(local_epoch, Ordering::Release);
        let brokers: BTreeMap<i32, BrokerStatus> = image
            .brokers()
            .map(|b| {
                (
                    b.broker_id,
                    BrokerStatus {
                        broker_epoch: b.broker_epoch,
                        fenced: b.fenced,
                        in_controlled_shutdown: b.in_controlled_shutdown,
                    },
                )
            })
            .collect();
        // Held while partitions open; `checkpoint_high_watermarks` takes it only
        // after reading the hosted partitions, so the two never wait on each other.
        let mut cp = self.hw_checkpoint.lock();
        cp.log_dir.get_or_insert_with(|| config.log_dir.clone());
        // Each stored HW serves one opening: a topic deleted and made again later
        // in this run starts without it.
        let stored = cp
            .stored
            .get_or_insert_with(|| hw_checkpoint::read(&config.log_dir));
        let threads = config.num_recovery_threads_per_data_dir;
        self.recovery_threads.store(threads, Ordering::Relaxed);
        // The log directory's clean-shutdown marker vouches only for the logs as
        // the last stop left them: it is taken (and removed) by the first image,
        // which opens them all; a log opened later is recovered as after a crash.
        let shutdown = match hosted.applied {
            None => log_dir::take_clean_shutdown_marker(&config.log_dir)?,
            Some(_) => LogDirShutdown::Unclean,
        };
        let shared = SharedInputs::of(image, node, local_epoch);
        let previous = hosted.last.take().filter(|last| last.shared == shared);
        // Whether the topic's image is the allocation the last full reconcile
        // applied (then its hosted partitions were brought in line with it).
        let same_image = |name: &str| {
            let (Some(last), Some(now)) = (previous.as_ref(), image.topic_shared(name)) else {
                return false;
            };
            last.topics
                .get(name)
                .is_some_and(|(t, _)| Arc::ptr_eq(t, now))
        };
        // One pass decides which topics need their logs, settings and roles
        // applied (their image or own configs changed since the last full
        // reconcile), and records what this one applies.
        let mut applied_topics = HashMap::new();
        let mut changed = Vec::new();
        for topic in image.topics_shared() {
            let explicit = image.configs(&ConfigResource::Topic(topic.name.clone()));
            let unchanged = previous
                .as_ref()
                .and_then(|last| last.topics.get(&topic.name))
                .is_some_and(|(t, c)| Arc::ptr_eq(t, topic) && c.as_ref() == explicit);
            applied_topics.insert(topic.name.clone(), (topic.clone(), explicit.cloned()));
            if !unchanged {
                changed.push((&**topic, explicit));
            }
        }
        let topics = &mut hosted.topics;

        let gone: Vec<String> = topics
            .iter()
            .filter(|(name, parts)| {
                if same_image(name) {
                    // Its hosted partitions were brought in line with this very topic.
                    return false;
                }
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

        // Every log this image newly places here, opened together on the
        // recovery threads (a start opens thousands).
        let mut jobs = Vec::new();
        for &(topic, explicit) in &changed {
            let present = topics.get(&topic.name);
            let mut log_cfg = None;
            for (&index, p) in &topic.partitions {
                if !p.replicas.contains(&node) || present.is_some_and(|h| h.contains_key(&index)) {
                    continue;
                }
                let config_for = || log_config(&BrokerDefaults::new(config, image), explicit);
                jobs.push(OpenJob {
                    topic: topic.name.clone(),
                    index,
                    dir: partition_dir(&config.log_dir, &topic.name, index),
                    config: log_cfg.get_or_insert_with(config_for).clone(),
                });
            }
        }
        let mut opened = log_loader::open_logs(jobs, threads, shutdown)?;

        let now = now_ms();
        let mut roles = Vec::new();
        for &(topic, explicit) in &changed {
            let defaults = BrokerDefaults::new(config, image);
            let log_cfg = log_config(&defaults, explicit);
            let replica_cfg = ReplicaConfig {
                replica_lag_time_max_ms: config.cluster.replica_lag_time_max_ms,
                min_insync_replicas: usize::try_from(min_insync_replicas(&defaults, explicit))
                    .unwrap_or(1)
                    .max(1),
            };
            let hosted = topics.entry(topic.name.clone()).or_default();
            for (&index, p) in &topic.partitions {
                if !p.replicas.contains(&node) {
                    // Reassigned away (a completed reassignment, or one cancelled
                    // before this broker joined): a stray replica. It stops serving
                    // and its log goes, as Kafka deletes stray logs.
                    if let Some(existing) = hosted.remove(&index) {
                        let _ = existing.apply_assignment(
                            &assignment(image, p, node, local_epoch, &brokers, replica_cfg),
                            now,
                        );
                        if let Some(log) = existing.take_log() {
                            log.delete()?;
                        }
                        tracing::info!(topic = %topic.name, partition = index, "deleted the log of a replica no longer assigned here");
                    }
                    continue;
                }
                let partition = match hosted.get(&index) {
                    Some(existing) => {
                        existing.set_config(log_cfg.clone());
                        existing.clone()
                    }
                    None => {
                        let Some(log) = opened.remove(&(topic.name.clone(), index)) else {
                            // Only if this loop and the one above disagreed.
                            return Err(StorageError::Io(std::io::Error::other(format!(
                                "log of {}-{index} was not opened",
                                topic.name
                            ))));
                        };
                        let created = Arc::new(
                            Partition::new(
                                topic.name.clone(),
                                topic.topic_id,
                                index,
                                log,
                                stored.remove(&(topic.name.clone(), index)),
                                self.signals.clone(),
                            )
                            .with_traffic(self.traffic.topic(&topic.name)),
                        );
                        hosted.insert(index, created.clone());
                        created
                    }
                };
                let a = assignment(image, p, node, local_epoch, &brokers, replica_cfg);
                roles.push((partition, a));
            }
        }
        let all_applied = AtomicBool::new(true);
        let applied = log_loader::run_on_threads(roles, threads, |(partition, a)| {
            // A role that cannot be taken (the log offline) keeps the old one; the
            // next image tries again (in full). The image itself stands.
            if let Err(e) = partition.apply_assignment(&a, now) {
                all_applied.store(false, Ordering::Relaxed);
                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "cannot apply the partition's new role");
            }
        });
        if let Err(e) = applied {
            all_applied.store(false, Ordering::Relaxed);
            tracing::error!(error = %e, "cannot apply the partitions' new roles");
        }
        topics.retain(|_, parts| !parts.is_empty());
        if hosted.applied.is_none() {
            // The first image after start: a replica moved away while this broker
            // was down left its log behind.
            for dir in stray_logs(&config.log_dir, image, node) {
                tracing::info!(dir = %dir.display(), "deleting the log of a replica no longer assigned here");
                std::fs::remove_dir_all(&dir)?;
            }
        }
        hosted.applied = Some(image.next_offset());
        if all_applied.into_inner() {
            hosted.last = Some(AppliedInputs {
                shared,
                topics: applied_topics,
            });
        }
        // Partitions may have come or gone: the checkpoint compares again.
        self.signals.timers.hw_changed();
        Ok(())
    }

    /// Writes every hosted partition's high watermark to the checkpoint when one
    /// moved since the last write (Kafka: every
    /// `replica.high.watermark.checkpoint.interval.ms`, and at shutdown).
    pub(crate) fn checkpoint_high_watermarks(&self) {
        if !self.signals.timers.take_hw_changed() {
            return;
        }
        let hws: HighWatermarks = self
            .all()
            .iter()
            .map(|p| ((p.topic.clone(), p.index), p.high_watermark()))
            .collect();
        let mut cp = self.hw_checkpoint.lock();
        let Some(dir) = cp.log_dir.clone() else {
            return;
        };
        if cp.written == hws {
            return;
        }
        match hw_checkpoint::write(&dir, &hws) {
            Ok(()) => cp.written = hws,
            Err(e) => {
                // Tried again at the next interval.
                self.signals.timers.hw_changed();
                tracing::warn!(error = %e, "cannot write the high-watermark checkpoint");
            }
        }
    }

    /// Closes every log, on the recovery threads, and when all closed without
    /// error marks the log directory clean (one file-system sync, then Kafka's
    /// marker), so the next start trusts every log without scanning or fsyncing.
    pub fn close_all(&self) {
        self.checkpoint_high_watermarks();
        let logs: Vec<_> = self
            .all()
            .into_iter()
            .filter_map(|p| p.take_log().map(|log| (p, log)))
            .collect();
        let threads = self.recovery_threads.load(Ordering::Relaxed);
        let closed = log_loader::run_on_threads(logs, threads, |(p, log)| {
            log.close_in_log_dir()
                .map_err(|e| tracing::error!(topic = %p.topic, partition = p.index, error = %e, "closing log failed"))
                .is_ok()
        });
        let all_closed = match closed {
            Ok(results) => results.iter().all(|ok| *ok),
            Err(e) => {
                tracing::error!(error = %e, "closing the logs failed");
                false
            }
        };
        let Some(dir) = self.hw_checkpoint.lock().log_dir.clone() else {
            return;
        };
        if !all_closed {
            tracing::warn!("not every log closed cleanly; the next start recovers them");
            return;
        }
        if let Err(e) = log_dir::mark_clean_shutdown(&dir) {
            tracing::error!(dir = %dir.display(), error = %e, "cannot mark the log directory clean; the next start recovers every log");
        }
    }
}

/// What the image says about one partition, for this broker.
fn assignment(
    image: &MetadataImage,
    p: &PartitionImage,
    node: i32,
    local_broker_epoch: i64,
    brokers: &BTreeMap<i32, BrokerStatus>,
    config: ReplicaConfig,
) -> Assignment {
    let leader_endpoint = (p.leader >= 0 && p.leader != node)
        .then(|| image.broker(p.leader))
        .flatten()
        .and_then(|b| Some((b.host.clone(), u16::try_from(b.port).ok()?)));
    Assignment {
        local_id: node,
        local_broker_epoch,
        leader: p.leader,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        replicas: p.replicas.clone(),
        isr: p.isr.clone(),
        brokers: brokers.clone(),
        config,
        leader_endpoint,
    }
}

/// Partition directories in `log_dir` of partitions that `image` places on other
/// brokers only. A directory of a topic the image does not know is left alone:
/// a metadata log started afresh must not cost a broker its data.
fn stray_logs(log_dir: &Path, image: &MetadataImage, node: i32) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(log_dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            let name = e.file_name();
            let Some((topic, index)) = name.to_str().and_then(|n| n.rsplit_once('-')) else {
                return false;
            };
            let Ok(index) = index.parse::<i32>() else {
                return false;
            };
            image
                .topic(topic)
                .and_then(|t| t.partitions.get(&index))
                .is_some_and(|p| !p.replicas.contains(&node))
        })
        .map(|e| e.path())
        .collect()
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

    #[test]
    fn a_partition_reassigned_away_loses_its_log_here() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let store = MetadataStore::default();
        let image = create(&store, "t");
        let replicas = ReplicaManager::default();
        replicas.reconcile(&image, &config).unwrap();
        replicas
            .get("t", 0)
            .unwrap()
            .append(one_record(), 0)
            .unwrap();
        assert!(partition_dir(&config.log_dir, "t", 0).is_dir());

        // The reassignment to broker 2 completed: this broker is no replica now.
        let topic_id = image.topic("t").unwrap().topic_id;
        let (moved, ()) = store
            .commit(|_| {
                Ok((
                    vec![kavka_metadata::MetadataRecord::PartitionChange {
                        topic_id,
                        partition: 0,
                        leader: 2,
                        isr: vec![2],
                        replicas: Some(vec![2]),
                        adding_replicas: Some(vec![]),
                        removing_replicas: Some(vec![]),
                    }],
                    (),
                ))
            })
            .unwrap();
        replicas.reconcile(&moved, &config).unwrap();
        assert!(replicas.get("t", 0).is_none(), "no longer hosted");
        assert!(
            !partition_dir(&config.log_dir, "t", 0).exists(),
            "the stray log is deleted"
        );
    }

    #[test]
    fn at_start_a_log_left_by_a_move_made_while_down_is_deleted_and_unknown_topics_kept() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let store = MetadataStore::default();
        let image = create(&store, "t");
        let topic_id = image.topic("t").unwrap().topic_id;
        let (moved, ()) = store
            .commit(|_| {
                Ok((
                    vec![kavka_metadata::MetadataRecord::PartitionChange {
                        topic_id,
                        partition: 0,
                        leader: 2,
                        isr: vec![2],
                        replicas: Some(vec![2]),
                        adding_replicas: None,
                        removing_replicas: None,
                    }],
                    (),
                ))
            })
            .unwrap();
        for name in ["t-0", "unknown-0", "__cluster_metadata-0"] {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
        }
        ReplicaManager::default()
            .reconcile(&moved, &config)
            .unwrap();
        assert!(!dir.path().join("t-0").exists());
        assert!(dir.path().join("unknown-0").is_dir());
        assert!(dir.path().join("__cluster_metadata-0").is_dir());
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

    fn set(
        store: &MetadataStore,
        resource: ConfigResource,
        name: &str,
        value: &str,
    ) -> Arc<MetadataImage> {
        let record = kavka_metadata::MetadataRecord::Config {
            resource,
            name: name.to_string(),
            value: Some(value.to_string()),
        };
        store.commit(|_| Ok((vec![record.clone()], ()))).unwrap().0
    }

    fn retention_of(replicas: &ReplicaManager, topic: &str) -> Option<i64> {
        let p = replicas.get(topic, 0).unwrap();
        p.log(|log| Ok(log.config().retention_ms)).unwrap()
    }

    #[test]
    fn changes_reach_the_topics_they_touch_when_the_others_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let store = MetadataStore::default();
        let replicas = ReplicaManager::default();
        replicas.reconcile(&create(&store, "a"), &config).unwrap();
        replicas.reconcile(&create(&store, "b"), &config).unwrap();
        let default = retention_of(&replicas, "a");

        // A topic's own config: only that topic's image entry is unchanged.
        let image = set(
            &store,
            ConfigResource::Topic("a".to_string()),
            "retention.ms",
            "1000",
        );
        replicas.reconcile(&image, &config).unwrap();
        assert_eq!(retention_of(&replicas, "a"), Some(1000));
        assert_eq!(retention_of(&replicas, "b"), default);

        // A cluster-wide default reaches the topic without its own setting.
        let image = set(
            &store,
            ConfigResource::Broker(None),
            "log.retention.ms",
            "2000",
        );
        replicas.reconcile(&image, &config).unwrap();
        assert_eq!(retention_of(&replicas, "a"), Some(1000));
        assert_eq!(retention_of(&replicas, "b"), Some(2000));

        // A topic created after them is hosted and writable; the rest stay.
        replicas.reconcile(&create(&store, "c"), &config).unwrap();
        replicas
            .get("c", 0)
            .expect("new topic hosted")
            .append(one_record(), 0)
            .unwrap();
        assert_eq!(retention_of(&replicas, "b"), Some(2000));
    }
}
