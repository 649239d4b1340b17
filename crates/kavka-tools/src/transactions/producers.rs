//! The partition side of `kafka-transactions`: `describe-producers` (DescribeProducers,
//! API 61, at the leader or a chosen replica), `abort` (WriteTxnMarkers, API 27, sent
//! to the partition leader as Kafka's admin client does, bypassing the coordinator)
//! and `find-hanging` (open transactions older than the maximum timeout whose
//! coordinator no longer lists the partition).
//!
//! Kafka's admin client retries an unknown topic or partition until its 2-minute
//! API timeout; these commands fail at once with the broker's error instead.

use std::collections::HashMap;

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::describe_producers_response::ProducerState;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest,
    MetadataResponse, ProducerId, TopicName, TransactionalId, WriteTxnMarkersRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::{now_ms, pretty_table, Failure};
use crate::error::ToolError;
use crate::output::java_hashmap_order;
use crate::wire::Connection;

const DESCRIBE_PRODUCERS_HEADERS: [&str; 6] = [
    "ProducerId",
    "ProducerEpoch",
    "LatestCoordinatorEpoch",
    "LastSequence",
    "LastTimestamp",
    "CurrentTransactionStartOffset",
];

const FIND_HANGING_HEADERS: [&str; 8] = [
    "Topic",
    "Partition",
    "ProducerId",
    "ProducerEpoch",
    "CoordinatorEpoch",
    "StartOffset",
    "LastTimestamp",
    "Duration(min)",
];

// Kafka's error codes these commands tell apart.
const REQUEST_TIMED_OUT: i16 = 7;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const TRANSACTION_COORDINATOR_FENCED: i16 = 52;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;

/// Kafka's `printErrorAndExit(message, cause)`: the cause's message, then a full stop.
fn failure(message: &str, cause: &str) -> Failure {
    Failure(format!(
        "{message}: {cause}. Enable debug logging for additional detail."
    ))
}

/// A partition's (index, leader, replicas) as the metadata lists them.
type PartitionInfo = (i32, i32, Vec<i32>);
/// Per partition asked, its producers or the error its broker gave.
type ProducerAnswers = Vec<((String, i32), Result<Vec<ProducerState>, ToolError>)>;

/// The cluster's brokers ("host:port" by id) and, per topic, each partition's leader
/// and replicas; topics Kafka would not describe give their error code instead.
struct Cluster {
    brokers: HashMap<i32, String>,
    topics: Vec<(String, Result<Vec<PartitionInfo>, i16>)>,
}

impl Cluster {
    fn from_metadata(metadata: MetadataResponse) -> Self {
        let brokers = metadata
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
            .collect();
        let topics = metadata
            .topics
            .into_iter()
            .filter_map(|t| {
                let name = t.name?.0.to_string();
                let partitions = if t.error_code != 0 {
                    Err(t.error_code)
                } else {
                    Ok(t.partitions
                        .iter()
                        .map(|p| {
                            (
                                p.partition_index,
                                p.leader_id.0,
                                p.replica_nodes.iter().map(|r| r.0).collect(),
                            )
                        })
                        .collect())
                };
                Some((name, partitions))
            })
            .collect();
        Cluster { brokers, topics }
    }

    /// The leader of `topic`-`partition`, or the error the broker would give.
    fn leader(&self, topic: &str, partition: i32) -> Result<i32, ToolError> {
        let unknown = || ToolError::from_code(UNKNOWN_TOPIC_OR_PARTITION, None);
        let (_, partitions) = self
            .topics
            .iter()
            .find(|(name, _)| name == topic)
            .ok_or_else(unknown)?;
        let partitions = partitions
            .as_ref()
            .map_err(|&code| ToolError::from_code(code, None))?;
        let &(_, leader, _) = partitions
            .iter()
            .find(|(p, _, _)| *p == partition)
            .ok_or_else(unknown)?;
        if leader < 0 {
            return Err(ToolError::from_code(5, None));
        }
        Ok(leader)
    }

    fn connect(&self, broker: i32) -> Result<Connection, ToolError> {
        let address = self.brokers.get(&broker).ok_or_else(|| {
            // What Kafka's admin client reports once it gives up on a broker id
            // that is not in the cluster.
            ToolError::Kafka {
                code: REQUEST_TIMED_OUT,
                message: "Timed out waiting for a node assignment. Call: \
                          describeProducers(api=DESCRIBE_PRODUCERS)"
                    .to_string(),
            }
        })?;
        Connection::connect(address)
    }
}

fn cluster(bootstrap: &str, topics: Option<&[String]>) -> Result<Cluster, ToolError> {
    let mut conn = Connection::bootstrap(bootstrap)?;
    Ok(Cluster::from_metadata(conn.metadata(topics)?))
}

/// DescribeProducers for `partitions` at `broker`: per partition, its producers or
/// the error the broker gave.
fn describe_producers_at(
    cluster: &Cluster,
    broker: i32,
    partitions: &[(String, i32)],
) -> Result<ProducerAnswers, ToolError> {
    let mut conn = cluster.connect(broker)?;
    let mut by_topic: Vec<TopicRequest> = Vec::new();
    for (topic, partition) in partitions {
        match by_topic.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.partition_indexes.push(*partition),
            None => by_topic.push(
                TopicRequest::default()
                    .with_name(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partition_indexes(vec![*partition]),
            ),
        }
    }
    let response = conn.send(DescribeProducersRequest::default().with_topics(by_topic))?;
    let mut out = Vec::new();
    for topic in response.topics {
        for p in topic.partitions {
            let key = (topic.name.0.to_string(), p.partition_index);
            let result = if p.error_code != 0 {
                Err(ToolError::from_code(
                    p.error_code,
                    p.error_message.as_deref(),
                ))
            } else {
                Ok(p.active_producers)
            };
            out.push((key, result));
        }
    }
    Ok(out)
}

/// The producers of one partition, at `broker_id` or else at its leader.
fn producers_of(
    bootstrap: &str,
    broker_id: Option<i32>,
    topic: &str,
    partition: i32,
) -> Result<Vec<ProducerState>, ToolError> {
    let cluster = cluster(bootstrap, Some(&[topic.to_string()]))?;
    let broker = match broker_id {
        Some(b) => b,
        None => cluster.leader(topic, partition)?,
    };
    let answers = describe_producers_at(&cluster, broker, &[(topic.to_string(), partition)])?;
    answers
        .into_iter()
        .find(|((t, p), _)| t == topic && *p == partition)
        .map(|(_, r)| r)
        .unwrap_or_else(|| Err(ToolError::Protocol("no answer for the partition".into())))
}

/// `describe-producers`.
pub(super) fn describe_producers(
    bootstrap: &str,
    broker_id: Option<i32>,
    topic: &str,
    partition: i32,
) -> Result<String, Failure> {
    let producers = producers_of(bootstrap, broker_id, topic, partition).map_err(|e| {
        let on = match broker_id {
            Some(b) => format!("broker {b}"),
            None => "leader".to_string(),
        };
        failure(
            &format!("Failed to describe producers for partition {topic}-{partition} on {on}"),
            &e.to_string(),
        )
    })?;
    let rows: Vec<Vec<String>> = producers
        .iter()
        .map(|p| {
            vec![
                p.producer_id.0.to_string(),
                p.producer_epoch.to_string(),
                p.coordinator_epoch.max(-1).to_string(),
                p.last_sequence.to_string(),
                p.last_timestamp.to_string(),
                optional(p.current_txn_start_offset),
            ]
        })
        .collect();
    Ok(pretty_table(&DESCRIBE_PRODUCERS_HEADERS, &rows))
}

/// Kafka prints an absent (negative) start offset as `None`.
fn optional(offset: i64) -> String {
    if offset < 0 {
        "None".to_string()
    } else {
        offset.to_string()
    }
}

/// What `abort` writes a marker for: Kafka's `AbortTransactionSpec`.
struct AbortSpec {
    topic: String,
    partition: i32,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
}

impl std::fmt::Display for AbortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AbortTransactionSpec(topicPartition={}-{}, producerId={}, producerEpoch={}, \
             coordinatorEpoch={})",
            self.topic,
            self.partition,
            self.producer_id,
            self.producer_epoch,
            self.coordinator_epoch
        )
    }
}

/// The transaction `abort` names, either by start offset or by producer.
pub(super) struct AbortTarget {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) start_offset: Option<i64>,
    pub(super) producer_id: Option<i64>,
    pub(super) producer_epoch: Option<i16>,
    pub(super) coordinator_epoch: Option<i32>,
}

/// `abort`: an ABORT marker written at the partition leader.
pub(super) fn abort(bootstrap: &str, target: AbortTarget) -> Result<String, Failure> {
    let AbortTarget {
        topic,
        partition,
        start_offset,
        producer_id,
        producer_epoch,
        coordinator_epoch,
    } = target;
    let spec = match (start_offset, producer_id) {
        (None, None) => {
            return Err(Failure(
                "The transaction to abort must be identified either with --start-offset (for \
                 brokers on 3.0 or above) or with --producer-id, --producer-epoch, and \
                 --coordinator-epoch (for older brokers)"
                    .to_string(),
            ))
        }
        (None, Some(producer_id)) => {
            let producer_epoch = producer_epoch
                .ok_or_else(|| Failure("Missing required argument --producer-epoch".into()))?;
            let coordinator_epoch = coordinator_epoch
                .ok_or_else(|| Failure("Missing required argument --coordinator-epoch".into()))?;
            AbortSpec {
                topic,
                partition,
                producer_id,
                producer_epoch,
                // A producer whose first transaction hangs has no coordinator epoch
                // yet (-1); 0 is at most any epoch a coordinator wrote with.
                coordinator_epoch: coordinator_epoch.max(0),
            }
        }
        (Some(start), _) => {
            let producers = producers_of(bootstrap, None, &topic, partition).map_err(|e| {
                failure(
                    &format!("Failed to validate producer state for partition {topic}-{partition}"),
                    &e.to_string(),
                )
            })?;
            let Some(p) = producers
                .iter()
                .find(|p| p.current_txn_start_offset == start)
            else {
                return Err(Failure(format!(
                    "Could not find any open transactions starting at offset {start} on \
                     partition {topic}-{partition}"
                )));
            };
            AbortSpec {
                topic,
                partition,
                producer_id: p.producer_id.0,
                // DescribeProducers carries the epoch as an int32 of a short.
                producer_epoch: i16::try_from(p.producer_epoch).unwrap_or(i16::MAX),
                coordinator_epoch: p.coordinator_epoch.max(0),
            }
        }
    };
    write_abort_marker(bootstrap, &spec)
        .map_err(|cause| failure(&format!("Failed to abort transaction {spec}"), &cause))?;
    Ok(String::new())
}

/// Sends the ABORT marker of `spec` to its partition's leader; the error is the
/// message of the exception Kafka's admin client raises.
fn write_abort_marker(bootstrap: &str, spec: &AbortSpec) -> Result<(), String> {
    let cluster =
        cluster(bootstrap, Some(std::slice::from_ref(&spec.topic))).map_err(|e| e.to_string())?;
    let leader = cluster
        .leader(&spec.topic, spec.partition)
        .map_err(|e| e.to_string())?;
    let mut conn = cluster.connect(leader).map_err(|e| e.to_string())?;
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(spec.producer_id))
        .with_producer_epoch(spec.producer_epoch)
        .with_transaction_result(false)
        .with_coordinator_epoch(spec.coordinator_epoch)
        .with_topics(vec![WritableTxnMarkerTopic::default()
            .with_name(TopicName(StrBytes::from_string(spec.topic.clone())))
            .with_partition_indexes(vec![spec.partition])]);
    let response = conn
        .send(WriteTxnMarkersRequest::default().with_markers(vec![marker]))
        .map_err(|e| e.to_string())?;
    let code = response
        .markers
        .iter()
        .flat_map(|m| &m.topics)
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == spec.partition)
        .map(|p| p.error_code)
        .ok_or_else(|| format!("WriteTxnMarkers response had no entry for {spec}"))?;
    match code {
        0 => Ok(()),
        CLUSTER_AUTHORIZATION_FAILED => Err(format!(
            "WriteTxnMarkers request with {spec} failed due to cluster authorization error"
        )),
        INVALID_PRODUCER_EPOCH => Err(format!(
            "WriteTxnMarkers request with {spec} failed due an invalid producer epoch"
        )),
        TRANSACTION_COORDINATOR_FENCED => Err(format!(
            "WriteTxnMarkers request with {spec} failed since the provided coordinator epoch {} \
             has been fenced by the active coordinator",
            spec.coordinator_epoch
        )),
        other => Err(format!(
            "WriteTxnMarkers request with {spec} failed due to unexpected error: {}",
            ToolError::from_code(other, None)
        )),
    }
}

/// An open transaction on a partition, as `find-hanging` finds it.
struct OpenTransaction {
    topic: String,
    partition: i32,
    state: ProducerState,
}

/// Where `find-hanging` looks.
pub(super) struct HangingScope {
    pub(super) broker_id: Option<i32>,
    pub(super) max_transaction_timeout_min: i32,
    pub(super) topic: Option<String>,
    pub(super) partition: Option<i32>,
}

/// `find-hanging`.
pub(super) fn find_hanging(bootstrap: &str, scope: HangingScope) -> Result<String, Failure> {
    let HangingScope {
        broker_id,
        max_transaction_timeout_min,
        topic,
        partition,
    } = scope;
    if topic.is_none() && broker_id.is_none() {
        return Err(Failure(
            "The `find-hanging` command requires either --topic or --broker-id to limit the \
             scope of the search"
                .to_string(),
        ));
    }
    if partition.is_some() && topic.is_none() {
        return Err(Failure(
            "The --partition argument requires --topic to be provided".to_string(),
        ));
    }
    let max_timeout_ms = i64::from(max_transaction_timeout_min) * 60_000;
    let wanted: Option<Vec<String>> = topic.as_ref().map(|t| vec![t.clone()]);
    let cluster = cluster(bootstrap, wanted.as_deref())?;

    // The partitions to search, in the order Kafka's admin client returns them.
    let mut partitions: Vec<(String, i32, i32)> = Vec::new();
    let topics = java_hashmap_order(cluster.topics.iter().collect::<Vec<_>>(), |(name, _)| {
        (name.as_str(), 0)
    });
    let described = topics.len();
    for (name, parts) in topics {
        let parts = parts.as_ref().map_err(|&code| {
            failure(
                &format!("Failed to describe {described} topics"),
                &ToolError::from_code(code, None).to_string(),
            )
        })?;
        for (index, leader, replicas) in parts {
            if partition.is_some_and(|p| p != *index) {
                continue;
            }
            if broker_id.is_none_or(|b| replicas.contains(&b)) {
                partitions.push((name.clone(), *index, *leader));
            }
        }
    }
    if let (Some(t), Some(p)) = (&topic, partition) {
        // Kafka searches a named partition without checking it exists.
        if partitions.is_empty() {
            partitions.push((t.clone(), p, -1));
        }
    }

    // Ask the chosen broker for all, or each leader for its own.
    let mut by_broker: Vec<(i32, Vec<(String, i32)>)> = Vec::new();
    for (t, p, leader) in &partitions {
        let broker = broker_id.unwrap_or(*leader);
        match by_broker.iter_mut().find(|(b, _)| *b == broker) {
            Some((_, list)) => list.push((t.clone(), *p)),
            None => by_broker.push((broker, vec![(t.clone(), *p)])),
        }
    }
    let searched = partitions.len();
    let producers_failed = |e: &ToolError| {
        let on = match broker_id {
            Some(b) => format!("Optional[{b}]"),
            None => "Optional.empty".to_string(),
        };
        failure(
            &format!("Failed to describe producers for {searched} partitions on broker {on}"),
            &e.to_string(),
        )
    };
    let now = now_ms();
    let mut candidates = Vec::new();
    for (broker, list) in by_broker {
        let answers =
            describe_producers_at(&cluster, broker, &list).map_err(|e| producers_failed(&e))?;
        let answers = java_hashmap_order(answers, |((t, p), _)| (t.as_str(), *p));
        for ((t, p), result) in answers {
            for state in result.map_err(|e| producers_failed(&e))? {
                if state.current_txn_start_offset >= 0
                    && now - state.last_timestamp > max_timeout_ms
                {
                    candidates.push(OpenTransaction {
                        topic: t.clone(),
                        partition: p,
                        state,
                    });
                }
            }
        }
    }
    let mut hanging = Vec::new();
    if !candidates.is_empty() {
        let mut producer_ids: Vec<i64> = candidates.iter().map(|c| c.state.producer_id.0).collect();
        producer_ids.sort_unstable();
        producer_ids.dedup();
        let ids = transactional_ids(&cluster, &producer_ids)?;
        let descriptions = describe_transactions(bootstrap, &ids)?;
        // Kafka groups the candidates by producer id in a HashMap: small ids in order.
        candidates.sort_by_key(|c| c.state.producer_id.0);
        for c in candidates {
            let listed = ids
                .get(&c.state.producer_id.0)
                .and_then(|id| descriptions.get(id))
                .and_then(|d| d.as_ref());
            let still_expected = listed.is_some_and(|parts| {
                parts
                    .iter()
                    .any(|(t, p)| *t == c.topic && *p == c.partition)
            });
            if !still_expected {
                hanging.push(c);
            }
        }
    }
    let rows: Vec<Vec<String>> = hanging
        .iter()
        .map(|c| {
            vec![
                c.topic.clone(),
                c.partition.to_string(),
                c.state.producer_id.0.to_string(),
                c.state.producer_epoch.to_string(),
                c.state.coordinator_epoch.max(-1).to_string(),
                c.state.current_txn_start_offset.to_string(),
                c.state.last_timestamp.to_string(),
                ((now - c.state.last_timestamp) / 60_000).to_string(),
            ]
        })
        .collect();
    Ok(pretty_table(&FIND_HANGING_HEADERS, &rows))
}

/// The transactional id of each producer id some coordinator knows (ListTransactions
/// filtered by producer id, on every broker).
fn transactional_ids(
    cluster: &Cluster,
    producer_ids: &[i64],
) -> Result<HashMap<i64, String>, Failure> {
    let fail = |e: ToolError| {
        failure(
            &format!(
                "Failed to list transactions for {} producers",
                producer_ids.len()
            ),
            &e.to_string(),
        )
    };
    let mut brokers: Vec<i32> = cluster.brokers.keys().copied().collect();
    brokers.sort_unstable();
    let mut ids = HashMap::new();
    for broker in brokers {
        let mut conn = cluster.connect(broker).map_err(fail)?;
        let response = conn
            .send(
                ListTransactionsRequest::default().with_producer_id_filters(
                    producer_ids.iter().map(|&p| ProducerId(p)).collect(),
                ),
            )
            .map_err(fail)?;
        if response.error_code != 0 {
            return Err(fail(ToolError::from_code(response.error_code, None)));
        }
        for t in response.transaction_states {
            if producer_ids.contains(&t.producer_id.0) {
                ids.insert(t.producer_id.0, t.transactional_id.0.to_string());
            }
        }
    }
    Ok(ids)
}

/// The partitions each transactional id's coordinator still lists (None: the id is
/// unknown to it).
#[allow(clippy::type_complexity)]
fn describe_transactions(
    bootstrap: &str,
    ids: &HashMap<i64, String>,
) -> Result<HashMap<String, Option<Vec<(String, i32)>>>, Failure> {
    let fail = |e: ToolError| {
        failure(
            &format!("Failed to describe {} transactions", ids.len()),
            &e.to_string(),
        )
    };
    let mut out = HashMap::new();
    let mut conn = Connection::bootstrap(bootstrap).map_err(fail)?;
    for id in ids.values() {
        let (mut coordinator, _) = conn.coordinator(id, 1).map_err(fail)?;
        let response = coordinator
            .send(
                DescribeTransactionsRequest::default().with_transactional_ids(vec![
                    TransactionalId(StrBytes::from_string(id.clone())),
                ]),
            )
            .map_err(fail)?;
        let Some(t) = response.transaction_states.into_iter().next() else {
            return Err(fail(ToolError::Protocol(format!(
                "no answer for transactional id {id}"
            ))));
        };
        let partitions = match t.error_code {
            0 => Some(
                t.topics
                    .iter()
                    .flat_map(|topic| {
                        topic
                            .partitions
                            .iter()
                            .map(|p| (topic.topic.0.to_string(), *p))
                    })
                    .collect(),
            ),
            TRANSACTIONAL_ID_NOT_FOUND => None,
            code => return Err(fail(ToolError::from_code(code, None))),
        };
        out.insert(id.clone(), partitions);
    }
    Ok(out)
}
