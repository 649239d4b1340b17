//! Heartbeat and LeaveGroup: keeping members alive and letting them go.

use crate::api::{Effects, HeartbeatRequest, LeaveGroupResponse, LeaveMemberResult, LeavingMember};
use crate::coordinator::GroupCoordinator;
use crate::error::GroupError;
use crate::group::GroupState;

impl GroupCoordinator {
    /// Handles a Heartbeat: refreshes the member's session and tells it whether it must
    /// rejoin (REBALANCE_IN_PROGRESS).
    pub fn heartbeat(&mut self, req: HeartbeatRequest, now_ms: i64) -> Result<(), GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let group = self
            .groups
            .get_mut(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        if group.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        group.validate_member(&req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        let state = group.state;
        let Some(member) = group.members.get_mut(&req.member_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        match state {
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => {
                member.refresh_session(now_ms);
                Err(GroupError::RebalanceInProgress)
            }
            // Kafka answers NONE in CompletingRebalance: the member already has the
            // new generation and heartbeats while it waits for SyncGroup.
            GroupState::CompletingRebalance | GroupState::Stable => {
                member.refresh_session(now_ms);
                Ok(())
            }
        }
    }

    /// Handles a LeaveGroup for one or more members (static ones may leave by instance id).
    pub fn leave_group(
        &mut self,
        group_id: &str,
        members: Vec<LeavingMember>,
        now_ms: i64,
    ) -> (LeaveGroupResponse, Effects) {
        let mut effects = Effects::default();
        let result = |m: &LeavingMember, error| LeaveMemberResult {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            error,
        };
        if group_id.is_empty() {
            let response = LeaveGroupResponse {
                error: Some(GroupError::InvalidGroupId),
                members: Vec::new(),
            };
            return (response, effects);
        }
        let config = &self.config;
        let Some(group) = self.groups.get_mut(group_id) else {
            let members = members
                .iter()
                .map(|m| result(m, Some(GroupError::UnknownMemberId)))
                .collect();
            return (
                LeaveGroupResponse {
                    error: None,
                    members,
                },
                effects,
            );
        };
        if group.state == GroupState::Dead {
            let response = LeaveGroupResponse {
                error: Some(GroupError::CoordinatorNotAvailable),
                members: Vec::new(),
            };
            return (response, effects);
        }
        let mut results = Vec::with_capacity(members.len());
        for leaving in &members {
            let error = match &leaving.group_instance_id {
                Some(instance) => match group.static_members.get(instance).cloned() {
                    None => Some(GroupError::UnknownMemberId),
                    Some(current)
                        if !leaving.member_id.is_empty() && current != leaving.member_id =>
                    {
                        Some(GroupError::FencedInstanceId)
                    }
                    Some(current) => {
                        group.remove_member(&current, config, now_ms, &mut effects);
                        None
                    }
                },
                None if group.pending_members.remove(&leaving.member_id).is_some() => {
                    // A pending member was holding up the join phase.
                    group.maybe_complete_join(now_ms, &mut effects);
                    None
                }
                None if group.members.contains_key(&leaving.member_id) => {
                    group.remove_member(&leaving.member_id, config, now_ms, &mut effects);
                    None
                }
                None => Some(GroupError::UnknownMemberId),
            };
            results.push(result(leaving, error));
        }
        let response = LeaveGroupResponse {
            error: None,
            members: results,
        };
        (response, effects)
    }
}
