//! Wake-ups keyed by partition, as Kafka's delayed-operation purgatory watches
//! delayed fetches by partition: a long-polling request registers one [`Waiter`]
//! with every partition it reads, and a partition wakes only the requests
//! registered with it. An idle partition wakes nobody, and a produce to one
//! partition costs nothing to requests waiting on others.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// One waiting request's wake-up, shared by every partition it watches. A wake
/// that comes while the request is busy reading is kept (one permit), so it is
/// never missed between a read and the next wait.
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    notify: Notify,
}

impl Waiter {
    pub(crate) fn new() -> Arc<Waiter> {
        Arc::new(Waiter::default())
    }

    /// Resolves at the first wake not yet consumed.
    pub(crate) async fn woken(&self) {
        self.notify.notified().await;
    }
}

/// The requests waiting for one kind of change on one partition. Entries are
/// weak: a request that has answered simply drops its [`Waiter`], and the dead
/// entry is pruned by a later wake or registration.
#[derive(Debug, Default)]
pub(crate) struct WatchList {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    waiters: Vec<Weak<Waiter>>,
    /// Length after the last pruning; registrations prune again once the list
    /// has doubled, which keeps an idle partition's list bounded by the requests
    /// actually waiting on it at amortized constant cost.
    pruned_len: usize,
}

impl WatchList {
    /// Registers `waiter` to be woken by this list.
    pub(crate) fn watch(&self, waiter: &Arc<Waiter>) {
        let mut entries = self.inner.lock();
        if entries.waiters.len() >= 2 * entries.pruned_len.max(8) {
            entries.waiters.retain(|w| w.strong_count() > 0);
            entries.pruned_len = entries.waiters.len();
        }
        entries.waiters.push(Arc::downgrade(waiter));
    }

    /// Wakes every live waiter registered here; they stay registered until they
    /// drop their [`Waiter`].
    pub(crate) fn wake(&self) {
        let mut entries = self.inner.lock();
        if entries.waiters.is_empty() {
            return;
        }
        entries.waiters.retain(|w| match w.upgrade() {
            Some(waiter) => {
                waiter.notify.notify_one();
                true
            }
            None => false,
        });
        entries.pruned_len = entries.waiters.len();
    }

    /// How many entries (live or not yet pruned) the list holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().waiters.len()
    }
}

/// What can be waited for on one partition. Consumers wait for the high
/// watermark (the last stable offset moves only with it or with an append that
/// moves it); followers wait for the log end. A role or leader-epoch change, or
/// the log going offline, wakes both, so waiting requests answer
/// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH and the like at once.
#[derive(Debug, Default)]
pub(crate) struct PartitionWatchers {
    pub(crate) log_end: WatchList,
    pub(crate) high_watermark: WatchList,
}

impl PartitionWatchers {
    pub(crate) fn wake_all(&self) {
        self.log_end.wake();
        self.high_watermark.wake();
    }
}

/// True if `waiter` has a wake pending, consuming it; never waits.
#[cfg(test)]
pub(crate) async fn was_woken(waiter: &Waiter) -> bool {
    tokio::select! {
        biased;
        _ = waiter.woken() => true,
        _ = std::future::ready(()) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_reaches_only_the_list_it_was_registered_with() {
        let (a, b) = (WatchList::default(), WatchList::default());
        let waiter = Waiter::new();
        a.watch(&waiter);
        b.wake();
        assert!(!was_woken(&waiter).await);
        a.wake();
        assert!(was_woken(&waiter).await);
        assert!(!was_woken(&waiter).await, "one wake is consumed once");
    }

    #[tokio::test]
    async fn a_wake_before_the_wait_is_kept() {
        let list = WatchList::default();
        let waiter = Waiter::new();
        list.watch(&waiter);
        list.wake();
        list.wake();
        // The request was reading when the wakes came; its next wait returns at once.
        assert!(was_woken(&waiter).await);
    }

    #[test]
    fn requests_that_answered_leave_the_list() {
        let list = WatchList::default();
        for _ in 0..1000 {
            let waiter = Waiter::new();
            list.watch(&waiter);
        }
        assert!(list.len() <= 16, "dead entries pruned: {}", list.len());
        let live = Waiter::new();
        list.watch(&live);
        list.wake();
        assert_eq!(list.len(), 1);
    }
}
