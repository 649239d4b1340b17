//! Changes a partition leader asks for (AlterPartition), and the leader elections
//! an operator or the automatic rebalancer asks for (ElectLeaders).

use uuid::Uuid;

use super::election::{elect_leader, eligible_in, partition_change};
use super::reassignment::{build_change, Target};
use super::{ClusterControl, ControlError};
use crate::{MetadataImage, MetadataRecord, PartitionImage};

/// A member of a proposed ISR with the broker epoch the leader saw in its fetches
/// (AlterPartition's `NewIsrWithEpochs`, KIP-903); -1 when the leader does not
/// know it, which skips the epoch check as in Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IsrMember {
    pub broker_id: i32,
    pub broker_epoch: i64,
}

impl IsrMember {
    /// A member whose broker epoch the leader does not know.
    pub fn without_epoch(broker_id: i32) -> Self {
        Self {
            broker_id,
            broker_epoch: -1,
        }
    }
}

/// One partition of an AlterPartition request: the leader proposes a new ISR,
/// based on the partition epoch it last saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartition {
    pub broker_id: i32,
    pub broker_epoch: i64,
    pub topic_id: Uuid,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<IsrMember>,
}

/// The partition's state after the change (or as it stands, with the error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionResult {
    pub error: Option<ControlError>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub partition_epoch: i32,
}

impl AlterPartitionResult {
    fn of(p: &PartitionImage, error: Option<ControlError>) -> Self {
        Self {
            error,
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            isr: p.isr.clone(),
            partition_epoch: p.partition_epoch,
        }
    }
}

fn partition<'a>(
    image: &'a MetadataImage,
    topic_id: &Uuid,
    index: i32,
) -> Option<&'a PartitionImage> {
    image.topic_by_id(topic_id)?.partitions.get(&index)
}

impl ClusterControl {
    /// Validates an ISR change proposed by a partition's leader, as Kafka's
    /// controller does: the sender must be the registered leader at the current
    /// leader and partition epochs, every new ISR member a live, eligible replica
    /// (KIP-841), and every member's broker epoch, when given, its current
    /// registration's (KIP-903: fetches from a broker's earlier incarnation do not
    /// put the restarted broker, which may have lost records, into the ISR).
    /// Returns the result and, if it changes anything, the record.
    pub fn alter_partition(
        &self,
        image: &MetadataImage,
        req: &AlterPartition,
    ) -> (AlterPartitionResult, Option<MetadataRecord>) {
        let refuse = |error| {
            let result = match partition(image, &req.topic_id, req.partition) {
                Some(p) => AlterPartitionResult::of(p, Some(error)),
                None => AlterPartitionResult {
                    error: Some(error),
                    leader: -1,
                    leader_epoch: -1,
                    isr: vec![],
                    partition_epoch: -1,
                },
            };
            (result, None)
        };
        match image.broker(req.broker_id) {
            None => return refuse(ControlError::BrokerIdNotRegistered),
            Some(b) if b.broker_epoch != req.broker_epoch => {
                return refuse(ControlError::StaleBrokerEpoch)
            }
            Some(_) => {}
        }
        let Some(p) = partition(image, &req.topic_id, req.partition) else {
            return refuse(ControlError::UnknownTopicOrPartition);
        };
        if req.leader_epoch < p.leader_epoch {
            return refuse(ControlError::FencedLeaderEpoch);
        }
        if p.leader != req.broker_id || req.leader_epoch != p.leader_epoch {
            return refuse(ControlError::NotLeaderOrFollower);
        }
        if req.partition_epoch != p.partition_epoch {
            return refuse(ControlError::InvalidUpdateVersion);
        }
        let new_isr: Vec<i32> = req.new_isr.iter().map(|m| m.broker_id).collect();
        if !new_isr.contains(&p.leader) {
            return refuse(ControlError::InvalidRequest(
                "the new ISR must contain the leader",
            ));
        }
        let mut seen = Vec::with_capacity(new_isr.len());
        for &r in &new_isr {
            if seen.contains(&r) || !p.replicas.contains(&r) {
                return refuse(ControlError::InvalidRequest(
                    "the new ISR must be distinct replicas of the partition",
                ));
            }
            seen.push(r);
        }
        let eligible = eligible_in(image, None);
        // A member already in the ISR may stay while fenced (the leader only shrinks);
        // a new member must be eligible.
        if new_isr
            .iter()
            .any(|&r| r != p.leader && !p.isr.contains(&r) && !eligible(r))
        {
            return refuse(ControlError::IneligibleReplica);
        }
        let stale_epoch = |m: &IsrMember| {
            m.broker_epoch != -1
                && image
                    .broker(m.broker_id)
                    .is_none_or(|b| b.broker_epoch != m.broker_epoch)
        };
        if req.new_isr.iter().any(stale_epoch) {
            return refuse(ControlError::IneligibleReplica);
        }
        // An ISR that now holds every target replica completes an ongoing
        // reassignment in the same change; a removed leader is replaced, and the
        // old leader learns it from the new leader epoch in the answer.
        let target = Target {
            isr: new_isr.clone(),
            ..Target::of(p)
        };
        let record = build_change(image, req.topic_id, req.partition, p, target);
        let mut after = p.clone();
        if let Some(MetadataRecord::PartitionChange {
            leader,
            isr,
            replicas,
            adding_replicas,
            removing_replicas,
            ..
        }) = &record
        {
            after.apply_change(
                *leader,
                isr,
                replicas.as_deref(),
                adding_replicas.as_deref(),
                removing_replicas.as_deref(),
            );
        }
        (AlterPartitionResult::of(&after, None), record)
    }

    /// Preferred leader election for one partition: move leadership to the first
    /// replica when it is alive and in the ISR.
    pub fn elect_preferred(
        &self,
        image: &MetadataImage,
        topic_id: Uuid,
        index: i32,
    ) -> Result<Option<MetadataRecord>, ControlError> {
        let p = partition(image, &topic_id, index).ok_or(ControlError::UnknownTopicOrPartition)?;
        let preferred = *p
            .replicas
            .first()
            .ok_or(ControlError::PreferredLeaderNotAvailable)?;
        if p.leader == preferred {
            return Err(ControlError::ElectionNotNeeded);
        }
        if !p.isr.contains(&preferred) || !eligible_in(image, None)(preferred) {
            return Err(ControlError::PreferredLeaderNotAvailable);
        }
        Ok(partition_change(
            topic_id,
            index,
            p,
            preferred,
            p.isr.clone(),
        ))
    }

    /// Unclean election for one partition an operator asked for: only when it has
    /// no live leader, pick any live replica (acknowledged records may be lost).
    pub fn elect_unclean(
        &self,
        image: &MetadataImage,
        topic_id: Uuid,
        index: i32,
    ) -> Result<Option<MetadataRecord>, ControlError> {
        let p = partition(image, &topic_id, index).ok_or(ControlError::UnknownTopicOrPartition)?;
        let eligible = eligible_in(image, None);
        if p.leader >= 0 && eligible(p.leader) {
            return Err(ControlError::ElectionNotNeeded);
        }
        let e = elect_leader(&p.replicas, &p.isr, &eligible, true)
            .ok_or(ControlError::EligibleLeadersNotAvailable)?;
        Ok(partition_change(topic_id, index, p, e.leader, e.isr))
    }

    /// Automatic leader rebalancing (`auto.leader.rebalance.enable`): for every
    /// broker whose share of preferred partitions led elsewhere exceeds
    /// `leader.imbalance.per.broker.percentage`, moves those back to it.
    pub fn rebalance_leaders(&self, image: &MetadataImage) -> Vec<MetadataRecord> {
        let mut preferred_count: std::collections::BTreeMap<i32, (u32, u32)> = Default::default();
        for topic in image.topics() {
            for p in topic.partitions.values() {
                if let Some(&preferred) = p.replicas.first() {
                    let entry = preferred_count.entry(preferred).or_default();
                    entry.0 += 1;
                    if p.leader != preferred {
                        entry.1 += 1;
                    }
                }
            }
        }
        let limit = self.config.leader_imbalance_per_broker_percentage;
        let imbalanced = |broker: i32| {
            preferred_count
                .get(&broker)
                .is_some_and(|&(total, elsewhere)| total > 0 && elsewhere * 100 > limit * total)
        };
        let mut records = Vec::new();
        for topic in image.topics() {
            for (&index, p) in &topic.partitions {
                let Some(&preferred) = p.replicas.first() else {
                    continue;
                };
                if p.leader != preferred && imbalanced(preferred) {
                    if let Ok(Some(r)) = self.elect_preferred(image, topic.topic_id, index) {
                        records.push(r);
                    }
                }
            }
        }
        records
    }
}
