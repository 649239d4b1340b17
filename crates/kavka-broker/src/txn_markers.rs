//! The transaction marker channel (Kafka's `TransactionMarkerChannelManager`):
//! sends the markers of decided transactions to the leaders of their partitions as
//! WriteTxnMarkers requests, over TCP to other brokers (the inter-broker listener
//! they registered) or handled in-process when this broker leads the partition.
//! A partition that answers an error (NOT_LEADER_OR_FOLLOWER while leadership
//! moves, a leader not serving WriteTxnMarkers yet, a broker down) is tried again
//! on the next round against the leader the metadata names then, until its marker
//! is written or its topic is deleted. Each round calls every leader at once, so a
//! slow or frozen one delays only its own partitions' markers. When a transaction
//! has every marker, the service writes its Complete state.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    ApiKey, ProducerId, RequestHeader, RequestKind, ResponseKind, TopicName,
    WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::StrBytes;
use kavka_metadata::MetadataImage;
use kavka_txn::TopicPartition;
use kavka_wire::DecodedRequest;
use tokio::sync::watch;

use crate::handlers::{self, RequestContext};
use crate::replication::client::LeaderConnection;
use crate::security::Session;
use crate::state::BrokerState;
use crate::txn_service::PendingMarkers;

/// How long connecting to a leader may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one leader may take to answer: Kafka's `request.timeout.ms`, a little
/// more than the 30 s a leader waits for its marker to be replicated.
const CALL_TIMEOUT: Duration = Duration::from_secs(35);
/// Between rounds while markers are waiting (for replication or a leader).
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
const WRITE_TXN_MARKERS_VERSION: i16 = 1;

/// Runs until `stop`: each round sends every ready transaction's remaining markers.
pub(crate) async fn run_marker_channel(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let mut connections: HashMap<i32, LeaderConnection> = HashMap::new();
    let mut waiting = false;
    loop {
        let backoff = if waiting {
            RETRY_BACKOFF
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            _ = state.txns.markers_waiting.notified() => {}
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        let (ready, any) = state.txns.pending_markers();
        waiting = any;
        if ready.is_empty() {
            continue;
        }
        let image = state.metadata.image();
        let mut by_leader: BTreeMap<i32, Vec<(usize, TopicPartition)>> = BTreeMap::new();
        let mut done: Vec<Vec<TopicPartition>> = vec![Vec::new(); ready.len()];
        for (i, pending) in ready.iter().enumerate() {
            for tp in &pending.remaining {
                match image.topic(&tp.0).and_then(|t| t.partitions.get(&tp.1)) {
                    // Deleted: nothing left to mark, as Kafka drops it.
                    None => done[i].push(tp.clone()),
                    Some(p) if p.leader >= 0 => {
                        by_leader.entry(p.leader).or_default().push((i, tp.clone()))
                    }
                    // No leader right now: the next round looks again.
                    Some(_) => {}
                }
            }
        }
        // One call per leader, all at once: a leader that is slow to answer (or a
        // paused node) holds up only its own partitions.
        let mut calls = tokio::task::JoinSet::new();
        for (leader, items) in by_leader {
            let request = request_for(&ready, &items);
            let connection = connections.remove(&leader);
            let state = state.clone();
            let image = image.clone();
            calls.spawn(async move {
                let (response, connection) = if leader == state.config.node_id {
                    (in_process(&state, request).await, None)
                } else {
                    remote(&state, &image, connection, leader, request).await
                };
                (leader, items, response, connection)
            });
        }
        while let Some(joined) = calls.join_next().await {
            let Ok((leader, items, response, connection)) = joined else {
                continue;
            };
            if let Some(c) = connection {
                connections.insert(leader, c);
            }
            let Some(response) = response else { continue };
            for marker in response.markers {
                for topic in marker.topics {
                    for p in topic.partitions {
                        if p.error_code != 0 {
                            tracing::debug!(
                                leader,
                                topic = %topic.name.0,
                                partition = p.partition_index,
                                error = p.error_code,
                                "transaction marker not written; retrying"
                            );
                            continue;
                        }
                        let tp = (topic.name.0.to_string(), p.partition_index);
                        for (i, pending) in ready.iter().enumerate() {
                            if pending.job.producer_id == marker.producer_id.0
                                && items.iter().any(|(j, t)| *j == i && *t == tp)
                            {
                                done[i].push(tp.clone());
                            }
                        }
                    }
                }
            }
        }
        for (pending, done) in ready.iter().zip(done) {
            state.txns.markers_written(
                &state,
                &pending.job.transactional_id,
                pending.job.producer_epoch,
                &done,
            );
        }
        // Another round soon while anything is left.
        waiting = state.txns.pending_markers().1;
    }
}

/// One WriteTxnMarkers request for one leader: a marker per transaction, with the
/// partitions of it that this leader leads.
fn request_for(
    ready: &[PendingMarkers],
    items: &[(usize, TopicPartition)],
) -> WriteTxnMarkersRequest {
    let mut markers = Vec::new();
    for (i, pending) in ready.iter().enumerate() {
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (_, (topic, partition)) in items.iter().filter(|(j, _)| *j == i) {
            topics.entry(topic.as_str()).or_default().push(*partition);
        }
        if topics.is_empty() {
            continue;
        }
        markers.push(
            WritableTxnMarker::default()
                .with_producer_id(ProducerId(pending.job.producer_id))
                .with_producer_epoch(pending.job.producer_epoch)
                .with_transaction_result(pending.job.commit)
                .with_coordinator_epoch(pending.coordinator_epoch)
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(name, partitions)| {
                            WritableTxnMarkerTopic::default()
                                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                                .with_partition_indexes(partitions)
                        })
                        .collect(),
                ),
        );
    }
    WriteTxnMarkersRequest::default().with_markers(markers)
}

/// This broker leads the partitions: the request goes through the same handler
/// a remote coordinator's would.
async fn in_process(
    state: &BrokerState,
    request: WriteTxnMarkersRequest,
) -> Option<WriteTxnMarkersResponse> {
    let session = Session::internal();
    let ctx = RequestContext {
        state,
        peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        client_id: Some(StrBytes::from_static_str("txn-marker-channel")),
        session: &session,
    };
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::WriteTxnMarkers as i16)
        .with_request_api_version(WRITE_TXN_MARKERS_VERSION);
    let decoded = DecodedRequest {
        header,
        api_key: ApiKey::WriteTxnMarkers,
        version: WRITE_TXN_MARKERS_VERSION,
        body: Some(RequestKind::WriteTxnMarkers(request)),
    };
    match handlers::handle(&ctx, decoded).await {
        Some(ResponseKind::WriteTxnMarkers(r)) => Some(r),
        _ => {
            tracing::debug!("this broker does not handle WriteTxnMarkers; markers wait");
            None
        }
    }
}

/// Another broker leads the partitions: over its inter-broker listener, on the
/// connection kept from earlier rounds (returned for the next one unless it failed).
async fn remote(
    state: &BrokerState,
    image: &MetadataImage,
    connection: Option<LeaderConnection>,
    leader: i32,
    request: WriteTxnMarkersRequest,
) -> (Option<WriteTxnMarkersResponse>, Option<LeaderConnection>) {
    let mut conn = match connection {
        Some(c) => c,
        None => {
            let Some((host, port)) = image
                .broker(leader)
                .and_then(|b| Some((b.host.clone(), u16::try_from(b.port).ok()?)))
            else {
                return (None, None);
            };
            match LeaderConnection::connect(
                &host,
                port,
                state.config.node_id,
                CONNECT_TIMEOUT,
                16 << 20,
                state.config.inter_broker_tls.as_ref(),
            )
            .await
            {
                Ok(c) => c,
                Err(err) => {
                    tracing::debug!(leader, error = %err, "cannot reach partition leader for transaction markers");
                    return (None, None);
                }
            }
        }
    };
    let result = match conn.version_for(
        ApiKey::WriteTxnMarkers,
        WRITE_TXN_MARKERS_VERSION..=WRITE_TXN_MARKERS_VERSION,
    ) {
        Ok(version) => conn.call(&request, version, CALL_TIMEOUT).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => (Some(r), Some(conn)),
        Err(e) => {
            tracing::debug!(leader, error = %e, "transaction markers not sent; retrying");
            (None, None)
        }
    }
}
