//! The rebalance machinery shared by join, sync, leave and timers: entering the join
//! phase, ending it with a new generation, and removing members.

use crate::api::{Effects, JoinGroupMember, JoinGroupResponse, SyncGroupResponse};
use crate::config::GroupConfig;
use crate::error::GroupError;
use crate::group::{Group, GroupState, Member};
use crate::subscription;

impl Group {
    /// Adds a member that is waiting on its JoinGroup answer.
    pub(crate) fn add_member(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            // The first member decides the protocol type of a (re)started group.
            self.protocol_type = Some(protocol_type.to_string());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        self.pending_members.remove(&member.member_id);
        // A member arriving during the initial delay extends it (Kafka's newMemberAdded).
        if self.state == GroupState::PreparingRebalance && self.initial_delay_remaining_ms.is_some()
        {
            self.new_member_added = true;
        }
        self.members.insert(member.member_id.clone(), member);
    }

    /// Kafka's `maybePrepareRebalanceOrCompleteJoin`.
    pub(crate) fn rebalance_or_complete_join(
        &mut self,
        config: &GroupConfig,
        now_ms: i64,
        effects: &mut Effects,
    ) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty => {
                self.prepare_rebalance(config, now_ms, effects)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now_ms, effects),
            GroupState::Dead => {}
        }
    }

    /// Enters PreparingRebalance: pending syncs are told to rejoin and the join timer starts.
    pub(crate) fn prepare_rebalance(
        &mut self,
        config: &GroupConfig,
        now_ms: i64,
        effects: &mut Effects,
    ) {
        if self.state == GroupState::CompletingRebalance {
            for member in self.members.values_mut() {
                if let Some(request) = member.awaiting_sync.take() {
                    effects.sync(
                        request,
                        SyncGroupResponse::error(GroupError::RebalanceInProgress),
                    );
                }
            }
        }
        self.pending_sync.clear();
        self.sync_deadline_ms = None;
        let initial = self.state == GroupState::Empty;
        let rebalance_timeout = self.rebalance_timeout_ms();
        if initial {
            self.join_deadline_ms = Some(now_ms.saturating_add(config.initial_rebalance_delay_ms));
            self.initial_delay_remaining_ms =
                Some((rebalance_timeout - config.initial_rebalance_delay_ms).max(0));
            self.new_member_added = false;
        } else {
            self.join_deadline_ms = Some(now_ms.saturating_add(rebalance_timeout));
            self.initial_delay_remaining_ms = None;
        }
        self.transition(GroupState::PreparingRebalance, now_ms);
        // A new group always waits out the initial delay to gather more members.
        if !initial {
            self.maybe_complete_join(now_ms, effects);
        }
    }

    /// Ends the join phase early once every known member has rejoined.
    pub(crate) fn maybe_complete_join(&mut self, now_ms: i64, effects: &mut Effects) {
        if self.state == GroupState::PreparingRebalance
            && self.all_members_joined()
            && self.previous_state != GroupState::Empty
        {
            self.complete_join(now_ms, effects);
        }
    }

    /// The initial-delay timer fired: extend it while new members keep arriving and
    /// rebalance timeout is left, else end the join phase.
    pub(crate) fn on_join_deadline(
        &mut self,
        config: &GroupConfig,
        now_ms: i64,
        effects: &mut Effects,
    ) {
        if let Some(remaining) = self.initial_delay_remaining_ms {
            if self.new_member_added && remaining > 0 {
                let delay = config.initial_rebalance_delay_ms.min(remaining);
                self.new_member_added = false;
                self.initial_delay_remaining_ms =
                    Some((remaining - config.initial_rebalance_delay_ms).max(0));
                self.join_deadline_ms = Some(now_ms.saturating_add(delay));
                return;
            }
        }
        self.complete_join(now_ms, effects);
    }

    /// Ends the join phase: drops members that did not rejoin, starts the next
    /// generation and answers every waiting JoinGroup.
    pub(crate) fn complete_join(&mut self, now_ms: i64, effects: &mut Effects) {
        self.join_deadline_ms = None;
        self.initial_delay_remaining_ms = None;
        self.new_member_added = false;
        let missing: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in missing {
            self.detach_member(&member_id, effects);
        }
        self.generation_id = self.generation_id.wrapping_add(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = None;
            self.transition(GroupState::Empty, now_ms);
            effects.records.push(self.metadata_record());
            return;
        }
        self.protocol_name = self.select_protocol();
        self.subscribed_topics = self.compute_subscribed_topics();
        self.transition(GroupState::CompletingRebalance, now_ms);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for member_id in &ids {
            let response = self.join_response(member_id, false);
            if let Some(member) = self.members.get_mut(member_id) {
                if let Some((request, _)) = member.awaiting_join.take() {
                    effects.join(request, response);
                }
                member.refresh_session(now_ms);
            }
        }
        // Members that never send SyncGroup are removed after the rebalance timeout.
        self.pending_sync = ids.into_iter().collect();
        self.sync_deadline_ms = Some(now_ms.saturating_add(self.rebalance_timeout_ms()));
    }

    /// The JoinGroup answer for `member_id` in the current generation; the leader sees
    /// every member's metadata unless it must skip the assignment.
    pub(crate) fn join_response(
        &self,
        member_id: &str,
        skip_assignment: bool,
    ) -> JoinGroupResponse {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if self.is_leader(member_id) {
            self.members
                .values()
                .map(|m| JoinGroupMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata(&protocol).unwrap_or_default().to_vec(),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResponse {
            error: None,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader_id.clone().unwrap_or_default(),
            skip_assignment,
            member_id: member_id.to_string(),
            members,
        }
    }

    pub(crate) fn compute_subscribed_topics(&self) -> Option<std::collections::HashSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = std::collections::HashSet::new();
        for member in self.members.values() {
            topics.extend(subscription::topics(member.metadata(protocol)?)?);
        }
        Some(topics)
    }

    /// Removes a member and moves the group on: rebalance, or finish a join phase
    /// that was only waiting for it.
    pub(crate) fn remove_member(
        &mut self,
        member_id: &str,
        config: &GroupConfig,
        now_ms: i64,
        effects: &mut Effects,
    ) {
        self.detach_member(member_id, effects);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(config, now_ms, effects)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now_ms, effects),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Takes a member out of the group, answering its waiting requests with
    /// UNKNOWN_MEMBER_ID so no connection waits forever.
    pub(crate) fn detach_member(&mut self, member_id: &str, effects: &mut Effects) {
        let Some(member) = self.members.shift_remove(member_id) else {
            return;
        };
        if let Some((request, _)) = member.awaiting_join {
            effects.join(
                request,
                JoinGroupResponse::error(GroupError::UnknownMemberId, member_id),
            );
        }
        if let Some(request) = member.awaiting_sync {
            effects.sync(
                request,
                SyncGroupResponse::error(GroupError::UnknownMemberId),
            );
        }
        if let Some(instance) = &member.group_instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        self.pending_sync.remove(member_id);
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
    }
}
