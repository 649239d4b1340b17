//! OffsetForLeaderEpoch: where a leader epoch ended, so clients can detect a
//! diverged position after a leader change.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::ResponseError;

use super::{leader_epoch_error, partition_error_code, RequestContext};

/// Looks up each partition's end offset for the requested epoch.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let state = ctx.state;
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.topic.0.to_string();
            let partitions = topic
                .partitions
                .into_iter()
                .map(|op| {
                    let mut r = EpochEndOffset::default()
                        .with_partition(op.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    let Some(p) = state.replicas.get(&name, op.partition) else {
                        r.error_code = ResponseError::UnknownTopicOrPartition.code();
                        return r;
                    };
                    let epoch = p.leader_epoch();
                    if let Some(code) = leader_epoch_error(op.current_leader_epoch, epoch) {
                        r.error_code = code;
                        return r;
                    }
                    match p.log(|log| Ok(log.end_offset_for_epoch(op.leader_epoch))) {
                        Ok(Some((e, end))) => {
                            r.leader_epoch = e;
                            r.end_offset = end;
                        }
                        // No batch written yet in any epoch <= the requested one:
                        // an empty log answers with the current epoch and its end.
                        Ok(None) if op.leader_epoch >= epoch => {
                            r.leader_epoch = epoch;
                            r.end_offset = p.high_watermark();
                        }
                        Ok(None) => {}
                        Err(e) => r.error_code = partition_error_code(&e),
                    }
                    r
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
