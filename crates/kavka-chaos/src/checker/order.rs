//! Per-key order within a partition.
//!
//! Always: if send A was acknowledged before send B was invoked, A's offset is
//! lower (the log respects real time). With an idempotent producer, also: sends
//! of one key to one partition land in the order they were invoked (Kafka keeps
//! a producer's order with idempotence on, up to five requests in flight). The
//! second rule assumes the history comes from one producer instance.

use std::collections::BTreeMap;

use super::{show, Anomaly};
use crate::history::{History, Offset, Partition, SendOutcome};

/// One acknowledged send of a key.
struct Acked {
    id: u64,
    offset: Offset,
    invoked_at: u64,
    completed_at: u64,
}

pub(super) fn check_key_order(history: &History, anomalies: &mut Vec<Anomaly>) {
    let mut groups: BTreeMap<(Partition, &[u8]), Vec<Acked>> = BTreeMap::new();
    for s in &history.sends {
        let (SendOutcome::Acked { partition, offset }, Some(key), Some(completed_at)) =
            (s.outcome, s.key.as_deref(), s.completed_at)
        else {
            continue;
        };
        // An acknowledgement without an offset that was never read is already
        // reported lost; it has no place to order.
        if offset < 0 {
            continue;
        }
        groups.entry((partition, key)).or_default().push(Acked {
            id: s.id,
            offset,
            invoked_at: s.invoked_at,
            completed_at,
        });
    }
    for ((partition, key), mut sends) in groups {
        let key = show(key);
        real_time(partition, &key, &mut sends, anomalies);
        if history.idempotent {
            send_order(partition, &key, &mut sends, anomalies);
        }
    }
}

/// Walks from the highest offset down, remembering the send that completed
/// earliest among the higher offsets: if it completed before the current one
/// was invoked, the current one should have come after it.
fn real_time(partition: Partition, key: &str, sends: &mut [Acked], anomalies: &mut Vec<Anomaly>) {
    sends.sort_by_key(|s| s.offset);
    let mut earliest_above: Option<&Acked> = None;
    for s in sends.iter().rev() {
        if let Some(a) = earliest_above {
            if a.completed_at < s.invoked_at {
                anomalies.push(Anomaly::KeyOrder {
                    partition,
                    key: key.to_string(),
                    first: (a.id, a.offset),
                    second: (s.id, s.offset),
                    why: "acknowledged before the other was sent",
                });
            }
        }
        if earliest_above.is_none_or(|a| s.completed_at < a.completed_at) {
            earliest_above = Some(s);
        }
    }
}

fn send_order(partition: Partition, key: &str, sends: &mut [Acked], anomalies: &mut Vec<Anomaly>) {
    sends.sort_by_key(|s| s.invoked_at);
    for pair in sends.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.offset <= a.offset {
            anomalies.push(Anomaly::KeyOrder {
                partition,
                key: key.to_string(),
                first: (a.id, a.offset),
                second: (b.id, b.offset),
                why: "sent first by the idempotent producer",
            });
        }
    }
}
