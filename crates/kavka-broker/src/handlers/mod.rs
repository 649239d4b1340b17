//! One module per Kafka API: each turns a decoded request into a response by
//! calling the partition and metadata layers. Nothing here touches a socket.

mod acls;
mod add_offsets_to_txn;
pub(crate) mod add_partitions_to_txn;
mod admin_log;
mod api_versions;
mod authorize;
mod authorized_operations;
mod client_quotas;
mod configs;
mod consumer_group_describe;
mod consumer_group_heartbeat;
mod create_partitions;
mod create_topics;
mod delete_records;
mod delete_topics;
pub(crate) mod describe_cluster;
mod describe_log_dirs;
mod describe_producers;
pub(crate) mod describe_quorum;
mod describe_topic_partitions;
mod elect_leaders;
mod end_txn;
mod errors;
mod fetch;
mod find_coordinator;
mod group_admin;
mod heartbeat;
mod init_producer_id;
mod join_group;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_fetch;
mod offset_for_leader_epoch;
mod partition_reassignments;
mod produce;
mod scram_credentials;
mod sync_group;
mod transactions_admin;
mod txn_offset_commit;
mod update_features;
mod write_txn_markers;

use std::net::SocketAddr;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kavka_wire::DecodedRequest;

use crate::security::Session;
use crate::state::BrokerState;

pub(crate) use errors::{leader_epoch_error, partition_error_code};

/// Who sent a request, for handlers that record it.
pub(crate) struct RequestContext<'a> {
    pub(crate) state: &'a BrokerState,
    pub(crate) peer: SocketAddr,
    /// Kept as the header's bytes: only group joins need it as a String.
    pub(crate) client_id: Option<StrBytes>,
    /// Who the connection authenticated as; read by authorization and quotas.
    pub(crate) session: &'a Session,
}

/// Handles a request; None means no response is sent (Produce with acks=0).
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: DecodedRequest,
) -> Option<ResponseKind> {
    let version = request.version;
    let Some(body) = request.body else {
        return Some(ResponseKind::ApiVersions(api_versions::unsupported()));
    };
    if writes_group_state(&body) {
        // A group's first write creates `__consumer_offsets`, as Kafka does, even
        // for a client that skipped FindCoordinator. Failing here leaves the
        // handler to answer with the coordinator error.
        let _ = ctx.state.groups.ensure_topic(ctx.state).await;
    }
    if writes_txn_state(&body) {
        // Likewise `__transaction_state`, for a client that asks a broker directly.
        let _ = ctx.state.txns.ensure_topic(ctx.state).await;
    }
    let pending_change = admin_log::Pending::of(&body);
    let response = match body {
        RequestKind::ApiVersions(r) => ResponseKind::ApiVersions(api_versions::handle(&r, version)),
        RequestKind::Metadata(r) => ResponseKind::Metadata(metadata::handle(ctx, r, version).await),
        RequestKind::Produce(r) => {
            return produce::handle(ctx, r, version)
                .await
                .map(ResponseKind::Produce)
        }
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::handle(ctx, r, version).await),
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(list_offsets::handle(ctx, r, version))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(create_topics::handle(ctx, r, version).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(delete_topics::handle(ctx, r, version).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(create_partitions::handle(ctx, r, version).await)
        }
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(delete_records::handle(ctx, r))
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(init_producer_id::handle(ctx, r, version).await)
        }
        RequestKind::AddPartitionsToTxn(r) => {
            ResponseKind::AddPartitionsToTxn(add_partitions_to_txn::handle(ctx, r, version).await)
        }
        RequestKind::AddOffsetsToTxn(r) => {
            ResponseKind::AddOffsetsToTxn(add_offsets_to_txn::handle(ctx, r, version).await)
        }
        RequestKind::EndTxn(r) => ResponseKind::EndTxn(end_txn::handle(ctx, r, version).await),
        RequestKind::ListTransactions(r) => {
            ResponseKind::ListTransactions(transactions_admin::list(ctx, r))
        }
        RequestKind::DescribeTransactions(r) => {
            ResponseKind::DescribeTransactions(transactions_admin::describe(ctx, r))
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(offset_for_leader_epoch::handle(ctx, r))
        }
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(describe_cluster::handle(ctx, r))
        }
        RequestKind::DescribeTopicPartitions(r) => {
            ResponseKind::DescribeTopicPartitions(describe_topic_partitions::handle(ctx, r))
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(configs::describe(ctx, r, version))
        }
        RequestKind::AlterConfigs(r) => ResponseKind::AlterConfigs(configs::alter(ctx, r).await),
        RequestKind::IncrementalAlterConfigs(r) => {
            ResponseKind::IncrementalAlterConfigs(configs::incremental_alter(ctx, r).await)
        }
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(find_coordinator::handle(ctx, r, version).await)
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(join_group::handle(ctx, r, version).await)
        }
        RequestKind::SyncGroup(r) => ResponseKind::SyncGroup(sync_group::handle(ctx, r).await),
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(heartbeat::heartbeat(ctx, r).await),
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(heartbeat::leave(ctx, r, version).await)
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(offset_commit::handle(ctx, r).await)
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(offset_fetch::handle(ctx, r, version).await)
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(group_admin::delete_offsets(ctx, r).await)
        }
        RequestKind::ListGroups(r) => ResponseKind::ListGroups(group_admin::list(ctx, r)),
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(group_admin::describe(ctx, r, version).await)
        }
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(group_admin::delete(ctx, r).await)
        }
        RequestKind::ConsumerGroupHeartbeat(r) => ResponseKind::ConsumerGroupHeartbeat(
            consumer_group_heartbeat::handle(ctx, r, version).await,
        ),
        RequestKind::ConsumerGroupDescribe(r) => {
            ResponseKind::ConsumerGroupDescribe(consumer_group_describe::handle(ctx, r))
        }
        RequestKind::DescribeQuorum(r) => {
            ResponseKind::DescribeQuorum(describe_quorum::handle(ctx, r, version).await)
        }
        RequestKind::ElectLeaders(r) => {
            ResponseKind::ElectLeaders(elect_leaders::handle(ctx, r, version).await)
        }
        RequestKind::AlterPartitionReassignments(r) => ResponseKind::AlterPartitionReassignments(
            partition_reassignments::alter(ctx, r, version).await,
        ),
        RequestKind::ListPartitionReassignments(r) => {
            ResponseKind::ListPartitionReassignments(partition_reassignments::list(ctx, r))
        }
        RequestKind::DescribeProducers(r) => {
            ResponseKind::DescribeProducers(describe_producers::handle(ctx, r))
        }
        RequestKind::TxnOffsetCommit(r) => {
            ResponseKind::TxnOffsetCommit(txn_offset_commit::handle(ctx, r).await)
        }
        RequestKind::WriteTxnMarkers(r) => {
            ResponseKind::WriteTxnMarkers(write_txn_markers::handle(ctx, r).await)
        }
        RequestKind::AlterUserScramCredentials(r) => {
            ResponseKind::AlterUserScramCredentials(scram_credentials::alter(ctx, r).await)
        }
        RequestKind::DescribeUserScramCredentials(r) => {
            ResponseKind::DescribeUserScramCredentials(scram_credentials::describe(ctx, r))
        }
        // Only on a connection that has authenticated or does not use SASL.
        other @ (RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_)) => {
            return crate::security::sasl::out_of_place(&other);
        }
        RequestKind::DescribeLogDirs(r) => {
            ResponseKind::DescribeLogDirs(describe_log_dirs::handle(ctx, r))
        }
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(acls::create(ctx, r).await),
        RequestKind::DescribeAcls(r) => ResponseKind::DescribeAcls(acls::describe(ctx, r)),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(acls::delete(ctx, r).await),
        RequestKind::DescribeClientQuotas(r) => {
            ResponseKind::DescribeClientQuotas(client_quotas::describe(ctx, r))
        }
        RequestKind::AlterClientQuotas(r) => {
            ResponseKind::AlterClientQuotas(client_quotas::alter_quotas(ctx, r).await)
        }
        RequestKind::UpdateFeatures(r) => {
            ResponseKind::UpdateFeatures(update_features::handle(ctx, &r, version))
        }
        // The wire layer only decodes APIs listed as supported, all matched above.
        other => {
            tracing::warn!(peer = %ctx.peer, request = ?std::mem::discriminant(&other), "no handler");
            return None;
        }
    };
    admin_log::record(ctx, pending_change, &response);
    Some(response)
}

/// Requests whose handling may write to `__consumer_offsets`.
fn writes_group_state(body: &RequestKind) -> bool {
    matches!(
        body,
        RequestKind::JoinGroup(_)
            | RequestKind::SyncGroup(_)
            | RequestKind::OffsetCommit(_)
            | RequestKind::TxnOffsetCommit(_)
            | RequestKind::LeaveGroup(_)
            | RequestKind::DeleteGroups(_)
            | RequestKind::OffsetDelete(_)
            | RequestKind::ConsumerGroupHeartbeat(_)
    )
}

/// Requests whose handling may write to `__transaction_state`.
fn writes_txn_state(body: &RequestKind) -> bool {
    match body {
        RequestKind::InitProducerId(r) => {
            r.transactional_id.as_ref().is_some_and(|t| !t.0.is_empty())
        }
        RequestKind::AddPartitionsToTxn(_)
        | RequestKind::AddOffsetsToTxn(_)
        | RequestKind::EndTxn(_) => true,
        _ => false,
    }
}
