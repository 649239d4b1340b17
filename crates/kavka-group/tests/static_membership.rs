//! Static membership (`group.instance.id`): restarts without rebalances.

mod harness;

use harness::*;
use kavka_group::*;

/// A Stable group of two static members "i-a" and "i-b"; returns their member ids.
fn stable_static_group(h: &mut Harness) -> (String, String) {
    let ja = h.join_with("", Some("i-a"), range(&["t"]));
    let jb = h.join_with("", Some("i-b"), range(&["t"]));
    h.await_join(ja);
    let a = h.join_answer(ja).unwrap().member_id.clone();
    let b = h.join_answer(jb).unwrap().member_id.clone();
    assert_eq!(h.join_answer(ja).unwrap().leader, a);
    let sa = h.sync_with(1, &a, Some("i-a"), vec![(&a, b"A"), (&b, b"B")]);
    let sb = h.sync_with(1, &b, Some("i-b"), vec![]);
    assert_eq!(h.sync_answer(sa).unwrap().error, None);
    assert_eq!(h.sync_answer(sb).unwrap().assignment, b"B");
    (a, b)
}

#[test]
fn static_members_join_without_member_id_required() {
    let mut h = Harness::new();
    let join = h.join_with("", Some("i-a"), range(&["t"]));
    h.await_join(join);
    let answer = h.join_answer(join).unwrap();
    assert_eq!(answer.error, None);
    assert_eq!(answer.generation_id, 1);
    // Like Kafka, a static member's id starts with its instance id.
    assert!(answer.member_id.starts_with("i-a-"), "{}", answer.member_id);
}

#[test]
fn static_member_restart_keeps_generation_and_fences_the_old_id() {
    let mut h = Harness::new();
    let (a, b) = stable_static_group(&mut h);
    let records_before = h.records.len();

    // "i-b" restarts: it has lost its member id but keeps its instance id.
    let rejoin = h.join_with("", Some("i-b"), range(&["t"]));
    let answer = h.join_answer(rejoin).unwrap().clone();
    assert_eq!(answer.error, None);
    assert_eq!(answer.generation_id, 1, "no rebalance");
    assert_ne!(answer.member_id, b);
    assert_eq!(h.state(), Some(GroupState::Stable));
    assert!(
        h.records.len() > records_before,
        "the new member id is persisted"
    );

    let sync = h.sync_with(1, &answer.member_id, Some("i-b"), vec![]);
    assert_eq!(h.sync_answer(sync).unwrap().assignment, b"B");

    assert_eq!(
        h.heartbeat_with(1, &b, Some("i-b")),
        Err(GroupError::FencedInstanceId)
    );
    assert_eq!(h.heartbeat_with(1, &answer.member_id, Some("i-b")), Ok(()));
    assert_eq!(h.heartbeat_with(1, &a, Some("i-a")), Ok(()));
}

#[test]
fn static_member_restart_keeps_generation_while_the_chosen_protocol_holds() {
    let mut h = Harness::new();
    stable_static_group(&mut h);
    let meta = subscription(&["t"]);
    let rejoin = h.join_with(
        "",
        Some("i-b"),
        vec![("range".into(), meta.clone()), ("roundrobin".into(), meta)],
    );
    // "range" stays the common choice, so nothing changes.
    assert_eq!(h.join_answer(rejoin).unwrap().generation_id, 1);

    let again = h.join_with(
        "",
        Some("i-a"),
        vec![("roundrobin".into(), subscription(&["t"]))],
    );
    assert_eq!(
        h.join_answer(again).unwrap().error,
        Some(GroupError::InconsistentGroupProtocol)
    );
}

#[test]
fn static_member_leaves_by_instance_id() {
    let mut h = Harness::new();
    let (a, _) = stable_static_group(&mut h);
    let (response, effects) = h.coord.leave_group(
        GROUP,
        vec![
            LeavingMember {
                member_id: "wrong".into(),
                group_instance_id: Some("i-a".into()),
            },
            LeavingMember {
                member_id: String::new(),
                group_instance_id: Some("i-b".into()),
            },
        ],
        h.now,
    );
    h.absorb(effects);
    assert_eq!(
        response.members[0].error,
        Some(GroupError::FencedInstanceId)
    );
    assert_eq!(response.members[1].error, None);
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    let rejoin = h.join_with(&a, Some("i-a"), range(&["t"]));
    assert_eq!(h.join_answer(rejoin).unwrap().generation_id, 2);
}
