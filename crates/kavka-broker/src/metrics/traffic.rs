//! Kafka's `BrokerTopicMetrics`: bytes and records produced to and fetched from
//! each topic. A hosted [`crate::partition::Partition`] holds its topic's
//! [`TopicTraffic`], so the produce and fetch paths count with one relaxed
//! atomic add, without looking anything up. The registry keeps weak references:
//! a topic's counters live while this broker hosts one of its partitions, and
//! survive one partition moving away while another stays. What a topic had
//! counted when its last partition left is folded into the broker-wide totals,
//! so the all-topics counters never go back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

/// The counters of one topic (or of all of them).
#[derive(Debug, Default)]
pub struct TrafficCounts {
    /// Bytes of record batches appended by producers (`BytesInPerSec`).
    pub bytes_in: AtomicU64,
    /// Records appended by producers (`MessagesInPerSec`).
    pub messages_in: AtomicU64,
    /// Bytes of record batches sent to consumers (`BytesOutPerSec`).
    pub bytes_out: AtomicU64,
    /// Bytes of record batches sent to followers (`ReplicationBytesOutPerSec`).
    pub replication_bytes_out: AtomicU64,
    /// Appends that failed on the disk (Kavka's own; Kafka takes the log dir offline).
    pub storage_errors: AtomicU64,
}

impl TrafficCounts {
    fn add(&self, other: &TrafficCounts) {
        let pairs = [
            (&self.bytes_in, &other.bytes_in),
            (&self.messages_in, &other.messages_in),
            (&self.bytes_out, &other.bytes_out),
            (&self.replication_bytes_out, &other.replication_bytes_out),
            (&self.storage_errors, &other.storage_errors),
        ];
        for (into, from) in pairs {
            into.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// A plain copy.
    pub fn snapshot(&self) -> TrafficSnapshot {
        TrafficSnapshot {
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            messages_in: self.messages_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            replication_bytes_out: self.replication_bytes_out.load(Ordering::Relaxed),
            storage_errors: self.storage_errors.load(Ordering::Relaxed),
        }
    }
}

/// [`TrafficCounts`] read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficSnapshot {
    pub bytes_in: u64,
    pub messages_in: u64,
    pub bytes_out: u64,
    pub replication_bytes_out: u64,
    pub storage_errors: u64,
}

impl std::ops::AddAssign for TrafficSnapshot {
    fn add_assign(&mut self, o: Self) {
        self.bytes_in += o.bytes_in;
        self.messages_in += o.messages_in;
        self.bytes_out += o.bytes_out;
        self.replication_bytes_out += o.replication_bytes_out;
        self.storage_errors += o.storage_errors;
    }
}

/// One topic's counters; on drop (its last hosted partition gone) they are
/// added to the broker's retired totals.
#[derive(Debug, Default)]
pub struct TopicTraffic {
    pub counts: TrafficCounts,
    retired: Option<Arc<TrafficCounts>>,
}

impl TopicTraffic {
    /// Counts a producer's append of `records` records in `bytes` bytes.
    pub(crate) fn produced(&self, bytes: usize, records: u64) {
        self.counts
            .bytes_in
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.counts
            .messages_in
            .fetch_add(records, Ordering::Relaxed);
    }

    /// Counts `bytes` sent in a fetch answer, to a follower or a consumer.
    pub(crate) fn fetched(&self, bytes: usize, by_follower: bool) {
        let counter = if by_follower {
            &self.counts.replication_bytes_out
        } else {
            &self.counts.bytes_out
        };
        counter.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts an append that failed on the disk.
    pub(crate) fn storage_error(&self) {
        self.counts.storage_errors.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for TopicTraffic {
    fn drop(&mut self) {
        if let Some(retired) = &self.retired {
            retired.add(&self.counts);
        }
    }
}

/// The topics' counters, for partitions to share and a scrape to read.
#[derive(Debug, Default)]
pub struct TrafficRegistry {
    topics: Mutex<HashMap<String, Weak<TopicTraffic>>>,
    /// What topics no longer hosted had counted.
    retired: Arc<TrafficCounts>,
}

impl TrafficRegistry {
    /// The counters of `topic`, shared by all its hosted partitions. Called when
    /// a partition is opened, never per request.
    pub fn topic(&self, topic: &str) -> Arc<TopicTraffic> {
        let mut topics = self.topics.lock();
        if let Some(live) = topics.get(topic).and_then(Weak::upgrade) {
            return live;
        }
        let fresh = Arc::new(TopicTraffic {
            counts: TrafficCounts::default(),
            retired: Some(self.retired.clone()),
        });
        topics.insert(topic.to_string(), Arc::downgrade(&fresh));
        fresh
    }

    /// Every live topic's counters, sorted by name, and the all-topics totals
    /// (live plus retired). Forgets topics no longer hosted.
    pub fn snapshot(&self) -> (Vec<(String, TrafficSnapshot)>, TrafficSnapshot) {
        let mut topics = self.topics.lock();
        topics.retain(|_, t| t.strong_count() > 0);
        let mut out: Vec<(String, TrafficSnapshot)> = topics
            .iter()
            .filter_map(|(name, t)| Some((name.clone(), t.upgrade()?.counts.snapshot())))
            .collect();
        drop(topics);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        let mut all = self.retired.snapshot();
        for (_, s) in &out {
            all += *s;
        }
        (out, all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_share_a_topic_and_totals_survive_its_removal() {
        let registry = TrafficRegistry::default();
        let p0 = registry.topic("orders");
        let p1 = registry.topic("orders");
        assert!(Arc::ptr_eq(&p0, &p1));
        p0.produced(100, 3);
        p1.produced(50, 2);
        p1.fetched(70, false);
        p1.fetched(150, true);
        let other = registry.topic("audit");
        other.produced(10, 1);
        let (topics, all) = registry.snapshot();
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[1].0, "orders");
        assert_eq!(topics[1].1.bytes_in, 150);
        assert_eq!(topics[1].1.messages_in, 5);
        assert_eq!(topics[1].1.bytes_out, 70);
        assert_eq!(topics[1].1.replication_bytes_out, 150);
        assert_eq!(all.bytes_in, 160);
        drop(p0);
        drop(p1);
        let (topics, all_after) = registry.snapshot();
        assert_eq!(topics.len(), 1, "a topic no longer hosted is not listed");
        assert_eq!(all_after, all, "the all-topics counters never go back");
        assert_eq!(registry.topic("orders").counts.snapshot().bytes_in, 0);
    }
}
