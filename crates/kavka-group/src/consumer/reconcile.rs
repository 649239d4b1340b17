//! Moves one member from its current assignment towards the group's target, following
//! Kafka's `CurrentAssignmentBuilder`: partitions leaving the member are revoked first
//! (the member keeps its epoch until it reports them gone), and a partition joins its
//! new owner only once no other member holds it, so no partition has two owners.

use super::member::{ConsumerMember, MemberState};
use super::{Assignment, TopicId};

/// The member's next state given the target, what it reported owning (None: not sent
/// in this heartbeat) and whether another member still holds a partition.
pub(crate) fn reconcile(
    member: &ConsumerMember,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    held_by_other: &dyn Fn(TopicId, i32) -> bool,
) -> ConsumerMember {
    match member.state {
        MemberState::Stable if member.member_epoch == target_epoch => member.clone(),
        MemberState::Stable | MemberState::UnreleasedPartitions => next_assignment(
            member,
            member.member_epoch,
            target_epoch,
            target,
            owned,
            held_by_other,
        ),
        MemberState::UnrevokedPartitions => {
            if owns_any(owned, &member.pending_revocation) {
                return member.clone();
            }
            // Revocation acknowledged: the member may move to the next epoch.
            next_assignment(
                member,
                member.member_epoch + 1,
                target_epoch,
                target,
                owned,
                held_by_other,
            )
        }
    }
}

/// Whether the member still owns any of `partitions`; a heartbeat without owned
/// partitions proves nothing, so it counts as still owning them.
fn owns_any(owned: Option<&Assignment>, partitions: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    partitions.iter().any(|(t, ps)| {
        owned
            .get(t)
            .is_some_and(|o| ps.iter().any(|p| o.contains(p)))
    })
}

fn next_assignment(
    member: &ConsumerMember,
    member_epoch: i32,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    held_by_other: &dyn Fn(TopicId, i32) -> bool,
) -> ConsumerMember {
    let mut assigned = Assignment::new();
    let mut revoking = Assignment::new();
    let mut unreleased = false;
    let topics: std::collections::BTreeSet<TopicId> = target
        .keys()
        .chain(member.assigned.keys())
        .copied()
        .collect();
    let empty = Default::default();
    for t in topics {
        let wanted = target.get(&t).unwrap_or(&empty);
        let current = member.assigned.get(&t).unwrap_or(&empty);
        let mut keep: std::collections::BTreeSet<i32> =
            current.intersection(wanted).copied().collect();
        let revoke: std::collections::BTreeSet<i32> = current.difference(wanted).copied().collect();
        for &p in wanted.difference(current) {
            if held_by_other(t, p) {
                unreleased = true;
            } else {
                keep.insert(p);
            }
        }
        if !keep.is_empty() {
            assigned.insert(t, keep);
        }
        if !revoke.is_empty() {
            revoking.insert(t, revoke);
        }
    }
    let mut next = member.clone();
    next.assigned = assigned;
    if !revoking.is_empty() && owns_any(owned, &revoking) {
        next.state = MemberState::UnrevokedPartitions;
        next.previous_member_epoch = member.member_epoch;
        next.member_epoch = member_epoch;
        next.pending_revocation = revoking;
    } else {
        next.state = if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        };
        next.previous_member_epoch = member.member_epoch;
        next.member_epoch = target_epoch;
        next.pending_revocation = Assignment::new();
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> TopicId {
        TopicId([7; 16])
    }

    fn a(ps: &[i32]) -> Assignment {
        if ps.is_empty() {
            return Assignment::new();
        }
        [(t(), ps.iter().copied().collect())].into_iter().collect()
    }

    fn member(epoch: i32, assigned: &[i32]) -> ConsumerMember {
        let mut m = ConsumerMember::new("m");
        m.member_epoch = epoch;
        m.assigned = a(assigned);
        m
    }

    #[test]
    fn stable_member_at_target_epoch_is_unchanged() {
        let m = member(3, &[0, 1]);
        let next = reconcile(&m, 3, &a(&[0]), None, &|_, _| false);
        assert_eq!(next, m);
    }

    #[test]
    fn partitions_leaving_are_revoked_before_the_epoch_moves() {
        let m = member(1, &[0, 1, 2]);
        let next = reconcile(&m, 2, &a(&[0, 1]), Some(&a(&[0, 1, 2])), &|_, _| false);
        assert_eq!(next.state, MemberState::UnrevokedPartitions);
        assert_eq!(next.member_epoch, 1);
        assert_eq!(next.assigned, a(&[0, 1]));
        assert_eq!(next.pending_revocation, a(&[2]));
        // Still owning partition 2: no progress.
        let same = reconcile(&next, 2, &a(&[0, 1]), Some(&a(&[0, 1, 2])), &|_, _| false);
        assert_eq!(same, next);
        // Not told: no progress either.
        assert_eq!(reconcile(&next, 2, &a(&[0, 1]), None, &|_, _| false), next);
        let done = reconcile(&next, 2, &a(&[0, 1]), Some(&a(&[0, 1])), &|_, _| false);
        assert_eq!(done.state, MemberState::Stable);
        assert_eq!(done.member_epoch, 2);
        assert!(done.pending_revocation.is_empty());
    }

    #[test]
    fn partitions_still_held_elsewhere_wait() {
        let m = member(1, &[]);
        let next = reconcile(&m, 2, &a(&[0, 1]), Some(&a(&[])), &|_, p| p == 1);
        assert_eq!(next.state, MemberState::UnreleasedPartitions);
        assert_eq!(next.member_epoch, 2);
        assert_eq!(next.assigned, a(&[0]));
        let later = reconcile(&next, 2, &a(&[0, 1]), None, &|_, _| false);
        assert_eq!(later.state, MemberState::Stable);
        assert_eq!(later.assigned, a(&[0, 1]));
    }
}
