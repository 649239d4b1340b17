//! Replicas are byte-identical below the high watermark after the faults heal:
//! followers copy the leader's batches verbatim, and truncation by leader epoch
//! must have removed every divergent suffix.

use std::collections::BTreeMap;

use super::Anomaly;
use crate::history::{BatchBytes, History, NodeId, Offset, Partition};

pub(super) fn check_replicas(history: &History, anomalies: &mut Vec<Anomaly>) {
    let mut by_partition: BTreeMap<Partition, Vec<(NodeId, &[BatchBytes])>> = BTreeMap::new();
    for d in &history.replicas {
        by_partition
            .entry(d.partition)
            .or_default()
            .push((d.node, &d.batches));
    }
    for (partition, mut replicas) in by_partition {
        let Some(&hw) = history.high_watermarks.get(&partition) else {
            continue;
        };
        replicas.sort_by_key(|(node, _)| *node);
        let Some(&(reference_node, reference)) = replicas.first() else {
            continue;
        };
        let reference = committed(reference, hw);
        for &(node, batches) in &replicas[1..] {
            if let Some((base_offset, detail)) = first_difference(reference, committed(batches, hw))
            {
                anomalies.push(Anomaly::ReplicaDivergence {
                    partition,
                    nodes: (reference_node, node),
                    base_offset,
                    high_watermark: hw,
                    detail,
                });
            }
        }
    }
}

/// The batches that start below the high watermark.
fn committed(batches: &[BatchBytes], hw: Offset) -> &[BatchBytes] {
    let n = batches.iter().take_while(|b| b.base_offset < hw).count();
    &batches[..n]
}

fn first_difference(a: &[BatchBytes], b: &[BatchBytes]) -> Option<(Offset, String)> {
    for (x, y) in a.iter().zip(b) {
        if x.base_offset != y.base_offset || x.last_offset != y.last_offset {
            return Some((
                x.base_offset.min(y.base_offset),
                format!(
                    "batch boundaries differ: {}..={} vs {}..={}",
                    x.base_offset, x.last_offset, y.base_offset, y.last_offset
                ),
            ));
        }
        if x.bytes != y.bytes {
            let at = x
                .bytes
                .iter()
                .zip(&y.bytes)
                .position(|(p, q)| p != q)
                .unwrap_or(x.bytes.len().min(y.bytes.len()));
            return Some((
                x.base_offset,
                format!(
                    "bytes differ from byte {at} ({} vs {} bytes long)",
                    x.bytes.len(),
                    y.bytes.len()
                ),
            ));
        }
    }
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some((
            a[b.len()].base_offset,
            format!("second replica lacks {} batches", a.len() - b.len()),
        )),
        std::cmp::Ordering::Less => Some((
            b[a.len()].base_offset,
            format!("first replica lacks {} batches", b.len() - a.len()),
        )),
    }
}
