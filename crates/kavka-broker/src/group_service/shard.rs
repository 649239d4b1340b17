//! The group coordinator as the coordinator runtime drives it: the groups of
//! every `__consumer_offsets` partition served here, the connections waiting on
//! them, and how a partition's log rebuilds them.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::records::Record;
use kavka_group::{
    partition_for_group, Completion, CoordinatorRecord, GroupCoordinator, GroupResponse, RequestId,
};
use tokio::sync::oneshot;

use crate::coordinator_runtime::{CoordinatorShard, Entry};

/// The served groups and the requests waiting for them.
pub(crate) struct GroupShard {
    pub(crate) coordinator: GroupCoordinator,
    pending: HashMap<RequestId, oneshot::Sender<GroupResponse>>,
    next_request: u64,
    /// Transaction markers (producer id, commit?) replicated on a partition while
    /// it loads: the replay may have read its log before them, so they are
    /// applied again once its groups are adopted (no offsets can be committed in
    /// between, so a second application changes nothing the first did not).
    markers_while_loading: BTreeMap<i32, Vec<(i64, bool)>>,
    partitions: i32,
}

/// One partition's groups being replayed.
pub(crate) struct GroupLoader {
    coordinator: GroupCoordinator,
    /// Each JSON-form key seen, and whether its latest record is live.
    legacy: BTreeMap<Bytes, bool>,
}

impl GroupShard {
    pub(crate) fn new(coordinator: GroupCoordinator, partitions: i32) -> Self {
        GroupShard {
            coordinator,
            pending: HashMap::new(),
            next_request: 0,
            markers_while_loading: BTreeMap::new(),
            partitions,
        }
    }

    /// A waiter for a deferred answer.
    pub(crate) fn register(&mut self) -> (RequestId, oneshot::Receiver<GroupResponse>) {
        self.next_request += 1;
        let id = RequestId(self.next_request);
        let (tx, rx) = oneshot::channel();
        self.pending.insert(id, tx);
        (id, rx)
    }

    pub(crate) fn forget(&mut self, id: RequestId) {
        self.pending.remove(&id);
    }

    /// Takes the senders of `completions` out of the pending map.
    pub(crate) fn take_answers(
        &mut self,
        completions: Vec<Completion>,
    ) -> Vec<(oneshot::Sender<GroupResponse>, GroupResponse)> {
        completions
            .into_iter()
            .filter_map(|c| Some((self.pending.remove(&c.request)?, c.response)))
            .collect()
    }

    /// A marker replicated on a partition still loading, kept for its adoption.
    pub(crate) fn marker_while_loading(&mut self, partition: i32, producer_id: i64, commit: bool) {
        self.markers_while_loading
            .entry(partition)
            .or_default()
            .push((producer_id, commit));
    }
}

impl CoordinatorShard for GroupShard {
    type Loader = GroupLoader;

    fn loader(&self) -> GroupLoader {
        GroupLoader {
            coordinator: self.coordinator.loader(),
            legacy: BTreeMap::new(),
        }
    }

    fn replay(loader: &mut GroupLoader, partition: i32, r: &Record, now_ms: i64) -> bool {
        if r.control {
            // A transaction marker: the producer's pending offsets apply (COMMIT)
            // or go (ABORT). Other control records mean nothing here.
            if let Some(commit) = r.key.as_deref().and_then(marker_commits) {
                loader
                    .coordinator
                    .complete_txn(r.producer_id, commit, |_| true);
            }
            return false;
        }
        let Some(key) = &r.key else { return false };
        if !r.transactional && CoordinatorRecord::is_legacy_key(key) {
            loader.legacy.insert(key.clone(), r.value.is_some());
        }
        match CoordinatorRecord::decode_stored(key, r.value.as_deref()) {
            Ok(records) => {
                for record in records {
                    if r.transactional {
                        loader
                            .coordinator
                            .replay_txn_offset(r.producer_id, record, now_ms);
                    } else {
                        loader.coordinator.replay(record, now_ms);
                    }
                }
                true
            }
            Err(e) => {
                tracing::warn!(partition, offset = r.offset, transactional = r.transactional, error = %e, "skipping unreadable group record");
                false
            }
        }
    }

    fn begin_load(&mut self, partition: i32) {
        // Markers seen during an earlier, abandoned load are in the log this load
        // replays.
        self.markers_while_loading.remove(&partition);
    }

    /// Adopts the groups; a partition that still holds live records in Kavka's
    /// former JSON form is restated in Kafka's: a tombstone under every JSON key
    /// (so compaction drops them, and a later Kafka-form tombstone cannot leave an
    /// old JSON record behind to resurrect), then the current state of the
    /// partition's groups as Kafka records. Replaying the log again gives the same
    /// state, and no JSON key is live any more, so this runs once per partition.
    fn adopt(&mut self, partition: i32, _leader_epoch: i32, loader: GroupLoader) -> Vec<Entry> {
        let GroupLoader {
            mut coordinator,
            legacy,
        } = loader;
        for (producer_id, commit) in self
            .markers_while_loading
            .remove(&partition)
            .unwrap_or_default()
        {
            coordinator.complete_txn(producer_id, commit, |_| true);
        }
        self.coordinator.adopt_groups(coordinator);
        if !legacy.values().any(|live| *live) {
            return Vec::new();
        }
        let mut entries: Vec<Entry> = legacy.into_keys().map(|k| (k, None)).collect();
        let partitions = self.partitions;
        let snapshot = self
            .coordinator
            .snapshot_records(|group| partition_for_group(group, partitions) == partition);
        entries.extend(snapshot.iter().map(|r| {
            let (k, v) = r.encode();
            (Bytes::from(k), v.map(Bytes::from))
        }));
        tracing::info!(
            partition,
            "rewriting __consumer_offsets partition from Kavka's former JSON records into Kafka's format"
        );
        entries
    }

    /// Drops the partition's groups; joins and syncs waiting in them are
    /// answered NOT_COORDINATOR.
    fn unload(&mut self, partition: i32) {
        let partitions = self.partitions;
        let effects = self
            .coordinator
            .unload_groups(|group| partition_for_group(group, partitions) == partition);
        for (tx, response) in self.take_answers(effects.completions) {
            let _ = tx.send(response);
        }
        self.markers_while_loading.remove(&partition);
    }
}

/// What a control record's key says of a transaction marker: Some(true) for
/// COMMIT, Some(false) for ABORT (key version 0, then the type).
fn marker_commits(key: &[u8]) -> Option<bool> {
    match key {
        [0, 0, 0, 0] => Some(false),
        [0, 0, 0, 1] => Some(true),
        _ => None,
    }
}
