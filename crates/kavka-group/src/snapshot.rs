//! The records that rebuild groups as they are now, for rewriting a
//! `__consumer_offsets` partition in Kafka's format (after loading one that still
//! holds records in Kavka's former JSON form).

use crate::consumer::persist;
use crate::coordinator::GroupCoordinator;
use crate::records::{CoordinatorRecord, OffsetCommitKey, OffsetCommitValue};

impl GroupCoordinator {
    /// Records that, replayed on an empty coordinator, restore every group whose id
    /// `include` accepts: classic membership, committed offsets, consumer groups.
    /// Groups come in id order and offsets in (topic, partition) order, so the output
    /// is deterministic.
    pub fn snapshot_records(&self, include: impl Fn(&str) -> bool) -> Vec<CoordinatorRecord> {
        let mut records = Vec::new();
        let mut ids: Vec<&String> = self
            .groups
            .keys()
            .chain(self.consumer_groups.keys())
            .filter(|id| include(id))
            .collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            if let Some(g) = self.groups.get(id) {
                // Offset-only groups never had a membership record.
                if g.protocol_type.is_some() || g.generation_id > 0 {
                    records.push(g.metadata_record());
                }
                let mut offsets: Vec<_> = g.offsets.iter().collect();
                offsets.sort_by(|a, b| a.0.cmp(b.0));
                for ((topic, partition), o) in offsets {
                    records.push(CoordinatorRecord::OffsetCommit {
                        key: OffsetCommitKey {
                            group: id.clone(),
                            topic: topic.clone(),
                            partition: *partition,
                        },
                        value: Some(OffsetCommitValue::new(
                            o.offset,
                            o.leader_epoch,
                            o.metadata.clone(),
                            o.commit_timestamp_ms,
                        )),
                    });
                }
            }
            if let Some(g) = self.consumer_groups.get(id) {
                records.extend(persist::diff(id, None, Some(g)));
            }
        }
        records
    }
}
