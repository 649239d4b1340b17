//! TxnOffsetCommit (API 28): a transactional producer commits its consumer's
//! offsets inside its transaction. They are written to the group's
//! `__consumer_offsets` partition in a transactional batch of the producer and
//! become visible to OffsetFetch only when the transaction's COMMIT marker reaches
//! that partition (WriteTxnMarkers).

use std::collections::BTreeMap;

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_group::{error_code, CommitPartition};
use kavka_storage::StorageError;

use super::offset_commit::split_known;
use super::RequestContext;
use crate::coordinator_runtime::WriteError;
use crate::group_service::{CoordinatorError, PersistError};
use crate::partition::PartitionError;
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Commits the offsets as pending for the producer; answers per partition.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    // WRITE on the transactional id, READ on the group, then on each topic.
    let authz = ctx.authz();
    let whole = if !authz.allows(
        AclOperation::Write,
        ResourceType::TransactionalId,
        request.transactional_id.0.as_str(),
    ) {
        Some(ResponseError::TransactionalIdAuthorizationFailed.code())
    } else if !authz.allows(
        AclOperation::Read,
        ResourceType::Group,
        request.group_id.0.as_str(),
    ) {
        Some(ResponseError::GroupAuthorizationFailed.code())
    } else {
        None
    };
    let readable =
        |t: &str| whole.is_none() && authz.allows(AclOperation::Read, ResourceType::Topic, t);
    let mut denied: Vec<(String, i32)> = Vec::new();
    for t in request
        .topics
        .iter()
        .filter(|t| !readable(t.name.0.as_str()))
    {
        denied.extend(
            t.partitions
                .iter()
                .map(|p| (t.name.0.to_string(), p.partition_index)),
        );
    }
    let denied_code = whole.unwrap_or(ResponseError::TopicAuthorizationFailed.code());
    let (offsets, unknown) = split_known(
        &ctx.state.metadata.image(),
        request
            .topics
            .iter()
            .filter(|t| readable(t.name.0.as_str()))
            .flat_map(|t| {
                t.partitions.iter().map(|p| CommitPartition {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                })
            }),
    );
    let attempted: Vec<(String, i32)> = offsets
        .iter()
        .map(|o| (o.topic.clone(), o.partition))
        .collect();
    let req = kavka_group::TxnOffsetCommitRequest {
        group_id: request.group_id.0.to_string(),
        producer_id: request.producer_id.0,
        producer_epoch: request.producer_epoch,
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|s| s.to_string()),
        offsets,
    };
    let result = ctx.state.groups.txn_offset_commit(ctx.state, req).await;
    let mut by_topic: BTreeMap<String, Vec<TxnOffsetCommitResponsePartition>> = BTreeMap::new();
    let mut answer = |topic: String, partition: i32, code: i16| {
        by_topic.entry(topic).or_default().push(
            TxnOffsetCommitResponsePartition::default()
                .with_partition_index(partition)
                .with_error_code(code),
        );
    };
    for (topic, partition) in denied {
        answer(topic, partition, denied_code);
    }
    for (topic, partition) in unknown {
        answer(
            topic,
            partition,
            ResponseError::UnknownTopicOrPartition.code(),
        );
    }
    match result {
        Ok(results) => {
            for r in results {
                answer(r.topic, r.partition, error_code(r.error));
            }
        }
        Err(e) => {
            let code = failure_code(&e);
            for (topic, partition) in attempted {
                answer(topic, partition, code);
            }
        }
    }
    TxnOffsetCommitResponse::default().with_topics(
        by_topic
            .into_iter()
            .map(|(name, partitions)| {
                TxnOffsetCommitResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partitions(partitions)
            })
            .collect(),
    )
}

/// The log's refusals of the producer pass through as they are (a fenced epoch,
/// a write outside the transaction); everything else is the coordinator's error.
fn failure_code(e: &CoordinatorError) -> i16 {
    match e {
        CoordinatorError::Persist(PersistError::Write(WriteError::Append(
            PartitionError::Storage(s),
        ))) => match s {
            StorageError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch.code(),
            StorageError::InvalidTxnState(_) => ResponseError::InvalidTxnState.code(),
            _ => e.code(),
        },
        _ => e.code(),
    }
}
