//! SyncGroup: the leader hands in the assignment, every member collects its share.

use std::collections::HashMap;

use crate::api::{Effects, RequestId, SyncGroupRequest, SyncGroupResponse};
use crate::coordinator::GroupCoordinator;
use crate::error::GroupError;
use crate::group::{Group, GroupState};

impl GroupCoordinator {
    /// Handles a SyncGroup. Followers that sync before the leader wait: their answer
    /// arrives as a completion when the leader's SyncGroup comes (or the group rebalances).
    pub fn sync_group(
        &mut self,
        request: RequestId,
        req: SyncGroupRequest,
        now_ms: i64,
    ) -> Effects {
        let mut effects = Effects::default();
        if let Err(error) = self.sync(request, req, now_ms, &mut effects) {
            effects.sync(request, SyncGroupResponse::error(error));
        }
        effects
    }

    fn sync(
        &mut self,
        request: RequestId,
        req: SyncGroupRequest,
        now_ms: i64,
        effects: &mut Effects,
    ) -> Result<(), GroupError> {
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
        let type_mismatch = req
            .protocol_type
            .as_ref()
            .is_some_and(|t| group.protocol_type.as_ref() != Some(t));
        let name_mismatch = req
            .protocol_name
            .as_ref()
            .is_some_and(|n| group.protocol_name.as_ref() != Some(n));
        if type_mismatch || name_mismatch {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        match group.state {
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            GroupState::CompletingRebalance => {
                let Some(member) = group.members.get_mut(&req.member_id) else {
                    return Err(GroupError::UnknownMemberId);
                };
                if let Some(old) = member.awaiting_sync.replace(request) {
                    effects.sync(
                        old,
                        SyncGroupResponse::error(GroupError::RebalanceInProgress),
                    );
                }
                member.refresh_session(now_ms);
                group.mark_synced(&req.member_id);
                if group.is_leader(&req.member_id) {
                    group.apply_assignment(req.assignments, now_ms, effects);
                }
                Ok(())
            }
            GroupState::Stable => {
                let Some(member) = group.members.get_mut(&req.member_id) else {
                    return Err(GroupError::UnknownMemberId);
                };
                member.refresh_session(now_ms);
                let assignment = member.assignment.clone();
                group.mark_synced(&req.member_id);
                effects.sync(request, group.sync_response(assignment));
                Ok(())
            }
        }
    }
}

impl Group {
    fn mark_synced(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
        if self.pending_sync.is_empty() {
            self.sync_deadline_ms = None;
        }
    }

    fn sync_response(&self, assignment: Vec<u8>) -> SyncGroupResponse {
        SyncGroupResponse {
            error: None,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment,
        }
    }

    /// Stores the leader's assignment (members it left out get an empty one), makes the
    /// group Stable and answers every waiting SyncGroup.
    fn apply_assignment(
        &mut self,
        assignments: Vec<(String, Vec<u8>)>,
        now_ms: i64,
        effects: &mut Effects,
    ) {
        let mut assignments: HashMap<String, Vec<u8>> = assignments.into_iter().collect();
        for member in self.members.values_mut() {
            member.assignment = assignments.remove(&member.member_id).unwrap_or_default();
        }
        self.transition(GroupState::Stable, now_ms);
        effects.records.push(self.metadata_record());
        let waiting: Vec<_> = self
            .members
            .values_mut()
            .filter_map(|m| m.awaiting_sync.take().map(|r| (r, m.assignment.clone())))
            .collect();
        for (request, assignment) in waiting {
            effects.sync(request, self.sync_response(assignment));
        }
    }
}
