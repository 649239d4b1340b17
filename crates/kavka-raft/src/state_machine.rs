//! The state machine of the metadata quorum: the [`MetadataImage`], advanced by
//! applying the records of each committed entry in log order, and its snapshots.
//!
//! openraft applies committed entries from one task, in order, exactly once per
//! node run; this is the one publisher of images: after each batch of entries it
//! publishes the image with the index of the last applied entry, so subscribers see
//! strictly increasing applied indexes. The image itself is not persisted between
//! snapshots: after a restart openraft re-applies the committed entries that follow
//! the snapshot.
//!
//! A snapshot is the serialized image; `snapshot.json` holds it with openraft's
//! snapshot metadata, replaced atomically.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kavka_metadata::{MetadataError, MetadataImage, MetadataRecord};
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, StorageIOError,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::StoreOpenError;
use crate::types::{
    Entry, EntryOutcome, LogId, Refusal, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const SNAPSHOT_FILE: &str = "snapshot.json";

/// A committed image as subscribers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedImage {
    /// Log index of the last entry applied to `image`; `None` before any.
    pub applied_index: Option<u64>,
    /// Raft term (Kafka's leader epoch) of that entry.
    pub applied_term: u64,
    /// The metadata image as of that entry.
    pub image: Arc<MetadataImage>,
}

/// What `snapshot.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta,
    image: MetadataImage,
}

/// The snapshot a node holds: its metadata and the serialized image.
#[derive(Debug, Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

/// Where snapshots live, shared between the state machine and the builders openraft
/// runs on other tasks.
#[derive(Debug)]
struct SnapshotSlot {
    path: PathBuf,
    state: Mutex<SlotState>,
    seq: AtomicU64,
    /// Last index the durable snapshot covers; the log store purges no further.
    durable: watch::Sender<Option<u64>>,
}

#[derive(Debug)]
struct SlotState {
    current: Option<StoredSnapshot>,
    /// Set when the state machine is dropped: a builder still running from this
    /// incarnation must not overwrite the file a restarted node now owns.
    closed: bool,
}

impl SnapshotSlot {
    /// Writes a snapshot atomically and makes it current, unless a newer one already
    /// is (a build and an install may race). The error is a message; callers wrap it
    /// in openraft's (large) error type.
    fn store(&self, meta: SnapshotMeta, image: &MetadataImage) -> Result<StoredSnapshot, String> {
        let data = serde_json::to_vec(image).map_err(|e| e.to_string())?;
        let file = serde_json::to_vec(&SnapshotFile {
            meta: meta.clone(),
            image: image.clone(),
        })
        .map_err(|e| e.to_string())?;
        let snapshot = StoredSnapshot { meta, data };
        let mut state = self.state.lock();
        if state.closed {
            return Err("the state machine is stopped".to_string());
        }
        let newer_held = state
            .current
            .as_ref()
            .is_some_and(|c| c.meta.last_log_id > snapshot.meta.last_log_id);
        if newer_held {
            return Ok(snapshot);
        }
        kavka_storage::durable::write_atomic(&self.path, &file)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let index = snapshot.meta.last_log_id.map(|l| l.index);
        state.current = Some(snapshot.clone());
        self.durable.send_replace(index);
        Ok(snapshot)
    }

    fn next_id(&self, last: Option<LogId>) -> String {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        match last {
            Some(l) => format!("{}-{}-{seq}", l.leader_id.term, l.index),
            None => format!("none-{seq}"),
        }
    }
}

/// The metadata image as openraft's state machine.
#[derive(Debug)]
pub(crate) struct StateMachineStore {
    image: Arc<MetadataImage>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshots: Arc<SnapshotSlot>,
    publisher: watch::Sender<CommittedImage>,
}

/// Builds a snapshot from the state as it was when the builder was taken, so
/// entries applied meanwhile do not tear it.
#[derive(Debug)]
pub(crate) struct SnapshotBuilder {
    image: Arc<MetadataImage>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshots: Arc<SnapshotSlot>,
}

impl StateMachineStore {
    /// Opens the state machine in `dir`, starting from the snapshot there if any.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreOpenError> {
        let path = dir.join(SNAPSHOT_FILE);
        let mut image = MetadataImage::default();
        let mut last_applied = None;
        let mut membership = StoredMembership::default();
        let mut current = None;
        if let Some(text) = kavka_storage::durable::read_optional(&path)? {
            let file: SnapshotFile = serde_json::from_str(&text).map_err(|e| {
                kavka_storage::durable::StateFileError::corrupt(&path, e.to_string())
            })?;
            let data = serde_json::to_vec(&file.image).map_err(|e| {
                kavka_storage::durable::StateFileError::corrupt(&path, e.to_string())
            })?;
            image = file.image;
            last_applied = file.meta.last_log_id;
            membership = file.meta.last_membership.clone();
            current = Some(StoredSnapshot {
                meta: file.meta,
                data,
            });
            tracing::info!(path = %path.display(), ?last_applied, "loaded metadata snapshot");
        }
        let image = Arc::new(image);
        let durable = watch::Sender::new(
            current
                .as_ref()
                .and_then(|c: &StoredSnapshot| c.meta.last_log_id.map(|l| l.index)),
        );
        let publisher = watch::Sender::new(CommittedImage {
            applied_index: last_applied.map(|l| l.index),
            applied_term: last_applied.map_or(0, |l| l.leader_id.term),
            image: image.clone(),
        });
        Ok(Self {
            image,
            last_applied,
            membership,
            snapshots: Arc::new(SnapshotSlot {
                path,
                state: Mutex::new(SlotState {
                    current,
                    closed: false,
                }),
                seq: AtomicU64::new(0),
                durable,
            }),
            publisher,
        })
    }

    /// The last index covered by a snapshot on disk, for the log store: openraft
    /// may ask to purge the log a snapshot covers before the state machine has
    /// finished writing that snapshot.
    pub(crate) fn durable_snapshot_index(&self) -> watch::Receiver<Option<u64>> {
        self.snapshots.durable.subscribe()
    }

    /// A receiver of committed images, starting with the current one.
    pub(crate) fn subscribe(&self) -> watch::Receiver<CommittedImage> {
        self.publisher.subscribe()
    }

    /// Publishes the current image if it is newer than the published one.
    fn publish(&self) {
        let index = self.last_applied.map(|l| l.index);
        let image = self.image.clone();
        let term = self.last_applied.map_or(0, |l| l.leader_id.term);
        self.publisher.send_if_modified(|published| {
            if index <= published.applied_index {
                return false;
            }
            *published = CommittedImage {
                applied_index: index,
                applied_term: term,
                image,
            };
            true
        });
    }
}

/// Applies the records of one entry whole or not at all, as the single-node
/// `MetadataLog` lands a batch (a topic and its partitions): on a refusal the image
/// is left as it was. In place: the image is copied only when a subscriber still
/// holds the published one (once per `apply` call, not once per entry).
fn apply_batch(
    image: &mut Arc<MetadataImage>,
    records: &[MetadataRecord],
) -> Result<(), MetadataError> {
    Arc::make_mut(image).apply_all(records)
}

impl Drop for StateMachineStore {
    fn drop(&mut self) {
        self.snapshots.state.lock().closed = true;
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: self.snapshots.next_id(self.last_applied),
        };
        let signature = Some(meta.signature());
        let stored = self
            .snapshots
            .store(meta, &self.image)
            .map_err(|e| StorageIOError::write_snapshot(signature, AnyError::error(e)))?;
        tracing::info!(snapshot = %stored.meta, "built metadata snapshot");
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<EntryOutcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut outcomes = Vec::new();
        for entry in entries {
            let mut outcome = EntryOutcome::default();
            match &entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(batch)
                    if batch
                        .expect_next_offset
                        .is_some_and(|n| n != self.image.next_offset()) =>
                {
                    outcome.stale = true;
                }
                EntryPayload::Normal(batch) => {
                    if let Err(e) = apply_batch(&mut self.image, &batch.records) {
                        // Every node applies the same records to the same image, so
                        // the refusal is the same everywhere. The controller validates
                        // before proposing: this is a bug worth a loud line.
                        tracing::error!(log_id = %entry.log_id, error = %e,
                            "committed metadata entry refused by the image; it changes nothing");
                        outcome.refused = Some(Refusal {
                            code: e.code(),
                            reason: e.to_string(),
                        });
                    }
                }
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                }
            }
            self.last_applied = Some(entry.log_id);
            outcomes.push(outcome);
        }
        self.publish();
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            image: self.image.clone(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let image: MetadataImage = serde_json::from_slice(snapshot.get_ref()).map_err(|e| {
            StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&e))
        })?;
        self.snapshots.store(meta.clone(), &image).map_err(|e| {
            StorageIOError::write_snapshot(Some(meta.signature()), AnyError::error(e))
        })?;
        tracing::info!(snapshot = %meta, "installed metadata snapshot from the leader");
        self.image = Arc::new(image);
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self
            .snapshots
            .state
            .lock()
            .current
            .clone()
            .map(|s| Snapshot {
                meta: s.meta,
                snapshot: Box::new(Cursor::new(s.data)),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MetadataBatch;
    use kavka_metadata::{ConfigResource, MetadataRecord};
    use openraft::{BasicNode, CommittedLeaderId, Membership};
    use std::collections::{BTreeMap, BTreeSet};

    fn config_entry(index: u64, value: &str) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(MetadataBatch::new(vec![MetadataRecord::Config {
                resource: ConfigResource::Broker(None),
                name: format!("k{index}"),
                value: Some(value.into()),
            }])),
        }
    }

    fn membership_entry(index: u64) -> Entry {
        let nodes: BTreeMap<u64, BasicNode> = [(
            1,
            BasicNode {
                addr: "127.0.0.1:1".into(),
            },
        )]
        .into();
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Membership(Membership::new(vec![BTreeSet::from([1])], nodes)),
        }
    }

    #[tokio::test]
    async fn applies_in_order_and_publishes_increasing_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        let mut rx = sm.subscribe();
        assert_eq!(rx.borrow_and_update().applied_index, None);
        sm.apply(vec![membership_entry(0), config_entry(1, "a")])
            .await
            .unwrap();
        let seen = rx.borrow_and_update().clone();
        assert_eq!(seen.applied_index, Some(1));
        assert_eq!(seen.image.next_offset(), 1);
        sm.apply(vec![config_entry(2, "b")]).await.unwrap();
        assert_eq!(rx.borrow_and_update().applied_index, Some(2));
        let (applied, membership) = sm.applied_state().await.unwrap();
        assert_eq!(applied.map(|l| l.index), Some(2));
        assert_eq!(membership.log_id().map(|l| l.index), Some(0));
    }

    #[tokio::test]
    async fn a_stale_entry_changes_nothing_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        let mut current = config_entry(1, "a");
        if let EntryPayload::Normal(batch) = &mut current.payload {
            batch.expect_next_offset = Some(1);
        }
        let mut stale = config_entry(2, "b");
        if let EntryPayload::Normal(batch) = &mut stale.payload {
            // Decided on the empty image, but two records landed since.
            batch.expect_next_offset = Some(0);
        }
        let outcomes = sm
            .apply(vec![config_entry(0, "x"), current, stale])
            .await
            .unwrap();
        assert!(!outcomes[0].stale && !outcomes[1].stale, "{outcomes:?}");
        assert!(outcomes[2].stale);
        assert_eq!(sm.subscribe().borrow().image.next_offset(), 2);
    }

    #[tokio::test]
    async fn a_batch_with_a_refused_record_changes_nothing_but_advances_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        let mut rx = sm.subscribe();
        let orphan = MetadataRecord::RemoveTopic {
            topic_id: uuid::Uuid::new_v4(),
        };
        let mut bad = config_entry(1, "a");
        if let EntryPayload::Normal(batch) = &mut bad.payload {
            batch.records.push(orphan);
        }
        let outcomes = sm.apply(vec![config_entry(0, "x"), bad]).await.unwrap();
        assert_eq!(outcomes[0].refused, None);
        assert!(outcomes[1].refused.is_some());
        let seen = rx.borrow_and_update().clone();
        assert_eq!(seen.applied_index, Some(1));
        // Only entry 0's record is in the image; entry 1 landed not at all.
        assert_eq!(seen.image.next_offset(), 1);
        let keys: Vec<&String> = seen
            .image
            .configs(&ConfigResource::Broker(None))
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, vec!["k0"]);
    }

    #[tokio::test]
    async fn snapshot_is_built_from_the_view_when_taken_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        sm.apply(vec![membership_entry(0), config_entry(1, "a")])
            .await
            .unwrap();
        let mut builder = sm.get_snapshot_builder().await;
        sm.apply(vec![config_entry(2, "b")]).await.unwrap();
        let snapshot = builder.build_snapshot().await.unwrap();
        assert_eq!(snapshot.meta.last_log_id.map(|l| l.index), Some(1));
        let image: MetadataImage = serde_json::from_slice(snapshot.snapshot.get_ref()).unwrap();
        assert_eq!(image.next_offset(), 1);

        drop(sm);
        let mut reopened = StateMachineStore::open(dir.path()).unwrap();
        let (applied, membership) = reopened.applied_state().await.unwrap();
        assert_eq!(applied.map(|l| l.index), Some(1));
        assert_eq!(membership.log_id().map(|l| l.index), Some(0));
        assert_eq!(reopened.subscribe().borrow().image.next_offset(), 1);
        let current = reopened.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, snapshot.meta);
    }

    #[tokio::test]
    async fn installed_snapshot_replaces_the_image_and_is_published() {
        let leader_dir = tempfile::tempdir().unwrap();
        let mut leader = StateMachineStore::open(leader_dir.path()).unwrap();
        leader
            .apply(vec![
                membership_entry(0),
                config_entry(1, "a"),
                config_entry(2, "b"),
            ])
            .await
            .unwrap();
        let snapshot = leader
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let mut follower = StateMachineStore::open(dir.path()).unwrap();
        let mut rx = follower.subscribe();
        follower
            .install_snapshot(&snapshot.meta, snapshot.snapshot)
            .await
            .unwrap();
        let seen = rx.borrow_and_update().clone();
        assert_eq!(seen.applied_index, Some(2));
        assert_eq!(*seen.image, *leader.image);
        drop(follower);
        let reopened = StateMachineStore::open(dir.path()).unwrap();
        assert_eq!(*reopened.image, *leader.image);
    }

    #[tokio::test]
    async fn garbage_snapshot_is_refused_and_leaves_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        sm.apply(vec![config_entry(0, "a")]).await.unwrap();
        let meta = SnapshotMeta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(1, 1), 5)),
            last_membership: StoredMembership::default(),
            snapshot_id: "x".into(),
        };
        let bad = Box::new(Cursor::new(b"{not an image".to_vec()));
        assert!(sm.install_snapshot(&meta, bad).await.is_err());
        assert_eq!(sm.last_applied.map(|l| l.index), Some(0));
    }

    #[test]
    fn corrupt_snapshot_file_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SNAPSHOT_FILE), b"{\"meta\":").unwrap();
        let err = StateMachineStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains(SNAPSHOT_FILE), "{err}");
    }
}
