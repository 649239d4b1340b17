//! Fetch: read batches, long-polling until `min_bytes` are there or `max_wait_ms`
//! passes, and answering the moment enough data exists.
//!
//! Consumers (replica id < 0) read below the high watermark, from the leader only.
//! Followers (a replica id ≥ 0, in `replica_state` from v15) have their progress
//! recorded once per request, before the first read — which may move the high
//! watermark, complete acks=all produces and propose an ISR expansion — and read up
//! to the log end; a follower whose log diverges gets a `diverging_epoch` (KIP-320).
//!
//! read_committed consumers (isolation level 1) read below the last stable offset
//! (LSO) only and get the aborted transactions overlapping the records read;
//! every answer carries the LSO, for both isolation levels.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset as WireEpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::acl::{AclOperation, ResourceType};
use kavka_replica::{EpochEndOffset, FollowerFetch, FollowerFetchOutcome};
use tokio::time::Instant;

use super::{leader_epoch_error, partition_error_code, RequestContext};
use crate::partition::Partition;
use crate::partition_watch::Waiter;
use crate::state::now_ms;

/// `isolation_level` 1: only records below the last stable offset, with the
/// aborted transactions among them listed so the consumer can drop their records.
const READ_COMMITTED: i8 = 1;

/// Who is fetching.
#[derive(Debug, Clone, Copy)]
struct Fetcher {
    /// The follower's broker id, or None for a consumer.
    replica_id: Option<i32>,
    /// The follower's broker epoch (Fetch v15+), or -1.
    broker_epoch: i64,
}

/// What the pre-pass decided for one partition of a follower's fetch.
#[derive(Debug, Clone, Copy)]
enum FollowerVerdict {
    /// Serve records from the fetch offset.
    Read,
    /// Answer with this diverging epoch and no records.
    Diverging(EpochEndOffset),
    /// Answer with this error.
    Error(i16),
}

/// Answers a fetch: TOPIC_AUTHORIZATION_FAILED for the topics the principal may
/// not read (a follower needs CLUSTER_ACTION for all), the others served.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    mut request: FetchRequest,
    version: i16,
) -> FetchResponse {
    let denied = take_unauthorized(ctx, &mut request, version);
    if denied.is_empty() {
        return serve(ctx, request, version).await;
    }
    let mut response = if request.topics.is_empty() {
        FetchResponse::default()
    } else {
        serve(ctx, request, version).await
    };
    response.responses.extend(denied);
    response
}

/// Removes from the request the topics the session may not fetch, returning
/// their answers.
fn take_unauthorized(
    ctx: &RequestContext<'_>,
    request: &mut FetchRequest,
    version: i16,
) -> Vec<FetchableTopicResponse> {
    let authz = ctx.authz();
    if !authz.is_enabled() {
        return Vec::new();
    }
    let follower = if version >= 15 {
        request.replica_state.replica_id.0 >= 0
    } else {
        request.replica_id.0 >= 0
    };
    let cluster_action = follower && authz.allows_cluster(AclOperation::ClusterAction);
    let (allowed, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut request.topics)
        .into_iter()
        .partition(|topic| {
            if follower {
                return cluster_action;
            }
            match lookup(ctx, topic, -1, version).0 {
                Some(name) => authz.allows(AclOperation::Read, ResourceType::Topic, &name),
                // An unknown topic id is answered as such by the normal path.
                None => true,
            }
        });
    request.topics = allowed;
    denied
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|fp| {
                    PartitionData::default()
                        .with_partition_index(fp.partition)
                        .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                        .with_high_watermark(-1)
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(topic.topic.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions)
        })
        .collect()
}

/// Answers a fetch, waiting for data as the request allows.
async fn serve(ctx: &RequestContext<'_>, request: FetchRequest, version: i16) -> FetchResponse {
    if request.session_id != 0 {
        // Kavka never hands out fetch sessions, so an incremental fetch refers to
        // one we do not know; the client falls back to a full fetch.
        return FetchResponse::default()
            .with_error_code(ResponseError::FetchSessionIdNotFound.code())
            .with_session_id(0);
    }
    let fetcher = if version >= 15 {
        Fetcher {
            replica_id: Some(request.replica_state.replica_id.0).filter(|&r| r >= 0),
            broker_epoch: request.replica_state.replica_epoch,
        }
    } else {
        Fetcher {
            replica_id: Some(request.replica_id.0).filter(|&r| r >= 0),
            broker_epoch: -1,
        }
    };
    let verdicts = fetcher.replica_id.map(|replica_id| {
        record_follower_fetch(ctx, &request, version, replica_id, fetcher.broker_epoch)
    });
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64);
    let deadline = Instant::now() + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    let waiter = Waiter::new();
    // Registered before the first read, so an append or a high watermark move
    // between a read and the wait is not missed (the wake is kept until then).
    if min_bytes > 0 && !wait.is_zero() {
        watch_partitions(
            ctx,
            &request,
            version,
            fetcher.replica_id.is_some(),
            &waiter,
        );
    }
    loop {
        let (response, bytes, errors, sent) =
            read_once(ctx, &request, version, verdicts.as_deref());
        if bytes >= min_bytes || errors || Instant::now() >= deadline {
            sent.count();
            return response;
        }
        if tokio::time::timeout_at(deadline, waiter.woken())
            .await
            .is_err()
        {
            let (response, _, _, sent) = read_once(ctx, &request, version, verdicts.as_deref());
            sent.count();
            return response;
        }
    }
}

/// What one read would send, per topic, counted only once the read is answered
/// (a read that falls short of `min_bytes` is read again, not sent).
#[derive(Default)]
struct SentBytes(Vec<(Arc<Partition>, usize, bool)>);

impl SentBytes {
    fn count(self) {
        for (p, bytes, by_follower) in self.0 {
            p.traffic().fetched(bytes, by_follower);
        }
    }
}

/// Has `waiter` woken by every partition the request names that this broker
/// hosts: when its log end moves for a follower, its high watermark for a
/// consumer (which is also when the last stable offset can move), and on any
/// role or leader epoch change. A partition not hosted answers at once anyway.
fn watch_partitions(
    ctx: &RequestContext<'_>,
    request: &FetchRequest,
    version: i16,
    follower: bool,
    waiter: &Arc<Waiter>,
) {
    for topic in &request.topics {
        for fp in &topic.partitions {
            if let (_, Some(p)) = lookup(ctx, topic, fp.partition, version) {
                if follower {
                    p.watch_log_end(waiter);
                } else {
                    p.watch_high_watermark(waiter);
                }
            }
        }
    }
}

/// The hosted partition a request names: by name, or by id from v13 (the image
/// first; the hosted partitions know their ids too).
fn lookup(
    ctx: &RequestContext<'_>,
    topic: &kafka_protocol::messages::fetch_request::FetchTopic,
    partition: i32,
    version: i16,
) -> (Option<String>, Option<Arc<Partition>>) {
    let state = ctx.state;
    if version >= 13 {
        let image = state.metadata.image();
        let by_image = image.topic_by_id(&topic.topic_id).map(|t| t.name.clone());
        match by_image {
            Some(name) => {
                let p = state.replicas.get(&name, partition);
                (Some(name), p)
            }
            None => {
                let p = state.replicas.get_by_id(&topic.topic_id, partition);
                (p.as_ref().map(|p| p.topic.clone()), p)
            }
        }
    } else {
        let name = topic.topic.0.to_string();
        let p = state.replicas.get(&name, partition);
        (Some(name), p)
    }
}

/// Records a follower's fetch on every partition it names, once per request.
fn record_follower_fetch(
    ctx: &RequestContext<'_>,
    request: &FetchRequest,
    version: i16,
    replica_id: i32,
    broker_epoch: i64,
) -> Vec<FollowerVerdict> {
    let now = now_ms();
    let mut verdicts = Vec::new();
    for topic in &request.topics {
        for fp in &topic.partitions {
            let (_, partition) = lookup(ctx, topic, fp.partition, version);
            let verdict = match partition {
                None => FollowerVerdict::Error(ResponseError::UnknownTopicOrPartition.code()),
                Some(p) => {
                    let fetch = FollowerFetch {
                        replica_id,
                        fetch_offset: fp.fetch_offset,
                        last_fetched_epoch: (version >= 12 && fp.last_fetched_epoch >= 0)
                            .then_some(fp.last_fetched_epoch),
                        current_leader_epoch: (fp.current_leader_epoch >= 0)
                            .then_some(fp.current_leader_epoch),
                        broker_epoch,
                    };
                    match p.on_follower_fetch(fetch, now) {
                        Ok(FollowerFetchOutcome::Read(_)) => FollowerVerdict::Read,
                        Ok(FollowerFetchOutcome::Diverging(d)) => FollowerVerdict::Diverging(d),
                        Err(e) => FollowerVerdict::Error(partition_error_code(&e)),
                    }
                }
            };
            verdicts.push(verdict);
        }
    }
    verdicts
}

/// One pass over the requested partitions: the response, bytes found, and
/// whether any partition failed (failures answer at once, as in Kafka).
fn read_once(
    ctx: &RequestContext<'_>,
    request: &FetchRequest,
    version: i16,
    follower: Option<&[FollowerVerdict]>,
) -> (FetchResponse, usize, bool, SentBytes) {
    let mut sent = SentBytes::default();
    let mut remaining = request.max_bytes.max(0) as usize;
    let mut total = 0usize;
    let mut errors = false;
    let mut responses = Vec::with_capacity(request.topics.len());
    let mut position = 0usize;
    for topic in &request.topics {
        let mut topic_name = None;
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for fp in &topic.partitions {
            let verdict = follower.and_then(|v| v.get(position).copied());
            position += 1;
            let mut data = PartitionData::default()
                .with_partition_index(fp.partition)
                .with_high_watermark(-1)
                .with_aborted_transactions(if request.isolation_level == READ_COMMITTED {
                    Some(vec![])
                } else {
                    None
                });
            let (name, partition) = lookup(ctx, topic, fp.partition, version);
            if topic_name.is_none() {
                topic_name = name.clone();
            }
            let Some(p) = partition else {
                data.error_code = if version >= 13 && name.is_none() {
                    ResponseError::UnknownTopicId.code()
                } else {
                    ResponseError::UnknownTopicOrPartition.code()
                };
                errors = true;
                partitions.push(data);
                continue;
            };
            data.high_watermark = p.high_watermark();
            data.last_stable_offset = p.last_stable_offset();
            data.log_start_offset = p.log_start_offset();
            match verdict {
                Some(FollowerVerdict::Error(code)) => {
                    data.error_code = code;
                    data.high_watermark = -1;
                    data.last_stable_offset = -1;
                    data.log_start_offset = -1;
                    errors = true;
                    partitions.push(data);
                    continue;
                }
                Some(FollowerVerdict::Diverging(d)) if version >= 12 => {
                    data.diverging_epoch = WireEpochEndOffset::default()
                        .with_epoch(d.epoch)
                        .with_end_offset(d.end_offset);
                    // The follower must truncate before anything else: answer now.
                    errors = true;
                    partitions.push(data);
                    continue;
                }
                Some(FollowerVerdict::Diverging(_)) => {
                    // Older versions cannot say where: the follower asks
                    // OffsetForLeaderEpoch after this error.
                    data.error_code = ResponseError::OffsetOutOfRange.code();
                    errors = true;
                    partitions.push(data);
                    continue;
                }
                Some(FollowerVerdict::Read) => {}
                None => {
                    if !p.is_leader() {
                        data.error_code = ResponseError::NotLeaderOrFollower.code();
                        errors = true;
                        partitions.push(data);
                        continue;
                    }
                    if let Some(code) =
                        leader_epoch_error(fp.current_leader_epoch, p.leader_epoch())
                    {
                        data.error_code = code;
                        errors = true;
                        partitions.push(data);
                        continue;
                    }
                }
            }
            let first_with_data = total == 0;
            let limit = (fp.partition_max_bytes.max(0) as usize).min(remaining);
            if limit == 0 && !first_with_data {
                partitions.push(data);
                continue;
            }
            let read = if verdict.is_some() {
                p.read_for_follower(fp.fetch_offset, limit.max(1))
            } else if request.isolation_level == READ_COMMITTED {
                p.read_committed(fp.fetch_offset, limit.max(1))
                    .map(|(read, lso, aborted)| {
                        data.last_stable_offset = lso;
                        data.aborted_transactions = Some(
                            aborted
                                .iter()
                                .map(|a| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(a.producer_id))
                                        .with_first_offset(a.first_offset)
                                })
                                .collect(),
                        );
                        read
                    })
            } else {
                p.read(fp.fetch_offset, limit.max(1))
            };
            match read {
                Ok(read) => {
                    data.log_start_offset = read.log_start_offset;
                    let len = read.records.len();
                    // Only the first partition with data may exceed the limits
                    // (one whole batch), so a consumer always makes progress.
                    if len > 0 && (first_with_data || len <= limit) {
                        sent.0.push((p.clone(), len, verdict.is_some()));
                        total += len;
                        remaining = remaining.saturating_sub(len);
                        data.records = Some(read.records);
                    }
                }
                Err(e) => {
                    data.error_code = partition_error_code(&e);
                    // Kafka sends no offsets with a partition error.
                    data.high_watermark = -1;
                    data.last_stable_offset = -1;
                    data.log_start_offset = -1;
                    errors = true;
                }
            }
            partitions.push(data);
        }
        let mut t = FetchableTopicResponse::default().with_partitions(partitions);
        if version >= 13 {
            t.topic_id = topic.topic_id;
        } else {
            t.topic = TopicName(StrBytes::from_string(
                topic_name.unwrap_or_else(|| topic.topic.0.to_string()),
            ));
        }
        responses.push(t);
    }
    let response = FetchResponse::default()
        .with_session_id(0)
        .with_responses(responses);
    (response, total, errors, sent)
}
