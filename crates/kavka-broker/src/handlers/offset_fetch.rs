//! OffsetFetch: committed positions, one group (v1-v7) or several (v8+).

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kavka_group::FetchedOffset;

use super::RequestContext;

type Fetched = Result<Vec<FetchedOffset>, i16>;

/// The group's committed offsets, once everything they reflect is replicated;
/// `member` (v9+, KIP-848) is checked against the group first.
async fn fetch(
    ctx: &RequestContext<'_>,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    member: Option<(Option<&str>, i32)>,
) -> Fetched {
    let read = ctx
        .state
        .groups
        .read_replicated(ctx.state, &[group], |owned| {
            owned.check(group).map_err(|e| e.code())?;
            if let Some((member_id, member_epoch)) = member {
                owned
                    .coordinator()
                    .validate_offset_fetch(group, member_id, member_epoch)
                    .map_err(|e| e.code())?;
            }
            owned
                .coordinator()
                .fetch_offsets(group, topics.as_deref())
                .map_err(|e| e.code())
        })
        .await;
    read.map_err(|e| e.code())?
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
        return match fetch(ctx, &request.group_id.0, topics, None).await {
            Ok(offsets) => OffsetFetchResponse::default().with_topics(
                by_topic(offsets)
                    .into_iter()
                    .map(|(name, os)| {
                        OffsetFetchResponseTopic::default()
                            .with_name(TopicName(StrBytes::from_string(name)))
                            .with_partitions(
                                os.iter()
                                    .map(|o| {
                                        OffsetFetchResponsePartition::default()
                                            .with_partition_index(o.partition)
                                            .with_committed_offset(o.offset)
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
        match fetch(ctx, &g.group_id.0, topics, member).await {
            Ok(offsets) => {
                out.topics = by_topic(offsets)
                    .into_iter()
                    .map(|(name, os)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(StrBytes::from_string(name)))
                            .with_partitions(
                                os.iter()
                                    .map(|o| {
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(o.partition)
                                            .with_committed_offset(o.offset)
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
