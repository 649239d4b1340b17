//! The coordinator: every group of this broker's `__consumer_offsets` partitions,
//! plus replay of persisted records at startup.

use std::collections::HashMap;

use crate::api::{Effects, JoinGroupResponse, JoinProtocol, SyncGroupResponse};
use crate::config::GroupConfig;
use crate::consumer::group::ConsumerGroup;
use crate::error::GroupError;
use crate::group::{CommittedOffset, Group, GroupState, Member};
use crate::member_id::MemberIdGenerator;
use crate::records::CoordinatorRecord;

/// All classic groups and their offsets; a pure state machine driven by the broker.
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    pub(crate) config: GroupConfig,
    pub(crate) groups: HashMap<String, Group>,
    /// Consumer-protocol (KIP-848) groups; their offsets live in `groups` under the same id.
    pub(crate) consumer_groups: HashMap<String, ConsumerGroup>,
    pub(crate) member_ids: MemberIdGenerator,
    /// When `tick` next sweeps expired offsets and dead groups.
    pub(crate) next_sweep_ms: i64,
}

impl GroupCoordinator {
    /// A coordinator with no groups; `member_id_seed` should differ across restarts
    /// (e.g. random or wall-clock) so fresh member ids do not repeat.
    pub fn new(config: GroupConfig, member_id_seed: u64) -> Self {
        GroupCoordinator {
            config,
            groups: HashMap::new(),
            consumer_groups: HashMap::new(),
            member_ids: MemberIdGenerator::new(member_id_seed),
            next_sweep_ms: i64::MIN,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// A group by id, for inspection.
    pub fn group(&self, group_id: &str) -> Option<&Group> {
        self.groups.get(group_id)
    }

    /// A consumer-protocol group by id, for inspection.
    pub fn consumer_group(&self, group_id: &str) -> Option<&ConsumerGroup> {
        self.consumer_groups.get(group_id)
    }

    /// Drops the groups for which `moved_away` is true (e.g. this broker stopped leading
    /// their `__consumer_offsets` partition, or is shutting down). Waiting JoinGroup and
    /// SyncGroup requests of those groups are answered NOT_COORDINATOR so clients look
    /// the coordinator up again.
    pub fn unload_groups(&mut self, moved_away: impl Fn(&str) -> bool) -> Effects {
        let mut effects = Effects::default();
        self.consumer_groups.retain(|id, _| !moved_away(id));
        let mut ids: Vec<String> = self
            .groups
            .keys()
            .filter(|id| moved_away(id))
            .cloned()
            .collect();
        ids.sort();
        for id in ids {
            let Some(group) = self.groups.remove(&id) else {
                continue;
            };
            for member in group.members.values() {
                if let Some((request, _)) = member.awaiting_join {
                    effects.join(
                        request,
                        JoinGroupResponse::error(GroupError::NotCoordinator, &member.member_id),
                    );
                }
                if let Some(request) = member.awaiting_sync {
                    effects.sync(
                        request,
                        SyncGroupResponse::error(GroupError::NotCoordinator),
                    );
                }
            }
        }
        effects
    }

    /// An empty coordinator with this one's configuration, to replay one
    /// `__consumer_offsets` partition into without holding up the live one; hand
    /// the result to [`GroupCoordinator::adopt_groups`].
    pub fn loader(&self) -> GroupCoordinator {
        // The seed only feeds member ids, which a loader never makes.
        GroupCoordinator::new(self.config.clone(), 0)
    }

    /// Takes over every group of `loaded` (a [`GroupCoordinator::loader`] that replayed
    /// a partition this broker now leads). A group id already here is replaced: the
    /// partition's log, just replayed, is the truth about it.
    pub fn adopt_groups(&mut self, loaded: GroupCoordinator) {
        self.groups.extend(loaded.groups);
        self.consumer_groups.extend(loaded.consumer_groups);
    }

    /// Ids of every group held, classic or consumer protocol.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups
            .keys()
            .chain(
                self.consumer_groups
                    .keys()
                    .filter(|id| !self.groups.contains_key(*id)),
            )
            .map(String::as_str)
    }

    /// A fresh member id unused in `group`.
    pub(crate) fn new_member_id(&mut self, group_id: &str, client_id: &str) -> String {
        loop {
            let id = self.member_ids.next(client_id);
            let taken = self.groups.get(group_id).is_some_and(|g| {
                g.members.contains_key(&id) || g.pending_members.contains_key(&id)
            });
            if !taken {
                return id;
            }
        }
    }

    /// Applies a record read back from `__consumer_offsets` at startup (in log order),
    /// restoring offsets and the last persisted generation. Members restored into a
    /// Stable group get a fresh session starting at `now_ms`.
    pub fn replay(&mut self, record: CoordinatorRecord, now_ms: i64) {
        match record {
            r @ (CoordinatorRecord::ConsumerGroupMetadata { .. }
            | CoordinatorRecord::ConsumerGroupPartitionMetadata { .. }
            | CoordinatorRecord::ConsumerGroupMemberMetadata { .. }
            | CoordinatorRecord::ConsumerGroupTargetAssignmentMetadata { .. }
            | CoordinatorRecord::ConsumerGroupTargetAssignmentMember { .. }
            | CoordinatorRecord::ConsumerGroupCurrentMemberAssignment { .. }
            | CoordinatorRecord::ConsumerGroupRegularExpression { .. }) => {
                self.replay_consumer(r, now_ms)
            }
            CoordinatorRecord::OffsetCommit {
                key,
                value: Some(v),
            } => {
                let group = self
                    .groups
                    .entry(key.group.clone())
                    .or_insert_with(|| Group::new(&key.group, now_ms));
                group.offsets.insert(
                    (key.topic, key.partition),
                    CommittedOffset {
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata,
                        commit_timestamp_ms: v.commit_timestamp_ms,
                    },
                );
            }
            CoordinatorRecord::OffsetCommit { key, value: None } => {
                if let Some(group) = self.groups.get_mut(&key.group) {
                    group.offsets.remove(&(key.topic, key.partition));
                }
            }
            CoordinatorRecord::GroupMetadata {
                key,
                value: Some(v),
            } => {
                let (offsets, pending) = self
                    .groups
                    .remove(&key.group)
                    .map(|g| (g.offsets, g.pending_txn_offsets))
                    .unwrap_or_default();
                let mut group = Group::new(&key.group, now_ms);
                group.offsets = offsets;
                group.pending_txn_offsets = pending;
                group.protocol_type = Some(v.protocol_type).filter(|t| !t.is_empty());
                group.generation_id = v.generation;
                group.protocol_name = v.protocol.clone();
                group.leader_id = v.leader;
                group.state_timestamp_ms = Some(v.current_state_timestamp_ms).filter(|t| *t >= 0);
                let protocol = v.protocol.unwrap_or_default();
                for m in v.members {
                    let mut member = Member {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        client_id: m.client_id,
                        client_host: m.client_host,
                        session_timeout_ms: m.session_timeout_ms,
                        rebalance_timeout_ms: m.rebalance_timeout_ms,
                        protocols: vec![JoinProtocol {
                            name: protocol.clone(),
                            metadata: m.subscription,
                        }],
                        assignment: m.assignment,
                        awaiting_join: None,
                        awaiting_sync: None,
                        session_deadline_ms: 0,
                    };
                    member.refresh_session(now_ms);
                    if let Some(instance) = m.group_instance_id {
                        group.static_members.insert(instance, m.member_id.clone());
                    }
                    group.members.insert(m.member_id, member);
                }
                if !group.members.is_empty() {
                    group.state = GroupState::Stable;
                    group.subscribed_topics = group.compute_subscribed_topics();
                }
                self.groups.insert(key.group, group);
            }
            CoordinatorRecord::GroupMetadata { key, value: None } => {
                if let Some(old) = self.groups.remove(&key.group) {
                    // Offsets outlive a membership tombstone until their own tombstones.
                    if !old.offsets.is_empty() {
                        let mut group = Group::new(&key.group, now_ms);
                        group.offsets = old.offsets;
                        self.groups.insert(key.group, group);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CommitPartition, JoinGroupRequest, OffsetCommitRequest, RequestId};
    use crate::records::partition_for_group;

    fn commit(c: &mut GroupCoordinator, group: &str, offset: i64) -> Vec<CoordinatorRecord> {
        let req = OffsetCommitRequest {
            group_id: group.to_string(),
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
        };
        c.commit_offsets(req, 1_000).1
    }

    fn committed(c: &GroupCoordinator, group: &str) -> Option<i64> {
        c.group(group)
            .and_then(|g| g.offsets.get(&("t".to_string(), 0)))
            .map(|o| o.offset)
    }

    /// Two group ids that live in different partitions of a 4-partition topic.
    fn groups_in_two_partitions() -> (String, String) {
        let a = "group-a".to_string();
        let pa = partition_for_group(&a, 4);
        let b = (0..100)
            .map(|i| format!("group-{i}"))
            .find(|g| partition_for_group(g, 4) != pa)
            .expect("some id hashes elsewhere");
        (a, b)
    }

    #[test]
    fn unloading_one_partition_keeps_the_groups_of_the_others() {
        let (a, b) = groups_in_two_partitions();
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        commit(&mut c, &a, 5);
        commit(&mut c, &b, 7);
        let pa = partition_for_group(&a, 4);
        let effects = c.unload_groups(|g| partition_for_group(g, 4) == pa);
        assert!(effects.records.is_empty(), "unloading writes nothing");
        assert_eq!(committed(&c, &a), None);
        assert_eq!(committed(&c, &b), Some(7));
        assert_eq!(c.group_ids().collect::<Vec<_>>(), vec![b.as_str()]);
    }

    #[test]
    fn unloading_answers_a_waiting_join_not_coordinator() {
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        let join = |member: &str| JoinGroupRequest {
            group_id: "g".into(),
            member_id: member.into(),
            group_instance_id: None,
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            protocol_type: "consumer".into(),
            protocols: vec![crate::api::JoinProtocol {
                name: "range".into(),
                metadata: vec![],
            }],
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            api_version: 9,
            reason: None,
        };
        let first = c.join_group(RequestId(1), join(""), 0);
        let member = match &first.completions[0].response {
            crate::api::GroupResponse::Join(r) => r.member_id.clone(),
            other => panic!("unexpected {other:?}"),
        };
        // The new group waits out the initial rebalance delay: the join is pending.
        let waiting = c.join_group(RequestId(2), join(&member), 0);
        assert!(waiting.completions.is_empty());
        let effects = c.unload_groups(|g| g == "g");
        assert_eq!(effects.completions.len(), 1);
        assert_eq!(effects.completions[0].request, RequestId(2));
        assert!(matches!(
            &effects.completions[0].response,
            crate::api::GroupResponse::Join(r) if r.error == Some(GroupError::NotCoordinator)
        ));
        assert!(c.group("g").is_none());
        assert!(
            c.tick(100_000).completions.is_empty(),
            "nothing left to time out"
        );
    }

    #[test]
    fn a_loaded_partition_is_adopted_whole() {
        let (a, b) = groups_in_two_partitions();
        let mut live = GroupCoordinator::new(GroupConfig::default(), 1);
        commit(&mut live, &b, 7);
        // What another broker wrote for `a`, replayed from its log.
        let mut writer = GroupCoordinator::new(GroupConfig::default(), 2);
        let records = commit(&mut writer, &a, 42);
        let mut loader = live.loader();
        for r in records {
            loader.replay(r, 2_000);
        }
        live.adopt_groups(loader);
        assert_eq!(committed(&live, &a), Some(42));
        assert_eq!(committed(&live, &b), Some(7));
    }
}
