//! ConsumerGroupDescribe (KIP-848): members, epochs and assignments of
//! consumer-protocol groups.

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, GroupId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kavka_group::{error_code, NamedTopicPartitions};
use kavka_metadata::acl::AclOperation;

use super::{authorized_operations, RequestContext};
use crate::group_service::ImageTopics;

/// Kafka's member type for a member using the consumer protocol.
const MEMBER_TYPE_CONSUMER: i8 = 1;

fn assignment(tps: Vec<NamedTopicPartitions>) -> Assignment {
    Assignment::default().with_topic_partitions(
        tps.into_iter()
            .map(|tp| {
                TopicPartitions::default()
                    .with_topic_id(uuid::Uuid::from_bytes(tp.topic_id.0))
                    .with_topic_name(TopicName(StrBytes::from_string(tp.topic_name)))
                    .with_partitions(tp.partitions)
            })
            .collect(),
    )
}

/// Describes each group; classic and unknown ones answer GROUP_ID_NOT_FOUND.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let authz = ctx.authz();
    let group_ops =
        |id: &str| authorized_operations::group(&authz, request.include_authorized_operations, id);
    let (ids, denied) = super::group_admin::split_authorized(
        ctx,
        request.group_ids.iter().map(|g| g.0.to_string()),
        AclOperation::Describe,
    );
    let denied = denied.into_iter().map(|id| {
        DescribedGroup::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code())
            .with_group_id(GroupId(StrBytes::from_string(id)))
    });
    let image = ctx.state.metadata.image();
    // Groups this broker does not serve are answered NOT_COORDINATOR (or
    // COORDINATOR_LOAD_IN_PROGRESS) each, as Kafka does per group.
    let (groups, refused) = ctx.state.groups.read(|owned| {
        let (served, refused) = owned.split(&ids);
        let described = owned
            .coordinator()
            .describe_consumer_groups(&served, &ImageTopics(&image));
        (described, refused)
    });
    let refused = refused.into_iter().map(|(id, e)| {
        DescribedGroup::default()
            .with_error_code(e.code())
            .with_authorized_operations(group_ops(&id))
            .with_group_id(GroupId(StrBytes::from_string(id)))
    });
    ConsumerGroupDescribeResponse::default().with_groups(
        groups
            .into_iter()
            .map(|g| {
                DescribedGroup::default()
                    .with_authorized_operations(group_ops(&g.group_id))
                    .with_error_code(error_code(g.error))
                    .with_error_message(g.error_message.map(StrBytes::from_string))
                    .with_group_id(GroupId(StrBytes::from_string(g.group_id)))
                    .with_group_state(StrBytes::from_string(g.state))
                    .with_group_epoch(g.group_epoch)
                    .with_assignment_epoch(g.assignment_epoch)
                    .with_assignor_name(StrBytes::from_string(g.assignor_name))
                    .with_members(
                        g.members
                            .into_iter()
                            .map(|m| {
                                Member::default()
                                    .with_member_id(StrBytes::from_string(m.member_id))
                                    .with_instance_id(m.instance_id.map(StrBytes::from_string))
                                    .with_rack_id(m.rack_id.map(StrBytes::from_string))
                                    .with_member_epoch(m.member_epoch)
                                    .with_client_id(StrBytes::from_string(m.client_id))
                                    .with_client_host(StrBytes::from_string(m.client_host))
                                    .with_subscribed_topic_names(
                                        m.subscribed_topic_names
                                            .into_iter()
                                            .map(|n| TopicName(StrBytes::from_string(n)))
                                            .collect(),
                                    )
                                    .with_subscribed_topic_regex(
                                        m.subscribed_topic_regex.map(StrBytes::from_string),
                                    )
                                    .with_assignment(assignment(m.assignment))
                                    .with_target_assignment(assignment(m.target_assignment))
                                    .with_member_type(MEMBER_TYPE_CONSUMER)
                            })
                            .collect(),
                    )
            })
            .chain(refused)
            .chain(denied)
            .collect(),
    )
}
