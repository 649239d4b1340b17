//! AddPartitionsToTxn: partitions join a producer's transaction (v0-v3, from the
//! client); from v4 several transactions at once, or `verify_only` (KIP-890 part
//! 1: a partition leader asks whether a partition is already in the transaction).

use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};
use kafka_protocol::ResponseError;
use kavka_txn::TopicPartition;

use super::RequestContext;
use crate::txn_service::{Step, TxnServiceError};
use kavka_metadata::acl::{AclOperation, ResourceType};

pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    if version <= 3 {
        let txn = AddPartitionsToTxnTransaction::default()
            .with_transactional_id(request.v3_and_below_transactional_id)
            .with_producer_id(request.v3_and_below_producer_id)
            .with_producer_epoch(request.v3_and_below_producer_epoch)
            .with_topics(request.v3_and_below_topics);
        let result = one_transaction(ctx, txn, version).await;
        return AddPartitionsToTxnResponse::default()
            .with_results_by_topic_v3_and_below(result.topic_results);
    }
    if !ctx.authorize_cluster(AclOperation::ClusterAction) {
        return AddPartitionsToTxnResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let mut results = Vec::new();
    for txn in request.transactions {
        results.push(one_transaction(ctx, txn, version).await);
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

fn partitions_of(topics: &[AddPartitionsToTxnTopic]) -> Vec<TopicPartition> {
    topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.0.to_string(), *p)))
        .collect()
}

/// Every partition of `topics` with its error code (by `code_of`).
fn results(
    topics: &[AddPartitionsToTxnTopic],
    code_of: impl Fn(&TopicPartition) -> i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    topics
        .iter()
        .map(|t| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(
                    t.partitions
                        .iter()
                        .map(|p| {
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(*p)
                                .with_partition_error_code(code_of(&(t.name.0.to_string(), *p)))
                        })
                        .collect(),
                )
        })
        .collect()
}

async fn one_transaction(
    ctx: &RequestContext<'_>,
    txn: AddPartitionsToTxnTransaction,
    version: i16,
) -> AddPartitionsToTxnResult {
    let state = ctx.state;
    let id = txn.transactional_id.0.to_string();
    let partitions = partitions_of(&txn.topics);
    let out = |topic_results| {
        AddPartitionsToTxnResult::default()
            .with_transactional_id(txn.transactional_id.clone())
            .with_topic_results(topic_results)
    };
    // v4+ comes from brokers, checked as a whole; a client (v3 and below) needs
    // WRITE on the transactional id, then on each topic.
    let authz = ctx.authz();
    if version <= 3 && !authz.allows(AclOperation::Write, ResourceType::TransactionalId, &id) {
        return out(results(&txn.topics, |_| {
            ResponseError::TransactionalIdAuthorizationFailed.code()
        }));
    }
    let unwritable: Vec<&TopicPartition> = partitions
        .iter()
        .filter(|(t, _)| !authz.allows(AclOperation::Write, ResourceType::Topic, t))
        .collect();
    if !unwritable.is_empty() {
        return out(results(&txn.topics, |tp| {
            if unwritable.contains(&tp) {
                ResponseError::TopicAuthorizationFailed.code()
            } else {
                ResponseError::OperationNotAttempted.code()
            }
        }));
    }
    // Kafka refuses partitions it does not know, and attempts none of the rest.
    let image = state.metadata.image();
    let unknown: Vec<&TopicPartition> = partitions
        .iter()
        .filter(|(t, p)| image.topic(t).is_none_or(|t| !t.partitions.contains_key(p)))
        .collect();
    if !unknown.is_empty() {
        return out(results(&txn.topics, |tp| {
            if unknown.contains(&tp) {
                ResponseError::UnknownTopicOrPartition.code()
            } else {
                ResponseError::OperationNotAttempted.code()
            }
        }));
    }
    // PRODUCER_FENCED is known from v2 (KIP-588).
    let fenced_known = version >= 2;
    if txn.verify_only {
        let verified = state.txns.owns(&id).and_then(|()| {
            state
                .txns
                .read(|c, _| {
                    c.verify_partitions(&id, txn.producer_id.0, txn.producer_epoch, &partitions)
                })
                .map_err(TxnServiceError::from)
        });
        return match verified {
            Ok(each) => out(results(&txn.topics, |tp| {
                each.iter()
                    .find(|(p, _)| p == tp)
                    .and_then(|(_, r)| r.err())
                    .map_or(0, |e| e.code_for(fenced_known))
            })),
            Err(e) => out(results(&txn.topics, |_| e.code(fenced_known))),
        };
    }
    let result = state.txns.step(state, &id, |c, now| {
        let record =
            c.add_partitions(&id, txn.producer_id.0, txn.producer_epoch, &partitions, now)?;
        Ok(Step::answer((), record))
    });
    let result = match result {
        Ok(((), written)) => written.replicated().await,
        Err(e) => Err(e),
    };
    let code = result.map_or_else(|e| e.code(fenced_known), |()| 0);
    out(results(&txn.topics, |_| code))
}
