//! Partition reassignment (KIP-455), as Kafka's controller runs it.
//!
//! A reassignment goes through three stages, each a `PartitionChange`:
//! 1. the target replicas join the replica list (target first, then the replicas
//!    being removed), with `adding_replicas` and `removing_replicas` set; the new
//!    replicas start as followers and catch up;
//! 2. the leader's AlterPartition brings them into the ISR;
//! 3. once every target replica is in the ISR, the controller completes it: the
//!    replicas become the target, the ISR loses the removed ones, and a removed
//!    leader is replaced. [`complete_if_possible`] decides that; it runs on every
//!    change built here, so a reassignment that only reorders replicas completes at
//!    once.
//!
//! Cancelling reverts to the original replicas (without those being added).

use uuid::Uuid;

use super::election::eligible_in;
use crate::controller::validate_manual_assignment;
use crate::image::without;
use crate::{ConfigResource, MetadataError, MetadataImage, MetadataRecord, PartitionImage};

/// Why one partition's reassignment was refused; each maps to one Kafka error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassignmentError {
    #[error("{0}")]
    UnknownTopicOrPartition(String),
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    #[error("No partition reassignment is in progress.")]
    NoReassignmentInProgress,
    /// KIP-860: the request forbade changing the replica count.
    #[error("{0}")]
    ReplicationFactorChanged(String),
}

impl ReassignmentError {
    /// The Kafka error code for this refusal.
    pub fn code(&self) -> i16 {
        match self {
            Self::UnknownTopicOrPartition(_) => 3,
            Self::InvalidReplicaAssignment(_) => 39,
            Self::NoReassignmentInProgress => 85,
            Self::ReplicationFactorChanged(_) => 38,
        }
    }
}

/// One partition of an AlterPartitionReassignments request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassignment {
    pub topic: String,
    pub partition: i32,
    /// The target replicas; `None` cancels the ongoing reassignment.
    pub target: Option<Vec<i32>>,
}

/// The partition state a change aims at, before completion and election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) replicas: Vec<i32>,
    pub(crate) isr: Vec<i32>,
    pub(crate) adding: Vec<i32>,
    pub(crate) removing: Vec<i32>,
    /// Elect outside the ISR if no ISR member can lead.
    pub(crate) unclean: bool,
}

impl Target {
    /// The partition as it stands.
    pub(crate) fn of(p: &PartitionImage) -> Self {
        Self {
            replicas: p.replicas.clone(),
            isr: p.isr.clone(),
            adding: p.adding_replicas.clone(),
            removing: p.removing_replicas.clone(),
            unclean: false,
        }
    }
}

/// Completes a reassignment whose target replicas are all in the ISR (Kafka's
/// `PartitionReassignmentReplicas.maybeCompleteReassignment`): the replicas being
/// removed leave the replica list and the ISR. Nothing changes while a target
/// replica is out of the ISR, or if nothing of the target would be left in it.
pub(crate) fn complete_if_possible(t: &mut Target) {
    if t.adding.is_empty() && t.removing.is_empty() {
        return;
    }
    let isr = without(&t.isr, &t.removing);
    let replicas = without(&t.replicas, &t.removing);
    if isr.is_empty() || replicas.is_empty() || !replicas.iter().all(|r| isr.contains(r)) {
        return;
    }
    t.isr = isr;
    t.replicas = replicas;
    t.adding.clear();
    t.removing.clear();
}

/// The `PartitionChange` taking `p` to `target` (Kafka's `PartitionChangeBuilder`
/// for the fields Kavka has): completes the reassignment if it can, keeps the
/// leader while it is in the new ISR, else elects the first replica in the ISR
/// that is eligible (or, `unclean`, any eligible replica, whose ISR is then just
/// itself). `None` if nothing changes.
pub(crate) fn build_change(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
    p: &PartitionImage,
    mut target: Target,
) -> Option<MetadataRecord> {
    complete_if_possible(&mut target);
    let eligible = eligible_in(image, None);
    let mut isr = target.isr;
    let leader = if p.leader >= 0 && isr.contains(&p.leader) && target.replicas.contains(&p.leader)
    {
        p.leader
    } else if let Some(&r) = target
        .replicas
        .iter()
        .find(|&&r| isr.contains(&r) && eligible(r))
    {
        r
    } else if let Some(&r) = target
        .replicas
        .iter()
        .find(|&&r| target.unclean && eligible(r))
    {
        isr = vec![r];
        r
    } else {
        -1
    };
    let changed = |new: &Vec<i32>, old: &Vec<i32>| (new != old).then(|| new.clone());
    let replicas = changed(&target.replicas, &p.replicas);
    let adding = changed(&target.adding, &p.adding_replicas);
    let removing = changed(&target.removing, &p.removing_replicas);
    if leader == p.leader
        && isr == p.isr
        && replicas.is_none()
        && adding.is_none()
        && removing.is_none()
    {
        return None;
    }
    Some(MetadataRecord::PartitionChange {
        topic_id,
        partition,
        leader,
        isr,
        replicas,
        adding_replicas: adding,
        removing_replicas: removing,
    })
}

/// AlterPartitionReassignments: for each partition, start (or replace) a
/// reassignment to its target, or cancel the ongoing one. Returns each
/// partition's outcome, in request order, and the records of those that succeed,
/// decided one after the other on the image as the earlier ones leave it.
/// `unclean_default` is `unclean.leader.election.enable` where no topic sets it.
pub fn alter_partition_reassignments(
    image: &MetadataImage,
    requests: &[Reassignment],
    unclean_default: bool,
) -> (Vec<Result<(), ReassignmentError>>, Vec<MetadataRecord>) {
    let mut current = image.clone();
    let mut records = Vec::new();
    let mut results = Vec::with_capacity(requests.len());
    for request in requests {
        let decided = alter_one(&current, request, unclean_default).and_then(|record| {
            if let Some(record) = record {
                current
                    .apply(&record)
                    .map_err(|e| ReassignmentError::InvalidReplicaAssignment(e.to_string()))?;
                records.push(record);
            }
            Ok(())
        });
        results.push(decided);
    }
    (results, records)
}

fn alter_one(
    image: &MetadataImage,
    request: &Reassignment,
    unclean_default: bool,
) -> Result<Option<MetadataRecord>, ReassignmentError> {
    let name = &request.topic;
    let topic = image.topic(name).ok_or_else(|| {
        ReassignmentError::UnknownTopicOrPartition(format!("Unable to find a topic named {name}."))
    })?;
    let index = request.partition;
    let p = topic.partitions.get(&index).ok_or_else(|| {
        ReassignmentError::UnknownTopicOrPartition(format!(
            "Unable to find partition {name}:{index}."
        ))
    })?;
    match &request.target {
        Some(target) => start(image, topic.topic_id, index, p, target),
        None => cancel(
            image,
            topic.topic_id,
            index,
            p,
            unclean_enabled(image, name, unclean_default),
            name,
        ),
    }
}

/// Kafka's `changePartitionReassignment`: the replica list becomes the target
/// followed by the current replicas not in it; those are the ones removed, and
/// the target's replicas not current are the ones added. (As in Kafka, the
/// current list of a partition already reassigning is its whole list, and an
/// empty adding or removing set keeps the ongoing one.)
fn start(
    image: &MetadataImage,
    topic_id: Uuid,
    index: i32,
    p: &PartitionImage,
    target: &[i32],
) -> Result<Option<MetadataRecord>, ReassignmentError> {
    validate_manual_assignment(image, target, None).map_err(|e| match e {
        MetadataError::InvalidReplicaAssignment(m) => {
            ReassignmentError::InvalidReplicaAssignment(m)
        }
        other => ReassignmentError::InvalidReplicaAssignment(other.to_string()),
    })?;
    let mut removing: Vec<i32> = p
        .replicas
        .iter()
        .copied()
        .filter(|r| !target.contains(r))
        .collect();
    removing.sort_unstable();
    let mut adding: Vec<i32> = target
        .iter()
        .copied()
        .filter(|r| !p.replicas.contains(r))
        .collect();
    adding.sort_unstable();
    let mut next = Target::of(p);
    next.replicas = target.iter().chain(&removing).copied().collect();
    if !removing.is_empty() {
        next.removing = removing;
    }
    if !adding.is_empty() {
        next.adding = adding;
    }
    Ok(build_change(image, topic_id, index, p, next))
}

/// Kafka's `cancelPartitionReassignment`: back to the original replicas, without
/// the ones being added; if no original replica is in the ISR, only with unclean
/// election enabled, and then the first original replica is the whole ISR.
fn cancel(
    image: &MetadataImage,
    topic_id: Uuid,
    index: i32,
    p: &PartitionImage,
    unclean: bool,
    name: &str,
) -> Result<Option<MetadataRecord>, ReassignmentError> {
    if !p.is_reassigning() {
        return Err(ReassignmentError::NoReassignmentInProgress);
    }
    let replicas = p.original_replicas();
    let mut isr = without(&p.isr, &p.adding_replicas);
    if isr.is_empty() {
        if !unclean {
            return Err(ReassignmentError::InvalidReplicaAssignment(format!(
                "Unable to revert partition assignment for {name}:{index} because it would require an unclean leader election."
            )));
        }
        let Some(&first) = replicas.first() else {
            return Err(ReassignmentError::InvalidReplicaAssignment(
                "Invalid replica assignment: addingReplicas contains all replicas.".into(),
            ));
        };
        isr.push(first);
    }
    let target = Target {
        replicas,
        isr,
        adding: vec![],
        removing: vec![],
        unclean,
    };
    Ok(build_change(image, topic_id, index, p, target))
}

/// `unclean.leader.election.enable` of a topic: its own setting, else the default.
fn unclean_enabled(image: &MetadataImage, topic: &str, default: bool) -> bool {
    image
        .configs(&ConfigResource::Topic(topic.to_string()))
        .and_then(|c| c.get("unclean.leader.election.enable"))
        .map_or(default, |v| v.eq_ignore_ascii_case("true"))
}

/// One ongoing reassignment, as ListPartitionReassignments reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingReassignment {
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub adding_replicas: Vec<i32>,
    pub removing_replicas: Vec<i32>,
}

/// ListPartitionReassignments: the ongoing reassignments of every topic (`None`)
/// or of the named partitions, by topic; topics with none are left out, and
/// unknown topics or partitions are skipped, as in Kafka.
pub fn list_partition_reassignments(
    image: &MetadataImage,
    topics: Option<&[(String, Vec<i32>)]>,
) -> Vec<(String, Vec<OngoingReassignment>)> {
    let ongoing = |p: &PartitionImage, index: i32| {
        p.is_reassigning().then(|| OngoingReassignment {
            partition: index,
            replicas: p.replicas.clone(),
            adding_replicas: p.adding_replicas.clone(),
            removing_replicas: p.removing_replicas.clone(),
        })
    };
    let mut out = Vec::new();
    match topics {
        None => {
            for topic in image.topics() {
                let list: Vec<_> = topic
                    .partitions
                    .iter()
                    .filter_map(|(&i, p)| ongoing(p, i))
                    .collect();
                if !list.is_empty() {
                    out.push((topic.name.clone(), list));
                }
            }
        }
        Some(named) => {
            for (name, indexes) in named {
                let Some(topic) = image.topic(name) else {
                    continue;
                };
                let list: Vec<_> = indexes
                    .iter()
                    .filter_map(|&i| ongoing(topic.partitions.get(&i)?, i))
                    .collect();
                if !list.is_empty() {
                    out.push((name.clone(), list));
                }
            }
        }
    }
    out
}
