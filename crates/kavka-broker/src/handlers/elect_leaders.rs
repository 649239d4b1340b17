//! ElectLeaders (API key 43): preferred or unclean leader election, what
//! `kafka-leader-election` sends. [`response`] turns the controller's decision for
//! each partition into Kafka's response; it decides nothing itself.
//!
//! NOT WIRED YET: `handlers::handle` does not dispatch ElectLeaders and `kavka_wire`
//! does not advertise it: elections are the active controller's, and the broker
//! does not reach one yet. To wire it (versions 0–2; v0 has no election type and
//! means PREFERRED):
//! 1. advertise `ApiKey::ElectLeaders` 0–2 in `kavka_wire`'s version table;
//! 2. on the active controller, for `RequestKind::ElectLeaders(r)`, call
//!    [`response`] with the current image and a closure that asks
//!    `ClusterControl::elect_preferred` / `elect_unclean` (by [`ElectionType`]) and
//!    collects the records they return; propose those records, and answer only once
//!    they are committed (within `timeout_ms`; REQUEST_TIMED_OUT per partition
//!    otherwise);
//! 3. a broker that is not the controller forwards the request there, as Kafka's
//!    brokers do.

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::acl::AclOperation;
use kavka_metadata::cluster::ControlError;
use kavka_metadata::MetadataImage;
use uuid::Uuid;

/// Kafka's `ElectionType`, the request's `election_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ElectionType {
    /// 0: move leadership to the first replica, when it is alive and in the ISR.
    Preferred,
    /// 1: give a partition without a live leader any live replica.
    Unclean,
}

impl ElectionType {
    /// The type a request asks for; v0 requests have none and mean PREFERRED.
    fn of(request: &ElectLeadersRequest, version: i16) -> Option<Self> {
        match (version, request.election_type) {
            (0, _) | (_, 0) => Some(ElectionType::Preferred),
            (_, 1) => Some(ElectionType::Unclean),
            _ => None,
        }
    }
}

/// The ElectLeaders response at `version`. `elect` is asked about each existing
/// partition (election type, topic name, topic id, partition index) and says
/// whether its leader was elected (`Ok`) or why not; `Err(ElectionNotNeeded)` is
/// "valid replica already elected". Partitions that do not exist are answered
/// here, with Kafka's messages.
///
/// As in Kafka's controller (`ReplicationControlManager.electLeaders`): with no
/// partitions named (`--all-topic-partitions`) every partition of every topic is
/// tried and those that needed no election are left out of the response; named
/// partitions are all answered.
pub(crate) fn response(
    request: &ElectLeadersRequest,
    version: i16,
    image: &MetadataImage,
    mut elect: impl FnMut(ElectionType, &str, Uuid, i32) -> Result<(), ControlError>,
) -> ElectLeadersResponse {
    let Some(election_type) = ElectionType::of(request, version) else {
        let message = format!("Unknown election type {}", request.election_type);
        let results = named_partitions(request)
            .map(|(topic, partitions)| {
                topic_result(
                    topic,
                    partitions
                        .iter()
                        .map(|&p| {
                            partition_result(
                                p,
                                ResponseError::InvalidRequest.code(),
                                Some(message.clone()),
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        return ElectLeadersResponse::default().with_replica_election_results(results);
    };
    let mut results = Vec::new();
    match &request.topic_partitions {
        None => {
            for topic in image.topics() {
                let mut partitions = Vec::new();
                for &index in topic.partitions.keys() {
                    match elect(election_type, &topic.name, topic.topic_id, index) {
                        Err(ControlError::ElectionNotNeeded) => {}
                        outcome => partitions.push(outcome_result(index, outcome)),
                    }
                }
                results.push(topic_result(&topic.name, partitions));
            }
        }
        Some(_) => {
            for (name, indexes) in named_partitions(request) {
                let topic = image.topic(name);
                let partitions = indexes
                    .iter()
                    .map(|&index| match topic {
                        None => partition_result(
                            index,
                            ResponseError::UnknownTopicOrPartition.code(),
                            Some(format!("No such topic as {name}")),
                        ),
                        Some(t) if !t.partitions.contains_key(&index) => partition_result(
                            index,
                            ResponseError::UnknownTopicOrPartition.code(),
                            Some(format!("No such partition as {name}-{index}")),
                        ),
                        Some(t) => {
                            outcome_result(index, elect(election_type, name, t.topic_id, index))
                        }
                    })
                    .collect();
                results.push(topic_result(name, partitions));
            }
        }
    }
    ElectLeadersResponse::default().with_replica_election_results(results)
}

/// The request's (topic, partitions) pairs, as sent.
fn named_partitions(request: &ElectLeadersRequest) -> impl Iterator<Item = (&str, &[i32])> {
    request
        .topic_partitions
        .iter()
        .flatten()
        .map(|t| (t.topic.0.as_str(), t.partitions.as_slice()))
}

fn topic_result(topic: &str, partitions: Vec<PartitionResult>) -> ReplicaElectionResult {
    ReplicaElectionResult::default()
        .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
        .with_partition_result(partitions)
}

fn outcome_result(index: i32, outcome: Result<(), ControlError>) -> PartitionResult {
    match outcome {
        Ok(()) => partition_result(index, 0, None),
        Err(e) => partition_result(index, e.code(), Some(error_message(&e))),
    }
}

fn partition_result(index: i32, code: i16, message: Option<String>) -> PartitionResult {
    PartitionResult::default()
        .with_partition_id(index)
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

/// The message Kafka's controller sends with a refusal: for the election errors
/// the error's own default text (what Kafka's tool prints after the exception
/// class, e.g. "The preferred leader was not available.").
fn error_message(e: &ControlError) -> String {
    match e {
        ControlError::ElectionNotNeeded => "Leader election not needed for topic partition.",
        ControlError::PreferredLeaderNotAvailable => "The preferred leader was not available.",
        ControlError::EligibleLeadersNotAvailable => {
            "Eligible topic partition leaders are not available."
        }
        ControlError::UnknownTopicOrPartition => "This server does not host this topic-partition.",
        other => return other.to_string(),
    }
    .to_string()
}

/// Runs the elections on the active controller and answers per partition.
pub(crate) async fn handle(
    ctx: &super::RequestContext<'_>,
    request: ElectLeadersRequest,
    version: i16,
) -> ElectLeadersResponse {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        return ElectLeadersResponse::default()
            .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code());
    }
    let state = ctx.state;
    let image = state.metadata.image();
    // First pass: which partitions the request elects, and how.
    let mut wanted: Vec<(Uuid, i32)> = Vec::new();
    let mut unclean = false;
    let _ = response(&request, version, &image, |kind, _, id, partition| {
        unclean = matches!(kind, ElectionType::Unclean);
        wanted.push((id, partition));
        Ok(())
    });
    let outcome: std::collections::BTreeMap<(Uuid, i32), i16> = if wanted.is_empty() {
        Default::default()
    } else {
        match state
            .controller
            .elect_leaders(unclean, wanted.clone())
            .await
        {
            Ok(results) => results
                .into_iter()
                .map(|(t, p, code)| ((t, p), code))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "leader election failed");
                // NOT_CONTROLLER-like: every partition reports it could not be elected.
                wanted.iter().map(|&k| (k, 83)).collect()
            }
        }
    };
    // Second pass: the answer, with each partition's outcome.
    response(
        &request,
        version,
        &image,
        |_, _, id, partition| match outcome.get(&(id, partition)).copied().unwrap_or(0) {
            0 => Ok(()),
            code => {
                Err(ControlError::from_code(code)
                    .unwrap_or(ControlError::EligibleLeadersNotAvailable))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::BytesMut;
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    use kafka_protocol::protocol::{Decodable, Encodable};
    use kavka_metadata::MetadataRecord;

    use super::*;

    /// orders (3 partitions), pair (2) and solo (1), as in the reference transcript.
    fn image() -> MetadataImage {
        let mut image = MetadataImage::default();
        for (name, count) in [("orders", 3), ("pair", 2), ("solo", 1)] {
            let topic_id = Uuid::new_v4();
            image
                .apply(&MetadataRecord::Topic {
                    name: name.to_string(),
                    topic_id,
                })
                .expect("topic");
            for partition in 0..count {
                image
                    .apply(&MetadataRecord::Partition {
                        topic_id,
                        partition,
                        replicas: vec![1, 2, 3],
                        isr: vec![1, 2, 3],
                        leader: 1,
                        leader_epoch: 0,
                        partition_epoch: 0,
                        adding_replicas: vec![],
                        removing_replicas: vec![],
                    })
                    .expect("partition");
            }
        }
        image
    }

    fn named(type_: i8, partitions: &[(&str, &[i32])]) -> ElectLeadersRequest {
        ElectLeadersRequest::default()
            .with_election_type(type_)
            .with_topic_partitions(Some(
                partitions
                    .iter()
                    .map(|(t, ps)| {
                        TopicPartitions::default()
                            .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partitions(ps.to_vec())
                    })
                    .collect(),
            ))
    }

    /// (topic, partition, code, message) of every result, in response order.
    fn rows(r: &ElectLeadersResponse) -> Vec<(String, i32, i16, Option<String>)> {
        r.replica_election_results
            .iter()
            .flat_map(|t| {
                t.partition_result.iter().map(|p| {
                    (
                        t.topic.0.to_string(),
                        p.partition_id,
                        p.error_code,
                        p.error_message.as_ref().map(ToString::to_string),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn named_partitions_are_all_answered() {
        let outcomes = BTreeMap::from([
            (("orders", 1), Err(ControlError::ElectionNotNeeded)),
            (("orders", 2), Ok(())),
            (("solo", 0), Err(ControlError::PreferredLeaderNotAvailable)),
        ]);
        let mut asked = Vec::new();
        let r = response(
            &named(0, &[("orders", &[1, 2]), ("solo", &[0])]),
            2,
            &image(),
            |kind, topic, _, p| {
                asked.push((kind, topic.to_string(), p));
                outcomes[&(topic, p)]
            },
        );
        assert_eq!(asked.len(), 3);
        assert!(asked.iter().all(|(k, _, _)| *k == ElectionType::Preferred));
        assert_eq!(
            rows(&r),
            vec![
                (
                    "orders".into(),
                    1,
                    84,
                    Some("Leader election not needed for topic partition.".into())
                ),
                ("orders".into(), 2, 0, None),
                (
                    "solo".into(),
                    0,
                    80,
                    Some("The preferred leader was not available.".into())
                ),
            ]
        );
    }

    #[test]
    fn unknown_topics_and_partitions_get_kafkas_messages() {
        let r = response(
            &named(0, &[("nosuch", &[0]), ("orders", &[7])]),
            2,
            &image(),
            |_, _, _, _| panic!("no election for partitions that do not exist"),
        );
        assert_eq!(
            rows(&r),
            vec![
                (
                    "nosuch".into(),
                    0,
                    3,
                    Some("No such topic as nosuch".into())
                ),
                (
                    "orders".into(),
                    7,
                    3,
                    Some("No such partition as orders-7".into())
                ),
            ]
        );
    }

    #[test]
    fn all_partitions_leave_out_those_needing_no_election() {
        let r = response(
            &ElectLeadersRequest::default().with_topic_partitions(None),
            2,
            &image(),
            |_, topic, _, p| match (topic, p) {
                ("orders", 2) | ("pair", 0) => Ok(()),
                ("solo", 0) => Err(ControlError::PreferredLeaderNotAvailable),
                _ => Err(ControlError::ElectionNotNeeded),
            },
        );
        assert_eq!(
            rows(&r)
                .into_iter()
                .map(|(t, p, c, _)| (t, p, c))
                .collect::<Vec<_>>(),
            vec![
                ("orders".into(), 2, 0),
                ("pair".into(), 0, 0),
                ("solo".into(), 0, 80)
            ]
        );
        // Every topic has its entry, even with no results (as Kafka's controller).
        assert_eq!(r.replica_election_results.len(), 3);
    }

    #[test]
    fn unclean_elections_and_version_zero() {
        let mut kinds = Vec::new();
        response(&named(1, &[("solo", &[0])]), 1, &image(), |k, _, _, _| {
            kinds.push(k);
            Err(ControlError::EligibleLeadersNotAvailable)
        });
        // v0 has no election type: PREFERRED whatever the field holds.
        response(&named(1, &[("solo", &[0])]), 0, &image(), |k, _, _, _| {
            kinds.push(k);
            Ok(())
        });
        assert_eq!(kinds, vec![ElectionType::Unclean, ElectionType::Preferred]);
    }

    #[test]
    fn an_unknown_election_type_is_an_invalid_request() {
        let r = response(&named(5, &[("orders", &[0])]), 2, &image(), |_, _, _, _| {
            panic!("not asked")
        });
        assert_eq!(
            rows(&r),
            vec![(
                "orders".into(),
                0,
                42,
                Some("Unknown election type 5".into())
            )]
        );
    }

    #[test]
    fn every_version_encodes() {
        for version in 0..=2 {
            let r = response(
                &named(0, &[("orders", &[0, 1])]),
                version,
                &image(),
                |_, _, _, _| Ok(()),
            );
            let mut buf = BytesMut::new();
            r.encode(&mut buf, version).expect("encodes");
            let back = ElectLeadersResponse::decode(&mut buf.freeze(), version).expect("decodes");
            assert_eq!(rows(&back).len(), 2, "v{version}");
        }
    }
}
