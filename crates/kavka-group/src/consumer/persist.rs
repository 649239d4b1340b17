//! Records that keep consumer-protocol groups across restarts, in Kafka's split: per
//! group its epoch (with the metadata hash) and its target assignment's epoch; per
//! member its subscription, its share of the target and its current assignment. A step
//! writes only the records whose content changed, found by comparing before and after,
//! in the order Kafka writes them.

use std::collections::BTreeSet;

use super::group::ConsumerGroup;
use super::member::{ConsumerMember, MemberState};
use super::metadata_hash::group_hash;
use super::{from_list, Assignment, TopicInfo};
use crate::coordinator::GroupCoordinator;
use crate::records::{
    AssignedTopicPartitions, ConsumerGroupCurrentMemberAssignmentValue, ConsumerGroupKey,
    ConsumerGroupMemberMetadataValue, ConsumerGroupMetadataValue,
    ConsumerGroupTargetAssignmentMemberValue, ConsumerGroupTargetAssignmentMetadataValue,
    ConsumerMemberKey, CoordinatorRecord, TopicPartitionsValue,
};

fn epoch_value(g: &ConsumerGroup) -> ConsumerGroupMetadataValue {
    ConsumerGroupMetadataValue {
        epoch: g.group_epoch,
        metadata_hash: group_hash(&g.subscribed_topics),
    }
}

fn target_metadata_value(g: &ConsumerGroup) -> ConsumerGroupTargetAssignmentMetadataValue {
    ConsumerGroupTargetAssignmentMetadataValue {
        assignment_epoch: g.assignment_epoch,
        assignment_timestamp_ms: g.assignment_timestamp_ms,
    }
}

fn subscription_value(m: &ConsumerMember) -> ConsumerGroupMemberMetadataValue {
    // Kafka keeps subscribed names in a set and writes them sorted.
    let names: BTreeSet<&String> = m.subscribed_topic_names.iter().collect();
    ConsumerGroupMemberMetadataValue {
        instance_id: m.instance_id.clone(),
        rack_id: m.rack_id.clone(),
        client_id: m.client_id.clone(),
        client_host: m.client_host.clone(),
        subscribed_topic_names: names.into_iter().cloned().collect(),
        subscribed_topic_regex: m.subscribed_topic_regex.clone(),
        rebalance_timeout_ms: m.rebalance_timeout_ms,
        server_assignor: m.server_assignor.clone(),
        classic_member_metadata: None,
    }
}

fn target_value(g: &ConsumerGroup, member_id: &str) -> ConsumerGroupTargetAssignmentMemberValue {
    ConsumerGroupTargetAssignmentMemberValue {
        topic_partitions: g
            .target
            .get(member_id)
            .into_iter()
            .flatten()
            .filter(|(_, ps)| !ps.is_empty())
            .map(|(t, ps)| TopicPartitionsValue {
                topic_id: *t,
                partitions: ps.iter().copied().collect(),
            })
            .collect(),
    }
}

fn with_epochs(m: &ConsumerMember, assignment: &Assignment) -> Vec<AssignedTopicPartitions> {
    assignment
        .iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(t, ps)| AssignedTopicPartitions {
            topic_id: *t,
            partitions: ps.iter().copied().collect(),
            assignment_epochs: Some(ps.iter().map(|p| m.assignment_epoch_of(*t, *p)).collect()),
        })
        .collect()
}

fn current_value(m: &ConsumerMember) -> ConsumerGroupCurrentMemberAssignmentValue {
    ConsumerGroupCurrentMemberAssignmentValue {
        member_epoch: m.member_epoch,
        previous_member_epoch: m.previous_member_epoch,
        state: m.state.kafka_value(),
        assigned_partitions: with_epochs(m, &m.assigned),
        partitions_pending_revocation: with_epochs(m, &m.pending_revocation),
    }
}

/// The records turning `before` into `after` (None: the group does not exist).
/// Order, as Kafka's: removed members' tombstones, changed subscriptions, the group
/// epoch, changed targets, the target epoch, changed current assignments.
pub(crate) fn diff(
    group_id: &str,
    before: Option<&ConsumerGroup>,
    after: Option<&ConsumerGroup>,
) -> Vec<CoordinatorRecord> {
    let mut records = Vec::new();
    let group_key = || ConsumerGroupKey {
        group: group_id.to_string(),
    };
    let member_key = |id: &str| ConsumerMemberKey {
        group: group_id.to_string(),
        member_id: id.to_string(),
    };
    let members = |g: Option<&ConsumerGroup>| -> BTreeSet<String> {
        g.map(|g| g.members.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (old_ids, new_ids) = (members(before), members(after));
    for id in old_ids.difference(&new_ids) {
        records.push(CoordinatorRecord::ConsumerGroupCurrentMemberAssignment {
            key: member_key(id),
            value: None,
        });
        records.push(CoordinatorRecord::ConsumerGroupTargetAssignmentMember {
            key: member_key(id),
            value: None,
        });
        records.push(CoordinatorRecord::ConsumerGroupMemberMetadata {
            key: member_key(id),
            value: None,
        });
    }
    let Some(after) = after else {
        if before.is_some() {
            records.extend(CoordinatorRecord::consumer_group_tombstones(group_id));
        }
        return records;
    };
    let old_member = |id: &str| before.and_then(|g| g.members.get(id));
    // A group that did not exist had the initial epochs, which Kafka does not record.
    let initial = ConsumerGroup::new(group_id);
    let old_group = before.unwrap_or(&initial);
    for (id, m) in &after.members {
        let new = subscription_value(m);
        if old_member(id).map(subscription_value).as_ref() != Some(&new) {
            records.push(CoordinatorRecord::ConsumerGroupMemberMetadata {
                key: member_key(id),
                value: Some(new),
            });
        }
    }
    let new = epoch_value(after);
    if epoch_value(old_group) != new {
        records.push(CoordinatorRecord::ConsumerGroupMetadata {
            key: group_key(),
            value: Some(new),
        });
    }
    for id in after.members.keys() {
        let new = target_value(after, id);
        let old = before
            .filter(|g| g.members.contains_key(id))
            .map(|g| target_value(g, id));
        if old.as_ref() != Some(&new) {
            records.push(CoordinatorRecord::ConsumerGroupTargetAssignmentMember {
                key: member_key(id),
                value: Some(new),
            });
        }
    }
    let new = target_metadata_value(after);
    if target_metadata_value(old_group) != new {
        records.push(CoordinatorRecord::ConsumerGroupTargetAssignmentMetadata {
            key: group_key(),
            value: Some(new),
        });
    }
    for (id, m) in &after.members {
        let new = current_value(m);
        if old_member(id).map(current_value).as_ref() != Some(&new) {
            records.push(CoordinatorRecord::ConsumerGroupCurrentMemberAssignment {
                key: member_key(id),
                value: Some(new),
            });
        }
    }
    records
}

impl GroupCoordinator {
    /// Replays a consumer-protocol record (see [`GroupCoordinator::replay`]). Each
    /// record sets its own part of the group, so they may come in any order.
    pub(crate) fn replay_consumer(&mut self, record: CoordinatorRecord, now_ms: i64) {
        let session = self.config.consumer_session_timeout_ms;
        match record {
            CoordinatorRecord::ConsumerGroupMetadata {
                key,
                value: Some(v),
            } => {
                let g = self.consumer_group_entry(&key.group);
                g.group_epoch = v.epoch;
                g.restored_metadata_hash = Some(v.metadata_hash);
            }
            CoordinatorRecord::ConsumerGroupMetadata { key, value: None } => {
                self.consumer_groups.remove(&key.group);
            }
            CoordinatorRecord::ConsumerGroupPartitionMetadata {
                key,
                value: Some(v),
            } => {
                let g = self.consumer_group_entry(&key.group);
                g.subscribed_topics = v
                    .topics
                    .into_iter()
                    .map(|t| {
                        let info = TopicInfo {
                            id: t.topic_id,
                            partitions: t.num_partitions,
                        };
                        (t.topic_name, info)
                    })
                    .collect();
            }
            CoordinatorRecord::ConsumerGroupPartitionMetadata { key, value: None } => {
                if let Some(g) = self.consumer_groups.get_mut(&key.group) {
                    g.subscribed_topics.clear();
                }
            }
            CoordinatorRecord::ConsumerGroupTargetAssignmentMetadata {
                key,
                value: Some(v),
            } => {
                let g = self.consumer_group_entry(&key.group);
                g.assignment_epoch = v.assignment_epoch;
                g.assignment_timestamp_ms = v.assignment_timestamp_ms;
            }
            CoordinatorRecord::ConsumerGroupTargetAssignmentMetadata { key, value: None } => {
                if let Some(g) = self.consumer_groups.get_mut(&key.group) {
                    g.assignment_epoch = 0;
                    g.assignment_timestamp_ms = 0;
                }
            }
            CoordinatorRecord::ConsumerGroupMemberMetadata {
                key,
                value: Some(v),
            } => {
                let g = self.consumer_group_entry(&key.group);
                let m = g
                    .members
                    .entry(key.member_id.clone())
                    .or_insert_with(|| ConsumerMember::new(&key.member_id));
                m.instance_id = v.instance_id;
                m.rack_id = v.rack_id;
                m.client_id = v.client_id;
                m.client_host = v.client_host;
                m.rebalance_timeout_ms = v.rebalance_timeout_ms;
                m.subscribed_topic_names = v.subscribed_topic_names;
                m.subscribed_topic_regex = v.subscribed_topic_regex;
                m.server_assignor = v.server_assignor;
                // Restored members get a full session from now.
                m.refresh_session(now_ms, session);
            }
            CoordinatorRecord::ConsumerGroupMemberMetadata { key, value: None } => {
                if let Some(g) = self.consumer_groups.get_mut(&key.group) {
                    g.members.remove(&key.member_id);
                    g.target.remove(&key.member_id);
                }
            }
            CoordinatorRecord::ConsumerGroupTargetAssignmentMember {
                key,
                value: Some(v),
            } => {
                let g = self.consumer_group_entry(&key.group);
                let mut target = Assignment::new();
                for tp in v.topic_partitions {
                    if !tp.partitions.is_empty() {
                        target.entry(tp.topic_id).or_default().extend(tp.partitions);
                    }
                }
                g.target.insert(key.member_id, target);
            }
            CoordinatorRecord::ConsumerGroupTargetAssignmentMember { key, value: None } => {
                if let Some(g) = self.consumer_groups.get_mut(&key.group) {
                    g.target.remove(&key.member_id);
                }
            }
            CoordinatorRecord::ConsumerGroupCurrentMemberAssignment {
                key,
                value: Some(v),
            } => {
                let g = self.consumer_group_entry(&key.group);
                let m = g
                    .members
                    .entry(key.member_id.clone())
                    .or_insert_with(|| ConsumerMember::new(&key.member_id));
                m.member_epoch = v.member_epoch;
                m.previous_member_epoch = v.previous_member_epoch;
                // Kafka's UNKNOWN (or a newer state) is treated as having to revoke:
                // the safe side, since it keeps partitions from moving meanwhile.
                m.state = MemberState::from_kafka_value(v.state)
                    .unwrap_or(MemberState::UnrevokedPartitions);
                m.assignment_epochs.clear();
                for list in [&v.assigned_partitions, &v.partitions_pending_revocation] {
                    for tp in list {
                        let epochs = tp.assignment_epochs.as_deref().unwrap_or(&[]);
                        for (i, p) in tp.partitions.iter().enumerate() {
                            if let Some(e) = epochs.get(i) {
                                m.assignment_epochs.insert((tp.topic_id, *p), *e);
                            }
                        }
                    }
                }
                m.assigned = from_list(&plain(&v.assigned_partitions));
                m.pending_revocation = from_list(&plain(&v.partitions_pending_revocation));
                m.refresh_session(now_ms, session);
                m.revocation_deadline_ms = (m.state == MemberState::UnrevokedPartitions)
                    .then(|| now_ms.saturating_add(i64::from(m.rebalance_timeout_ms.max(0))));
            }
            CoordinatorRecord::ConsumerGroupCurrentMemberAssignment { key, value: None } => {
                if let Some(m) = self
                    .consumer_groups
                    .get_mut(&key.group)
                    .and_then(|g| g.members.get_mut(&key.member_id))
                {
                    m.assigned.clear();
                    m.pending_revocation.clear();
                    m.assignment_epochs.clear();
                }
            }
            CoordinatorRecord::ConsumerGroupRegularExpression { .. }
            | CoordinatorRecord::OffsetCommit { .. }
            | CoordinatorRecord::GroupMetadata { .. } => {}
        }
    }

    fn consumer_group_entry(&mut self, group_id: &str) -> &mut ConsumerGroup {
        self.consumer_groups
            .entry(group_id.to_string())
            .or_insert_with(|| ConsumerGroup::new(group_id))
    }
}

fn plain(list: &[AssignedTopicPartitions]) -> Vec<super::TopicPartitions> {
    list.iter()
        .map(|tp| super::TopicPartitions {
            topic_id: tp.topic_id,
            partitions: tp.partitions.clone(),
        })
        .collect()
}
