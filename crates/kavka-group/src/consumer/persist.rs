//! Records that keep consumer-protocol groups across restarts: one per group (epochs,
//! resolved topics) and one per member (subscription, epochs, current and target
//! assignment). A step writes only what changed, found by comparing before and after.

use super::group::ConsumerGroup;
use super::member::ConsumerMember;
use super::{from_list, to_list};
use crate::coordinator::GroupCoordinator;
use crate::records::{
    ConsumerGroupKey, ConsumerGroupValue, ConsumerMemberKey, ConsumerMemberValue, CoordinatorRecord,
};

fn group_value(g: &ConsumerGroup) -> ConsumerGroupValue {
    ConsumerGroupValue {
        group_epoch: g.group_epoch,
        assignment_epoch: g.assignment_epoch,
        subscribed_topics: g.subscribed_topics.clone(),
    }
}

fn member_value(g: &ConsumerGroup, m: &ConsumerMember) -> ConsumerMemberValue {
    ConsumerMemberValue {
        instance_id: m.instance_id.clone(),
        rack_id: m.rack_id.clone(),
        client_id: m.client_id.clone(),
        client_host: m.client_host.clone(),
        rebalance_timeout_ms: m.rebalance_timeout_ms,
        subscribed_topic_names: m.subscribed_topic_names.clone(),
        subscribed_topic_regex: m.subscribed_topic_regex.clone(),
        server_assignor: m.server_assignor.clone(),
        member_epoch: m.member_epoch,
        previous_member_epoch: m.previous_member_epoch,
        state: m.state,
        assigned: to_list(&m.assigned),
        pending_revocation: to_list(&m.pending_revocation),
        target: g.target.get(&m.member_id).map(to_list).unwrap_or_default(),
    }
}

/// The records turning `before` into `after` (None: the group does not exist).
pub(crate) fn diff(
    group_id: &str,
    before: Option<&ConsumerGroup>,
    after: Option<&ConsumerGroup>,
) -> Vec<CoordinatorRecord> {
    let mut records = Vec::new();
    let old = before.map(group_value);
    let new = after.map(group_value);
    if old != new {
        records.push(CoordinatorRecord::ConsumerGroup {
            key: ConsumerGroupKey {
                group: group_id.to_string(),
            },
            value: new,
        });
    }
    let mut ids: Vec<&String> = before
        .iter()
        .chain(after.iter())
        .flat_map(|g| g.members.keys())
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let old = before.and_then(|g| g.members.get(id).map(|m| member_value(g, m)));
        let new = after.and_then(|g| g.members.get(id).map(|m| member_value(g, m)));
        if old != new {
            records.push(CoordinatorRecord::ConsumerMember {
                key: ConsumerMemberKey {
                    group: group_id.to_string(),
                    member_id: id.clone(),
                },
                value: new,
            });
        }
    }
    records
}

impl GroupCoordinator {
    /// Replays a consumer-protocol record (see [`GroupCoordinator::replay`]).
    pub(crate) fn replay_consumer(&mut self, record: CoordinatorRecord, now_ms: i64) {
        match record {
            CoordinatorRecord::ConsumerGroup {
                key,
                value: Some(v),
            } => {
                let g = self
                    .consumer_groups
                    .entry(key.group.clone())
                    .or_insert_with(|| ConsumerGroup::new(&key.group));
                g.group_epoch = v.group_epoch;
                g.assignment_epoch = v.assignment_epoch;
                g.subscribed_topics = v.subscribed_topics;
            }
            CoordinatorRecord::ConsumerGroup { key, value: None } => {
                self.consumer_groups.remove(&key.group);
            }
            CoordinatorRecord::ConsumerMember {
                key,
                value: Some(v),
            } => {
                let session = self.config.consumer_session_timeout_ms;
                let g = self
                    .consumer_groups
                    .entry(key.group.clone())
                    .or_insert_with(|| ConsumerGroup::new(&key.group));
                let mut m = ConsumerMember::new(&key.member_id);
                m.instance_id = v.instance_id;
                m.rack_id = v.rack_id;
                m.client_id = v.client_id;
                m.client_host = v.client_host;
                m.rebalance_timeout_ms = v.rebalance_timeout_ms;
                m.subscribed_topic_names = v.subscribed_topic_names;
                m.subscribed_topic_regex = v.subscribed_topic_regex;
                m.server_assignor = v.server_assignor;
                m.member_epoch = v.member_epoch;
                m.previous_member_epoch = v.previous_member_epoch;
                m.state = v.state;
                m.assigned = from_list(&v.assigned);
                m.pending_revocation = from_list(&v.pending_revocation);
                // Restored members get a full session (and revocation window) from now.
                m.refresh_session(now_ms, session);
                if m.state == super::member::MemberState::UnrevokedPartitions {
                    m.revocation_deadline_ms =
                        Some(now_ms.saturating_add(i64::from(m.rebalance_timeout_ms.max(0))));
                }
                g.target.insert(key.member_id.clone(), from_list(&v.target));
                g.members.insert(key.member_id, m);
            }
            CoordinatorRecord::ConsumerMember { key, value: None } => {
                if let Some(g) = self.consumer_groups.get_mut(&key.group) {
                    g.members.remove(&key.member_id);
                    g.target.remove(&key.member_id);
                }
            }
            CoordinatorRecord::OffsetCommit { .. } | CoordinatorRecord::GroupMetadata { .. } => {}
        }
    }
}
