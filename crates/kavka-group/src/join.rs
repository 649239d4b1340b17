//! JoinGroup: new, pending, existing and static members.

use crate::api::{Effects, JoinGroupRequest, JoinGroupResponse, RequestId};
use crate::config::GroupConfig;
use crate::coordinator::GroupCoordinator;
use crate::error::GroupError;
use crate::group::{Group, GroupState, Member};
use crate::records::CoordinatorRecord;

impl GroupCoordinator {
    /// Handles a JoinGroup. The answer to `request` arrives as a completion in the
    /// returned effects, either now or from a later call (another join, a leave, `tick`).
    pub fn join_group(
        &mut self,
        request: RequestId,
        req: JoinGroupRequest,
        now_ms: i64,
    ) -> Effects {
        let mut effects = Effects::default();
        if let Err(error) = self.join(request, &req, now_ms, &mut effects) {
            effects.join(request, JoinGroupResponse::error(error, &req.member_id));
        }
        effects
    }

    fn join(
        &mut self,
        request: RequestId,
        req: &JoinGroupRequest,
        now_ms: i64,
        effects: &mut Effects,
    ) -> Result<(), GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        // A consumer-protocol group with members cannot take classic members; an empty
        // one gives its id over to a classic group.
        if let Some(consumer) = self.consumer_groups.get(&req.group_id) {
            if !consumer.members.is_empty() {
                return Err(GroupError::InconsistentGroupProtocol);
            }
            self.consumer_groups.remove(&req.group_id);
            effects
                .records
                .extend(CoordinatorRecord::consumer_group_tombstones(&req.group_id));
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return Err(GroupError::InvalidSessionTimeout);
        }
        if !self.groups.contains_key(&req.group_id) {
            if !req.member_id.is_empty() {
                return Err(GroupError::UnknownMemberId);
            }
            let group = Group::new(&req.group_id, now_ms);
            // Kafka persists a group's creation at once, as an empty generation-0
            // membership record, so the group survives a restart before its first
            // rebalance completes.
            effects.records.push(group.metadata_record());
            self.groups.insert(req.group_id.clone(), group);
        }
        let new_member_id = if req.member_id.is_empty() {
            // Kafka names a static member after its instance id, others after the client.
            let prefix = req.group_instance_id.as_deref().unwrap_or(&req.client_id);
            Some(self.new_member_id(&req.group_id, prefix))
        } else {
            None
        };
        let config = &self.config;
        let group = self
            .groups
            .get_mut(&req.group_id)
            .ok_or(GroupError::CoordinatorNotAvailable)?;
        if group.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        let join = Join {
            config,
            request,
            req,
            now_ms,
        };
        match new_member_id {
            Some(member_id) => join.new_member(group, member_id, effects),
            None => join.existing_member(group, effects),
        }
    }
}

/// One JoinGroup being handled, with what every step needs.
struct Join<'a> {
    config: &'a GroupConfig,
    request: RequestId,
    req: &'a JoinGroupRequest,
    now_ms: i64,
}

impl Join<'_> {
    fn member(&self, member_id: String) -> Member {
        let mut member = Member {
            member_id,
            group_instance_id: self.req.group_instance_id.clone(),
            client_id: self.req.client_id.clone(),
            client_host: self.req.client_host.clone(),
            session_timeout_ms: self.req.session_timeout_ms,
            rebalance_timeout_ms: self.req.rebalance_timeout_ms,
            protocols: self.req.protocols.clone(),
            assignment: Vec::new(),
            awaiting_join: Some((self.request, self.req.api_version)),
            awaiting_sync: None,
            session_deadline_ms: 0,
        };
        member.refresh_session(self.now_ms);
        member
    }

    fn check_capacity(&self, group: &Group) -> Result<(), GroupError> {
        let size = i64::try_from(group.members.len()).unwrap_or(i64::MAX);
        if size >= i64::from(self.config.max_size) {
            return Err(GroupError::GroupMaxSizeReached);
        }
        Ok(())
    }

    fn add_and_rebalance(&self, group: &mut Group, member_id: String, effects: &mut Effects) {
        group.add_member(self.member(member_id), &self.req.protocol_type);
        group.rebalance_or_complete_join(self.config, self.now_ms, effects);
    }

    fn new_member(
        &self,
        group: &mut Group,
        member_id: String,
        effects: &mut Effects,
    ) -> Result<(), GroupError> {
        if !group.supports_protocols(&member_id, &self.req.protocol_type, &self.req.protocols) {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        if let Some(instance) = &self.req.group_instance_id {
            if let Some(old_id) = group.static_members.get(instance).cloned() {
                return self.replace_static_member(group, &old_id, member_id, effects);
            }
            // Static members skip MEMBER_ID_REQUIRED: the instance id identifies them.
            self.check_capacity(group)?;
            self.add_and_rebalance(group, member_id, effects);
        } else if self.req.api_version >= 4 {
            self.check_capacity(group)?;
            let deadline = self
                .now_ms
                .saturating_add(i64::from(self.req.session_timeout_ms));
            group.pending_members.insert(member_id.clone(), deadline);
            effects.join(
                self.request,
                JoinGroupResponse::error(GroupError::MemberIdRequired, &member_id),
            );
        } else {
            self.check_capacity(group)?;
            self.add_and_rebalance(group, member_id, effects);
        }
        Ok(())
    }

    fn existing_member(&self, group: &mut Group, effects: &mut Effects) -> Result<(), GroupError> {
        let member_id = self.req.member_id.as_str();
        let instance = self.req.group_instance_id.as_deref();
        if !group.supports_protocols(member_id, &self.req.protocol_type, &self.req.protocols) {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        if group.pending_members.contains_key(member_id) {
            if group.is_static_member_fenced(member_id, instance) {
                return Err(GroupError::FencedInstanceId);
            }
            self.check_capacity(group)?;
            self.add_and_rebalance(group, member_id.to_string(), effects);
            return Ok(());
        }
        if !group.members.contains_key(member_id) {
            return Err(GroupError::UnknownMemberId);
        }
        if group.is_static_member_fenced(member_id, instance) {
            return Err(GroupError::FencedInstanceId);
        }
        let unchanged = group
            .members
            .get(member_id)
            .is_some_and(|m| m.protocols == self.req.protocols);
        match group.state {
            GroupState::PreparingRebalance => {
                self.update_member(group, member_id, effects);
                group.maybe_complete_join(self.now_ms, effects);
            }
            // The member probably lost its JoinGroup answer: repeat it.
            GroupState::CompletingRebalance if unchanged => {
                effects.join(self.request, group.join_response(member_id, false));
            }
            // Nothing changed for a follower: no rebalance. A leader rejoining is
            // asking for one (e.g. its subscription's metadata changed).
            GroupState::Stable if unchanged && !group.is_leader(member_id) => {
                if let Some(member) = group.members.get_mut(member_id) {
                    member.refresh_session(self.now_ms);
                }
                effects.join(self.request, group.join_response(member_id, false));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member(group, member_id, effects);
                group.prepare_rebalance(self.config, self.now_ms, effects);
            }
            GroupState::Empty | GroupState::Dead => return Err(GroupError::UnknownMemberId),
        }
        Ok(())
    }

    /// Records the member's new join request; an older one still waiting is answered
    /// so that its connection is not left hanging.
    fn update_member(&self, group: &mut Group, member_id: &str, effects: &mut Effects) {
        let Some(member) = group.members.get_mut(member_id) else {
            return;
        };
        if let Some((old, _)) = member.awaiting_join.take() {
            effects.join(
                old,
                JoinGroupResponse::error(GroupError::RebalanceInProgress, member_id),
            );
        }
        member.protocols = self.req.protocols.clone();
        member.session_timeout_ms = self.req.session_timeout_ms;
        member.rebalance_timeout_ms = self.req.rebalance_timeout_ms;
        member.awaiting_join = Some((self.request, self.req.api_version));
        member.refresh_session(self.now_ms);
    }

    /// A static member came back with a new member id: it takes over the old member's
    /// place (and assignment); the old id is fenced from now on.
    fn replace_static_member(
        &self,
        group: &mut Group,
        old_id: &str,
        new_id: String,
        effects: &mut Effects,
    ) -> Result<(), GroupError> {
        let Some(index) = group.members.get_index_of(old_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        let Some(mut member) = group.members.shift_remove(old_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if let Some((request, _)) = member.awaiting_join.take() {
            effects.join(
                request,
                JoinGroupResponse::error(GroupError::FencedInstanceId, old_id),
            );
        }
        if let Some(request) = member.awaiting_sync.take() {
            effects.sync(
                request,
                crate::api::SyncGroupResponse::error(GroupError::FencedInstanceId),
            );
        }
        member.member_id = new_id.clone();
        member.client_id = self.req.client_id.clone();
        member.client_host = self.req.client_host.clone();
        member.protocols = self.req.protocols.clone();
        member.session_timeout_ms = self.req.session_timeout_ms;
        member.rebalance_timeout_ms = self.req.rebalance_timeout_ms;
        member.refresh_session(self.now_ms);
        group.members.shift_insert(index, new_id.clone(), member);
        if let Some(instance) = &self.req.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), new_id.clone());
        }
        if group.is_leader(old_id) {
            group.leader_id = Some(new_id.clone());
        }
        if group.pending_sync.remove(old_id) {
            group.pending_sync.insert(new_id.clone());
        }
        let awaiting = Some((self.request, self.req.api_version));
        match group.state {
            GroupState::Stable if group.select_protocol() == group.protocol_name => {
                // Same protocol outcome: no rebalance; persist the new member id and
                // hand back the current generation (the member then syncs for its
                // old assignment).
                effects.records.push(group.metadata_record());
                let leader_skips = group.is_leader(&new_id) && self.req.api_version >= 9;
                let mut response = group.join_response(&new_id, leader_skips);
                if !leader_skips {
                    response.members.clear();
                }
                effects.join(self.request, response);
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                if let Some(m) = group.members.get_mut(&new_id) {
                    m.awaiting_join = awaiting;
                }
                group.prepare_rebalance(self.config, self.now_ms, effects);
            }
            GroupState::PreparingRebalance => {
                if let Some(m) = group.members.get_mut(&new_id) {
                    m.awaiting_join = awaiting;
                }
                group.maybe_complete_join(self.now_ms, effects);
            }
            GroupState::Empty | GroupState::Dead => return Err(GroupError::UnknownMemberId),
        }
        Ok(())
    }
}
