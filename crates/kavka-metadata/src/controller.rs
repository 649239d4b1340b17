//! The controller's decisions: validate an admin request against the current
//! image and express the change as records. Nothing here writes anything.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::topic_config::validate_topic_config;
use crate::topic_name::{collision_key, validate};
use crate::{ConfigResource, MetadataError, MetadataImage, MetadataRecord};

/// A CreateTopics entry after defaults were filled in.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    pub num_partitions: i32,
    pub replication_factor: i16,
    /// Explicit placement: partition index → replicas (overrides the two above).
    pub assignments: Option<Vec<Vec<i32>>>,
    pub configs: BTreeMap<String, String>,
}

/// Records that create `topic`, placing replicas round-robin over `brokers`.
pub fn create_topic(
    image: &MetadataImage,
    topic: &NewTopic,
    brokers: &[i32],
) -> Result<Vec<MetadataRecord>, MetadataError> {
    validate(&topic.name).map_err(MetadataError::InvalidTopic)?;
    if image.topic(&topic.name).is_some() {
        return Err(MetadataError::TopicAlreadyExists(topic.name.clone()));
    }
    let key = collision_key(&topic.name);
    if let Some(other) = image.topics().find(|t| collision_key(&t.name) == key) {
        return Err(MetadataError::InvalidTopic(format!(
            "Topic '{}' collides with existing topic: {}",
            topic.name, other.name
        )));
    }
    for (name, value) in &topic.configs {
        validate_topic_config(name, value)?;
    }
    let placement = match &topic.assignments {
        Some(assignments) => {
            let mut rf = None;
            for (index, replicas) in assignments.iter().enumerate() {
                validate_manual_assignment(image, replicas, rf)?;
                rf = Some(replicas.len());
                check_some_active(image, replicas, index)?;
            }
            assignments.clone()
        }
        None => place_replicas(
            topic.num_partitions,
            topic.replication_factor,
            &rack_interleaved(image, brokers),
            0,
        )?,
    };

    let topic_id = Uuid::new_v4();
    let mut records = vec![MetadataRecord::Topic {
        name: topic.name.clone(),
        topic_id,
    }];
    records.extend(partition_records(image, topic_id, 0, &placement));
    records.extend(
        topic
            .configs
            .iter()
            .map(|(name, value)| MetadataRecord::Config {
                resource: ConfigResource::Topic(topic.name.clone()),
                name: name.clone(),
                value: Some(value.clone()),
            }),
    );
    Ok(records)
}

/// Records that delete a topic.
pub fn delete_topic(
    image: &MetadataImage,
    name: &str,
) -> Result<Vec<MetadataRecord>, MetadataError> {
    let topic = image
        .topic(name)
        .ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))?;
    Ok(vec![MetadataRecord::RemoveTopic {
        topic_id: topic.topic_id,
    }])
}

/// Records that grow a topic to `total` partitions (it can only grow).
pub fn create_partitions(
    image: &MetadataImage,
    name: &str,
    total: i32,
    assignments: Option<Vec<Vec<i32>>>,
    brokers: &[i32],
) -> Result<Vec<MetadataRecord>, MetadataError> {
    let topic = image
        .topic(name)
        .ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))?;
    let current = topic.partitions.len() as i32;
    if total < current {
        return Err(MetadataError::InvalidPartitions(format!(
            "Topic currently has {current} partitions, which is higher than the requested {total}."
        )));
    }
    if total == current {
        return Err(MetadataError::InvalidPartitions(format!(
            "Topic already has {current} partitions."
        )));
    }
    let rf = topic
        .partitions
        .values()
        .next()
        .map(|p| p.replicas.len() as i16)
        .unwrap_or(1);
    let placement = match assignments {
        Some(a) => {
            if a.len() as i32 != total - current {
                return Err(MetadataError::InvalidReplicaAssignment(format!(
                    "Attempted to add {} additional partition(s), but only {} assignment(s) were specified.",
                    total - current,
                    a.len()
                )));
            }
            for (i, replicas) in a.iter().enumerate() {
                validate_manual_assignment(image, replicas, Some(rf as usize))?;
                check_some_active(image, replicas, current as usize + i)?;
            }
            a
        }
        None => place_replicas(
            total - current,
            rf,
            &rack_interleaved(image, brokers),
            current as usize,
        )?,
    };
    Ok(partition_records(image, topic.topic_id, current, &placement).collect())
}

/// Records that set (Some) or delete (None) configs on a resource.
pub fn alter_configs(
    image: &MetadataImage,
    resource: &ConfigResource,
    changes: &[(String, Option<String>)],
) -> Result<Vec<MetadataRecord>, MetadataError> {
    if let ConfigResource::Topic(name) = resource {
        if image.topic(name).is_none() {
            return Err(MetadataError::UnknownTopic(name.clone()));
        }
        for (key, value) in changes {
            match value {
                Some(v) => validate_topic_config(key, v)?,
                None => validate_topic_config_name(key)?,
            }
        }
    }
    Ok(changes
        .iter()
        .map(|(name, value)| MetadataRecord::Config {
            resource: resource.clone(),
            name: name.clone(),
            value: value.clone(),
        })
        .collect())
}

fn validate_topic_config_name(name: &str) -> Result<(), MetadataError> {
    if crate::topic_config::TOPIC_CONFIGS
        .iter()
        .any(|c| c.name == name)
    {
        Ok(())
    } else {
        Err(MetadataError::InvalidConfig(format!(
            "Unknown topic config name: {name}"
        )))
    }
}

/// The records of new partitions. The ISR is the replicas that are active
/// (registered, unfenced, not shutting down), as Kafka's controller starts it; a
/// broker the image does not know yet (placement over brokers given by the
/// caller) counts as active.
fn partition_records<'a>(
    image: &'a MetadataImage,
    topic_id: Uuid,
    first: i32,
    placement: &'a [Vec<i32>],
) -> impl Iterator<Item = MetadataRecord> + 'a {
    placement.iter().enumerate().map(move |(i, replicas)| {
        let active: Vec<i32> = replicas
            .iter()
            .copied()
            .filter(|&r| image.broker(r).is_none_or(|b| b.is_eligible()))
            .collect();
        let isr = if active.is_empty() {
            replicas.clone()
        } else {
            active
        };
        MetadataRecord::Partition {
            topic_id,
            partition: first + i as i32,
            replicas: replicas.clone(),
            leader: isr.first().copied().unwrap_or(-1),
            isr,
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        }
    })
}

/// Round-robin placement over the rack-interleaved broker list: partition p's first
/// replica is broker (start + p), so leadership spreads evenly; the followers come
/// from racks that hold no replica of the partition yet, while any are left.
fn place_replicas(
    partitions: i32,
    replication_factor: i16,
    brokers: &[(i32, Option<String>)],
    start: usize,
) -> Result<Vec<Vec<i32>>, MetadataError> {
    if partitions <= 0 {
        return Err(MetadataError::InvalidPartitions(
            "Number of partitions must be larger than 0.".into(),
        ));
    }
    if replication_factor <= 0 {
        return Err(MetadataError::InvalidReplicationFactor(
            "Replication factor must be larger than 0.".into(),
        ));
    }
    if replication_factor as usize > brokers.len() {
        return Err(MetadataError::InvalidReplicationFactor(format!(
            "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only {} broker(s) are registered or some brokers have all their log directories cordoned.",
            brokers.len()
        )));
    }
    let n = brokers.len();
    Ok((0..partitions as usize)
        .map(|p| {
            let first = (start + p) % n;
            let mut replicas: Vec<i32> = Vec::with_capacity(replication_factor as usize);
            let mut racks: Vec<&Option<String>> = Vec::new();
            // A new rack first, while one is left; then any broker not yet used.
            for prefer_new_rack in [true, false] {
                for i in 0..n {
                    if replicas.len() == replication_factor as usize {
                        break;
                    }
                    let (id, rack) = &brokers[(first + i) % n];
                    if replicas.contains(id) || (prefer_new_rack && racks.contains(&rack)) {
                        continue;
                    }
                    replicas.push(*id);
                    racks.push(rack);
                }
            }
            replicas
        })
        .collect())
}

/// The brokers with their racks, ordered so that consecutive brokers sit on
/// different racks (rack A's first, rack B's first, ..., rack A's second, ...), as
/// Kafka's rack-aware placement does. Without racks this is the brokers' own order,
/// so placement is plain round-robin.
fn rack_interleaved(image: &MetadataImage, brokers: &[i32]) -> Vec<(i32, Option<String>)> {
    let rack_of = |id: i32| image.broker(id).and_then(|b| b.rack.clone());
    let mut by_rack: BTreeMap<Option<String>, Vec<i32>> = BTreeMap::new();
    for &id in brokers {
        by_rack.entry(rack_of(id)).or_default().push(id);
    }
    if by_rack.len() <= 1 {
        return brokers.iter().map(|&id| (id, rack_of(id))).collect();
    }
    let mut out = Vec::with_capacity(brokers.len());
    for round in 0.. {
        let before = out.len();
        for (rack, ids) in &by_rack {
            if let Some(&id) = ids.get(round) {
                out.push((id, rack.clone()));
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

/// Kafka's checks of one partition's manual assignment (CreateTopics,
/// CreatePartitions, AlterPartitionReassignments): not empty, every broker
/// registered, none twice, and as many replicas as `replication_factor` when given.
pub fn validate_manual_assignment(
    image: &MetadataImage,
    replicas: &[i32],
    replication_factor: Option<usize>,
) -> Result<(), MetadataError> {
    let invalid = |m: String| Err(MetadataError::InvalidReplicaAssignment(m));
    if replicas.is_empty() {
        return invalid("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    for (i, &broker) in sorted.iter().enumerate() {
        if image.broker(broker).is_none() {
            return invalid(format!(
                "The manual partition assignment includes broker {broker}, but no such broker is registered."
            ));
        }
        if i > 0 && sorted[i - 1] == broker {
            return invalid(format!(
                "The manual partition assignment includes the broker {broker} more than once."
            ));
        }
    }
    match replication_factor {
        Some(rf) if rf != sorted.len() => invalid(format!(
            "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {rf} replica(s).",
            sorted.len()
        )),
        _ => Ok(()),
    }
}

/// A new partition needs at least one active replica to lead it.
fn check_some_active(
    image: &MetadataImage,
    replicas: &[i32],
    partition: usize,
) -> Result<(), MetadataError> {
    if replicas
        .iter()
        .any(|&r| image.broker(r).is_some_and(|b| b.is_eligible()))
    {
        return Ok(());
    }
    Err(MetadataError::InvalidReplicaAssignment(format!(
        "All brokers specified in the manual partition assignment for partition {partition} are fenced or in controlled shutdown."
    )))
}

/// A CreateTopics request's manual assignments (partition index, brokers) in
/// partition order, checked as Kafka checks them: each index once, and the
/// indexes 0, 1, 2, ... without a gap.
pub fn manual_assignments(indexed: Vec<(i32, Vec<i32>)>) -> Result<Vec<Vec<i32>>, MetadataError> {
    let mut by_index: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (index, replicas) in indexed {
        if by_index.insert(index, replicas).is_some() {
            return Err(MetadataError::InvalidReplicaAssignment(format!(
                "Found multiple manual partition assignments for partition {index}"
            )));
        }
    }
    if by_index.keys().copied().ne(0..by_index.len() as i32) {
        return Err(MetadataError::InvalidReplicaAssignment(
            "partitions should be a consecutive 0-based integer sequence".into(),
        ));
    }
    Ok(by_index.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka 4.4's words for a replication factor above the brokers there are.
    #[test]
    fn a_replication_factor_above_the_brokers_is_refused_with_kafkas_message() {
        let mut t = new_topic("t", 1);
        t.replication_factor = 4;
        let err = create_topic(&MetadataImage::default(), &t, &[1, 2, 3]).unwrap_err();
        assert_eq!(err.code(), 38);
        assert_eq!(
            err.to_string(),
            "Unable to replicate the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3 broker(s) are registered or some brokers have all their log directories cordoned."
        );
    }

    fn new_topic(name: &str, partitions: i32) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 1,
            assignments: None,
            configs: BTreeMap::new(),
        }
    }

    fn apply(image: &mut MetadataImage, records: &[MetadataRecord]) {
        for r in records {
            image.apply(r).unwrap();
        }
    }

    #[test]
    fn create_then_duplicate_is_refused() {
        let mut image = MetadataImage::default();
        let records = create_topic(&image, &new_topic("orders", 3), &[1]).unwrap();
        apply(&mut image, &records);
        assert_eq!(image.topic("orders").unwrap().partitions.len(), 3);
        let err = create_topic(&image, &new_topic("orders", 3), &[1]).unwrap_err();
        assert_eq!(err.code(), 36);
        let err = create_topic(&image, &new_topic("orders", 3), &[1]).unwrap_err();
        assert_eq!(err.to_string(), "Topic 'orders' already exists.");
    }

    #[test]
    fn bad_requests_are_refused_with_kafka_codes() {
        let image = MetadataImage::default();
        assert_eq!(
            create_topic(&image, &new_topic("a b", 1), &[1])
                .unwrap_err()
                .code(),
            17
        );
        assert_eq!(
            create_topic(&image, &new_topic("t", 0), &[1])
                .unwrap_err()
                .code(),
            37
        );
        let mut t = new_topic("t", 1);
        t.replication_factor = 3;
        assert_eq!(create_topic(&image, &t, &[1]).unwrap_err().code(), 38);
        let mut t = new_topic("t", 1);
        t.configs.insert("retention.ms".into(), "soon".into());
        assert_eq!(create_topic(&image, &t, &[1]).unwrap_err().code(), 40);
    }

    #[test]
    fn dot_underscore_collision_is_refused() {
        let mut image = MetadataImage::default();
        let records = create_topic(&image, &new_topic("a.b", 1), &[1]).unwrap();
        apply(&mut image, &records);
        assert_eq!(
            create_topic(&image, &new_topic("a_b", 1), &[1])
                .unwrap_err()
                .code(),
            17
        );
    }

    #[test]
    fn partitions_only_grow_and_spread_over_brokers() {
        let mut image = MetadataImage::default();
        let mut t = new_topic("t", 2);
        t.replication_factor = 2;
        let records = create_topic(&image, &t, &[1, 2, 3]).unwrap();
        apply(&mut image, &records);
        let leaders: Vec<i32> = image
            .topic("t")
            .unwrap()
            .partitions
            .values()
            .map(|p| p.leader)
            .collect();
        assert_eq!(leaders, vec![1, 2]);
        assert_eq!(
            create_partitions(&image, "t", 1, None, &[1, 2, 3])
                .unwrap_err()
                .code(),
            37
        );
        let records = create_partitions(&image, "t", 4, None, &[1, 2, 3]).unwrap();
        apply(&mut image, &records);
        let topic = image.topic("t").unwrap();
        assert_eq!(topic.partitions.len(), 4);
        assert_eq!(topic.partitions[&2].replicas, vec![3, 1]);
    }

    fn with_racks(racks: &[(i32, Option<&str>)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for &(id, rack) in racks {
            image
                .apply(&MetadataRecord::RegisterBroker {
                    broker_id: id,
                    host: "h".into(),
                    port: 9092,
                    rack: rack.map(str::to_string),
                    incarnation_id: None,
                    broker_epoch: 0,
                    fenced: false,
                })
                .unwrap();
        }
        image
    }

    fn placement(
        image: &MetadataImage,
        partitions: i32,
        rf: i16,
        brokers: &[i32],
    ) -> Vec<Vec<i32>> {
        let topic = NewTopic {
            replication_factor: rf,
            ..new_topic("placed", partitions)
        };
        let mut image = image.clone();
        let records = create_topic(&image, &topic, brokers).unwrap();
        apply(&mut image, &records);
        image
            .topic("placed")
            .unwrap()
            .partitions
            .values()
            .map(|p| p.replicas.clone())
            .collect()
    }

    #[test]
    fn replicas_of_a_partition_go_to_different_racks_and_leaders_spread() {
        let racks = [
            (1, Some("a")),
            (2, Some("a")),
            (3, Some("b")),
            (4, Some("b")),
            (5, Some("c")),
            (6, Some("c")),
        ];
        let image = with_racks(&racks);
        let rack = |id: i32| racks.iter().find(|r| r.0 == id).and_then(|r| r.1);
        let placed = placement(&image, 6, 3, &[1, 2, 3, 4, 5, 6]);
        let mut leaders: Vec<i32> = placed.iter().map(|r| r[0]).collect();
        leaders.sort();
        assert_eq!(leaders, vec![1, 2, 3, 4, 5, 6], "{placed:?}");
        for replicas in &placed {
            let mut r: Vec<_> = replicas.iter().map(|&id| rack(id)).collect();
            r.sort();
            r.dedup();
            assert_eq!(r.len(), 3, "replicas {replicas:?} share a rack");
        }
        // More replicas than racks: every rack used, then the rest spread.
        for replicas in placement(&image, 3, 4, &[1, 2, 3, 4, 5, 6]) {
            let mut r: Vec<_> = replicas.iter().map(|&id| rack(id)).collect();
            r.sort();
            r.dedup();
            assert_eq!((replicas.len(), r.len()), (4, 3), "{replicas:?}");
        }
    }

    #[test]
    fn without_racks_placement_is_round_robin() {
        let image = with_racks(&[(1, None), (2, None), (3, None)]);
        assert_eq!(
            placement(&image, 3, 2, &[1, 2, 3]),
            vec![vec![1, 2], vec![2, 3], vec![3, 1]]
        );
    }

    #[test]
    fn manual_assignments_are_validated_like_kafkas_controller() {
        let mut image = with_racks(&[(1, None), (2, None), (3, None)]);
        let manual = |assignments: Vec<Vec<i32>>| NewTopic {
            assignments: Some(assignments),
            ..new_topic("m", 1)
        };
        let refused = |image: &MetadataImage, a: Vec<Vec<i32>>| {
            let e = create_topic(image, &manual(a), &[1, 2, 3]).unwrap_err();
            (e.code(), e.to_string())
        };
        assert_eq!(
            refused(&image, vec![vec![1, 7]]),
            (39, "The manual partition assignment includes broker 7, but no such broker is registered.".into())
        );
        assert_eq!(
            refused(&image, vec![vec![2, 1, 2]]),
            (
                39,
                "The manual partition assignment includes the broker 2 more than once.".into()
            )
        );
        assert_eq!(
            refused(&image, vec![vec![1, 2], vec![3]]),
            (39, "The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s).".into())
        );
        assert_eq!(
            refused(&image, vec![vec![]]),
            (
                39,
                "The manual partition assignment includes an empty replica list.".into()
            )
        );
        assert_eq!(
            manual_assignments(vec![(0, vec![1]), (0, vec![2])])
                .unwrap_err()
                .to_string(),
            "Found multiple manual partition assignments for partition 0"
        );
        assert_eq!(
            manual_assignments(vec![(0, vec![1]), (2, vec![2])])
                .unwrap_err()
                .to_string(),
            "partitions should be a consecutive 0-based integer sequence"
        );
        assert_eq!(
            manual_assignments(vec![(1, vec![2]), (0, vec![1])]).unwrap(),
            vec![vec![1], vec![2]]
        );

        let records = create_topic(&image, &manual(vec![vec![3, 1]]), &[1, 2, 3]).unwrap();
        apply(&mut image, &records);
        let p = &image.topic("m").unwrap().partitions[&0];
        assert_eq!((p.replicas.clone(), p.leader), (vec![3, 1], 3));
        let grow = |image: &MetadataImage, a: Vec<Vec<i32>>| {
            create_partitions(image, "m", 1 + a.len() as i32, Some(a), &[1, 2, 3])
        };
        assert_eq!(
            grow(&image, vec![vec![1]]).unwrap_err().to_string(),
            "The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s)."
        );
        assert_eq!(grow(&image, vec![vec![4, 1]]).unwrap_err().code(), 39);
        let e = create_partitions(&image, "m", 3, Some(vec![vec![1, 2]]), &[1, 2, 3]).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string()),
            (39, "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.".into())
        );
        assert!(grow(&image, vec![vec![2, 3]]).is_ok());
    }
}
