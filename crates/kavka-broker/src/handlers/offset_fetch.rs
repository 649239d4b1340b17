//! OffsetFetch: committed positions, one group (v1-v7) or several (v8+).

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_group::FetchedOffset;

use super::RequestContext;
use kavka_metadata::acl::{AclOperation, ResourceType};

type Fetched = Result<Vec<FetchedOffset>, i16>;

/// The group's offsets, answered once everything they reflect is replicated.
/// `member` (v9+, KIP-848) is checked against the group first. With
/// `require_stable` (v7+), a partition with an offset still pending in a
/// transaction is marked [`UNSTABLE`]: it answers UNSTABLE_OFFSET_COMMIT and
/// offset -1, as Kafka.
async fn fetch(
    ctx: &RequestContext<'_>,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    member: Option<(Option<&str>, i32)>,
    require_stable: bool,
) -> Fetched {
    let authz = ctx.authz();
    if !authz.allows(AclOperation::Describe, ResourceType::Group, group) {
        return Err(ResponseError::GroupAuthorizationFailed.code());
    }
    let all_topics = topics.is_none();
    let read = ctx
        .state
        .groups
        .read_replicated(ctx.state, &[group], |owned| {
            owned.check(group).map_err(|e| e.code())?;
            let coordinator = owned.coordinator();
            if let Some((member_id, member_epoch)) = member {
                coordinator
                    .validate_offset_fetch(group, member_id, member_epoch)
                    .map_err(|e| e.code())?;
            }
            let mut offsets = coordinator
                .fetch_offsets(group, topics.as_deref())
                .map_err(|e| e.code())?;
            if require_stable {
                for o in &mut offsets {
                    if coordinator.has_pending_txn_offset(group, &o.topic, o.partition) {
                        o.offset = UNSTABLE;
                        o.leader_epoch = -1;
                    }
                }
            }
            Ok::<_, i16>(offsets)
        })
        .await;
    let mut offsets = read.map_err(|e| e.code())??;
    // Topics the principal may not describe: left out of "all", refused if named.
    offsets.retain_mut(|o| {
        if authz.allows(AclOperation::Describe, ResourceType::Topic, &o.topic) {
            return true;
        }
        o.offset = DENIED;
        o.leader_epoch = -1;
        o.metadata.clear();
        !all_topics
    });
    Ok(offsets)
}

/// Marks a partition of a topic the principal may not describe.
const DENIED: i64 = i64::MIN + 1;

/// Marks a partition whose offset is pending in a transaction (never a real offset).
const UNSTABLE: i64 = i64::MIN;

/// (offset, error code) to answer for a fetched offset.
fn unstable_code(o: &FetchedOffset) -> (i64, i16) {
    if o.offset == UNSTABLE {
        (-1, ResponseError::UnstableOffsetCommit.code())
    } else if o.offset == DENIED {
        (-1, ResponseError::TopicAuthorizationFailed.code())
    } else {
        (o.offset, 0)
    }
}

fn by_topic(offsets: Vec<FetchedOffset>) -> BTreeMap<String, Vec<FetchedOffset>> {
    let mut out: BTreeMap<String, Vec<FetchedOffset>> = BTreeMap::new();
    for o in offsets {
        out.entry(o.topic.clone()).or_default().push(o);
    }
    out
}

fn metadata(o: &FetchedOffset) -> Option<StrBytes> {
    Some(StrBytes::from_string(o.metadata.clone()))
}

/// Answers committed offsets, -1 where nothing was committed.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version < 8 {
        let topics = request.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes))
                .collect()
        });
        let asked = topics.clone();
        return match fetch(
            ctx,
            &request.group_id.0,
            topics,
            None,
            request.require_stable,
        )
        .await
        {
            Ok(offsets) => OffsetFetchResponse::default().with_topics(
                by_topic(offsets)
                    .into_iter()
                    .map(|(name, os)| {
                        OffsetFetchResponseTopic::default()
                            .with_name(TopicName(StrBytes::from_string(name)))
                            .with_partitions(
                                os.iter()
                                    .map(|o| {
                                        let (offset, code) = unstable_code(o);
                                        OffsetFetchResponsePartition::default()
                                            .with_partition_index(o.partition)
                                            .with_committed_offset(offset)
                                            .with_error_code(code)
                                            .with_committed_leader_epoch(o.leader_epoch)
                                            .with_metadata(metadata(o))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
            // v0 and v1 have no top-level error: each partition asked carries it.
            Err(code) if version < 2 => OffsetFetchResponse::default().with_topics(
                asked
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, partitions)| {
                        OffsetFetchResponseTopic::default()
                            .with_name(TopicName(StrBytes::from_string(name)))
                            .with_partitions(
                                partitions
                                    .into_iter()
                                    .map(|p| {
                                        OffsetFetchResponsePartition::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(-1)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
            Err(code) => OffsetFetchResponse::default().with_error_code(code),
        };
    }
    let mut groups = Vec::with_capacity(request.groups.len());
    for g in request.groups {
        let topics = g.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes))
                .collect()
        });
        let mut out =
            OffsetFetchResponseGroup::default().with_group_id(GroupId(g.group_id.0.clone()));
        let member_id = g.member_id.as_ref().map(|m| m.to_string());
        let member = Some((member_id.as_deref(), g.member_epoch));
        match fetch(ctx, &g.group_id.0, topics, member, request.require_stable).await {
            Ok(offsets) => {
                out.topics = by_topic(offsets)
                    .into_iter()
                    .map(|(name, os)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(StrBytes::from_string(name)))
                            .with_partitions(
                                os.iter()
                                    .map(|o| {
                                        let (offset, code) = unstable_code(o);
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(o.partition)
                                            .with_committed_offset(offset)
                                            .with_error_code(code)
                                            .with_committed_leader_epoch(o.leader_epoch)
                                            .with_metadata(metadata(o))
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
            }
            Err(code) => out.error_code = code,
        }
        groups.push(out);
    }
    OffsetFetchResponse::default().with_groups(groups)
}
