//! A consumer-protocol group: epochs, members and the target assignment.

use std::collections::{BTreeMap, BTreeSet};

use super::assignor::{assign, AssignmentSpec, ServerAssignor};
use super::member::ConsumerMember;
use super::{Assignment, TopicId, TopicInfo, TopicLookup};

/// The state of a consumer-protocol group, as Kafka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The group epoch moved past the target assignment's.
    Assigning,
    /// Some member has not reached the target assignment yet.
    Reconciling,
    /// Every member owns its target.
    Stable,
}

impl ConsumerGroupState {
    /// The name Kafka prints for this state.
    pub fn name(&self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// A consumer-protocol group. Its committed offsets live with the classic [`crate::Group`]
/// of the same id, so both protocols share one offsets store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub(crate) group_id: String,
    pub(crate) group_epoch: i32,
    pub(crate) assignment_epoch: i32,
    /// Members by id (ordered, so every walk over them is deterministic).
    pub(crate) members: BTreeMap<String, ConsumerMember>,
    /// Each member's share of the target assignment.
    pub(crate) target: BTreeMap<String, Assignment>,
    /// Subscribed topics as resolved at the last epoch bump.
    pub(crate) subscribed_topics: BTreeMap<String, TopicInfo>,
    /// When the assignor last computed the target (0: not since a restart).
    pub(crate) assignment_timestamp_ms: i64,
    /// The metadata hash a replayed group record carried, until the first refresh:
    /// the records keep the hash, not the topics, so a restart finds the topics again
    /// from metadata and compares hashes to tell whether anything changed meanwhile.
    pub(crate) restored_metadata_hash: Option<i64>,
}

impl ConsumerGroup {
    pub(crate) fn new(group_id: &str) -> Self {
        // Kafka 4.4 starts a group at epoch 1 with its (empty) target at epoch 1, and
        // records neither until they change: the first member to subscribe moves the
        // group to epoch 2.
        ConsumerGroup {
            group_id: group_id.to_string(),
            group_epoch: 1,
            assignment_epoch: 1,
            members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscribed_topics: BTreeMap::new(),
            assignment_timestamp_ms: 0,
            restored_metadata_hash: None,
        }
    }

    /// Group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// Group epoch.
    pub fn group_epoch(&self) -> i32 {
        self.group_epoch
    }

    /// Epoch of the target assignment.
    pub fn assignment_epoch(&self) -> i32 {
        self.assignment_epoch
    }

    /// A member by id.
    pub fn member(&self, member_id: &str) -> Option<&ConsumerMember> {
        self.members.get(member_id)
    }

    /// Members in id order.
    pub fn members(&self) -> impl Iterator<Item = &ConsumerMember> {
        self.members.values()
    }

    /// A member's share of the target assignment.
    pub fn target_of(&self, member_id: &str) -> Option<&Assignment> {
        self.target.get(member_id)
    }

    /// Kafka's state rule: Empty, Assigning, Reconciling or Stable.
    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .all(|m| m.is_reconciled_to(self.assignment_epoch))
        {
            ConsumerGroupState::Stable
        } else {
            ConsumerGroupState::Reconciling
        }
    }

    /// The member holding `instance_id`.
    pub(crate) fn static_member(&self, instance_id: &str) -> Option<&ConsumerMember> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
    }

    /// Resolves every member's subscription against current metadata.
    pub(crate) fn resolve_subscriptions(
        &self,
        topics: &dyn TopicLookup,
    ) -> BTreeMap<String, TopicInfo> {
        let mut out = BTreeMap::new();
        for m in self.members.values() {
            for name in m.subscribed_topics(topics) {
                if let Some(info) = topics.topic(&name) {
                    out.insert(name, info);
                }
            }
        }
        out
    }

    /// The assignor most members prefer (ties: first in the configured list), else the
    /// configured default.
    pub(crate) fn preferred_assignor(&self, configured: &[String]) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m.server_assignor.as_deref() {
                *votes.entry(a).or_default() += 1;
            }
        }
        let best = configured
            .iter()
            .filter_map(|name| votes.get(name.as_str()).map(|v| (*v, name)))
            .fold(None::<(usize, &String)>, |best, (v, name)| match best {
                Some((bv, _)) if bv >= v => best,
                _ => Some((v, name)),
            });
        best.map(|(_, n)| n.clone())
            .or_else(|| configured.first().cloned())
            .unwrap_or_else(|| "uniform".to_string())
    }

    /// Recomputes the target assignment for the current group epoch.
    pub(crate) fn compute_target(&mut self, topics: &dyn TopicLookup, assignors: &[String]) {
        let assignor = ServerAssignor::from_name(&self.preferred_assignor(assignors))
            .unwrap_or(ServerAssignor::Uniform);
        let members: BTreeMap<String, BTreeSet<TopicId>> = self
            .members
            .values()
            .map(|m| {
                let ids = m
                    .subscribed_topics(topics)
                    .iter()
                    .filter_map(|n| self.subscribed_topics.get(n).map(|t| t.id))
                    .collect();
                (m.member_id.clone(), ids)
            })
            .collect();
        let partitions = self
            .subscribed_topics
            .values()
            .map(|t| (t.id, t.partitions))
            .collect();
        let spec = AssignmentSpec {
            members,
            partitions,
            previous: &self.target,
        };
        self.target = assign(assignor, &spec);
        self.assignment_epoch = self.group_epoch;
    }

    /// Re-resolves subscriptions; a change in topics or partition counts bumps the
    /// group epoch. Returns whether it did.
    pub(crate) fn refresh_subscriptions(&mut self, topics: &dyn TopicLookup) -> bool {
        let resolved = self.resolve_subscriptions(topics);
        let restored = self.restored_metadata_hash.take();
        if resolved == self.subscribed_topics {
            return false;
        }
        let unchanged_since_restart =
            restored.is_some_and(|hash| hash == super::metadata_hash::group_hash(&resolved));
        self.subscribed_topics = resolved;
        !unchanged_since_restart
    }

    /// True when a member other than `member_id` owns or is still revoking `(t, p)`.
    pub(crate) fn held_by_other(&self, member_id: &str, t: TopicId, p: i32) -> bool {
        self.members.values().any(|m| {
            m.member_id != member_id
                && (m.assigned.get(&t).is_some_and(|ps| ps.contains(&p))
                    || m.pending_revocation
                        .get(&t)
                        .is_some_and(|ps| ps.contains(&p)))
        })
    }
}
