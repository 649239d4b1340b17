//! ConsumerGroupDescribe: a consumer-protocol group's epochs, members and assignments.

use super::{Assignment, TopicId, TopicLookup};
use crate::coordinator::GroupCoordinator;
use crate::error::GroupError;

/// Partitions of one topic, named both ways (the admin client shows names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTopicPartitions {
    /// Topic id.
    pub topic_id: TopicId,
    /// Topic name ("" when the topic is gone).
    pub topic_name: String,
    /// Partition indexes.
    pub partitions: Vec<i32>,
}

/// One member in a ConsumerGroupDescribe answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedConsumerMember {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Rack id.
    pub rack_id: Option<String>,
    /// Member epoch.
    pub member_epoch: i32,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Topics subscribed by name.
    pub subscribed_topic_names: Vec<String>,
    /// Topics subscribed by regex.
    pub subscribed_topic_regex: Option<String>,
    /// Partitions the member owns now.
    pub assignment: Vec<NamedTopicPartitions>,
    /// The member's share of the target assignment.
    pub target_assignment: Vec<NamedTopicPartitions>,
}

/// One group in a ConsumerGroupDescribe answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribedConsumerGroup {
    /// Error (GROUP_ID_NOT_FOUND for unknown and classic groups).
    pub error: Option<GroupError>,
    /// Why.
    pub error_message: Option<String>,
    /// Group id.
    pub group_id: String,
    /// State name as Kafka prints it.
    pub state: String,
    /// Group epoch.
    pub group_epoch: i32,
    /// Target assignment epoch.
    pub assignment_epoch: i32,
    /// Assignor in use.
    pub assignor_name: String,
    /// Members in id order.
    pub members: Vec<DescribedConsumerMember>,
}

fn named(assignment: &Assignment, topics: &dyn TopicLookup) -> Vec<NamedTopicPartitions> {
    assignment
        .iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(id, ps)| NamedTopicPartitions {
            topic_id: *id,
            topic_name: topics.topic_name(*id).unwrap_or_default(),
            partitions: ps.iter().copied().collect(),
        })
        .collect()
}

impl GroupCoordinator {
    /// Handles ConsumerGroupDescribe. Classic and unknown groups answer
    /// GROUP_ID_NOT_FOUND, which tells the admin client to try DescribeGroups.
    pub fn describe_consumer_groups(
        &self,
        group_ids: &[String],
        topics: &dyn TopicLookup,
    ) -> Vec<DescribedConsumerGroup> {
        group_ids
            .iter()
            .map(|id| {
                let failed = |error, message: String| DescribedConsumerGroup {
                    error: Some(error),
                    error_message: Some(message),
                    group_id: id.clone(),
                    ..Default::default()
                };
                if id.is_empty() {
                    return failed(GroupError::InvalidGroupId, "GroupId can't be empty.".into());
                }
                let Some(g) = self.consumer_groups.get(id) else {
                    return if self.groups.contains_key(id) {
                        failed(
                            GroupError::GroupIdNotFound,
                            format!("Group {id} is not a consumer group."),
                        )
                    } else {
                        failed(
                            GroupError::GroupIdNotFound,
                            format!("Group {id} not found."),
                        )
                    };
                };
                DescribedConsumerGroup {
                    error: None,
                    error_message: None,
                    group_id: id.clone(),
                    state: g.state().name().to_string(),
                    group_epoch: g.group_epoch,
                    assignment_epoch: g.assignment_epoch,
                    assignor_name: g.preferred_assignor(&self.config.consumer_assignors),
                    members: g
                        .members
                        .values()
                        .map(|m| DescribedConsumerMember {
                            member_id: m.member_id.clone(),
                            instance_id: m.instance_id.clone(),
                            rack_id: m.rack_id.clone(),
                            member_epoch: m.member_epoch,
                            client_id: m.client_id.clone(),
                            client_host: m.client_host.clone(),
                            subscribed_topic_names: m.subscribed_topic_names.clone(),
                            subscribed_topic_regex: m.subscribed_topic_regex.clone(),
                            assignment: named(&m.assigned, topics),
                            target_assignment: g
                                .target
                                .get(&m.member_id)
                                .map(|a| named(a, topics))
                                .unwrap_or_default(),
                        })
                        .collect(),
                }
            })
            .collect()
    }
}
