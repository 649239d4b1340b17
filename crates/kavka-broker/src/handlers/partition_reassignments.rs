//! AlterPartitionReassignments (API key 45) and ListPartitionReassignments (46):
//! what `kafka-reassign-partitions` sends. The decisions are
//! `kavka_metadata::cluster`'s; an alteration is committed as any admin change,
//! and the active controller completes it once the new replicas are in sync.

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kavka_metadata::cluster::{
    alter_partition_reassignments, list_partition_reassignments, Reassignment, ReassignmentError,
};
use kavka_metadata::MetadataImage;

use super::RequestContext;
use kavka_metadata::acl::AclOperation;

/// Starts, replaces or cancels the reassignment of each named partition.
pub(crate) async fn alter(
    ctx: &RequestContext<'_>,
    request: AlterPartitionReassignmentsRequest,
    version: i16,
) -> AlterPartitionReassignmentsResponse {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        return AlterPartitionReassignmentsResponse::default()
            .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code());
    }
    let state = ctx.state;
    // v1 (KIP-860) lets the client forbid changing a partition's replica count.
    let allow_rf_change = version < 1 || request.allow_replication_factor_change;
    let requests: Vec<Reassignment> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| Reassignment {
                topic: t.name.0.to_string(),
                partition: p.partition_index,
                target: p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect()),
            })
        })
        .collect();
    let unclean = state.config.cluster.unclean_leader_election_enable;
    let outcome = state
        .commit(|image| {
            let checked: Vec<Result<(), ReassignmentError>> = requests
                .iter()
                .map(|r| replication_factor_kept(image, r, allow_rf_change))
                .collect();
            let allowed: Vec<Reassignment> = requests
                .iter()
                .zip(&checked)
                .filter(|(_, c)| c.is_ok())
                .map(|(r, _)| r.clone())
                .collect();
            let (decided, records) = alter_partition_reassignments(image, &allowed, unclean);
            let mut decided = decided.into_iter();
            let results: Vec<Result<(), (i16, String)>> = checked
                .into_iter()
                .map(|c| match c {
                    Err(e) => Err((e.code(), e.to_string())),
                    Ok(()) => match decided.next() {
                        Some(Err(e)) => Err((e.code(), e.to_string())),
                        _ => Ok(()),
                    },
                })
                .collect();
            Ok((records, results))
        })
        .await;
    let mut results = match outcome {
        Ok(results) => results.into_iter(),
        Err(e) => {
            // Nothing was committed: every partition gets the one error.
            let failed = vec![Err((e.code(), e.to_string())); requests.len()];
            failed.into_iter()
        }
    };
    let responses = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let (code, message) = match results.next() {
                        Some(Err((code, message))) => (code, Some(message)),
                        _ => (0, None),
                    };
                    ReassignablePartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_error_message(message.map(StrBytes::from_string))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    let mut response = AlterPartitionReassignmentsResponse::default().with_responses(responses);
    if version >= 1 {
        response.allow_replication_factor_change = allow_rf_change;
    }
    response
}

/// KIP-860: with `allow_replication_factor_change` off, a target must have as
/// many replicas as the partition has now (its target, if it is reassigning).
fn replication_factor_kept(
    image: &MetadataImage,
    request: &Reassignment,
    allow: bool,
) -> Result<(), ReassignmentError> {
    let (false, Some(target)) = (allow, &request.target) else {
        return Ok(());
    };
    let Some(p) = image
        .topic(&request.topic)
        .and_then(|t| t.partitions.get(&request.partition))
    else {
        return Ok(()); // Refused as unknown by the decision itself.
    };
    let current = p.target_replicas().len();
    if target.len() == current {
        return Ok(());
    }
    Err(ReassignmentError::ReplicationFactorChanged(format!(
        "The replication factor is changed from {current} to {}",
        target.len()
    )))
}

/// The ongoing reassignments of the named partitions, or of all.
pub(crate) fn list(
    ctx: &RequestContext<'_>,
    request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return ListPartitionReassignmentsResponse::default()
            .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code());
    }
    let image = ctx.state.metadata.image();
    let named: Option<Vec<(String, Vec<i32>)>> = request.topics.map(|topics| {
        topics
            .into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    let brokers = |ids: &[i32]| ids.iter().map(|&b| BrokerId(b)).collect::<Vec<_>>();
    let topics = list_partition_reassignments(&image, named.as_deref())
        .into_iter()
        .map(|(name, partitions)| {
            OngoingTopicReassignment::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|p| {
                            OngoingPartitionReassignment::default()
                                .with_partition_index(p.partition)
                                .with_replicas(brokers(&p.replicas))
                                .with_adding_replicas(brokers(&p.adding_replicas))
                                .with_removing_replicas(brokers(&p.removing_replicas))
                        })
                        .collect(),
                )
        })
        .collect();
    ListPartitionReassignmentsResponse::default().with_topics(topics)
}

#[cfg(test)]
mod tests {
    use kavka_metadata::controller::{create_topic, NewTopic};

    use super::*;

    fn image_with(replicas: Vec<i32>) -> MetadataImage {
        let mut image = MetadataImage::default();
        let topic = NewTopic {
            name: "bar".into(),
            num_partitions: 1,
            replication_factor: replicas.len() as i16,
            assignments: None,
            configs: Default::default(),
        };
        let brokers: Vec<i32> = replicas.clone();
        let records = create_topic(&image, &topic, &brokers).unwrap();
        image.apply_all(&records).unwrap();
        image
    }

    fn move_to(target: Vec<i32>) -> Reassignment {
        Reassignment {
            topic: "bar".into(),
            partition: 0,
            target: Some(target),
        }
    }

    #[test]
    fn a_disallowed_replication_factor_change_is_refused_as_kafka_words_it() {
        let image = image_with(vec![3]);
        let e = replication_factor_kept(&image, &move_to(vec![1, 2]), false).unwrap_err();
        // compat/reference-outputs/reassign/execute-disallow-rf.out
        assert_eq!(
            (e.code(), e.to_string()),
            (
                38,
                "The replication factor is changed from 1 to 2".to_string()
            )
        );
        assert!(replication_factor_kept(&image, &move_to(vec![1]), false).is_ok());
        assert!(replication_factor_kept(&image, &move_to(vec![1, 2]), true).is_ok());
        let cancel = Reassignment {
            target: None,
            ..move_to(vec![])
        };
        assert!(replication_factor_kept(&image, &cancel, false).is_ok());
    }
}
