//! The broker-wide timers of hosted partitions, holding only the partitions that
//! have something due, so an idle partition costs no periodic work (Kafka's
//! purgatory timer, in the small): acks=all produce deadlines, the leaders whose
//! ISR can shrink, the logs used since the last upkeep pass, and the high
//! watermark's "changed since the checkpoint" bit.
//!
//! Partitions are named by topic and index, not held: a deleted partition's entry
//! resolves to nothing and is dropped, and acting on a recreated partition of the
//! same name is harmless (every timer action re-checks the partition's own state).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// A hosted partition's name in the timers.
pub(crate) type PartitionKey = (String, i32);

/// At most one deadline per key, popped in deadline order.
#[derive(Debug)]
pub(crate) struct DeadlineQueue<K> {
    by_time: BTreeSet<(i64, K)>,
    by_key: HashMap<K, i64>,
}

impl<K> Default for DeadlineQueue<K> {
    fn default() -> Self {
        Self {
            by_time: BTreeSet::new(),
            by_key: HashMap::new(),
        }
    }
}

impl<K: Ord + Hash + Clone> DeadlineQueue<K> {
    /// Sets `key`'s deadline to `at`, replacing any it had; `None` removes it.
    pub(crate) fn schedule(&mut self, key: K, at: Option<i64>) {
        if self.by_key.get(&key).copied() == at {
            return;
        }
        if let Some(old) = self.by_key.remove(&key) {
            self.by_time.remove(&(old, key.clone()));
        }
        if let Some(at) = at {
            self.by_time.insert((at, key.clone()));
            self.by_key.insert(key, at);
        }
    }

    /// Sets `key`'s deadline to `at` unless it already has an earlier one.
    pub(crate) fn schedule_earlier(&mut self, key: K, at: i64) {
        if self.by_key.get(&key).is_some_and(|&old| old <= at) {
            return;
        }
        self.schedule(key, Some(at));
    }

    /// Removes and returns every key whose deadline is at or before `now_ms`,
    /// earliest first.
    pub(crate) fn pop_due(&mut self, now_ms: i64) -> Vec<K> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.by_time.first() {
            if *at > now_ms {
                break;
            }
            if let Some((_, key)) = self.by_time.pop_first() {
                self.by_key.remove(&key);
                due.push(key);
            }
        }
        due
    }

    /// Number of keys with a deadline.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }
}

/// What the hosted partitions register with the broker's timer tasks.
#[derive(Debug)]
pub(crate) struct PartitionTimers {
    /// Leaders with acks=all requests waiting: when the earliest one expires.
    pub(crate) produce_deadlines: Mutex<DeadlineQueue<PartitionKey>>,
    /// Partitions this broker leads with other replicas: the only ones whose ISR
    /// can shrink (a lone replica has no follower to drop).
    replicated_leaders: Mutex<HashSet<PartitionKey>>,
    /// Partitions whose log was used (written, read, reconfigured) since the
    /// upkeep task last looked at them; each is in here at most once (the
    /// partition's own flag says whether it is).
    log_touched: Mutex<Vec<PartitionKey>>,
    /// Some high watermark moved, or partitions came or went, since the last
    /// checkpoint. Starts set, so the first checkpoint compares with the file.
    pub(crate) hw_changed: AtomicBool,
}

impl Default for PartitionTimers {
    fn default() -> Self {
        Self {
            produce_deadlines: Mutex::default(),
            replicated_leaders: Mutex::default(),
            log_touched: Mutex::default(),
            hw_changed: AtomicBool::new(true),
        }
    }
}

impl PartitionTimers {
    /// Records whether `key` is led here with other replicas.
    pub(crate) fn set_replicated_leader(&self, key: (&str, i32), replicated: bool) {
        let mut set = self.replicated_leaders.lock();
        if !replicated && set.is_empty() {
            return;
        }
        if replicated {
            if !set.contains(&(key.0.to_string(), key.1)) {
                set.insert((key.0.to_string(), key.1));
            }
        } else {
            set.remove(&(key.0.to_string(), key.1));
        }
    }

    /// The partitions to run the ISR shrink check on.
    pub(crate) fn replicated_leaders(&self) -> Vec<PartitionKey> {
        self.replicated_leaders.lock().iter().cloned().collect()
    }

    /// Queues `key` for the next upkeep pass (called once per flag raise).
    pub(crate) fn log_touched(&self, key: PartitionKey) {
        self.log_touched.lock().push(key);
    }

    /// The partitions whose log was used since the last call.
    pub(crate) fn take_log_touched(&self) -> Vec<PartitionKey> {
        std::mem::take(&mut *self.log_touched.lock())
    }

    /// Notes that a high watermark moved (or the hosted set changed).
    pub(crate) fn hw_changed(&self) {
        self.hw_changed.store(true, Ordering::Release);
    }

    /// True (and cleared) when the checkpoint may be out of date.
    pub(crate) fn take_hw_changed(&self) -> bool {
        self.hw_changed.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_in_deadline_order_once_due() {
        let mut q = DeadlineQueue::default();
        q.schedule("b", Some(20));
        q.schedule("a", Some(10));
        q.schedule("c", Some(30));
        assert_eq!(q.pop_due(5), Vec::<&str>::new());
        assert_eq!(q.pop_due(20), vec!["a", "b"]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(100), vec!["c"]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_key_has_one_deadline_that_schedule_replaces_and_none_removes() {
        let mut q = DeadlineQueue::default();
        q.schedule("a", Some(10));
        q.schedule("a", Some(50));
        assert_eq!(q.pop_due(20), Vec::<&str>::new(), "moved later");
        q.schedule("a", None);
        assert_eq!(q.pop_due(100), Vec::<&str>::new(), "removed");
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn schedule_earlier_keeps_the_earliest_deadline() {
        let mut q = DeadlineQueue::default();
        q.schedule_earlier("a", 30);
        q.schedule_earlier("a", 50);
        assert_eq!(q.pop_due(29), Vec::<&str>::new());
        q.schedule_earlier("a", 10);
        assert_eq!(q.pop_due(10), vec!["a"]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn the_hw_bit_starts_set_and_clears_when_taken() {
        let t = PartitionTimers::default();
        assert!(t.take_hw_changed());
        assert!(!t.take_hw_changed());
        t.hw_changed();
        assert!(t.take_hw_changed());
    }

    #[test]
    fn replicated_leaders_follow_the_last_word() {
        let t = PartitionTimers::default();
        t.set_replicated_leader(("t", 0), true);
        t.set_replicated_leader(("t", 1), true);
        t.set_replicated_leader(("t", 0), false);
        assert_eq!(t.replicated_leaders(), vec![("t".to_string(), 1)]);
    }
}
