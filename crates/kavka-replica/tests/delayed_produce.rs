//! acks=all: the delayed-produce set from tables, then through `LeaderState`.

mod common;

use common::*;
use kavka_replica::*;

fn view(hw: i64, committed: usize, maximal: usize, min_isr: usize) -> AckView {
    AckView {
        high_watermark: hw,
        committed_isr_size: committed,
        maximal_isr_size: maximal,
        min_isr,
    }
}

const OK: Option<Result<(), ReplicaError>> = Some(Ok(()));
const WAIT: Option<Result<(), ReplicaError>> = None;
const NEAA: Option<Result<(), ReplicaError>> =
    Some(Err(ReplicaError::NotEnoughReplicasAfterAppend));

#[test]
fn waiting_produce_decisions_from_table() {
    // (case, required offset, view, expected)
    type Case = (&'static str, i64, AckView, Option<Result<(), ReplicaError>>);
    let table: Vec<Case> = vec![
        ("HW below required: waits", 10, view(9, 3, 3, 2), WAIT),
        ("HW exactly at required: done", 10, view(10, 3, 3, 2), OK),
        ("HW past required: done", 10, view(15, 3, 3, 2), OK),
        (
            "committed ISR below min while waiting: keeps waiting (Kafka 4)",
            10,
            view(9, 1, 1, 2),
            WAIT,
        ),
        (
            "committed below min but pending addition: waits (HW frozen)",
            10,
            view(9, 1, 2, 2),
            WAIT,
        ),
        (
            "HW passed with maximal ISR below min",
            10,
            view(10, 1, 1, 2),
            NEAA,
        ),
        ("min ISR 1, lone leader", 10, view(10, 1, 1, 1), OK),
    ];
    for (case, required, v, expected) in table {
        let mut set = DelayedProduces::new();
        let immediate = set.register(ProduceId(1), required, 1_000, v);
        assert_eq!(
            immediate.map(|c| c.result),
            expected,
            "{case}: at registration"
        );
        let mut set = DelayedProduces::new();
        let _ = set.register(ProduceId(1), required, 1_000, view(0, 3, 3, 1));
        let later: Vec<_> = set.on_change(v).into_iter().map(|c| c.result).collect();
        assert_eq!(later.first().copied(), expected, "{case}: on change");
    }
}

#[test]
fn produces_complete_exactly_when_hw_passes_each_offset() {
    let mut set = DelayedProduces::new();
    for (id, required) in [(1, 5), (2, 10), (3, 15)] {
        assert_eq!(
            set.register(ProduceId(id), required, 1_000, view(0, 2, 2, 2)),
            None
        );
    }
    let steps = [
        (4, vec![]),
        (5, vec![1]),
        (14, vec![2]),
        (14, vec![]),
        (20, vec![3]),
    ];
    for (hw, expected) in steps {
        let done: Vec<u64> = set
            .on_change(view(hw, 2, 2, 2))
            .iter()
            .map(|c| c.id.0)
            .collect();
        assert_eq!(done, expected, "HW {hw}");
    }
    assert!(set.is_empty());
}

#[test]
fn produces_time_out_at_their_deadline_and_only_once() {
    let mut set = DelayedProduces::new();
    let _ = set.register(ProduceId(1), 5, 100, view(0, 2, 2, 1));
    let _ = set.register(ProduceId(2), 5, 200, view(0, 2, 2, 1));
    assert_eq!(set.next_deadline(), Some(100));
    assert!(set.expire(99).is_empty());
    let done = set.expire(100);
    assert_eq!(
        done,
        vec![ProduceCompletion {
            id: ProduceId(1),
            result: Err(ReplicaError::RequestTimedOut)
        }]
    );
    assert!(set.expire(150).is_empty());
    assert_eq!(set.on_change(view(5, 2, 2, 1)).len(), 1);
    assert!(
        set.expire(1_000).is_empty(),
        "completed requests never time out"
    );
}

#[test]
fn append_refused_with_not_enough_replicas_when_isr_below_min_insync() {
    // (case, replicas, isr, min.insync.replicas, acks, expected)
    type Case = (
        &'static str,
        Vec<i32>,
        Vec<i32>,
        usize,
        Acks,
        Result<(), ReplicaError>,
    );
    let table: Vec<Case> = vec![
        (
            "full ISR",
            vec![1, 2, 3],
            vec![1, 2, 3],
            2,
            Acks::All,
            Ok(()),
        ),
        (
            "ISR at min",
            vec![1, 2, 3],
            vec![1, 2],
            2,
            Acks::All,
            Ok(()),
        ),
        (
            "ISR below min",
            vec![1, 2, 3],
            vec![1],
            2,
            Acks::All,
            Err(ReplicaError::NotEnoughReplicas),
        ),
        (
            "ISR below min, acks=1 is fine",
            vec![1, 2, 3],
            vec![1],
            2,
            Acks::Leader,
            Ok(()),
        ),
        (
            "ISR below min, acks=0 is fine",
            vec![1, 2, 3],
            vec![1],
            2,
            Acks::None,
            Ok(()),
        ),
        (
            "min above replica count is capped",
            vec![1, 2],
            vec![1, 2],
            3,
            Acks::All,
            Ok(()),
        ),
        (
            "single replica, min 2 capped to 1",
            vec![1],
            vec![1],
            2,
            Acks::All,
            Ok(()),
        ),
    ];
    for (case, replicas, isr, min, acks, expected) in table {
        let l = leader(&replicas, &isr, 0, 0, min);
        assert_eq!(l.check_append(acks), expected, "{case}");
    }
}

#[test]
fn acks_all_completes_when_every_isr_member_has_fetched_past_it() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 0, 0, 2);
    let _ = fetch_ok(&mut l, 2, 0, 1);
    let _ = fetch_ok(&mut l, 3, 0, 1);
    assert_eq!(l.check_append(Acks::All), Ok(()));
    let _ = l.on_leader_append(3, 2);
    assert_eq!(l.wait_for_acks(ProduceId(7), 3, 30_000), None);
    assert!(
        fetch_ok(&mut l, 2, 3, 3).completed.is_empty(),
        "3 is still behind"
    );
    let e = fetch_ok(&mut l, 3, 3, 4);
    assert_eq!(e.high_watermark, Some(3));
    assert_eq!(
        e.completed,
        vec![ProduceCompletion {
            id: ProduceId(7),
            result: Ok(())
        }]
    );
}

#[test]
fn acks_all_waits_then_times_out_when_isr_shrinks_below_min_insync() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 2);
    let _ = fetch_ok(&mut l, 2, 0, 1);
    let _ = l.on_leader_append(3, 2);
    assert_eq!(l.wait_for_acks(ProduceId(1), 3, 60_000), None);
    let req = l.maybe_shrink_isr(40_000).expect("2 lagged");
    let (_, e) = commit(&mut l, &req, 40_001);
    assert!(
        e.completed.is_empty(),
        "Kafka 4: keeps waiting under min ISR"
    );
    assert_eq!(e.high_watermark, None, "under min ISR: HW frozen");
    assert_eq!(
        l.check_append(Acks::All),
        Err(ReplicaError::NotEnoughReplicas)
    );
    assert!(l.expire(59_999).is_empty());
    assert_eq!(
        l.expire(60_000),
        vec![ProduceCompletion {
            id: ProduceId(1),
            result: Err(ReplicaError::RequestTimedOut)
        }]
    );
}

#[test]
fn acks_all_completes_when_the_isr_grows_back_before_its_deadline() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 2);
    let _ = fetch_ok(&mut l, 2, 0, 1);
    let _ = l.on_leader_append(3, 2);
    assert_eq!(l.wait_for_acks(ProduceId(1), 3, 60_000), None);
    let req = l.maybe_shrink_isr(40_000).expect("2 lagged");
    let _ = commit(&mut l, &req, 40_001);
    // 2 catches up and is proposed back; once committed the HW passes the request.
    let e = fetch_ok(&mut l, 2, 3, 40_002);
    let expand = e.alter_partition.expect("caught-up follower proposed");
    let (_, e) = commit(&mut l, &expand, 40_003);
    assert_eq!(
        e.completed,
        vec![ProduceCompletion {
            id: ProduceId(1),
            result: Ok(())
        }]
    );
}

#[test]
fn acks_all_survives_shrink_that_stays_at_min_insync() {
    let mut l = leader(&[1, 2, 3], &[1, 2, 3], 0, 0, 2);
    let _ = fetch_ok(&mut l, 2, 0, 1);
    let _ = fetch_ok(&mut l, 3, 0, 1);
    let _ = l.on_leader_append(3, 2);
    assert_eq!(l.wait_for_acks(ProduceId(1), 3, 60_000), None);
    let _ = fetch_ok(&mut l, 2, 3, 3);
    let req = l.maybe_shrink_isr(40_000).expect("3 lagged");
    let (_, e) = commit(&mut l, &req, 40_001);
    assert_eq!(e.high_watermark, Some(3));
    assert_eq!(
        e.completed,
        vec![ProduceCompletion {
            id: ProduceId(1),
            result: Ok(())
        }]
    );
}

#[test]
fn acks_all_already_replicated_completes_at_registration() {
    let mut l = leader(&[1], &[1], 0, 0, 1);
    let _ = l.on_leader_append(4, 1);
    assert_eq!(
        l.wait_for_acks(ProduceId(1), 4, 10),
        Some(ProduceCompletion {
            id: ProduceId(1),
            result: Ok(())
        })
    );
}

#[test]
fn acks_all_times_out_when_follower_never_fetches() {
    let mut l = leader(&[1, 2], &[1, 2], 0, 0, 1);
    let _ = l.on_leader_append(3, 1);
    assert_eq!(l.wait_for_acks(ProduceId(1), 3, 30_000), None);
    assert_eq!(l.next_deadline(), Some(30_000));
    assert!(l.expire(29_999).is_empty());
    assert_eq!(
        l.expire(30_000),
        vec![ProduceCompletion {
            id: ProduceId(1),
            result: Err(ReplicaError::RequestTimedOut)
        }]
    );
    assert_eq!(l.waiting_produces(), 0);
}

#[test]
fn completion_is_per_partition_state() {
    // Two partitions, two leaders: progress on one completes nothing on the other.
    let mut p0 = leader(&[1, 2], &[1, 2], 0, 0, 1);
    let mut p1 = leader(&[1, 2], &[1, 2], 0, 0, 1);
    for l in [&mut p0, &mut p1] {
        let _ = fetch_ok(l, 2, 0, 1);
        let _ = l.on_leader_append(1, 2);
    }
    assert_eq!(p0.wait_for_acks(ProduceId(1), 1, 100), None);
    assert_eq!(p1.wait_for_acks(ProduceId(1), 1, 100), None);
    assert_eq!(fetch_ok(&mut p0, 2, 1, 3).completed.len(), 1);
    assert_eq!(p1.waiting_produces(), 1);
}
