//! What `kafka-topics --describe` prints for one partition, and which partitions
//! its report options (`--under-replicated-partitions`, `--under-min-isr-partitions`,
//! `--at-min-isr-partitions`, `--unavailable-partitions`) select: Kafka's
//! `TopicCommand.PartitionDescription`, without I/O.

use std::collections::HashSet;

use crate::output::ids;

/// One partition as Kafka's admin client describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionView {
    /// The partition index.
    pub(crate) partition: i32,
    /// The leader, when the broker named as leader is alive (Kafka's admin client
    /// looks the leader up among the live brokers; a dead or absent one is `none`).
    pub(crate) leader: Option<i32>,
    /// The replicas, in preferred-leader order.
    pub(crate) replicas: Vec<i32>,
    /// The in-sync replicas, in the order the broker sent them.
    pub(crate) isr: Vec<i32>,
    /// Eligible leader replicas (KIP-966); None when the broker sent none.
    pub(crate) elr: Option<Vec<i32>>,
    /// Last known eligible leader replicas (KIP-966).
    pub(crate) last_known_elr: Option<Vec<i32>>,
    /// The ongoing reassignment (KIP-455): replicas being added, being removed.
    pub(crate) reassignment: Option<(Vec<i32>, Vec<i32>)>,
}

impl PartitionView {
    /// A partition whose leader is `leader_id` (negative: none), kept only if that
    /// broker is among `live` brokers.
    pub(crate) fn new(
        partition: i32,
        leader_id: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        live: &HashSet<i32>,
    ) -> Self {
        let leader = (leader_id >= 0 && live.contains(&leader_id)).then_some(leader_id);
        Self {
            partition,
            leader,
            replicas,
            isr,
            elr: None,
            last_known_elr: None,
            reassignment: None,
        }
    }

    /// Kafka's `getReplicationFactor`: while a reassignment that still touches the
    /// replicas is in progress, the replicas without those being added.
    pub(crate) fn replication_factor(&self) -> usize {
        match &self.reassignment {
            Some((adding, removing))
                if self
                    .replicas
                    .iter()
                    .any(|r| adding.contains(r) || removing.contains(r)) =>
            {
                self.replicas.len().saturating_sub(adding.len())
            }
            _ => self.replicas.len(),
        }
    }

    /// Kafka's `isUnderReplicated`: fewer in-sync replicas than the replication
    /// factor.
    fn is_under_replicated(&self) -> bool {
        self.replication_factor() > self.isr.len()
    }

    /// Kafka's `isUnderMinIsr`: no leader, or an ISR below `min.insync.replicas`.
    fn is_under_min_isr(&self, min_isr: i32) -> bool {
        self.leader.is_none() || (self.isr.len() as i64) < i64::from(min_isr)
    }

    /// Kafka's `isAtMinIsrPartitions`: an ISR of exactly `min.insync.replicas`.
    fn is_at_min_isr(&self, min_isr: i32) -> bool {
        self.isr.len() as i64 == i64::from(min_isr)
    }

    /// Kafka's `hasUnavailablePartitions`: no leader, or one that is not alive.
    fn is_unavailable(&self, live: &HashSet<i32>) -> bool {
        self.leader.is_none_or(|l| !live.contains(&l))
    }

    /// The partition line of `kafka-topics --describe`, without the newline.
    pub(crate) fn line(&self, topic: &str) -> String {
        let leader = self
            .leader
            .map_or_else(|| "none".to_string(), |l| l.to_string());
        // Kafka's admin client turns an absent ELR into an empty list, so `N/A`
        // (what TopicCommand prints for null) never shows.
        let elr = self.elr.as_deref().map(ids).unwrap_or_default();
        let last_known = self.last_known_elr.as_deref().map(ids).unwrap_or_default();
        let moving = self
            .reassignment
            .as_ref()
            .map(|(adding, removing)| {
                format!(
                    "\tAdding Replicas: {}\tRemoving Replicas: {}",
                    ids(adding),
                    ids(removing)
                )
            })
            .unwrap_or_default();
        format!(
            "\tTopic: {topic}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}{moving}\tElr: {elr}\tLastKnownElr: {last_known}",
            self.partition,
            ids(&self.replicas),
            ids(&self.isr)
        )
    }
}

/// The report options of `kafka-topics --describe`. With none set, every partition
/// is printed, under its topic's line; with any set, only the partitions one of them
/// selects, and no topic lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReportFilters {
    /// `--under-replicated-partitions`
    pub(crate) under_replicated: bool,
    /// `--under-min-isr-partitions`
    pub(crate) under_min_isr: bool,
    /// `--at-min-isr-partitions`
    pub(crate) at_min_isr: bool,
    /// `--unavailable-partitions`
    pub(crate) unavailable: bool,
}

impl ReportFilters {
    /// Whether any report option is set (then topic lines are not printed).
    pub(crate) fn any(&self) -> bool {
        self.under_replicated || self.under_min_isr || self.at_min_isr || self.unavailable
    }

    /// Whether `p` is printed: always without report options, else when any set
    /// option selects it. `min_isr` is the topic's `min.insync.replicas`.
    pub(crate) fn selects(&self, p: &PartitionView, min_isr: i32, live: &HashSet<i32>) -> bool {
        !self.any()
            || (self.under_replicated && p.is_under_replicated())
            || (self.unavailable && p.is_unavailable(live))
            || (self.under_min_isr && p.is_under_min_isr(min_isr))
            || (self.at_min_isr && p.is_at_min_isr(min_isr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(ids: &[i32]) -> HashSet<i32> {
        ids.iter().copied().collect()
    }

    fn p(partition: i32, leader: i32, replicas: &[i32], isr: &[i32], up: &[i32]) -> PartitionView {
        let mut view = PartitionView::new(
            partition,
            leader,
            replicas.to_vec(),
            isr.to_vec(),
            &live(up),
        );
        view.elr = Some(vec![]);
        view.last_known_elr = Some(vec![]);
        view
    }

    const UNDER_REPLICATED: ReportFilters = ReportFilters {
        under_replicated: true,
        under_min_isr: false,
        at_min_isr: false,
        unavailable: false,
    };
    const UNDER_MIN_ISR: ReportFilters = ReportFilters {
        under_replicated: false,
        under_min_isr: true,
        at_min_isr: false,
        unavailable: false,
    };
    const AT_MIN_ISR: ReportFilters = ReportFilters {
        under_replicated: false,
        under_min_isr: false,
        at_min_isr: true,
        unavailable: false,
    };
    const UNAVAILABLE: ReportFilters = ReportFilters {
        under_replicated: false,
        under_min_isr: false,
        at_min_isr: false,
        unavailable: true,
    };

    #[test]
    fn a_reassigning_partition_shows_its_moves_and_counts_its_target() {
        let mut view = p(0, 1, &[2, 3, 4, 1], &[1, 2, 3], &[1, 2, 3, 4]);
        view.elr = Some(vec![]);
        view.last_known_elr = Some(vec![]);
        view.reassignment = Some((vec![4], vec![1]));
        assert_eq!(
            view.line("t"),
            "\tTopic: t\tPartition: 0\tLeader: 1\tReplicas: 2,3,4,1\tIsr: 1,2,3\tAdding Replicas: 4\tRemoving Replicas: 1\tElr: \tLastKnownElr: "
        );
        assert_eq!(view.replication_factor(), 3);
        assert!(!view.is_under_replicated());

        // Kafka 4.4 moving a one-replica partition from broker 1 to [2,3].
        let kafka =
            include_str!("../../../compat/reference-outputs/reassign/describe-inflight.out");
        let mut view = p(0, 1, &[2, 3, 1], &[1], &[1, 2, 3]);
        view.elr = Some(vec![]);
        view.last_known_elr = Some(vec![]);
        view.reassignment = Some((vec![2, 3], vec![1]));
        assert_eq!(kafka.lines().nth(1), Some(view.line("big").as_str()));
        assert_eq!(view.replication_factor(), 1, "{kafka}");
        assert!(!view.is_under_replicated());
    }

    #[test]
    fn partition_line_is_kafkas() {
        // compat/reference-outputs/cluster-tools/transcript.txt, section 1.
        let line = p(1, 2, &[2, 3, 1], &[2, 3, 1], &[1, 2, 3]).line("orders");
        assert_eq!(
            line,
            "\tTopic: orders\tPartition: 1\tLeader: 2\tReplicas: 2,3,1\tIsr: 2,3,1\tElr: \tLastKnownElr: "
        );
    }

    #[test]
    fn leaderless_partition_prints_none_and_its_elr() {
        // Section 2: solo's only replica (node 3) stopped; KIP-966 keeps it as ELR.
        let mut view = p(0, -1, &[3], &[], &[1, 2]);
        view.elr = Some(vec![3]);
        view.last_known_elr = Some(vec![3]);
        assert_eq!(
            view.line("solo"),
            "\tTopic: solo\tPartition: 0\tLeader: none\tReplicas: 3\tIsr: \tElr: 3\tLastKnownElr: 3"
        );
    }

    #[test]
    fn absent_elr_prints_empty() {
        let mut view = p(0, 1, &[1], &[1], &[1]);
        view.elr = None;
        view.last_known_elr = None;
        assert!(view.line("t").ends_with("\tIsr: 1\tElr: \tLastKnownElr: "));
    }

    #[test]
    fn a_leader_that_is_not_alive_is_none() {
        let view = p(0, 3, &[3, 1], &[3, 1], &[1, 2]);
        assert_eq!(view.leader, None);
        assert!(UNAVAILABLE.selects(&view, 1, &live(&[1, 2])));
    }

    #[test]
    fn healthy_partitions_are_in_no_report() {
        let up = [1, 2, 3];
        let view = p(0, 1, &[1, 2, 3], &[1, 2, 3], &up);
        for f in [UNDER_REPLICATED, UNDER_MIN_ISR, AT_MIN_ISR, UNAVAILABLE] {
            assert!(!f.selects(&view, 2, &live(&up)), "{f:?}");
        }
        assert!(ReportFilters::default().selects(&view, 2, &live(&up)));
    }

    #[test]
    fn one_replica_out_of_three_is_under_replicated_and_at_min_isr_two() {
        let up = [1, 2];
        let view = p(0, 2, &[3, 1, 2], &[1, 2], &up);
        assert!(UNDER_REPLICATED.selects(&view, 2, &live(&up)));
        assert!(AT_MIN_ISR.selects(&view, 2, &live(&up)));
        assert!(!UNDER_MIN_ISR.selects(&view, 2, &live(&up)));
        assert!(!UNAVAILABLE.selects(&view, 2, &live(&up)));
        // Raising min.insync.replicas to 3 moves it from at-min to under-min.
        assert!(UNDER_MIN_ISR.selects(&view, 3, &live(&up)));
        assert!(!AT_MIN_ISR.selects(&view, 3, &live(&up)));
    }

    #[test]
    fn a_single_replica_topic_with_min_isr_two_is_under_min_isr_even_when_healthy() {
        // Section 1: solo (RF 1) with the cluster's min.insync.replicas=2.
        let up = [1, 2, 3];
        let view = p(0, 3, &[3], &[3], &up);
        assert!(UNDER_MIN_ISR.selects(&view, 2, &live(&up)));
        assert!(!UNDER_REPLICATED.selects(&view, 2, &live(&up)));
    }

    #[test]
    fn a_partition_without_leader_is_unavailable_and_under_min_isr() {
        let up = [1, 2];
        let view = p(0, -1, &[3], &[], &up);
        assert!(UNAVAILABLE.selects(&view, 1, &live(&up)));
        assert!(UNDER_MIN_ISR.selects(&view, 1, &live(&up)));
        // Its ISR is empty (KIP-966 moved the replica to the ELR): under-replicated too.
        assert!(UNDER_REPLICATED.selects(&view, 1, &live(&up)));
    }

    #[test]
    fn report_options_combine_with_or() {
        let up = [1, 2];
        let both = ReportFilters {
            under_replicated: true,
            unavailable: true,
            ..ReportFilters::default()
        };
        assert!(both.selects(&p(0, -1, &[3], &[3], &up), 1, &live(&up)));
        assert!(both.selects(&p(0, -1, &[3], &[], &up), 1, &live(&up)));
        assert!(both.selects(&p(0, 1, &[1, 3], &[1], &up), 1, &live(&up)));
        assert!(!both.selects(&p(0, 1, &[1, 2], &[1, 2], &up), 1, &live(&up)));
    }
}
