//! One member of a consumer-protocol group.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Assignment, TopicId, TopicLookup};

/// Member epoch a static member sends when it leaves for a while (it keeps its place).
pub(crate) const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;
/// Member epoch a member sends when it leaves for good.
pub(crate) const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;

/// Where a member stands on its way to the target assignment (Kafka's `MemberState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberState {
    /// The member owns its whole share of the target assignment at the group's epoch.
    Stable,
    /// The member must first give up partitions (it stays at its old epoch until it
    /// reports, in its owned partitions, that it has).
    UnrevokedPartitions,
    /// The member waits for partitions other members have not released yet.
    UnreleasedPartitions,
}

impl MemberState {
    /// The name Kafka logs for this state.
    pub fn name(&self) -> &'static str {
        match self {
            MemberState::Stable => "STABLE",
            MemberState::UnrevokedPartitions => "UNREVOKED_PARTITIONS",
            MemberState::UnreleasedPartitions => "UNRELEASED_PARTITIONS",
        }
    }

    /// Kafka's byte for this state in the current-assignment record.
    pub fn kafka_value(&self) -> i8 {
        match self {
            MemberState::Stable => 0,
            MemberState::UnrevokedPartitions => 1,
            MemberState::UnreleasedPartitions => 2,
        }
    }

    /// The state for Kafka's byte; None for Kafka's UNKNOWN (127) or anything else.
    pub fn from_kafka_value(value: i8) -> Option<Self> {
        match value {
            0 => Some(MemberState::Stable),
            1 => Some(MemberState::UnrevokedPartitions),
            2 => Some(MemberState::UnreleasedPartitions),
            _ => None,
        }
    }
}

/// A consumer-protocol member: subscription, epochs and current assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMember {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) subscribed_topic_names: Vec<String>,
    pub(crate) subscribed_topic_regex: Option<String>,
    pub(crate) server_assignor: Option<String>,
    pub(crate) member_epoch: i32,
    pub(crate) previous_member_epoch: i32,
    pub(crate) state: MemberState,
    /// Partitions the member owns now.
    pub(crate) assigned: Assignment,
    /// Partitions the member was asked to give up and has not yet.
    pub(crate) pending_revocation: Assignment,
    /// The member epoch at which each owned (or revoking) partition was assigned,
    /// which Kafka's current-assignment record carries; a partition missing here was
    /// assigned at the member's current epoch.
    pub(crate) assignment_epochs: BTreeMap<(TopicId, i32), i32>,
    pub(crate) session_deadline_ms: i64,
    /// Set while revoking: past it the member is removed (its rebalance timeout).
    pub(crate) revocation_deadline_ms: Option<i64>,
}

impl ConsumerMember {
    pub(crate) fn new(member_id: &str) -> Self {
        ConsumerMember {
            member_id: member_id.to_string(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: -1,
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            server_assignor: None,
            member_epoch: 0,
            previous_member_epoch: 0,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            assignment_epochs: BTreeMap::new(),
            session_deadline_ms: 0,
            revocation_deadline_ms: None,
        }
    }

    /// Member id.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Static instance id.
    pub fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// Current member epoch.
    pub fn member_epoch(&self) -> i32 {
        self.member_epoch
    }

    /// Reconciliation state.
    pub fn state(&self) -> MemberState {
        self.state
    }

    /// Partitions the member owns now.
    pub fn assigned(&self) -> &Assignment {
        &self.assigned
    }

    /// Partitions the member still has to revoke.
    pub fn pending_revocation(&self) -> &Assignment {
        &self.pending_revocation
    }

    /// Topic names subscribed by name.
    pub fn subscribed_topic_names(&self) -> &[String] {
        &self.subscribed_topic_names
    }

    /// Topic regex subscription.
    pub fn subscribed_topic_regex(&self) -> Option<&str> {
        self.subscribed_topic_regex.as_deref()
    }

    /// True once the member owns its target at `target_epoch`.
    pub(crate) fn is_reconciled_to(&self, target_epoch: i32) -> bool {
        self.state == MemberState::Stable && self.member_epoch == target_epoch
    }

    /// Names of existing topics this member subscribes to, by name or by regex
    /// (a regex must match the whole name, as Kafka's RE2J `matches`).
    pub(crate) fn subscribed_topics(&self, topics: &dyn TopicLookup) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .subscribed_topic_names
            .iter()
            .filter(|n| topics.topic(n).is_some())
            .cloned()
            .collect();
        if let Some(re) = self.subscribed_topic_regex.as_deref().and_then(full_match) {
            out.extend(topics.topic_names().into_iter().filter(|n| re.is_match(n)));
        }
        out
    }

    /// The epoch `(t, p)` was assigned at.
    pub(crate) fn assignment_epoch_of(&self, t: TopicId, p: i32) -> i32 {
        self.assignment_epochs
            .get(&(t, p))
            .copied()
            .unwrap_or(self.member_epoch)
    }

    /// After a reconciliation step from `before`: partitions the member already had
    /// keep their epoch, new ones take the member's new epoch, gone ones are dropped.
    pub(crate) fn carry_assignment_epochs(&mut self, before: &ConsumerMember) {
        let mut epochs = BTreeMap::new();
        for (t, ps) in self.assigned.iter().chain(self.pending_revocation.iter()) {
            for &p in ps {
                let had = before.assigned.get(t).is_some_and(|s| s.contains(&p))
                    || before
                        .pending_revocation
                        .get(t)
                        .is_some_and(|s| s.contains(&p));
                let epoch = if had {
                    before.assignment_epoch_of(*t, p)
                } else {
                    self.member_epoch
                };
                epochs.insert((*t, p), epoch);
            }
        }
        self.assignment_epochs = epochs;
    }

    pub(crate) fn refresh_session(&mut self, now_ms: i64, session_timeout_ms: i32) {
        self.session_deadline_ms = now_ms.saturating_add(i64::from(session_timeout_ms));
    }
}

/// Compiles `pattern` anchored at both ends; None when it is not a valid regex.
pub(crate) fn full_match(pattern: &str) -> Option<regex::Regex> {
    regex::Regex::new(&format!("^(?:{pattern})$")).ok()
}
