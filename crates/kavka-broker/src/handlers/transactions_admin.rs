//! ListTransactions and DescribeTransactions, answered by each coordinator for
//! the transactional ids it holds.

use kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState as DescribedTxn,
};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedTxn;
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
    ListTransactionsResponse, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_txn::TxnState;

use super::RequestContext;
use crate::state::now_ms;
use kavka_metadata::acl::{AclOperation, ResourceType};

pub(crate) fn list(
    ctx: &RequestContext<'_>,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let mut states = Vec::new();
    let mut unknown = Vec::new();
    for name in &request.state_filters {
        match TxnState::from_name(name) {
            Some(s) => states.push(s),
            None => unknown.push(name.clone()),
        }
    }
    let pattern = match request
        .transactional_id_pattern
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        Some(p) => match regex::Regex::new(&format!("^(?:{})$", p.as_str())) {
            Ok(r) => Some(r),
            Err(_) => {
                return ListTransactionsResponse::default()
                    .with_error_code(ResponseError::InvalidRegularExpression.code())
            }
        },
        None => None,
    };
    let now = now_ms();
    let authz = ctx.authz();
    let (listed, loading) = ctx.state.txns.read(|c, loading| {
        let listed: Vec<ListedTxn> = c
            .transactions()
            .filter(|m| m.state != TxnState::Dead)
            .filter(|m| request.state_filters.is_empty() || states.contains(&m.state))
            .filter(|m| {
                request.producer_id_filters.is_empty()
                    || request
                        .producer_id_filters
                        .contains(&ProducerId(m.producer_id))
            })
            // As Kafka: measured from the start of the id's last transaction,
            // whatever its state now.
            .filter(|m| {
                request.duration_filter < 0
                    || now.saturating_sub(m.start_ms) >= request.duration_filter
            })
            .filter(|m| {
                pattern
                    .as_ref()
                    .is_none_or(|r| r.is_match(&m.transactional_id))
            })
            // Only the ids the principal may describe, as Kafka lists them.
            .filter(|m| {
                authz.allows(
                    AclOperation::Describe,
                    ResourceType::TransactionalId,
                    &m.transactional_id,
                )
            })
            .map(|m| {
                ListedTxn::default()
                    .with_transactional_id(TransactionalId(StrBytes::from_string(
                        m.transactional_id.clone(),
                    )))
                    .with_producer_id(ProducerId(m.producer_id))
                    .with_transaction_state(StrBytes::from_static_str(m.state.name()))
            })
            .collect();
        (listed, loading)
    });
    let response = ListTransactionsResponse::default().with_unknown_state_filters(unknown);
    if loading {
        return response.with_error_code(ResponseError::CoordinatorLoadInProgress.code());
    }
    response.with_transaction_states(listed)
}

pub(crate) fn describe(
    ctx: &RequestContext<'_>,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let txns = &ctx.state.txns;
    let described = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let base = DescribedTxn::default()
                .with_transactional_id(id.clone())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
                .with_transaction_start_time_ms(-1);
            if !ctx.authorize(
                AclOperation::Describe,
                ResourceType::TransactionalId,
                id.0.as_str(),
            ) {
                return base
                    .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
            }
            if let Err(e) = txns.owns(&id) {
                return base.with_error_code(e.code(true));
            }
            txns.read(
                |c, _| match c.get(&id).filter(|m| m.state != TxnState::Dead) {
                    None => base.with_error_code(ResponseError::TransactionalIdNotFound.code()),
                    Some(m) => {
                        let mut topics: Vec<TopicData> = Vec::new();
                        for (topic, p) in &m.partitions {
                            match topics.last_mut() {
                                Some(t) if t.topic.0.as_str() == topic => t.partitions.push(*p),
                                _ => topics.push(
                                    TopicData::default()
                                        .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                                        .with_partitions(vec![*p]),
                                ),
                            }
                        }
                        base.with_transaction_state(StrBytes::from_static_str(m.state.name()))
                            .with_transaction_timeout_ms(m.timeout_ms)
                            .with_transaction_start_time_ms(m.start_ms)
                            .with_producer_id(ProducerId(m.producer_id))
                            .with_producer_epoch(m.producer_epoch)
                            .with_topics(topics)
                    }
                },
            )
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(described)
}
