//! DeleteRecords: move a partition's log start offset forward.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::ResponseError;

use super::{partition_error_code, RequestContext};
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Offset -1 in a DeleteRecords request means "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

/// Deletes records below each requested offset.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let state = ctx.state;
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.name.0.to_string();
            let deletable = ctx.authorize(AclOperation::Delete, ResourceType::Topic, &name);
            let partitions = topic
                .partitions
                .into_iter()
                .map(|dp| {
                    let mut r = DeleteRecordsPartitionResult::default()
                        .with_partition_index(dp.partition_index)
                        .with_low_watermark(-1);
                    if !deletable {
                        r.error_code = ResponseError::TopicAuthorizationFailed.code();
                        return r;
                    }
                    let Some(p) = state.replicas.get(&name, dp.partition_index) else {
                        r.error_code = ResponseError::UnknownTopicOrPartition.code();
                        return r;
                    };
                    let hw = p.high_watermark();
                    let offset = if dp.offset == HIGH_WATERMARK {
                        hw
                    } else {
                        dp.offset
                    };
                    if offset < 0 || offset > hw {
                        r.error_code = ResponseError::OffsetOutOfRange.code();
                        return r;
                    }
                    match p.log(|log| log.delete_records_before(offset)) {
                        Ok(low) => r.low_watermark = low,
                        Err(e) => r.error_code = partition_error_code(&e),
                    }
                    r
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
