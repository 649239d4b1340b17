//! Member and group state of a classic consumer group.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use crate::api::{JoinProtocol, RequestId};
use crate::error::GroupError;
use crate::records::{
    CoordinatorRecord, GroupMetadataKey, GroupMetadataValue, MemberMetadataValue,
};

/// The state of a classic group, as Kafka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; the group may still hold committed offsets.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Join phase over; waiting for the leader's assignment.
    CompletingRebalance,
    /// Members have their assignment.
    Stable,
    /// The group is being removed.
    Dead,
}

impl GroupState {
    /// The name Kafka prints for this state.
    pub fn name(&self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// One member of a classic group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub(crate) member_id: String,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) protocols: Vec<JoinProtocol>,
    pub(crate) assignment: Vec<u8>,
    /// JoinGroup request waiting for the join phase to end.
    pub(crate) awaiting_join: Option<(RequestId, i16)>,
    /// SyncGroup request waiting for the leader's assignment.
    pub(crate) awaiting_sync: Option<RequestId>,
    pub(crate) session_deadline_ms: i64,
}

impl Member {
    /// Member id.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Static instance id.
    pub fn group_instance_id(&self) -> Option<&str> {
        self.group_instance_id.as_deref()
    }

    /// Current assignment bytes.
    pub fn assignment(&self) -> &[u8] {
        &self.assignment
    }

    /// Metadata this member sent for `protocol`.
    pub(crate) fn metadata(&self, protocol: &str) -> Option<&[u8]> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.as_slice())
    }

    pub(crate) fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }

    /// Sessions pause while a member waits on a join or sync answer: the rebalance
    /// timeout bounds those phases instead (as in Kafka).
    pub(crate) fn session_expired(&self, now_ms: i64) -> bool {
        self.awaiting_join.is_none()
            && self.awaiting_sync.is_none()
            && self.session_deadline_ms <= now_ms
    }

    pub(crate) fn refresh_session(&mut self, now_ms: i64) {
        self.session_deadline_ms = now_ms.saturating_add(i64::from(self.session_timeout_ms));
    }
}

/// A committed offset of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// Offset.
    pub offset: i64,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
    /// When it was committed.
    pub commit_timestamp_ms: i64,
}

/// A classic consumer group: membership, rebalance progress and committed offsets.
#[derive(Debug, Clone)]
pub struct Group {
    pub(crate) group_id: String,
    pub(crate) state: GroupState,
    pub(crate) previous_state: GroupState,
    pub(crate) state_timestamp_ms: Option<i64>,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) generation_id: i32,
    pub(crate) leader_id: Option<String>,
    /// Members in join order; the order picks the next leader.
    pub(crate) members: IndexMap<String, Member>,
    /// group.instance.id -> member id of static members.
    pub(crate) static_members: HashMap<String, String>,
    /// Members told MEMBER_ID_REQUIRED, with the deadline for their second join.
    pub(crate) pending_members: HashMap<String, i64>,
    /// Members that got a join answer but have not sent SyncGroup yet.
    pub(crate) pending_sync: HashSet<String>,
    pub(crate) sync_deadline_ms: Option<i64>,
    /// When the join phase ends (rebalance timeout or initial delay).
    pub(crate) join_deadline_ms: Option<i64>,
    /// During the initial delay: how much of the rebalance timeout is left to extend it.
    pub(crate) initial_delay_remaining_ms: Option<i64>,
    pub(crate) new_member_added: bool,
    /// Topics the members subscribe to, when every subscription could be parsed.
    pub(crate) subscribed_topics: Option<HashSet<String>>,
    pub(crate) offsets: HashMap<(String, i32), CommittedOffset>,
    /// Offsets committed inside a transaction (TxnOffsetCommit), per producer id,
    /// until its COMMIT marker makes them offsets or its ABORT drops them.
    pub(crate) pending_txn_offsets: HashMap<i64, HashMap<(String, i32), CommittedOffset>>,
}

impl Group {
    pub(crate) fn new(group_id: &str, now_ms: i64) -> Self {
        Group {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            previous_state: GroupState::Empty,
            state_timestamp_ms: Some(now_ms),
            protocol_type: None,
            protocol_name: None,
            generation_id: 0,
            leader_id: None,
            members: IndexMap::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            pending_sync: HashSet::new(),
            sync_deadline_ms: None,
            join_deadline_ms: None,
            initial_delay_remaining_ms: None,
            new_member_added: false,
            subscribed_topics: None,
            offsets: HashMap::new(),
            pending_txn_offsets: HashMap::new(),
        }
    }

    /// Group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// Current state.
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// Current generation.
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// Leader member id.
    pub fn leader_id(&self) -> Option<&str> {
        self.leader_id.as_deref()
    }

    /// Protocol type ("consumer" for consumers).
    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    /// Chosen protocol of the current generation.
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// Members in join order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// The committed offset of a partition.
    pub fn offset(&self, topic: &str, partition: i32) -> Option<&CommittedOffset> {
        self.offsets.get(&(topic.to_string(), partition))
    }

    pub(crate) fn transition(&mut self, to: GroupState, now_ms: i64) {
        self.previous_state = self.state;
        self.state = to;
        self.state_timestamp_ms = Some(now_ms);
    }

    pub(crate) fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    /// The longest rebalance timeout of any member bounds the join phase.
    pub(crate) fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some())
    }

    /// Kafka's check that a joining member can fit the group: same protocol type and a
    /// protocol every other member supports too.
    pub(crate) fn supports_protocols(
        &self,
        joining_member: &str,
        protocol_type: &str,
        protocols: &[JoinProtocol],
    ) -> bool {
        let others = || {
            self.members
                .values()
                .filter(|m| m.member_id != joining_member)
        };
        if others().next().is_none() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|p| others().all(|m| m.supports(&p.name)))
    }

    /// Chooses the protocol all members support, by votes of each member's most
    /// preferred candidate; ties go to the earlier one in the first member's list.
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.members.values().all(|m| m.supports(name)))
            .collect();
        let mut votes = vec![0usize; candidates.len()];
        for member in self.members.values() {
            let vote = member
                .protocols
                .iter()
                .find_map(|p| candidates.iter().position(|c| *c == p.name));
            if let Some(i) = vote {
                votes[i] += 1;
            }
        }
        let mut best: Option<usize> = None;
        for (i, v) in votes.iter().enumerate() {
            if best.is_none_or(|b| *v > votes[b]) {
                best = Some(i);
            }
        }
        best.map(|i| candidates[i].to_string())
    }

    /// Kafka's `validateMember`: a static member is checked by instance id, so a replaced
    /// instance is told it is fenced.
    pub(crate) fn validate_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        match group_instance_id {
            Some(instance) => match self.static_members.get(instance) {
                None => Err(GroupError::UnknownMemberId),
                Some(current) if current != member_id => Err(GroupError::FencedInstanceId),
                Some(_) => Ok(()),
            },
            None if self.members.contains_key(member_id) => Ok(()),
            None => Err(GroupError::UnknownMemberId),
        }
    }

    /// True when a static instance is now held by another member id.
    pub(crate) fn is_static_member_fenced(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> bool {
        group_instance_id
            .and_then(|i| self.static_members.get(i))
            .is_some_and(|current| current != member_id)
    }

    /// The record that persists the current generation and assignments.
    pub(crate) fn metadata_record(&self) -> CoordinatorRecord {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        CoordinatorRecord::GroupMetadata {
            key: GroupMetadataKey {
                group: self.group_id.clone(),
            },
            value: Some(GroupMetadataValue {
                // Kafka writes "" for a group without a protocol type and -1 for an
                // unknown state timestamp.
                protocol_type: self.protocol_type.clone().unwrap_or_default(),
                generation: self.generation_id,
                protocol: self.protocol_name.clone(),
                leader: self.leader_id.clone(),
                current_state_timestamp_ms: self.state_timestamp_ms.unwrap_or(-1),
                members: self
                    .members
                    .values()
                    .map(|m| MemberMetadataValue {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        rebalance_timeout_ms: m.rebalance_timeout_ms,
                        session_timeout_ms: m.session_timeout_ms,
                        subscription: m.metadata(&protocol).unwrap_or_default().to_vec(),
                        assignment: m.assignment.clone(),
                    })
                    .collect(),
            }),
        }
    }
}
