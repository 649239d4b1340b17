//! Offsets committed inside a transaction (TxnOffsetCommit, KIP-98). They are
//! written to `__consumer_offsets` as ordinary OffsetCommit records, but in a
//! transactional batch of the producer, and stay *pending* for that producer id:
//! the transaction's COMMIT marker on the partition makes them the group's
//! committed offsets, its ABORT drops them. OffsetFetch with `require_stable`
//! answers UNSTABLE_OFFSET_COMMIT for a partition with a pending commit, so a
//! consumer does not start from an offset that may still be rolled back.

use crate::api::{CommitPartition, OffsetCommitRequest, PartitionResult};
use crate::coordinator::GroupCoordinator;
use crate::error::GroupError;
use crate::group::{CommittedOffset, Group};
use crate::records::{CoordinatorRecord, OffsetCommitKey, OffsetCommitValue};

/// A decoded TxnOffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitRequest {
    /// Group id.
    pub group_id: String,
    /// The transactional producer committing.
    pub producer_id: i64,
    /// Its epoch (checked by the log the records are written to).
    pub producer_epoch: i16,
    /// Generation, -1 when the producer sends no group metadata (pre-KIP-447).
    pub generation_id: i32,
    /// Member id, empty when unknown.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Offsets to commit.
    pub offsets: Vec<CommitPartition>,
}

impl GroupCoordinator {
    /// Handles a TxnOffsetCommit: checks the group member as OffsetCommit does,
    /// records the offsets as pending for the producer, and returns the records to
    /// write in a transactional batch of that producer.
    pub fn txn_commit_offsets(
        &mut self,
        req: TxnOffsetCommitRequest,
        now_ms: i64,
    ) -> (Vec<PartitionResult>, Vec<CoordinatorRecord>) {
        let check = self.validate_commit(
            &OffsetCommitRequest {
                group_id: req.group_id.clone(),
                generation_id: req.generation_id,
                member_id: req.member_id.clone(),
                group_instance_id: req.group_instance_id.clone(),
                offsets: Vec::new(),
            },
            now_ms,
        );
        let max_metadata = self.config.offset_metadata_max_bytes;
        let group = self.groups.get_mut(&req.group_id);
        let (group, error) = match (check, group) {
            (Ok(()), Some(group)) => (Some(group), None),
            (check, _) => (
                None,
                Some(check.err().unwrap_or(GroupError::CoordinatorNotAvailable)),
            ),
        };
        let mut records = Vec::new();
        let mut results = Vec::with_capacity(req.offsets.len());
        let mut group = group;
        for p in req.offsets {
            let mut result = PartitionResult {
                topic: p.topic.clone(),
                partition: p.partition,
                error,
            };
            if let Some(group) = group.as_deref_mut() {
                let metadata = p.metadata.unwrap_or_default();
                if metadata.encode_utf16().count() > max_metadata {
                    result.error = Some(GroupError::OffsetMetadataTooLarge);
                } else {
                    let value = OffsetCommitValue::new(p.offset, p.leader_epoch, metadata, now_ms);
                    group.add_pending(req.producer_id, &p.topic, p.partition, &value);
                    records.push(CoordinatorRecord::OffsetCommit {
                        key: OffsetCommitKey {
                            group: req.group_id.clone(),
                            topic: p.topic,
                            partition: p.partition,
                        },
                        value: Some(value),
                    });
                }
            }
            results.push(result);
        }
        (results, records)
    }

    /// Replays an OffsetCommit record read from a transactional batch of
    /// `producer_id` (the group loader): pending until the producer's marker.
    pub fn replay_txn_offset(&mut self, producer_id: i64, record: CoordinatorRecord, now_ms: i64) {
        if let CoordinatorRecord::OffsetCommit {
            key,
            value: Some(v),
        } = record
        {
            self.groups
                .entry(key.group.clone())
                .or_insert_with(|| Group::new(&key.group, now_ms))
                .add_pending(producer_id, &key.topic, key.partition, &v);
        }
    }

    /// A COMMIT (`commit`) or ABORT marker of `producer_id` was written to the
    /// `__consumer_offsets` partition holding the groups for which `in_partition`
    /// is true: its pending offsets there become committed, or are dropped.
    pub fn complete_txn(
        &mut self,
        producer_id: i64,
        commit: bool,
        in_partition: impl Fn(&str) -> bool,
    ) {
        for (id, group) in self.groups.iter_mut() {
            if !in_partition(id) {
                continue;
            }
            let Some(pending) = group.pending_txn_offsets.remove(&producer_id) else {
                continue;
            };
            if commit {
                group.offsets.extend(pending);
            }
        }
    }

    /// True when a transaction has an offset of this partition pending for the group.
    pub fn has_pending_txn_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        self.groups.get(group_id).is_some_and(|g| {
            g.pending_txn_offsets
                .values()
                .any(|offsets| offsets.contains_key(&(topic.to_string(), partition)))
        })
    }
}

impl Group {
    fn add_pending(
        &mut self,
        producer_id: i64,
        topic: &str,
        partition: i32,
        v: &OffsetCommitValue,
    ) {
        self.pending_txn_offsets
            .entry(producer_id)
            .or_default()
            .insert(
                (topic.to_string(), partition),
                CommittedOffset {
                    offset: v.offset,
                    leader_epoch: v.leader_epoch,
                    metadata: v.metadata.clone(),
                    commit_timestamp_ms: v.commit_timestamp_ms,
                },
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GroupConfig;

    fn req(producer_id: i64, offset: i64) -> TxnOffsetCommitRequest {
        TxnOffsetCommitRequest {
            group_id: "g".into(),
            producer_id,
            producer_epoch: 0,
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            offsets: vec![CommitPartition {
                topic: "t".into(),
                partition: 0,
                offset,
                leader_epoch: -1,
                metadata: None,
            }],
        }
    }

    fn committed(c: &GroupCoordinator) -> i64 {
        c.fetch_offsets("g", Some(&[("t".to_string(), vec![0])]))
            .unwrap()[0]
            .offset
    }

    #[test]
    fn pending_offsets_apply_on_commit_and_vanish_on_abort() {
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        let (results, records) = c.txn_commit_offsets(req(7, 10), 0);
        assert_eq!(results[0].error, None);
        assert_eq!(records.len(), 1);
        assert_eq!(committed(&c), -1, "not visible before the marker");
        assert!(c.has_pending_txn_offset("g", "t", 0));
        c.complete_txn(8, true, |_| true);
        assert!(
            c.has_pending_txn_offset("g", "t", 0),
            "another producer's marker"
        );
        c.complete_txn(7, true, |_| true);
        assert_eq!(committed(&c), 10);
        assert!(!c.has_pending_txn_offset("g", "t", 0));

        c.txn_commit_offsets(req(7, 20), 0);
        c.complete_txn(7, false, |_| true);
        assert_eq!(committed(&c), 10, "aborted");
    }

    #[test]
    fn the_loader_replays_pending_offsets_and_markers() {
        let mut live = GroupCoordinator::new(GroupConfig::default(), 1);
        let (_, records) = live.txn_commit_offsets(req(7, 30), 0);
        let mut loader = GroupCoordinator::new(GroupConfig::default(), 2);
        for r in records {
            loader.replay_txn_offset(7, r, 0);
        }
        assert!(loader.has_pending_txn_offset("g", "t", 0));
        loader.complete_txn(7, true, |_| true);
        assert_eq!(committed(&loader), 30);
    }

    #[test]
    fn a_group_holding_only_pending_offsets_outlives_the_sweep() {
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        c.txn_commit_offsets(req(7, 10), 0);
        let _ = c.tick(i64::MAX / 2);
        c.complete_txn(7, true, |_| true);
        assert_eq!(committed(&c), 10);
    }

    #[test]
    fn a_stale_generation_is_refused_as_for_offset_commit() {
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        let mut r = req(7, 10);
        r.generation_id = 3;
        r.member_id = "m".into();
        let (results, records) = c.txn_commit_offsets(r, 0);
        assert!(results[0].error.is_some());
        assert!(records.is_empty());
    }
}
