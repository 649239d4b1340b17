//! The transaction coordinator as the coordinator runtime drives it: the ids of
//! every `__transaction_state` partition served here, the markers still to write
//! for their decided transactions, and how a partition's log rebuilds them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kafka_protocol::records::Record;
use kavka_txn::{
    partition_for_transactional_id, MarkerJob, TopicPartition, TxnCoordinator, TxnRecord,
};
use tokio::sync::Notify;

use crate::coordinator_runtime::{CoordinatorShard, Entry};
use crate::partition::Partition;

/// Markers still to be written for one decided transaction.
#[derive(Debug, Clone)]
pub(crate) struct PendingMarkers {
    pub(crate) job: MarkerJob,
    /// The leader epoch of the id's `__transaction_state` partition: the
    /// coordinator epoch the markers carry.
    pub(crate) coordinator_epoch: i32,
    pub(crate) remaining: BTreeSet<TopicPartition>,
    /// The Prepare record's partition and offset: markers go out only once the
    /// high watermark has passed it. None after a load (the log is the truth).
    gate: Option<(Arc<Partition>, i64)>,
}

impl PendingMarkers {
    pub(crate) fn ready(&self) -> bool {
        self.gate
            .as_ref()
            .is_none_or(|(p, offset)| p.high_watermark() > *offset)
    }
}

/// The served ids and their markers in flight.
pub(crate) struct TxnShard {
    pub(crate) coordinator: TxnCoordinator,
    /// By transactional id.
    pub(crate) markers: BTreeMap<String, PendingMarkers>,
    pub(crate) last_abort_check: i64,
    pub(crate) last_expire_check: i64,
    partitions: i32,
    /// Wakes the marker channel when markers are waiting.
    markers_waiting: Arc<Notify>,
}

impl TxnShard {
    pub(crate) fn new(
        coordinator: TxnCoordinator,
        partitions: i32,
        now_ms: i64,
        markers_waiting: Arc<Notify>,
    ) -> Self {
        TxnShard {
            coordinator,
            markers: BTreeMap::new(),
            last_abort_check: now_ms,
            last_expire_check: now_ms,
            partitions,
            markers_waiting,
        }
    }

    /// Hands a decided transaction's markers to the marker channel, carrying the
    /// leader epoch its partition is served in.
    pub(crate) fn queue_markers(
        &mut self,
        job: MarkerJob,
        coordinator_epoch: i32,
        gate: Option<(Arc<Partition>, i64)>,
    ) {
        self.markers.insert(
            job.transactional_id.clone(),
            PendingMarkers {
                remaining: job.partitions.clone(),
                job,
                coordinator_epoch,
                gate,
            },
        );
        self.markers_waiting.notify_one();
    }
}

impl CoordinatorShard for TxnShard {
    type Loader = TxnCoordinator;

    fn loader(&self) -> TxnCoordinator {
        self.coordinator.loader()
    }

    fn replay(loader: &mut TxnCoordinator, partition: i32, r: &Record, _now_ms: i64) -> bool {
        if r.control {
            return false;
        }
        let Some(key) = &r.key else { return false };
        match TxnRecord::decode(key, r.value.as_deref()) {
            Ok(record) => {
                loader.replay(record);
                true
            }
            Err(e) => {
                tracing::warn!(partition, offset = r.offset, error = %e, "skipping unreadable transaction record");
                false
            }
        }
    }

    /// Serves the replayed ids; transactions found decided but not complete get
    /// their markers sent again.
    fn adopt(&mut self, partition: i32, leader_epoch: i32, loader: TxnCoordinator) -> Vec<Entry> {
        let pending = loader.pending_markers();
        self.coordinator.adopt(loader);
        if !pending.is_empty() {
            tracing::info!(
                partition,
                unfinished = pending.len(),
                "sending the markers of decided transactions again"
            );
        }
        for job in pending {
            self.queue_markers(job, leader_epoch, None);
        }
        Vec::new()
    }

    fn unload(&mut self, partition: i32) {
        let partitions = self.partitions;
        let of_partition = |id: &str| partition_for_transactional_id(id, partitions) == partition;
        self.coordinator.unload(of_partition);
        self.markers.retain(|id, _| !of_partition(id));
    }
}
