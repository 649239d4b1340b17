//! Consumer groups: the list with lag, one group's members, assignment and lag,
//! and resetting a stopped group's offsets, through ListGroups, DescribeGroups,
//! OffsetFetch, ListOffsets and OffsetCommit as `kafka-consumer-groups` does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_protocol::messages::consumer_protocol_assignment::ConsumerProtocolAssignment;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest, RequestKind, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::kafka::{call, check};
use super::offsets::{self, list_offsets, topic_name, EARLIEST, LATEST};
use crate::state::BrokerState;

/// A row of the group list.
#[derive(Debug, Serialize)]
pub(crate) struct GroupSummary {
    group_id: String,
    state: String,
    /// `classic` or `consumer` (KIP-848).
    group_type: String,
    protocol_type: String,
    /// Sum over committed partitions of (log end − committed); None when no
    /// partition's end could be read.
    lag: Option<i64>,
}

/// Every group this broker coordinates, with its lag.
pub(crate) async fn list(state: &BrokerState) -> Result<Vec<GroupSummary>, ApiError> {
    let ResponseKind::ListGroups(response) = call(
        state,
        ApiKey::ListGroups,
        5,
        RequestKind::ListGroups(ListGroupsRequest::default()),
    )
    .await?
    else {
        return Err(ApiError::internal("ListGroups gave another answer"));
    };
    check(response.error_code, None)?;
    let mut out = Vec::new();
    for g in response.groups {
        let id = g.group_id.0.to_string();
        let lag = match committed(state, &id).await {
            Ok(c) => total_lag(&lags(state, &c).await?),
            Err(_) => None,
        };
        out.push(GroupSummary {
            group_id: id,
            state: g.group_state.to_string(),
            group_type: g.group_type.to_string(),
            protocol_type: g.protocol_type.to_string(),
            lag,
        });
    }
    out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    Ok(out)
}

fn total_lag(rows: &[PartitionLag]) -> Option<i64> {
    let known: Vec<i64> = rows.iter().filter_map(|r| r.lag).collect();
    (!known.is_empty()).then(|| known.iter().sum())
}

/// Committed offsets by topic and partition.
type Committed = BTreeMap<String, BTreeMap<i32, i64>>;

async fn committed(state: &BrokerState, group: &str) -> Result<Committed, ApiError> {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(None);
    let ResponseKind::OffsetFetch(response) = call(
        state,
        ApiKey::OffsetFetch,
        7,
        RequestKind::OffsetFetch(request),
    )
    .await?
    else {
        return Err(ApiError::internal("OffsetFetch gave another answer"));
    };
    check(response.error_code, None)?;
    let mut out: Committed = BTreeMap::new();
    for t in &response.topics {
        for p in &t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                out.entry(t.name.0.to_string())
                    .or_default()
                    .insert(p.partition_index, p.committed_offset);
            }
        }
    }
    Ok(out)
}

/// One partition of a group.
#[derive(Debug, Serialize)]
pub(crate) struct PartitionLag {
    topic: String,
    partition: i32,
    committed: Option<i64>,
    log_end: Option<i64>,
    lag: Option<i64>,
    /// The member it is assigned to, if any.
    member_id: Option<String>,
    client_id: Option<String>,
}

async fn lags(state: &BrokerState, committed: &Committed) -> Result<Vec<PartitionLag>, ApiError> {
    let mut out = Vec::new();
    for (topic, partitions) in committed {
        let ids: Vec<i32> = partitions.keys().copied().collect();
        let ends = list_offsets(state, topic, &ids, LATEST).await?;
        for (&p, &c) in partitions {
            let end = ends.get(&p).and_then(|o| o.ok());
            out.push(PartitionLag {
                topic: topic.clone(),
                partition: p,
                committed: Some(c),
                log_end: end,
                lag: end.map(|e| (e - c).max(0)),
                member_id: None,
                client_id: None,
            });
        }
    }
    Ok(out)
}

/// A member of a group.
#[derive(Debug, Serialize)]
pub(crate) struct MemberView {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    /// topic → partitions assigned.
    assignment: BTreeMap<String, Vec<i32>>,
}

/// The group page's content.
#[derive(Debug, Serialize)]
pub(crate) struct GroupView {
    group_id: String,
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<MemberView>,
    partitions: Vec<PartitionLag>,
    lag: Option<i64>,
}

/// How long a group page waits for its coordinator to load (after a restart,
/// or `__consumer_offsets` just created), as a Kafka client retries meanwhile.
const COORDINATOR_WAIT: Duration = Duration::from_secs(10);

/// Finds the group's coordinator as a client does first (which creates
/// `__consumer_offsets` if it is missing); fails with NOT_COORDINATOR naming the
/// broker to ask when it is another one.
async fn find_coordinator(state: &BrokerState, group: &str) -> Result<(), ApiError> {
    let deadline = Instant::now() + COORDINATOR_WAIT;
    loop {
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(group.to_string()))
            .with_key_type(0);
        let ResponseKind::FindCoordinator(response) = call(
            state,
            ApiKey::FindCoordinator,
            3,
            RequestKind::FindCoordinator(request),
        )
        .await?
        else {
            return Err(ApiError::internal("FindCoordinator gave another answer"));
        };
        match response.error_code {
            0 if response.node_id.0 == state.config.node_id => return Ok(()),
            0 => {
                return Err(ApiError::kafka(
                    NOT_COORDINATOR,
                    Some(format!(
                        "group {group:?} is coordinated by broker {} ({}:{}); open that \
                         broker's console",
                        response.node_id.0, response.host, response.port
                    )),
                ))
            }
            // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
            14..=16 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            code => {
                return Err(ApiError::kafka(
                    code,
                    response.error_message.map(|m| m.to_string()),
                ))
            }
        }
    }
}

/// Kafka's NOT_COORDINATOR.
const NOT_COORDINATOR: i16 = 16;

/// One group; GROUP_ID_NOT_FOUND (404) when there is none.
pub(crate) async fn describe(state: &BrokerState, group: &str) -> Result<GroupView, ApiError> {
    valid_group_id(group)?;
    find_coordinator(state, group).await?;
    let request = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(StrBytes::from_string(group.to_string()))]);
    let ResponseKind::DescribeGroups(response) = call(
        state,
        ApiKey::DescribeGroups,
        5,
        RequestKind::DescribeGroups(request),
    )
    .await?
    else {
        return Err(ApiError::internal("DescribeGroups gave another answer"));
    };
    let g = response
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("DescribeGroups named no group"))?;
    // A KIP-848 group is not a classic one: DescribeGroups calls it unknown
    // (Dead, or GROUP_ID_NOT_FOUND), ConsumerGroupDescribe describes it.
    let unknown = &*g.group_state == "Dead" || g.error_code == GROUP_ID_NOT_FOUND;
    let (group_state, protocol_type, protocol, members) = if unknown {
        match describe_consumer_group(state, group).await? {
            Some(described) => described,
            None => {
                return Err(ApiError::kafka(
                    GROUP_ID_NOT_FOUND,
                    Some(format!("group {group:?} does not exist")),
                ))
            }
        }
    } else {
        check(g.error_code, g.error_message.as_ref())?;
        let members = g
            .members
            .iter()
            .map(|m| MemberView {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                assignment: assignment(&m.member_assignment, &g.protocol_type),
            })
            .collect();
        (
            g.group_state.to_string(),
            g.protocol_type.to_string(),
            g.protocol_data.to_string(),
            members,
        )
    };
    let committed = committed(state, group).await?;
    // Assigned partitions without a commit yet are shown too, with no lag.
    let mut owners: BTreeMap<(String, i32), (String, String)> = BTreeMap::new();
    for m in &members {
        for (topic, partitions) in &m.assignment {
            for &p in partitions {
                owners.insert(
                    (topic.clone(), p),
                    (m.member_id.clone(), m.client_id.clone()),
                );
            }
        }
    }
    let mut partitions = lags(state, &committed).await?;
    for (topic, p) in owners.keys() {
        if !committed.get(topic).is_some_and(|c| c.contains_key(p)) {
            let end = list_offsets(state, topic, &[*p], LATEST)
                .await?
                .get(p)
                .and_then(|o| o.ok());
            partitions.push(PartitionLag {
                topic: topic.clone(),
                partition: *p,
                committed: None,
                log_end: end,
                lag: None,
                member_id: None,
                client_id: None,
            });
        }
    }
    for row in &mut partitions {
        if let Some((member, client)) = owners.get(&(row.topic.clone(), row.partition)) {
            row.member_id = Some(member.clone());
            row.client_id = Some(client.clone());
        }
    }
    partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(GroupView {
        group_id: group.to_string(),
        state: group_state,
        protocol_type,
        protocol,
        members,
        lag: total_lag(&partitions),
        partitions,
    })
}

/// Kafka's GROUP_ID_NOT_FOUND.
const GROUP_ID_NOT_FOUND: i16 = 69;

/// A described group: state, protocol type, protocol (assignor), members.
type Described = (String, String, String, Vec<MemberView>);

/// A KIP-848 consumer group through ConsumerGroupDescribe; None when there is none.
async fn describe_consumer_group(
    state: &BrokerState,
    group: &str,
) -> Result<Option<Described>, ApiError> {
    let request = ConsumerGroupDescribeRequest::default()
        .with_group_ids(vec![GroupId(StrBytes::from_string(group.to_string()))]);
    let ResponseKind::ConsumerGroupDescribe(response) = call(
        state,
        ApiKey::ConsumerGroupDescribe,
        0,
        RequestKind::ConsumerGroupDescribe(request),
    )
    .await?
    else {
        return Err(ApiError::internal(
            "ConsumerGroupDescribe gave another answer",
        ));
    };
    let Some(g) = response.groups.into_iter().next() else {
        return Ok(None);
    };
    if g.error_code == GROUP_ID_NOT_FOUND || g.group_state.eq_ignore_ascii_case("dead") {
        return Ok(None);
    }
    check(g.error_code, g.error_message.as_ref())?;
    let members = g
        .members
        .iter()
        .map(|m| {
            let mut assignment: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for tp in &m.assignment.topic_partitions {
                let entry = assignment.entry(tp.topic_name.0.to_string()).or_default();
                entry.extend(tp.partitions.iter().copied());
                entry.sort_unstable();
            }
            MemberView {
                member_id: m.member_id.to_string(),
                group_instance_id: m.instance_id.as_ref().map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                assignment,
            }
        })
        .collect();
    Ok(Some((
        g.group_state.to_string(),
        "consumer".to_string(),
        g.assignor_name.to_string(),
        members,
    )))
}

/// A consumer member's assignment (Kafka's ConsumerProtocolAssignment); empty
/// for other protocols or bytes that do not decode.
fn assignment(bytes: &bytes::Bytes, protocol_type: &str) -> BTreeMap<String, Vec<i32>> {
    let mut out = BTreeMap::new();
    if protocol_type != "consumer" || bytes.len() < 2 {
        return out;
    }
    let mut buf = bytes.clone();
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    let _ = bytes::Buf::get_i16(&mut buf);
    // Newer versions than the decoder knows are read as the newest it knows,
    // as Kafka's ConsumerProtocol does.
    let Ok(decoded) = ConsumerProtocolAssignment::decode(&mut buf, version.clamp(0, 3)) else {
        return out;
    };
    for tp in decoded.assigned_partitions {
        let entry: &mut Vec<i32> = out.entry(tp.topic.0.to_string()).or_default();
        entry.extend(tp.partitions);
        entry.sort_unstable();
    }
    out
}

/// Where a reset moves each partition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reset {
    /// `earliest`, `latest`, `offset` or `timestamp`.
    to: String,
    offset: Option<i64>,
    timestamp: Option<i64>,
    /// Only this topic's partitions; all committed ones when absent.
    topic: Option<String>,
}

/// A partition's new offset after a reset.
#[derive(Debug, Serialize)]
pub(crate) struct ResetResult {
    topic: String,
    partition: i32,
    offset: i64,
}

/// Resets a group's committed offsets; the coordinator refuses (Kafka's
/// UNKNOWN_MEMBER_ID) unless the group is empty, as for kafka-consumer-groups.
pub(crate) async fn reset(
    state: &BrokerState,
    group: &str,
    reset: Reset,
) -> Result<Vec<ResetResult>, ApiError> {
    valid_group_id(group)?;
    let timestamp = match reset.to.as_str() {
        "earliest" => EARLIEST,
        "latest" => LATEST,
        "timestamp" => match reset.timestamp {
            Some(t) if t >= 0 => t,
            _ => {
                return Err(ApiError::bad_request(
                    "to=timestamp needs a timestamp (ms) of 0 or more",
                ))
            }
        },
        "offset" => match reset.offset {
            Some(o) if o >= 0 => o,
            _ => {
                return Err(ApiError::bad_request(
                    "to=offset needs an offset of 0 or more",
                ))
            }
        },
        other => {
            return Err(ApiError::bad_request(format!(
                "to must be earliest, latest, offset or timestamp, not {other:?}"
            )))
        }
    };
    find_coordinator(state, group).await?;
    let mut targets: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for (topic, partitions) in committed(state, group).await? {
        if reset.topic.as_ref().is_none_or(|t| *t == topic) {
            targets.entry(topic).or_default().extend(partitions.keys());
        }
    }
    if let Some(topic) = &reset.topic {
        if !targets.contains_key(topic) {
            let meta = offsets::topic(state, topic).await?;
            targets.insert(
                topic.clone(),
                meta.partitions.iter().map(|p| p.partition_index).collect(),
            );
        }
    }
    if targets.is_empty() {
        return Err(ApiError::bad_request(format!(
            "group {group:?} has no committed offsets; name a topic to reset"
        )));
    }
    let mut results = Vec::new();
    for (topic, partitions) in &targets {
        let ids: Vec<i32> = partitions.iter().copied().collect();
        let starts = list_offsets(state, topic, &ids, EARLIEST).await?;
        let ends = list_offsets(state, topic, &ids, LATEST).await?;
        let found = if reset.to == "timestamp" {
            Some(list_offsets(state, topic, &ids, timestamp).await?)
        } else {
            None
        };
        for &p in &ids {
            let (Some(start), Some(end)) = (
                starts.get(&p).and_then(|o| o.ok()),
                ends.get(&p).and_then(|o| o.ok()),
            ) else {
                return Err(ApiError::unavailable(format!(
                    "cannot read the offsets of {topic}-{p} on this broker"
                )));
            };
            // As kafka-consumer-groups: an offset outside the log is clamped into
            // it, a timestamp after the last record resets to the end.
            let offset = match reset.to.as_str() {
                "earliest" => start,
                "latest" => end,
                "offset" => timestamp.clamp(start, end),
                _ => found
                    .as_ref()
                    .and_then(|f| f.get(&p))
                    .and_then(|o| o.ok())
                    .filter(|o| *o >= 0)
                    .unwrap_or(end),
            };
            results.push(ResetResult {
                topic: topic.clone(),
                partition: p,
                offset,
            });
        }
    }
    commit(state, group, &results).await?;
    Ok(results)
}

async fn commit(state: &BrokerState, group: &str, offsets: &[ResetResult]) -> Result<(), ApiError> {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for r in offsets {
        topics.entry(&r.topic).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(r.partition)
                .with_committed_offset(r.offset)
                .with_committed_leader_epoch(-1),
        );
    }
    // Generation -1 and no member: an admin commit, which the coordinator takes
    // only while the group has no members.
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(StrBytes::from_static_str(""))
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let ResponseKind::OffsetCommit(response) = call(
        state,
        ApiKey::OffsetCommit,
        8,
        RequestKind::OffsetCommit(request),
    )
    .await?
    else {
        return Err(ApiError::internal("OffsetCommit gave another answer"));
    };
    for p in response.topics.iter().flat_map(|t| t.partitions.iter()) {
        if let Err(mut e) = check(p.error_code, None) {
            if matches!(p.error_code, 25 | 27 | 110) {
                // UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, STALE_MEMBER_EPOCH
                e.message = format!(
                    "{}: the group has active members; offsets can only be reset \
                     while the group is empty (stop its consumers first)",
                    e.message
                );
            }
            return Err(e);
        }
    }
    Ok(())
}

/// A group id from a URL: any non-empty string Kafka accepts.
fn valid_group_id(group: &str) -> Result<(), ApiError> {
    if group.is_empty() {
        return Err(ApiError::bad_request("a group id is required"));
    }
    if group.len() > 32_767 {
        return Err(ApiError::bad_request("a group id is at most 32767 bytes"));
    }
    Ok(())
}
