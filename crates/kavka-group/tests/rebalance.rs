//! Join/sync/heartbeat/leave scenarios of the classic protocol, step by step.

mod harness;

use harness::*;
use kavka_group::*;

#[test]
fn single_member_joins_after_initial_delay_and_becomes_stable() {
    let mut h = Harness::new();
    let first = h.join("");
    let required = h.join_answer(first).unwrap().clone();
    assert_eq!(required.error, Some(GroupError::MemberIdRequired));
    assert!(required.member_id.starts_with("client-"));

    let join = h.join(&required.member_id);
    assert!(
        h.join_answer(join).is_none(),
        "a new group waits for more members"
    );
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    h.advance(2_999);
    assert!(h.join_answer(join).is_none());
    h.advance(1);
    let joined = h.join_answer(join).unwrap().clone();
    assert_eq!(joined.error, None);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, required.member_id);
    assert_eq!(joined.protocol_name.as_deref(), Some("range"));
    assert_eq!(joined.members.len(), 1);
    assert_eq!(h.state(), Some(GroupState::CompletingRebalance));

    let sync = h.sync(1, &joined.member_id, vec![(&joined.member_id, b"p0")]);
    let synced = h.sync_answer(sync).unwrap();
    assert_eq!(synced.error, None);
    assert_eq!(synced.assignment, b"p0");
    assert_eq!(synced.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.state(), Some(GroupState::Stable));
    assert!(matches!(
        h.records.last(),
        Some(CoordinatorRecord::GroupMetadata { value: Some(v), .. }) if v.generation == 1
    ));
    assert_eq!(h.heartbeat(1, &joined.member_id), Ok(()));
}

#[test]
fn two_members_join_generation_one_and_leader_sees_both() {
    let mut h = Harness::new();
    let (a, join_a) = h.join_new();
    h.advance(1_000);
    let (b, join_b) = h.join_new();
    // b arrived during the delay, which therefore extends once more.
    h.advance(2_000);
    assert!(h.join_answer(join_a).is_none());
    h.advance(3_000);
    let ra = h.join_answer(join_a).unwrap().clone();
    let rb = h.join_answer(join_b).unwrap().clone();
    assert_eq!((ra.generation_id, rb.generation_id), (1, 1));
    assert_eq!(ra.leader, a);
    assert_eq!(rb.leader, a);
    let listed: Vec<&str> = ra.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(listed, vec![a.as_str(), b.as_str()]);
    assert!(
        rb.members.is_empty(),
        "only the leader gets the member list"
    );
}

#[test]
fn follower_sync_waits_for_the_leader_assignment() {
    let mut h = Harness::new();
    let (a, join) = h.join_new();
    let (b, _) = h.join_new();
    h.await_join(join);
    let follower = h.sync(1, &b, vec![]);
    assert!(h.sync_answer(follower).is_none());
    let leader = h.sync(1, &a, vec![(&a, b"A"), (&b, b"B")]);
    assert_eq!(h.sync_answer(leader).unwrap().assignment, b"A");
    assert_eq!(h.sync_answer(follower).unwrap().assignment, b"B");
}

#[test]
fn third_member_triggers_rebalance_and_generation_two() {
    let mut h = Harness::new();
    let ids = h.stable_group(2);
    let (c, join_c) = h.join_new();
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    assert!(h.join_answer(join_c).is_none());
    assert_eq!(
        h.heartbeat(1, &ids[0]),
        Err(GroupError::RebalanceInProgress)
    );
    assert_eq!(
        h.heartbeat(1, &ids[1]),
        Err(GroupError::RebalanceInProgress)
    );

    let join_a = h.join(&ids[0]);
    assert!(
        h.join_answer(join_a).is_none(),
        "still waiting for the second member"
    );
    let join_b = h.join(&ids[1]);
    for join in [join_a, join_b, join_c] {
        assert_eq!(h.join_answer(join).unwrap().generation_id, 2);
    }
    let leader = h.join_answer(join_a).unwrap();
    assert_eq!(leader.leader, ids[0]);
    assert_eq!(leader.members.len(), 3);
    assert_eq!(h.join_answer(join_c).unwrap().member_id, c);
    assert_eq!(h.heartbeat(1, &ids[0]), Err(GroupError::IllegalGeneration));
    assert_eq!(
        h.heartbeat(2, &ids[0]),
        Ok(()),
        "CompletingRebalance heartbeats are fine"
    );
}

#[test]
fn session_expiry_removes_member_and_rebalances() {
    let mut h = Harness::new();
    let ids = h.stable_group(2);
    for _ in 0..2 {
        h.advance(4_000);
        assert_eq!(h.heartbeat(1, &ids[0]), Ok(()));
    }
    assert_eq!(h.state(), Some(GroupState::Stable));
    h.advance(4_000);
    assert_eq!(
        h.state(),
        Some(GroupState::PreparingRebalance),
        "ids[1] expired"
    );
    assert_eq!(h.heartbeat(1, &ids[1]), Err(GroupError::UnknownMemberId));
    assert_eq!(
        h.heartbeat(1, &ids[0]),
        Err(GroupError::RebalanceInProgress)
    );
    let rejoin = h.join(&ids[0]);
    let answer = h.join_answer(rejoin).unwrap();
    assert_eq!(answer.generation_id, 2);
    assert_eq!(answer.members.len(), 1);
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let mut h = Harness::new();
    let ids = h.stable_group(2);
    let rejoin = h.join(&ids[0]); // the leader asks for a rebalance
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    // ids[1] keeps heartbeating but never rejoins.
    for _ in 0..4 {
        h.advance(5_000);
        let _ = h.heartbeat(1, &ids[1]);
    }
    let answer = h.join_answer(rejoin).unwrap();
    assert_eq!(answer.generation_id, 2);
    assert_eq!(answer.members.len(), 1);
    assert_eq!(h.heartbeat(2, &ids[1]), Err(GroupError::UnknownMemberId));
}

#[test]
fn unchanged_follower_rejoin_in_stable_group_causes_no_rebalance() {
    let mut h = Harness::new();
    let ids = h.stable_group(2);
    let rejoin = h.join(&ids[1]);
    let answer = h.join_answer(rejoin).unwrap();
    assert_eq!(answer.error, None);
    assert_eq!(answer.generation_id, 1);
    assert_eq!(h.state(), Some(GroupState::Stable));
}

#[test]
fn leave_rebalances_and_last_leave_empties_the_group() {
    let mut h = Harness::new();
    let ids = h.stable_group(2);
    let leave = |h: &mut Harness, id: &str| {
        let (resp, effects) = h.coord.leave_group(
            GROUP,
            vec![LeavingMember {
                member_id: id.to_string(),
                group_instance_id: None,
            }],
            h.now,
        );
        h.absorb(effects);
        resp
    };
    let resp = leave(&mut h, &ids[1]);
    assert_eq!(resp.members[0].error, None);
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    let resp = leave(&mut h, &ids[1]);
    assert_eq!(resp.members[0].error, Some(GroupError::UnknownMemberId));
    let resp = leave(&mut h, &ids[0]);
    assert_eq!(resp.members[0].error, None);
    assert_eq!(h.state(), Some(GroupState::Empty));
    assert_eq!(
        h.generation(),
        2,
        "the empty generation is a generation too"
    );
}

#[test]
fn leaving_member_completes_a_join_phase_waiting_on_it() {
    let mut h = Harness::new();
    let ids = h.stable_group(2);
    let rejoin = h.join(&ids[0]);
    assert!(h.join_answer(rejoin).is_none());
    let (_, effects) = h.coord.leave_group(
        GROUP,
        vec![LeavingMember {
            member_id: ids[1].clone(),
            group_instance_id: None,
        }],
        h.now,
    );
    h.absorb(effects);
    assert_eq!(h.join_answer(rejoin).unwrap().generation_id, 2);
}

#[test]
fn protocol_selection_picks_the_common_protocol() {
    let mut h = Harness::new();
    let meta = subscription(&["t"]);
    let a = h.join_with(
        "",
        Some("a"),
        vec![
            ("range".into(), meta.clone()),
            ("cooperative-sticky".into(), meta.clone()),
        ],
    );
    let b = h.join_with(
        "",
        Some("b"),
        vec![("cooperative-sticky".into(), meta.clone())],
    );
    h.await_join(a);
    for join in [a, b] {
        let answer = h.join_answer(join).unwrap();
        assert_eq!(answer.protocol_name.as_deref(), Some("cooperative-sticky"));
    }
    let c = h.join_with("", Some("c"), vec![("roundrobin".into(), meta)]);
    assert_eq!(
        h.join_answer(c).unwrap().error,
        Some(GroupError::InconsistentGroupProtocol)
    );
}

#[test]
fn join_validation_errors() {
    let mut h = Harness::new();
    let request = RequestId(999);
    let mut req = JoinGroupRequest {
        group_id: String::new(),
        member_id: String::new(),
        group_instance_id: None,
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        protocol_type: "consumer".into(),
        protocols: vec![JoinProtocol {
            name: "range".into(),
            metadata: vec![],
        }],
        client_id: "c".into(),
        client_host: "h".into(),
        api_version: 5,
        reason: None,
    };
    let error = |h: &mut Harness, req: &JoinGroupRequest| {
        let effects = h.coord.join_group(request, req.clone(), h.now);
        match &effects.completions[..] {
            [Completion {
                response: GroupResponse::Join(r),
                ..
            }] => r.error,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(error(&mut h, &req), Some(GroupError::InvalidGroupId));
    req.group_id = "g".into();
    req.session_timeout_ms = 1_000;
    assert_eq!(error(&mut h, &req), Some(GroupError::InvalidSessionTimeout));
    req.session_timeout_ms = SESSION_MS;
    req.member_id = "nobody".into();
    assert_eq!(error(&mut h, &req), Some(GroupError::UnknownMemberId));
}

#[test]
fn pending_member_that_never_rejoins_is_forgotten() {
    let mut h = Harness::new();
    let first = h.join("");
    let id = h.join_answer(first).unwrap().member_id.clone();
    h.advance(i64::from(SESSION_MS));
    let join = h.join(&id);
    assert_eq!(
        h.join_answer(join).unwrap().error,
        Some(GroupError::UnknownMemberId)
    );
}

#[test]
fn member_that_never_syncs_is_removed_after_rebalance_timeout() {
    let mut h = Harness::new();
    let (a, join) = h.join_new();
    let (b, _) = h.join_new();
    h.await_join(join);
    let sync = h.sync(1, &a, vec![(&a, b"A"), (&b, b"B")]);
    assert_eq!(h.sync_answer(sync).unwrap().error, None);
    // b keeps its session alive but never sends SyncGroup.
    for _ in 0..3 {
        h.advance(5_000);
        assert_eq!(h.heartbeat(1, &a), Ok(()));
        assert_eq!(h.heartbeat(1, &b), Ok(()));
    }
    assert_eq!(h.state(), Some(GroupState::Stable));
    h.advance(5_000);
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    assert_eq!(h.heartbeat(1, &b), Err(GroupError::UnknownMemberId));
}

#[test]
fn group_max_size_is_enforced() {
    let mut h = Harness::with_config(GroupConfig {
        max_size: 1,
        ..GroupConfig::default()
    });
    h.join_new();
    let first = h.join("");
    assert_eq!(
        h.join_answer(first).unwrap().error,
        Some(GroupError::GroupMaxSizeReached)
    );
}

#[test]
fn error_codes_match_kafka() {
    assert_eq!(GroupError::UnknownMemberId.code(), 25);
    assert_eq!(GroupError::IllegalGeneration.code(), 22);
    assert_eq!(GroupError::RebalanceInProgress.code(), 27);
    assert_eq!(GroupError::MemberIdRequired.code(), 79);
    assert_eq!(GroupError::FencedInstanceId.code(), 82);
    assert_eq!(GroupError::GroupSubscribedToTopic.code(), 86);
    assert_eq!(error_code(None), 0);
}

#[test]
fn unloading_a_group_answers_waiting_requests_with_not_coordinator() {
    let mut h = Harness::new();
    let (_, join) = h.join_new();
    let effects = h.coord.unload_groups(|id| id == GROUP);
    h.absorb(effects);
    assert_eq!(
        h.join_answer(join).unwrap().error,
        Some(GroupError::NotCoordinator)
    );
    assert!(h.state().is_none());
}

#[test]
fn protocol_selection_follows_member_votes() {
    let mut h = Harness::new();
    let meta = subscription(&["t"]);
    let prefs = |first: &str, second: &str| {
        vec![
            (first.to_string(), meta.clone()),
            (second.to_string(), meta.clone()),
        ]
    };
    let a = h.join_with("", Some("a"), prefs("range", "cooperative-sticky"));
    h.join_with("", Some("b"), prefs("cooperative-sticky", "range"));
    h.join_with("", Some("c"), prefs("cooperative-sticky", "range"));
    h.await_join(a);
    assert_eq!(
        h.join_answer(a).unwrap().protocol_name.as_deref(),
        Some("cooperative-sticky")
    );
}

#[test]
fn next_deadline_points_at_the_initial_delay_and_then_the_session() {
    let mut h = Harness::new();
    h.advance(0); // the first tick schedules the next offsets sweep
    let (_, join) = h.join_new();
    assert_eq!(h.coord.next_deadline(), Some(h.now + 3_000));
    h.await_join(join);
    let deadline = h.coord.next_deadline().unwrap();
    assert!(deadline > h.now && deadline <= h.now + i64::from(SESSION_MS));
}
