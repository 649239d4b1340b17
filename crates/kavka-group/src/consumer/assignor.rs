//! Server-side assignors: each turns members' subscriptions into a target assignment.
//! Both are deterministic (members in id order, topics in id order) so a replay or a
//! test sees the same result.

use std::collections::{BTreeMap, BTreeSet};

use super::{Assignment, TopicId};

/// The assignors Kafka ships for the consumer protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerAssignor {
    /// Spreads all partitions evenly over members, keeping what each already has.
    Uniform,
    /// Per topic, contiguous ranges of partitions to members in id order.
    Range,
}

impl ServerAssignor {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "uniform" => Some(ServerAssignor::Uniform),
            "range" => Some(ServerAssignor::Range),
            _ => None,
        }
    }
}

/// What an assignor sees: each member's subscribed topics and each topic's partitions.
pub(crate) struct AssignmentSpec<'a> {
    pub(crate) members: BTreeMap<String, BTreeSet<TopicId>>,
    pub(crate) partitions: BTreeMap<TopicId, i32>,
    /// The previous target, so `uniform` can keep partitions where they are.
    pub(crate) previous: &'a BTreeMap<String, Assignment>,
}

/// Computes the target assignment of every member (members with nothing get an entry too).
pub(crate) fn assign(
    assignor: ServerAssignor,
    spec: &AssignmentSpec<'_>,
) -> BTreeMap<String, Assignment> {
    match assignor {
        ServerAssignor::Uniform => uniform(spec),
        ServerAssignor::Range => range(spec),
    }
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

fn uniform(spec: &AssignmentSpec<'_>) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = spec
        .members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    let exists = |t: &TopicId, p: i32| spec.partitions.get(t).is_some_and(|n| p >= 0 && p < *n);
    let mut taken: BTreeSet<(TopicId, i32)> = BTreeSet::new();
    // Stickiness: a member keeps what it had, if it still subscribes and it still exists.
    for (member, topics) in &spec.members {
        let Some(previous) = spec.previous.get(member) else {
            continue;
        };
        for (t, ps) in previous {
            if !topics.contains(t) {
                continue;
            }
            for &p in ps {
                if exists(t, p) && taken.insert((*t, p)) {
                    out.entry(member.clone())
                        .or_default()
                        .entry(*t)
                        .or_default()
                        .insert(p);
                }
            }
        }
    }
    // Every unowned partition goes to the least loaded subscriber (ties: lowest id).
    for (t, n) in &spec.partitions {
        for p in 0..*n {
            if taken.contains(&(*t, p)) {
                continue;
            }
            let best = spec
                .members
                .iter()
                .filter(|(_, topics)| topics.contains(t))
                .map(|(m, _)| m)
                .min_by_key(|m| (out.get(*m).map_or(0, count), (*m).clone()));
            if let Some(m) = best {
                taken.insert((*t, p));
                out.entry(m.clone())
                    .or_default()
                    .entry(*t)
                    .or_default()
                    .insert(p);
            }
        }
    }
    balance(spec, &mut out);
    out.values_mut()
        .for_each(|a| a.retain(|_, ps| !ps.is_empty()));
    out
}

/// Moves partitions from the most to the least loaded members until no member has two
/// more than another that could take one. Each move lowers the sum of squared loads,
/// so this ends.
fn balance(spec: &AssignmentSpec<'_>, out: &mut BTreeMap<String, Assignment>) {
    loop {
        let mut by_load: Vec<(usize, String)> =
            out.iter().map(|(m, a)| (count(a), m.clone())).collect();
        // Donors: most loaded first (then highest id); receivers: least loaded (lowest id).
        by_load.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        let mut moved = false;
        'search: for (donor_load, donor) in &by_load {
            for (receiver_load, receiver) in by_load.iter().rev() {
                if donor_load <= &(receiver_load + 1) {
                    break;
                }
                let Some(wanted) = spec.members.get(receiver) else {
                    continue;
                };
                let candidate = out.get(donor).and_then(|a| {
                    a.iter()
                        .rev()
                        .filter(|(t, _)| wanted.contains(t))
                        .find_map(|(t, ps)| ps.iter().next_back().map(|p| (*t, *p)))
                });
                if let Some((t, p)) = candidate {
                    if let Some(ps) = out.get_mut(donor).and_then(|a| a.get_mut(&t)) {
                        ps.remove(&p);
                    }
                    out.entry(receiver.clone())
                        .or_default()
                        .entry(t)
                        .or_default()
                        .insert(p);
                    moved = true;
                    break 'search;
                }
            }
        }
        if !moved {
            return;
        }
    }
}

fn range(spec: &AssignmentSpec<'_>) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = spec
        .members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    for (t, n) in &spec.partitions {
        let subscribers: Vec<&String> = spec
            .members
            .iter()
            .filter(|(_, topics)| topics.contains(t))
            .map(|(m, _)| m)
            .collect();
        if subscribers.is_empty() || *n <= 0 {
            continue;
        }
        let n = *n as usize;
        let per = n / subscribers.len();
        let extra = n % subscribers.len();
        let mut next = 0usize;
        for (i, m) in subscribers.iter().enumerate() {
            let take = per + usize::from(i < extra);
            if take > 0 {
                let ps = (next..next + take).map(|p| p as i32);
                out.entry((*m).clone())
                    .or_default()
                    .entry(*t)
                    .or_default()
                    .extend(ps);
            }
            next += take;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(b: u8) -> TopicId {
        TopicId([b; 16])
    }

    fn spec<'a>(
        members: &[(&str, &[u8])],
        partitions: &[(u8, i32)],
        previous: &'a BTreeMap<String, Assignment>,
    ) -> AssignmentSpec<'a> {
        AssignmentSpec {
            members: members
                .iter()
                .map(|(m, ts)| (m.to_string(), ts.iter().map(|b| topic(*b)).collect()))
                .collect(),
            partitions: partitions.iter().map(|(b, n)| (topic(*b), *n)).collect(),
            previous,
        }
    }

    fn sizes(out: &BTreeMap<String, Assignment>) -> Vec<usize> {
        let mut v: Vec<usize> = out.values().map(count).collect();
        v.sort();
        v
    }

    fn disjoint_cover(out: &BTreeMap<String, Assignment>, total: usize) {
        let mut all = BTreeSet::new();
        for a in out.values() {
            for (t, ps) in a {
                for p in ps {
                    assert!(all.insert((*t, *p)), "partition {p} assigned twice");
                }
            }
        }
        assert_eq!(all.len(), total);
    }

    #[test]
    fn uniform_splits_three_partitions_over_one_to_four_members() {
        let none = BTreeMap::new();
        let names = ["a", "b", "c", "d"];
        let expected = [vec![3], vec![1, 2], vec![1, 1, 1], vec![0, 1, 1, 1]];
        for n in 1..=4 {
            let members: Vec<(&str, &[u8])> = names[..n].iter().map(|m| (*m, &[1u8][..])).collect();
            let out = assign(ServerAssignor::Uniform, &spec(&members, &[(1, 3)], &none));
            assert_eq!(sizes(&out), expected[n - 1]);
            disjoint_cover(&out, 3);
        }
    }

    #[test]
    fn uniform_keeps_partitions_where_they_are() {
        let mut previous = BTreeMap::new();
        previous.insert(
            "a".to_string(),
            [(topic(1), [0, 1, 2].into_iter().collect())]
                .into_iter()
                .collect(),
        );
        let out = assign(
            ServerAssignor::Uniform,
            &spec(&[("a", &[1]), ("b", &[1])], &[(1, 3)], &previous),
        );
        assert_eq!(count(&out["a"]), 2);
        assert_eq!(count(&out["b"]), 1);
        // b takes a's highest partition; a keeps the rest.
        assert_eq!(out["b"][&topic(1)], [2].into_iter().collect());
        disjoint_cover(&out, 3);
    }

    #[test]
    fn uniform_gives_members_only_topics_they_subscribe_to() {
        let none = BTreeMap::new();
        let out = assign(
            ServerAssignor::Uniform,
            &spec(&[("a", &[1]), ("b", &[1, 2])], &[(1, 2), (2, 2)], &none),
        );
        assert!(!out["a"].contains_key(&topic(2)));
        assert_eq!(sizes(&out), vec![2, 2]);
        disjoint_cover(&out, 4);
    }

    #[test]
    fn range_gives_contiguous_ranges_per_topic() {
        let none = BTreeMap::new();
        let out = assign(
            ServerAssignor::Range,
            &spec(&[("a", &[1, 2]), ("b", &[1, 2])], &[(1, 3), (2, 2)], &none),
        );
        assert_eq!(out["a"][&topic(1)], [0, 1].into_iter().collect());
        assert_eq!(out["b"][&topic(1)], [2].into_iter().collect());
        assert_eq!(out["a"][&topic(2)], [0].into_iter().collect());
        assert_eq!(out["b"][&topic(2)], [1].into_iter().collect());
    }
}
