//! ListGroups, DescribeGroups, DeleteGroups and OffsetDelete: group administration.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_group::{error_code, Effects, GroupError};
use kavka_metadata::acl::{AclOperation, ResourceType};

use super::{authorized_operations, RequestContext};

/// Lists groups, optionally only those in the given states.
pub(crate) fn list(ctx: &RequestContext<'_>, request: ListGroupsRequest) -> ListGroupsResponse {
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.to_string())
        .collect();
    let types: Vec<String> = request.types_filter.iter().map(|s| s.to_string()).collect();
    // The coordinator holds only the groups this broker coordinates, which are the
    // ones Kafka lists (an admin client asks every broker and merges).
    // While a partition loads, its groups are not known yet: Kafka answers
    // COORDINATOR_LOAD_IN_PROGRESS rather than an incomplete list.
    let Some(groups) = ctx
        .state
        .groups
        .read(|owned| (!owned.loading()).then(|| owned.coordinator().list_groups(&states)))
    else {
        return ListGroupsResponse::default()
            .with_error_code(ResponseError::CoordinatorLoadInProgress.code());
    };
    // DESCRIBE on the cluster lists every group; otherwise only the groups the
    // principal may describe, as Kafka.
    let authz = ctx.authz();
    let all_groups = authz.allows_cluster(AclOperation::Describe);
    ListGroupsResponse::default().with_groups(
        groups
            .into_iter()
            .filter(|g| {
                types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(&g.group_type))
            })
            .filter(|g| {
                all_groups || authz.allows(AclOperation::Describe, ResourceType::Group, &g.group_id)
            })
            .map(|g| {
                ListedGroup::default()
                    .with_group_id(GroupId(StrBytes::from_string(g.group_id)))
                    .with_protocol_type(StrBytes::from_string(g.protocol_type))
                    .with_group_state(StrBytes::from_string(g.state))
                    .with_group_type(StrBytes::from_string(g.group_type))
            })
            .collect(),
    )
}

/// Describes groups: state, protocol and members with their assignments.
pub(crate) async fn describe(
    ctx: &RequestContext<'_>,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let authz = ctx.authz();
    let want_ops = version >= 3 && request.include_authorized_operations;
    let group_ops = |id: &str| authorized_operations::group(&authz, want_ops, id);
    let (ids, denied) = split_authorized(
        ctx,
        request.groups.iter().map(|g| g.0.to_string()),
        AclOperation::Describe,
    );
    let denied = denied.into_iter().map(|id| {
        DescribedGroup::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code())
            .with_group_id(GroupId(StrBytes::from_string(id)))
    });
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let read = ctx
        .state
        .groups
        .read_replicated(ctx.state, &names, |owned| {
            let (served, refused) = owned.split(&ids);
            let refused: Vec<(String, i16)> =
                refused.into_iter().map(|(id, e)| (id, e.code())).collect();
            (owned.coordinator().describe_groups(&served), refused)
        })
        .await;
    let (groups, refused) = match read {
        Ok(read) => read,
        // Not replicated in time, or leadership moved meanwhile: every group
        // gets that error, as none could be answered safely.
        Err(e) => {
            let code = e.code();
            (
                Vec::new(),
                ids.iter().map(|id| (id.clone(), code)).collect(),
            )
        }
    };
    // A group served elsewhere gets the coordinator error alone, as from Kafka.
    let refused = refused.into_iter().map(|(id, code)| {
        DescribedGroup::default()
            .with_error_code(code)
            .with_authorized_operations(group_ops(&id))
            .with_group_id(GroupId(StrBytes::from_string(id)))
    });
    DescribeGroupsResponse::default().with_groups(
        groups
            .into_iter()
            .map(|mut g| {
                // Kafka answers a consumer-protocol group with GROUP_ID_NOT_FOUND only from
                // v6 (which carries the message); older versions just see a Dead group.
                if version < 6 && g.error == Some(GroupError::GroupIdNotFound) {
                    g.error = None;
                    g.error_message = None;
                }
                // From v6 an unknown group is an error too, rather than "Dead".
                if version >= 6 && g.error.is_none() && g.state == "Dead" {
                    g.error = Some(GroupError::GroupIdNotFound);
                    g.error_message = Some(format!("Group {} not found.", g.group_id));
                }
                if version < 6 {
                    g.error_message = None;
                }
                DescribedGroup::default()
                    .with_authorized_operations(group_ops(&g.group_id))
                    .with_error_code(error_code(g.error))
                    .with_error_message(g.error_message.map(StrBytes::from_string))
                    .with_group_id(GroupId(StrBytes::from_string(g.group_id)))
                    .with_group_state(StrBytes::from_string(g.state))
                    .with_protocol_type(StrBytes::from_string(g.protocol_type))
                    .with_protocol_data(StrBytes::from_string(g.protocol))
                    .with_members(
                        g.members
                            .into_iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(StrBytes::from_string(m.member_id))
                                    .with_group_instance_id(
                                        m.group_instance_id.map(StrBytes::from_string),
                                    )
                                    .with_client_id(StrBytes::from_string(m.client_id))
                                    .with_client_host(StrBytes::from_string(m.client_host))
                                    .with_member_metadata(m.metadata.into())
                                    .with_member_assignment(m.assignment.into())
                            })
                            .collect(),
                    )
            })
            .chain(refused)
            .chain(denied)
            .collect(),
    )
}

/// The group ids the session may do `operation` on, and those it may not.
pub(crate) fn split_authorized(
    ctx: &RequestContext<'_>,
    ids: impl Iterator<Item = String>,
    operation: AclOperation,
) -> (Vec<String>, Vec<String>) {
    let authz = ctx.authz();
    ids.partition(|id| authz.allows(operation, ResourceType::Group, id))
}

/// Deletes empty groups and their offsets.
pub(crate) async fn delete(
    ctx: &RequestContext<'_>,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let (ids, denied) = split_authorized(
        ctx,
        request.groups_names.iter().map(|g| g.0.to_string()),
        AclOperation::Delete,
    );
    let (served, refused) = ctx.state.groups.read(|owned| owned.split(&ids));
    let touched: Vec<&str> = served.iter().map(String::as_str).collect();
    let result = if served.is_empty() {
        Ok(Vec::new())
    } else {
        ctx.state
            .groups
            .direct(ctx.state, &touched, |c, _| {
                let (results, records) = c.delete_groups(&served);
                (
                    results,
                    Effects {
                        completions: vec![],
                        records,
                    },
                )
            })
            .await
    };
    let refused = refused
        .into_iter()
        .map(|(id, e)| (id, e.code()))
        .chain(
            denied
                .into_iter()
                .map(|id| (id, ResponseError::GroupAuthorizationFailed.code())),
        )
        .map(|(id, code)| {
            DeletableGroupResult::default()
                .with_group_id(GroupId(StrBytes::from_string(id)))
                .with_error_code(code)
        });
    let results = match result {
        Ok(results) => results
            .into_iter()
            .map(|r| {
                DeletableGroupResult::default()
                    .with_group_id(GroupId(StrBytes::from_string(r.group_id)))
                    .with_error_code(error_code(r.error))
            })
            .chain(refused)
            .collect(),
        Err(e) => served
            .into_iter()
            .map(|id| {
                DeletableGroupResult::default()
                    .with_group_id(GroupId(StrBytes::from_string(id)))
                    .with_error_code(e.code())
            })
            .chain(refused)
            .collect(),
    };
    DeleteGroupsResponse::default().with_results(results)
}

/// Deletes committed offsets of partitions the group no longer consumes.
pub(crate) async fn delete_offsets(
    ctx: &RequestContext<'_>,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let group = request.group_id.0.to_string();
    if !ctx.authorize(AclOperation::Delete, ResourceType::Group, &group) {
        return OffsetDeleteResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let authz = ctx.authz();
    let (readable, unreadable): (Vec<_>, Vec<_>) = request
        .topics
        .iter()
        .partition(|t| authz.allows(AclOperation::Read, ResourceType::Topic, t.name.0.as_str()));
    let denied_topics: Vec<OffsetDeleteResponseTopic> = unreadable
        .into_iter()
        .map(|t| {
            OffsetDeleteResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            OffsetDeleteResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                        })
                        .collect(),
                )
        })
        .collect();
    let topics: Vec<(String, Vec<i32>)> = readable
        .into_iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partitions.iter().map(|p| p.partition_index).collect(),
            )
        })
        .collect();
    let result = ctx
        .state
        .groups
        .direct(ctx.state, &[&group], |c, _| {
            let (response, records) = c.delete_offsets(&group, &topics);
            (
                response,
                Effects {
                    completions: vec![],
                    records,
                },
            )
        })
        .await;
    let response = match result {
        Ok(r) => r,
        Err(e) => return OffsetDeleteResponse::default().with_error_code(e.code()),
    };
    let mut out: Vec<OffsetDeleteResponseTopic> = Vec::new();
    for p in response.partitions {
        let entry = OffsetDeleteResponsePartition::default()
            .with_partition_index(p.partition)
            .with_error_code(error_code(p.error));
        match out.iter_mut().find(|t| t.name.0.as_str() == p.topic) {
            Some(t) => t.partitions.push(entry),
            None => out.push(
                OffsetDeleteResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_string(p.topic)))
                    .with_partitions(vec![entry]),
            ),
        }
    }
    out.extend(denied_topics);
    OffsetDeleteResponse::default()
        .with_error_code(error_code(response.error))
        .with_topics(out)
}
