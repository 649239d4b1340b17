//! ConsumerGroupHeartbeat: joining, staying, leaving, fencing, and one reconciliation
//! step per heartbeat. Answers are immediate; nothing waits.

use std::collections::BTreeSet;

use super::group::ConsumerGroup;
use super::member::{
    full_match, ConsumerMember, MemberState, LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
};
use super::reconcile::reconcile;
use super::{from_list, to_list, Assignment, TopicLookup, TopicPartitions};
use crate::api::Effects;
use crate::coordinator::GroupCoordinator;
use crate::error::GroupError;
use crate::group::Group;
use crate::records::CoordinatorRecord;

/// A decoded ConsumerGroupHeartbeat request. Optional fields are `None` when the
/// client left them out because they did not change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerHeartbeatRequest {
    /// Group id.
    pub group_id: String,
    /// Member id (v1+: chosen by the client; v0: empty on the first join).
    pub member_id: String,
    /// 0 to join, -1 to leave, -2 for a static member leaving for a while.
    pub member_epoch: i32,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// Rack id.
    pub rack_id: Option<String>,
    /// Rebalance timeout, -1 when unchanged.
    pub rebalance_timeout_ms: i32,
    /// Topics subscribed by name.
    pub subscribed_topic_names: Option<Vec<String>>,
    /// Topics subscribed by regex (v1+).
    pub subscribed_topic_regex: Option<String>,
    /// Server-side assignor the member asks for.
    pub server_assignor: Option<String>,
    /// Partitions the member owns now.
    pub owned_partitions: Option<Vec<TopicPartitions>>,
    /// Client id from the request header.
    pub client_id: String,
    /// Client host of the connection.
    pub client_host: String,
    /// Request version.
    pub api_version: i16,
}

/// A ConsumerGroupHeartbeat answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerHeartbeatResponse {
    /// Error, if any.
    pub error: Option<GroupError>,
    /// Why, for the client's log.
    pub error_message: Option<String>,
    /// The member's id.
    pub member_id: Option<String>,
    /// The member's epoch.
    pub member_epoch: i32,
    /// How often to heartbeat.
    pub heartbeat_interval_ms: i32,
    /// The member's partitions, when sent (on a full request or when it changed).
    pub assignment: Option<Vec<TopicPartitions>>,
}

type HbResult<T> = Result<T, (GroupError, String)>;

fn fail<T>(error: GroupError, message: impl Into<String>) -> HbResult<T> {
    Err((error, message.into()))
}

impl GroupCoordinator {
    /// Handles a ConsumerGroupHeartbeat. `topics` is the broker's current view of
    /// topics, against which subscriptions are resolved.
    pub fn consumer_heartbeat(
        &mut self,
        req: ConsumerHeartbeatRequest,
        topics: &dyn TopicLookup,
        now_ms: i64,
    ) -> (ConsumerHeartbeatResponse, Effects) {
        let mut effects = Effects::default();
        let before = self.consumer_groups.get(&req.group_id).cloned();
        let result = self.heartbeat_step(&req, topics, now_ms, &mut effects.records);
        let response = match result {
            Ok((group, response)) => {
                effects.records.extend(super::persist::diff(
                    &req.group_id,
                    before.as_ref(),
                    Some(&group),
                ));
                self.consumer_groups.insert(req.group_id.clone(), group);
                response
            }
            Err((error, message)) => ConsumerHeartbeatResponse {
                error: Some(error),
                error_message: Some(message),
                ..Default::default()
            },
        };
        (response, effects)
    }

    /// Works on a copy of the group; the caller keeps it only when the step succeeds.
    fn heartbeat_step(
        &mut self,
        req: &ConsumerHeartbeatRequest,
        topics: &dyn TopicLookup,
        now_ms: i64,
        records: &mut Vec<CoordinatorRecord>,
    ) -> HbResult<(ConsumerGroup, ConsumerHeartbeatResponse)> {
        self.validate(req)?;
        if req.member_epoch == LEAVE_GROUP_MEMBER_EPOCH
            || req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH
        {
            return self.leave(req);
        }
        let joining = req.member_epoch == 0;
        let mut group = match self.consumer_groups.get(&req.group_id) {
            Some(g) => g.clone(),
            None if joining => {
                self.take_over_classic_group(&req.group_id, now_ms, records)?;
                ConsumerGroup::new(&req.group_id)
            }
            None => {
                return fail(
                    GroupError::GroupIdNotFound,
                    format!("Consumer group {} not found.", req.group_id),
                )
            }
        };
        let member_id = if req.member_id.is_empty() {
            self.new_member_id(&req.group_id, &req.client_id)
        } else {
            req.member_id.clone()
        };
        if joining
            && !group.members.contains_key(&member_id)
            && group.members.len() >= usize::try_from(self.config.consumer_max_size).unwrap_or(0)
        {
            return fail(
                GroupError::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    self.config.consumer_max_size
                ),
            );
        }
        let (old, is_new) = member_for(&mut group, req, &member_id)?;
        let mut member = old.clone();
        update_member(&mut member, req)?;
        let subscription_changed = is_new
            || member.subscribed_topic_names != old.subscribed_topic_names
            || member.subscribed_topic_regex != old.subscribed_topic_regex;
        group.members.insert(member_id.clone(), member.clone());
        let metadata_changed = group.refresh_subscriptions(topics);
        if subscription_changed || metadata_changed {
            group.group_epoch += 1;
        }
        if group.group_epoch > group.assignment_epoch {
            group.compute_target(topics, &self.config.consumer_assignors);
            group.assignment_timestamp_ms = now_ms;
        }
        let owned: Option<Assignment> = req.owned_partitions.as_deref().map(from_list);
        if !member.is_reconciled_to(group.assignment_epoch) {
            let target = group.target.get(&member_id).cloned().unwrap_or_default();
            let mut next = reconcile(
                &member,
                group.assignment_epoch,
                &target,
                owned.as_ref(),
                &|t, p| group.held_by_other(&member_id, t, p),
            );
            next.revocation_deadline_ms = match next.state {
                MemberState::UnrevokedPartitions
                    if member.state != MemberState::UnrevokedPartitions =>
                {
                    Some(now_ms.saturating_add(i64::from(next.rebalance_timeout_ms.max(0))))
                }
                MemberState::UnrevokedPartitions => member.revocation_deadline_ms,
                _ => None,
            };
            next.carry_assignment_epochs(&member);
            member = next;
        }
        member.refresh_session(now_ms, self.config.consumer_session_timeout_ms);
        group.members.insert(member_id.clone(), member.clone());

        let full_request = joining
            || (req.rebalance_timeout_ms != -1
                && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some())
                && req.owned_partitions.is_some());
        let response = ConsumerHeartbeatResponse {
            error: None,
            error_message: None,
            member_id: Some(member_id),
            member_epoch: member.member_epoch,
            heartbeat_interval_ms: self.config.consumer_heartbeat_interval_ms,
            assignment: (full_request || member.assigned != old.assigned)
                .then(|| to_list(&member.assigned)),
        };
        Ok((group, response))
    }

    /// Kafka's request checks, before any state is touched.
    fn validate(&self, req: &ConsumerHeartbeatRequest) -> HbResult<()> {
        let invalid = |m: &str| fail(GroupError::InvalidRequest, m);
        if req.group_id.is_empty() {
            return invalid("GroupId can't be empty.");
        }
        if req.instance_id.as_deref() == Some("") {
            return invalid("InstanceId can't be empty.");
        }
        if req.rack_id.as_deref() == Some("") {
            return invalid("RackId can't be empty.");
        }
        // From v1 the client picks its member id, so it is always there.
        if req.api_version >= 1 && req.member_id.is_empty() {
            return invalid("MemberId can't be empty.");
        }
        match req.member_epoch {
            0 => {
                if req.rebalance_timeout_ms == -1 {
                    return invalid("RebalanceTimeoutMs must be provided in first request.");
                }
                if req.owned_partitions.as_ref().is_none_or(|p| !p.is_empty()) {
                    return invalid("TopicPartitions must be empty when (re-)joining.");
                }
                if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                    return invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.");
                }
            }
            LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
                if req.member_id.is_empty() {
                    return invalid("MemberId can't be empty.");
                }
                if req.instance_id.is_none() {
                    return invalid("InstanceId can't be null.");
                }
            }
            e if e > 0 || e == LEAVE_GROUP_MEMBER_EPOCH => {
                if req.member_id.is_empty() {
                    return invalid("MemberId can't be empty.");
                }
            }
            _ => return invalid("MemberEpoch is invalid."),
        }
        if let Some(a) = req.server_assignor.as_deref() {
            if !self.config.consumer_assignors.iter().any(|n| n == a) {
                return fail(
                    GroupError::UnsupportedAssignor,
                    format!(
                        "ServerAssignor {a} is not supported. Supported assignors: {}.",
                        self.config.consumer_assignors.join(", ")
                    ),
                );
            }
        }
        if let Some(re) = req.subscribed_topic_regex.as_deref() {
            if !re.is_empty() && full_match(re).is_none() {
                return fail(
                    GroupError::InvalidRegularExpression,
                    format!("SubscribedTopicRegex `{re}` is not a valid regular expression."),
                );
            }
        }
        Ok(())
    }

    /// Member epoch -1 (leave) or -2 (a static member leaving for a while).
    fn leave(
        &self,
        req: &ConsumerHeartbeatRequest,
    ) -> HbResult<(ConsumerGroup, ConsumerHeartbeatResponse)> {
        let Some(group) = self.consumer_groups.get(&req.group_id) else {
            return fail(
                GroupError::GroupIdNotFound,
                format!("Consumer group {} not found.", req.group_id),
            );
        };
        let mut group = group.clone();
        let member_id = match req.instance_id.as_deref() {
            None => {
                if !group.members.contains_key(&req.member_id) {
                    return unknown_member(req);
                }
                req.member_id.clone()
            }
            Some(instance) => {
                let Some(m) = group.static_member(instance) else {
                    return fail(
                        GroupError::UnknownMemberId,
                        format!("Instance id {instance} is unknown."),
                    );
                };
                if m.member_id != req.member_id {
                    return fenced_instance(req, &m.member_id);
                }
                m.member_id.clone()
            }
        };
        if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            // The member keeps its partitions (nobody else gets them) until it comes
            // back under the same instance id or its session expires.
            if let Some(m) = group.members.get_mut(&member_id) {
                m.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
                m.pending_revocation.clear();
                m.revocation_deadline_ms = None;
                // As Kafka's static leave, which resets the kept partitions' epochs.
                m.assignment_epochs = m
                    .assigned
                    .iter()
                    .flat_map(|(t, ps)| ps.iter().map(move |p| ((*t, *p), 0)))
                    .collect();
            }
        } else {
            group.remove_member(&member_id);
        }
        let response = ConsumerHeartbeatResponse {
            member_id: Some(req.member_id.clone()),
            member_epoch: req.member_epoch,
            ..Default::default()
        };
        Ok((group, response))
    }

    /// A new consumer group may take the id of a classic group only while that group
    /// has no members; its committed offsets stay.
    fn take_over_classic_group(
        &mut self,
        group_id: &str,
        now_ms: i64,
        records: &mut Vec<CoordinatorRecord>,
    ) -> HbResult<()> {
        let Some(classic) = self.groups.get_mut(group_id) else {
            return Ok(());
        };
        if !classic.members.is_empty() || !classic.pending_members.is_empty() {
            return fail(
                GroupError::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            );
        }
        if classic.protocol_type.is_some() {
            // Forget the classic membership record so a restart does not bring it back.
            let offsets = std::mem::take(&mut classic.offsets);
            *classic = Group::new(group_id, now_ms);
            classic.offsets = offsets;
            records.push(CoordinatorRecord::group_tombstone(group_id));
        }
        Ok(())
    }
}

impl ConsumerGroup {
    /// Removes a member for good; the next heartbeat computes a new target.
    pub(crate) fn remove_member(&mut self, member_id: &str) {
        if self.members.remove(member_id).is_some() {
            self.target.remove(member_id);
            self.group_epoch += 1;
            if self.members.is_empty() {
                // Nothing is subscribed and nothing is left to assign: the empty
                // target is current at once (as Kafka records it: epoch bumped, no
                // metadata hash, no assignor run).
                self.subscribed_topics.clear();
                self.restored_metadata_hash = None;
                self.assignment_epoch = self.group_epoch;
                self.assignment_timestamp_ms = 0;
            }
        }
    }
}

fn unknown_member<T>(req: &ConsumerHeartbeatRequest) -> HbResult<T> {
    fail(
        GroupError::UnknownMemberId,
        format!(
            "Member {} is not a member of group {}.",
            req.member_id, req.group_id
        ),
    )
}

fn fenced_instance<T>(req: &ConsumerHeartbeatRequest, current: &str) -> HbResult<T> {
    fail(
        GroupError::FencedInstanceId,
        format!(
            "Static member {} with instance id {} was fenced by member {current}.",
            req.member_id,
            req.instance_id.as_deref().unwrap_or_default()
        ),
    )
}

/// Finds the member this heartbeat is about (checking its epoch), or creates it on a
/// join. Returns the member as it was and whether it is new.
fn member_for(
    group: &mut ConsumerGroup,
    req: &ConsumerHeartbeatRequest,
    member_id: &str,
) -> HbResult<(ConsumerMember, bool)> {
    let joining = req.member_epoch == 0;
    let fresh = || ConsumerMember::new(member_id);
    match req.instance_id.as_deref() {
        None => match group.members.get(member_id) {
            None if joining => Ok((fresh(), true)),
            None => unknown_member(req),
            Some(_) if joining => {
                // A member that lost its epoch (fenced) rejoins with 0 under its own id:
                // it has given up its partitions, so it starts over.
                group.remove_member(member_id);
                Ok((fresh(), true))
            }
            Some(m) => {
                check_epoch(m, req)?;
                Ok((m.clone(), false))
            }
        },
        Some(instance) => {
            let existing = group.static_member(instance).cloned();
            match existing {
                None if joining => Ok((fresh(), true)),
                None => fail(
                    GroupError::UnknownMemberId,
                    format!("Instance id {instance} is unknown."),
                ),
                Some(old) if joining => {
                    if old.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                        if old.member_id == member_id {
                            group.remove_member(member_id);
                            return Ok((fresh(), true));
                        }
                        return fail(
                            GroupError::UnreleasedInstanceId,
                            format!(
                                "Static member {member_id} with instance id {instance} cannot join the group because the instance id is owned by {} member.",
                                old.member_id
                            ),
                        );
                    }
                    // The instance comes back: the new member id takes over the old
                    // member's partitions and target, with no new group epoch.
                    group.members.remove(&old.member_id);
                    if let Some(target) = group.target.remove(&old.member_id) {
                        group.target.insert(member_id.to_string(), target);
                    }
                    let mut replaced = old.clone();
                    replaced.member_id = member_id.to_string();
                    replaced.member_epoch = 0;
                    replaced.previous_member_epoch = 0;
                    Ok((replaced, false))
                }
                Some(old) => {
                    if old.member_id != member_id {
                        return fenced_instance(req, &old.member_id);
                    }
                    check_epoch(&old, req)?;
                    Ok((old, false))
                }
            }
        }
    }
}

/// Kafka's epoch check: a newer epoch than ours, or an older one that is not the
/// previous epoch with a subset of the current partitions (a lost response), fences.
fn check_epoch(member: &ConsumerMember, req: &ConsumerHeartbeatRequest) -> HbResult<()> {
    let received = req.member_epoch;
    let fenced = || {
        fail(
            GroupError::FencedMemberEpoch,
            format!(
                "The consumer group member has a {} member epoch ({received}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                if received > member.member_epoch { "greater" } else { "smaller" },
                member.member_epoch
            ),
        )
    };
    if received > member.member_epoch {
        return fenced();
    }
    if received < member.member_epoch {
        let owned_subset = req.owned_partitions.as_deref().is_some_and(|owned| {
            owned.iter().all(|tp| {
                member
                    .assigned
                    .get(&tp.topic_id)
                    .is_some_and(|ps| tp.partitions.iter().all(|p| ps.contains(p)))
            })
        });
        if received != member.previous_member_epoch || !owned_subset {
            return fenced();
        }
    }
    Ok(())
}

/// Applies what the heartbeat says about the member (absent fields keep their value).
fn update_member(member: &mut ConsumerMember, req: &ConsumerHeartbeatRequest) -> HbResult<()> {
    if let Some(i) = &req.instance_id {
        member.instance_id = Some(i.clone());
    }
    if let Some(r) = &req.rack_id {
        member.rack_id = Some(r.clone());
    }
    if req.rebalance_timeout_ms != -1 {
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
    }
    if let Some(a) = &req.server_assignor {
        member.server_assignor = Some(a.clone());
    }
    if let Some(names) = &req.subscribed_topic_names {
        let unique: BTreeSet<&String> = names.iter().collect();
        member.subscribed_topic_names = unique.into_iter().cloned().collect();
    }
    if let Some(re) = &req.subscribed_topic_regex {
        // An empty regex clears a pattern subscription.
        member.subscribed_topic_regex = (!re.is_empty()).then(|| re.clone());
    }
    member.client_id = req.client_id.clone();
    member.client_host = req.client_host.clone();
    Ok(())
}
