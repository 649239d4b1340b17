//! Which coordinator partitions this broker serves, and in which leader epoch:
//! Kafka's shard states (loading, active; failed and closed ones are simply gone).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::log::CoordinatorLog;

/// Why a request for a partition's keys is not served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OwnershipError {
    /// NOT_COORDINATOR: this broker does not lead the partition (in the epoch it
    /// loaded it at).
    #[error("this broker is not the coordinator")]
    NotCoordinator,
    /// COORDINATOR_LOAD_IN_PROGRESS: the partition is being replayed.
    #[error("the coordinator is loading")]
    LoadInProgress,
}

/// A led partition.
enum Slot<L> {
    /// Being replayed; `load` tells this load from a later one.
    Loading { epoch: i32, load: u64 },
    /// Loaded: served while `log` is still led here in `epoch`.
    Active { epoch: i32, log: Arc<L> },
}

impl<L> Slot<L> {
    fn epoch(&self) -> i32 {
        match self {
            Slot::Loading { epoch, .. } | Slot::Active { epoch, .. } => *epoch,
        }
    }
}

/// A partition to replay, from the runtime's `follow_leadership`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LoadJob {
    pub(crate) partition: i32,
    pub(crate) epoch: i32,
    load: u64,
}

/// A partition dropped by [`Ownership::follow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unloaded {
    pub(crate) partition: i32,
    pub(crate) epoch: i32,
    /// False when it was dropped while still loading.
    pub(crate) was_active: bool,
}

/// The partitions led here, each loading or active.
pub(crate) struct Ownership<L> {
    slots: BTreeMap<i32, Slot<L>>,
    next_load: u64,
}

impl<L: CoordinatorLog> Ownership<L> {
    pub(crate) fn new() -> Self {
        Ownership {
            slots: BTreeMap::new(),
            next_load: 0,
        }
    }

    /// Ok when `partition` is served here now.
    pub(crate) fn check(&self, partition: i32) -> Result<(), OwnershipError> {
        match self.slots.get(&partition) {
            // The role itself is asked too: between a metadata image taking the
            // leadership away and the unload that follows it, nothing is served.
            Some(Slot::Active { epoch, log }) if log.leadership() == Some(*epoch) => Ok(()),
            Some(Slot::Active { .. }) | None => Err(OwnershipError::NotCoordinator),
            Some(Slot::Loading { .. }) => Err(OwnershipError::LoadInProgress),
        }
    }

    /// The epoch `partition` is served in, when it is loaded.
    pub(crate) fn active_epoch(&self, partition: i32) -> Option<i32> {
        match self.slots.get(&partition) {
            Some(Slot::Active { epoch, .. }) => Some(*epoch),
            _ => None,
        }
    }

    pub(crate) fn is_loading(&self, partition: i32) -> bool {
        matches!(self.slots.get(&partition), Some(Slot::Loading { .. }))
    }

    /// True while some led partition is still being loaded.
    pub(crate) fn any_loading(&self) -> bool {
        self.slots
            .values()
            .any(|s| matches!(s, Slot::Loading { .. }))
    }

    /// Brings the slots in line with `led` (partition → leader epoch led here
    /// now): drops those no longer led or led in another epoch (leadership went
    /// away and came back, and the log may have been truncated meanwhile), marks
    /// the newly led ones loading and returns both.
    pub(crate) fn follow(&mut self, led: &BTreeMap<i32, i32>) -> (Vec<Unloaded>, Vec<LoadJob>) {
        let stale: Vec<i32> = self
            .slots
            .iter()
            .filter(|(i, slot)| led.get(i) != Some(&slot.epoch()))
            .map(|(i, _)| *i)
            .collect();
        let unloaded = stale
            .into_iter()
            .filter_map(|partition| {
                let slot = self.slots.remove(&partition)?;
                Some(Unloaded {
                    partition,
                    epoch: slot.epoch(),
                    was_active: matches!(slot, Slot::Active { .. }),
                })
            })
            .collect();
        let mut loads = Vec::new();
        for (&partition, &epoch) in led {
            if self.slots.contains_key(&partition) {
                continue;
            }
            self.next_load += 1;
            let load = self.next_load;
            self.slots.insert(partition, Slot::Loading { epoch, load });
            loads.push(LoadJob {
                partition,
                epoch,
                load,
            });
        }
        (unloaded, loads)
    }

    /// True while `job` is the partition's load in progress (not unloaded or
    /// reloaded since).
    pub(crate) fn is_current(&self, job: &LoadJob) -> bool {
        matches!(self.slots.get(&job.partition),
            Some(Slot::Loading { epoch, load }) if *epoch == job.epoch && *load == job.load)
    }

    /// The load is done: the partition is served from now.
    pub(crate) fn activate(&mut self, job: &LoadJob, log: Arc<L>) {
        self.slots.insert(
            job.partition,
            Slot::Active {
                epoch: job.epoch,
                log,
            },
        );
    }

    /// The load failed or leadership moved during it: nothing is served from a
    /// partial replay, and the next leadership change loads afresh.
    pub(crate) fn abandon(&mut self, job: &LoadJob) {
        self.slots.remove(&job.partition);
    }
}
