//! ListOffsets: earliest, latest, max timestamp, or the first offset at or after
//! a timestamp.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use kafka_protocol::records::RecordBatchDecoder;

use super::{leader_epoch_error, partition_error_code, RequestContext};
use crate::partition::Partition;
use kavka_metadata::acl::{AclOperation, ResourceType};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
/// `isolation_level` 1: positions bounded by the last stable offset.
const READ_COMMITTED: i8 = 1;
/// The replica id of Kafka's debugging tools, served by any replica.
const DEBUGGING_REPLICA_ID: i32 = -2;

/// Resolves each partition's requested position to an offset.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let state = ctx.state;
    let replica_id = request.replica_id.0;
    let authz = ctx.authz();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.name.0.to_string();
            let describable = authz.allows(AclOperation::Describe, ResourceType::Topic, &name);
            let partitions = topic
                .partitions
                .into_iter()
                .map(|lp| {
                    let mut resp = ListOffsetsPartitionResponse::default()
                        .with_partition_index(lp.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    if !describable {
                        resp.error_code = ResponseError::TopicAuthorizationFailed.code();
                        return resp;
                    }
                    let Some(p) = state.replicas.get(&name, lp.partition_index) else {
                        resp.error_code = ResponseError::UnknownTopicOrPartition.code();
                        return resp;
                    };
                    let epoch = p.leader_epoch();
                    if let Some(code) = leader_epoch_error(lp.current_leader_epoch, epoch) {
                        resp.error_code = code;
                        return resp;
                    }
                    if !p.is_leader() && replica_id != DEBUGGING_REPLICA_ID {
                        resp.error_code = ResponseError::NotLeaderOrFollower.code();
                        return resp;
                    }
                    // The leader epoch is in the answer from v4.
                    if version >= 4 {
                        resp.leader_epoch = epoch;
                    }
                    // read_committed sees up to the LSO, read_uncommitted up to the HW.
                    let visible = if request.isolation_level == READ_COMMITTED {
                        p.last_stable_offset()
                    } else {
                        p.high_watermark()
                    };
                    let found = match lp.timestamp {
                        // A follower resetting after OFFSET_OUT_OF_RANGE asks for
                        // the log end, as Kafka's replica fetcher does.
                        LATEST if replica_id >= 0 => Ok(Some((p.log_end_offset(), -1))),
                        LATEST => Ok(Some((visible, -1))),
                        EARLIEST | EARLIEST_LOCAL => Ok(Some((p.log_start_offset(), -1))),
                        LATEST_TIERED => Ok(None),
                        MAX_TIMESTAMP => p.log(|log| log.max_timestamp_offset()),
                        ts => p.log(|log| log.offset_for_timestamp(ts)),
                    };
                    match found {
                        Ok(Some((offset, timestamp)))
                            if (offset < visible
                                || matches!(lp.timestamp, LATEST | EARLIEST | EARLIEST_LOCAL))
                                || (replica_id >= 0 && lp.timestamp == LATEST) =>
                        {
                            let (offset, timestamp) = match lp.timestamp {
                                LATEST | EARLIEST | EARLIEST_LOCAL => (offset, timestamp),
                                target => exact_record(&p, offset, timestamp, target),
                            };
                            resp.offset = offset;
                            resp.timestamp = timestamp;
                        }
                        // No such record: Kafka names no epoch either.
                        Ok(_) => resp.leader_epoch = -1,
                        Err(e) => resp.error_code = partition_error_code(&e),
                    }
                    resp
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// Storage finds the batch without decompressing it; inside a compressed batch
/// the answer is a record, so decode that one batch and pick it: the first record
/// at or after `target`, or for MAX_TIMESTAMP the first with the batch's largest
/// timestamp `batch_ts`.
fn exact_record(p: &Partition, batch_offset: i64, batch_ts: i64, target: i64) -> (i64, i64) {
    let Ok(data) = p.read(batch_offset, 1) else {
        return (batch_offset, batch_ts);
    };
    let mut buf = data.records;
    let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
        return (batch_offset, batch_ts);
    };
    let wanted = |ts: i64| {
        if target == MAX_TIMESTAMP {
            ts == batch_ts
        } else {
            ts >= target
        }
    };
    set.records
        .iter()
        .find(|r| r.offset >= batch_offset && wanted(r.timestamp))
        .map_or((batch_offset, batch_ts), |r| (r.offset, r.timestamp))
}
