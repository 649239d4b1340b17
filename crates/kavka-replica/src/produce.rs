//! acks=all requests waiting for the high watermark: a pure set, one per partition.

use std::collections::BTreeMap;

use crate::error::ReplicaError;

/// Identifies one waiting produce request (chosen by the host, unique per partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProduceId(pub u64);

/// The answer for one waiting produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProduceCompletion {
    /// The request.
    pub id: ProduceId,
    /// `Ok` when every ISR member has the records; otherwise the error to answer with.
    pub result: Result<(), ReplicaError>,
}

/// The partition's replication state that decides waiting requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckView {
    /// The leader's high watermark.
    pub high_watermark: i64,
    /// Size of the committed ISR.
    pub committed_isr_size: usize,
    /// Size of the maximal ISR (committed plus a pending addition).
    pub maximal_isr_size: usize,
    /// The effective `min.insync.replicas` (capped at the replica count).
    pub min_isr: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiting {
    required_offset: i64,
    deadline_ms: i64,
}

/// The acks=all requests of one partition waiting for its high watermark.
///
/// A request completes when the HW reaches its `required_offset` (its last offset + 1):
/// `Ok` if the maximal ISR still has `min_isr` members, NOT_ENOUGH_REPLICAS_AFTER_APPEND
/// otherwise (Kafka's `checkEnoughReplicasReachOffset`). A committed ISR below `min_isr`
/// freezes the HW, so such a request keeps waiting, as in Kafka 4: for the ISR to grow
/// back, or until its deadline, when it fails with REQUEST_TIMED_OUT. Every registered
/// request completes exactly once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DelayedProduces {
    waiting: BTreeMap<ProduceId, Waiting>,
}

impl DelayedProduces {
    /// An empty set.
    pub fn new() -> DelayedProduces {
        DelayedProduces::default()
    }

    /// Number of waiting requests.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// True when `id` is waiting.
    pub fn contains(&self, id: ProduceId) -> bool {
        self.waiting.contains_key(&id)
    }

    /// Register a request appended up to `required_offset` - 1. It may complete at once
    /// (returned); otherwise it waits. Ids must be unique among waiting requests: a second
    /// registration of a waiting id replaces the first, which then never completes.
    pub fn register(
        &mut self,
        id: ProduceId,
        required_offset: i64,
        deadline_ms: i64,
        view: AckView,
    ) -> Option<ProduceCompletion> {
        let w = Waiting {
            required_offset,
            deadline_ms,
        };
        match decide(w, view) {
            Some(result) => {
                self.waiting.remove(&id);
                Some(ProduceCompletion { id, result })
            }
            None => {
                self.waiting.insert(id, w);
                None
            }
        }
    }

    /// Re-check every waiting request after the HW or the ISR changed.
    pub fn on_change(&mut self, view: AckView) -> Vec<ProduceCompletion> {
        let mut done = Vec::new();
        self.waiting.retain(|&id, w| match decide(*w, view) {
            Some(result) => {
                done.push(ProduceCompletion { id, result });
                false
            }
            None => true,
        });
        done
    }

    /// Fail every request whose deadline is ≤ `now_ms` with REQUEST_TIMED_OUT.
    pub fn expire(&mut self, now_ms: i64) -> Vec<ProduceCompletion> {
        let mut done = Vec::new();
        self.waiting.retain(|&id, w| {
            if w.deadline_ms <= now_ms {
                done.push(ProduceCompletion {
                    id,
                    result: Err(ReplicaError::RequestTimedOut),
                });
                false
            } else {
                true
            }
        });
        done
    }

    /// Fail every waiting request with `error` (e.g. NOT_LEADER_OR_FOLLOWER on losing
    /// leadership).
    pub fn fail_all(&mut self, error: ReplicaError) -> Vec<ProduceCompletion> {
        std::mem::take(&mut self.waiting)
            .into_keys()
            .map(|id| ProduceCompletion {
                id,
                result: Err(error),
            })
            .collect()
    }

    /// The earliest deadline, to schedule the next `expire`.
    pub fn next_deadline(&self) -> Option<i64> {
        self.waiting.values().map(|w| w.deadline_ms).min()
    }
}

fn decide(w: Waiting, view: AckView) -> Option<Result<(), ReplicaError>> {
    if view.high_watermark >= w.required_offset {
        Some(if view.maximal_isr_size >= view.min_isr {
            Ok(())
        } else {
            Err(ReplicaError::NotEnoughReplicasAfterAppend)
        })
    } else {
        None
    }
}
