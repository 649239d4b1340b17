//! Fetch: read committed batches, long-polling until `min_bytes` are there or
//! `max_wait_ms` passes, and answering the moment enough data exists.

use std::time::Duration;

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::{leader_epoch_error, partition_error_code, RequestContext};

/// Answers a fetch, waiting for data as the request allows.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: FetchRequest,
    version: i16,
) -> FetchResponse {
    if request.session_id != 0 {
        // Kavka never hands out fetch sessions, so an incremental fetch refers to
        // one we do not know; the client falls back to a full fetch.
        return FetchResponse::default()
            .with_error_code(ResponseError::FetchSessionIdNotFound.code())
            .with_session_id(0);
    }
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64);
    let deadline = Instant::now() + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    loop {
        // Register for wake-ups before reading, so an append between the read and
        // the wait is not missed.
        let notified = ctx.state.appended.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (response, bytes, errors) = read_once(ctx, &request, version);
        if bytes >= min_bytes || errors || Instant::now() >= deadline {
            return response;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return read_once(ctx, &request, version).0;
        }
    }
}

/// One pass over the requested partitions: the response, bytes found, and
/// whether any partition failed (failures answer at once, as in Kafka).
fn read_once(
    ctx: &RequestContext<'_>,
    request: &FetchRequest,
    version: i16,
) -> (FetchResponse, usize, bool) {
    let state = ctx.state;
    let image = state.metadata.image();
    let mut remaining = request.max_bytes.max(0) as usize;
    let mut total = 0usize;
    let mut errors = false;
    let mut responses = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let name = if version >= 13 {
            image.topic_by_id(&topic.topic_id).map(|t| t.name.clone())
        } else {
            Some(topic.topic.0.to_string())
        };
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for fp in &topic.partitions {
            let mut data = PartitionData::default()
                .with_partition_index(fp.partition)
                .with_high_watermark(-1)
                .with_aborted_transactions(if request.isolation_level == 1 {
                    Some(vec![])
                } else {
                    None
                });
            let partition = name
                .as_deref()
                .and_then(|n| state.replicas.get(n, fp.partition));
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
            let epoch = p.leader_epoch();
            let hw = p.high_watermark();
            data.high_watermark = hw;
            data.last_stable_offset = hw;
            data.log_start_offset = p.log_start_offset();
            if let Some(code) = leader_epoch_error(fp.current_leader_epoch, epoch) {
                data.error_code = code;
                errors = true;
                partitions.push(data);
                continue;
            }
            let first_with_data = total == 0;
            let limit = (fp.partition_max_bytes.max(0) as usize).min(remaining);
            if limit == 0 && !first_with_data {
                partitions.push(data);
                continue;
            }
            match p.read(fp.fetch_offset, limit.max(1)) {
                Ok(read) => {
                    data.log_start_offset = read.log_start_offset;
                    let len = read.records.len();
                    // Only the first partition with data may exceed the limits
                    // (one whole batch), so a consumer always makes progress.
                    if len > 0 && (first_with_data || len <= limit) {
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
            t.topic = TopicName(StrBytes::from_string(name.unwrap_or_default()));
        }
        responses.push(t);
    }
    let response = FetchResponse::default()
        .with_session_id(0)
        .with_responses(responses);
    (response, total, errors)
}
