//! Who leads a partition, and what a broker's loss or return changes.

use uuid::Uuid;

use crate::{ConfigResource, MetadataImage, MetadataRecord, PartitionImage};

/// The topic config (and broker default) that allows electing outside the ISR.
const UNCLEAN_KEY: &str = "unclean.leader.election.enable";

/// Whether `topic` allows an unclean election, resolved as Kafka's controller
/// does: the topic's own setting, then the cluster-wide dynamic default, then the
/// controller's `server.properties` (`default`). Kafka 4 reads the topic first,
/// so one topic can trade durability for availability without the others.
pub fn unclean_allowed(image: &MetadataImage, topic: &str, default: bool) -> bool {
    let setting = |resource: ConfigResource| {
        image
            .configs(&resource)
            .and_then(|c| c.get(UNCLEAN_KEY))
            .and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })
    };
    setting(ConfigResource::Topic(topic.to_string()))
        .or_else(|| setting(ConfigResource::Broker(None)))
        .unwrap_or(default)
}

/// The leader, and the ISR that goes with it, chosen for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionResult {
    pub leader: i32,
    pub isr: Vec<i32>,
    /// The leader came from outside the ISR: records it had not replicated are lost.
    pub unclean: bool,
}

/// Elects the first replica, in replica order (so the preferred replica wins when
/// it can), that is in the ISR and eligible. With `unclean` and no such replica,
/// the first eligible replica outside the ISR, whose ISR then is just itself.
/// `None`: no replica may lead, and the partition stays leaderless.
pub fn elect_leader(
    replicas: &[i32],
    isr: &[i32],
    eligible: impl Fn(i32) -> bool,
    unclean: bool,
) -> Option<ElectionResult> {
    if let Some(&leader) = replicas.iter().find(|&&r| isr.contains(&r) && eligible(r)) {
        return Some(ElectionResult {
            leader,
            isr: isr.iter().copied().filter(|&r| eligible(r)).collect(),
            unclean: false,
        });
    }
    if !unclean {
        return None;
    }
    replicas
        .iter()
        .copied()
        .find(|&r| eligible(r))
        .map(|leader| ElectionResult {
            leader,
            isr: vec![leader],
            unclean: true,
        })
}

/// A PartitionChange moving `current` to `leader`/`isr`, or None if nothing changes.
pub(crate) fn partition_change(
    topic_id: Uuid,
    partition: i32,
    current: &PartitionImage,
    leader: i32,
    isr: Vec<i32>,
) -> Option<MetadataRecord> {
    (current.leader != leader || current.isr != isr).then_some(MetadataRecord::PartitionChange {
        topic_id,
        partition,
        leader,
        isr,
        replicas: None,
        adding_replicas: None,
        removing_replicas: None,
    })
}

/// Whether a broker may lead and be in ISRs as of `image`, treating `excluded`
/// as already gone.
pub(crate) fn eligible_in(
    image: &MetadataImage,
    excluded: Option<i32>,
) -> impl Fn(i32) -> bool + '_ {
    move |id| Some(id) != excluded && image.broker(id).is_some_and(|b| b.is_eligible())
}

/// Records that take `broker` out of every ISR and leadership (it was fenced or is
/// shutting down). The last member of an ISR stays in it: the partition then has no
/// leader until that broker (or, unclean, another replica) returns, and no record
/// acknowledged by the whole ISR can be lost by electing someone who lacks it.
/// `default_unclean` applies to topics without their own setting.
pub(crate) fn remove_broker(
    image: &MetadataImage,
    broker: i32,
    default_unclean: bool,
) -> Vec<MetadataRecord> {
    let eligible = eligible_in(image, Some(broker));
    let mut records = Vec::new();
    for topic in image.topics() {
        let unclean = unclean_allowed(image, &topic.name, default_unclean);
        for (&index, p) in &topic.partitions {
            if p.leader != broker && !p.isr.contains(&broker) {
                continue;
            }
            let mut isr: Vec<i32> = p.isr.iter().copied().filter(|&r| r != broker).collect();
            if isr.is_empty() {
                isr = p.isr.clone();
            }
            let (leader, isr) = if p.leader == broker || p.leader < 0 {
                match elect_leader(&p.replicas, &isr, &eligible, unclean) {
                    Some(e) => (e.leader, e.isr),
                    None => (-1, isr),
                }
            } else {
                (p.leader, isr)
            };
            records.extend(partition_change(topic.topic_id, index, p, leader, isr));
        }
    }
    records
}

/// Records that give a leader to every leaderless partition `broker` can now lead
/// (it was just unfenced).
pub(crate) fn restore_leaders(
    image: &MetadataImage,
    broker: i32,
    default_unclean: bool,
) -> Vec<MetadataRecord> {
    let base = eligible_in(image, None);
    let eligible = |id: i32| id == broker || base(id);
    let mut records = Vec::new();
    for topic in image.topics() {
        let unclean = unclean_allowed(image, &topic.name, default_unclean);
        for (&index, p) in &topic.partitions {
            if p.leader >= 0 || !p.replicas.contains(&broker) {
                continue;
            }
            if let Some(e) = elect_leader(&p.replicas, &p.isr, eligible, unclean) {
                records.extend(partition_change(topic.topic_id, index, p, e.leader, e.isr));
            }
        }
    }
    records
}

/// Records that elect a leader outside the ISR for every leaderless partition
/// whose topic allows it and that has an eligible replica. Kafka's controller
/// runs this every `unclean.leader.election.interval.ms`, so turning the setting
/// on for a topic brings its offline partitions back (without what the new
/// leader lacked) even when no broker comes or goes.
pub(crate) fn unclean_elections(
    image: &MetadataImage,
    default_unclean: bool,
) -> Vec<MetadataRecord> {
    let eligible = eligible_in(image, None);
    let mut records = Vec::new();
    for topic in image.topics() {
        if !unclean_allowed(image, &topic.name, default_unclean) {
            continue;
        }
        for (&index, p) in &topic.partitions {
            if p.leader >= 0 {
                continue;
            }
            if let Some(e) = elect_leader(&p.replicas, &p.isr, &eligible, true) {
                if e.unclean {
                    tracing::warn!(
                        topic = %topic.name,
                        partition = index,
                        leader = e.leader,
                        "unclean leader election: records the new leader lacks are lost"
                    );
                }
                records.extend(partition_change(topic.topic_id, index, p, e.leader, e.isr));
            }
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(ids: &'static [i32]) -> impl Fn(i32) -> bool {
        move |id| ids.contains(&id)
    }

    #[test]
    fn the_first_live_isr_member_in_replica_order_leads() {
        let e = elect_leader(&[1, 2, 3], &[3, 2], alive(&[1, 2, 3]), false).unwrap();
        assert_eq!((e.leader, e.isr.clone(), e.unclean), (2, vec![3, 2], false));
        let e = elect_leader(&[1, 2, 3], &[1, 2, 3], alive(&[2, 3]), false).unwrap();
        assert_eq!((e.leader, e.isr), (2, vec![2, 3]));
    }

    #[test]
    fn no_live_isr_member_means_no_leader_unless_unclean() {
        assert_eq!(elect_leader(&[1, 2, 3], &[1], alive(&[2, 3]), false), None);
        let e = elect_leader(&[1, 2, 3], &[1], alive(&[2, 3]), true).unwrap();
        assert_eq!((e.leader, e.isr, e.unclean), (2, vec![2], true));
        assert_eq!(elect_leader(&[1, 2, 3], &[1], alive(&[]), true), None);
    }
}
