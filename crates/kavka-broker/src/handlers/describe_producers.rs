//! DescribeProducers (API 61): per partition hosted here (leader or follower), the producers its log
//! knows — epoch, last sequence and timestamp, coordinator epoch, and where the
//! open transaction (if any) starts — as `kafka-transactions.sh describe-producers`
//! shows them.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::{partition_error_code, RequestContext};
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Lists the active producers of every partition asked.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.name.0.to_string();
            let readable = ctx.authorize(AclOperation::Read, ResourceType::Topic, &name);
            let partitions = topic
                .partition_indexes
                .iter()
                .map(|&index| {
                    let mut resp = PartitionResponse::default().with_partition_index(index);
                    if !readable {
                        resp.error_code = ResponseError::TopicAuthorizationFailed.code();
                        return resp;
                    }
                    let Some(p) = ctx.state.replicas.get(&name, index) else {
                        resp.error_code = ResponseError::UnknownTopicOrPartition.code();
                        return resp;
                    };
                    // Followers answer too, from the producer state they replay:
                    // `describe-producers --broker-id` asks a chosen replica.
                    match p.log(|log| Ok(log.producers())) {
                        Ok(producers) => {
                            resp.active_producers = producers
                                .into_iter()
                                .map(|info| {
                                    ProducerState::default()
                                        .with_producer_id(ProducerId(info.producer_id))
                                        .with_producer_epoch(i32::from(info.producer_epoch))
                                        .with_last_sequence(info.last_sequence)
                                        .with_last_timestamp(info.last_timestamp)
                                        .with_coordinator_epoch(info.coordinator_epoch)
                                        .with_current_txn_start_offset(
                                            info.current_txn_start_offset,
                                        )
                                })
                                .collect();
                        }
                        Err(e) => resp.error_code = partition_error_code(&e),
                    }
                    resp
                })
                .collect();
            TopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
