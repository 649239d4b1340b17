//! ListGroups, DescribeGroups and DeleteGroups.

use crate::api::{DeletedGroup, DescribedGroup, DescribedMember, ListedGroup};
use crate::coordinator::GroupCoordinator;
use crate::error::GroupError;
use crate::group::GroupState;
use crate::records::CoordinatorRecord;

impl GroupCoordinator {
    /// Handles ListGroups; `states_filter` (case-insensitive names) empty means all.
    pub fn list_groups(&self, states_filter: &[String]) -> Vec<ListedGroup> {
        let wanted = |state: &str| {
            states_filter.is_empty() || states_filter.iter().any(|s| s.eq_ignore_ascii_case(state))
        };
        let consumer = self
            .consumer_groups
            .values()
            .filter(|g| wanted(g.state().name()))
            .map(|g| ListedGroup {
                group_id: g.group_id.clone(),
                protocol_type: "consumer".to_string(),
                state: g.state().name().to_string(),
                group_type: "consumer".to_string(),
            });
        let mut groups: Vec<ListedGroup> = self
            .groups
            .values()
            // The offsets holder of a consumer-protocol group is not a group of its own.
            .filter(|g| !self.consumer_groups.contains_key(&g.group_id))
            .filter(|g| {
                states_filter.is_empty()
                    || states_filter
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.name()))
            })
            .map(|g| ListedGroup {
                group_id: g.group_id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name().to_string(),
                group_type: "classic".to_string(),
            })
            .chain(consumer)
            .collect();
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        groups
    }

    /// Handles DescribeGroups; an unknown group is described as "Dead" without error,
    /// as Kafka does. Metadata is shown only while Stable; assignments always.
    pub fn describe_groups(&self, group_ids: &[String]) -> Vec<DescribedGroup> {
        group_ids
            .iter()
            .map(|id| {
                if self.consumer_groups.contains_key(id) {
                    // Kafka 4.x: DescribeGroups serves classic groups only.
                    return DescribedGroup {
                        error: Some(GroupError::GroupIdNotFound),
                        error_message: Some(format!("Group {id} is not a classic group.")),
                        group_id: id.clone(),
                        state: GroupState::Dead.name().to_string(),
                        protocol_type: String::new(),
                        protocol: String::new(),
                        members: Vec::new(),
                    };
                }
                if id.is_empty() {
                    return DescribedGroup {
                        error: Some(GroupError::InvalidGroupId),
                        error_message: None,
                        group_id: id.clone(),
                        state: String::new(),
                        protocol_type: String::new(),
                        protocol: String::new(),
                        members: Vec::new(),
                    };
                }
                let Some(group) = self.groups.get(id) else {
                    return DescribedGroup {
                        error: None,
                        error_message: None,
                        group_id: id.clone(),
                        state: GroupState::Dead.name().to_string(),
                        protocol_type: String::new(),
                        protocol: String::new(),
                        members: Vec::new(),
                    };
                };
                let stable = group.state == GroupState::Stable;
                let protocol = if stable {
                    group.protocol_name.clone().unwrap_or_default()
                } else {
                    String::new()
                };
                let members = group
                    .members
                    .values()
                    .map(|m| DescribedMember {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        metadata: if stable {
                            m.metadata(&protocol).unwrap_or_default().to_vec()
                        } else {
                            Vec::new()
                        },
                        // Kafka shows the last assignment even mid-rebalance.
                        assignment: m.assignment.clone(),
                    })
                    .collect();
                DescribedGroup {
                    error: None,
                    error_message: None,
                    group_id: id.clone(),
                    state: group.state.name().to_string(),
                    protocol_type: group.protocol_type.clone().unwrap_or_default(),
                    protocol,
                    members,
                }
            })
            .collect()
    }

    /// Handles DeleteGroups: only Empty groups go, leaving tombstones for their offsets
    /// and membership.
    pub fn delete_groups(
        &mut self,
        group_ids: &[String],
    ) -> (Vec<DeletedGroup>, Vec<CoordinatorRecord>) {
        let mut records = Vec::new();
        let results = group_ids
            .iter()
            .map(|id| {
                if let Some(consumer) = self.consumer_groups.get(id) {
                    if !consumer.members.is_empty() {
                        return DeletedGroup {
                            group_id: id.clone(),
                            error: Some(GroupError::NonEmptyGroup),
                        };
                    }
                    self.consumer_groups.remove(id);
                    // Kafka's order: the group's offsets, then its consumer-group
                    // records; a classic membership record only if one was written.
                    if let Some(group) = self.groups.remove(id) {
                        let mut keys: Vec<_> = group.offsets.into_keys().collect();
                        keys.sort();
                        records.extend(keys.iter().map(|(topic, partition)| {
                            CoordinatorRecord::offset_tombstone(id, topic, *partition)
                        }));
                        if group.protocol_type.is_some() || group.generation_id > 0 {
                            records.push(CoordinatorRecord::group_tombstone(id));
                        }
                    }
                    records.extend(CoordinatorRecord::consumer_group_tombstones(id));
                    return DeletedGroup {
                        group_id: id.clone(),
                        error: None,
                    };
                }
                let error = match self.groups.get(id).map(|g| g.state) {
                    _ if id.is_empty() => Some(GroupError::InvalidGroupId),
                    None | Some(GroupState::Dead) => Some(GroupError::GroupIdNotFound),
                    Some(GroupState::Empty) => {
                        if let Some(group) = self.groups.remove(id) {
                            let mut keys: Vec<_> = group.offsets.into_keys().collect();
                            keys.sort();
                            records.extend(keys.iter().map(|(topic, partition)| {
                                CoordinatorRecord::offset_tombstone(id, topic, *partition)
                            }));
                            records.push(CoordinatorRecord::group_tombstone(id));
                        }
                        None
                    }
                    Some(_) => Some(GroupError::NonEmptyGroup),
                };
                DeletedGroup {
                    group_id: id.clone(),
                    error,
                }
            })
            .collect();
        (results, records)
    }
}
