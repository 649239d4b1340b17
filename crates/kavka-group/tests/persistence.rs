//! Records written to `__consumer_offsets` rebuild the coordinator after a restart.

mod harness;

use harness::*;
use kavka_group::*;

fn restart(h: &Harness) -> GroupCoordinator {
    let mut fresh = GroupCoordinator::new(GroupConfig::default(), 99);
    for record in &h.records {
        let (key, value) = record.encode();
        let decoded = CoordinatorRecord::decode(&key, value.as_deref()).unwrap();
        assert_eq!(&decoded, record);
        fresh.replay(decoded, h.now);
    }
    fresh
}

#[test]
fn replay_restores_offsets_and_the_stable_group() {
    let mut h = Harness::new();
    let ids = h.stable_group(2);
    assert_eq!(h.commit(1, &ids[0], 77), None);

    let mut h2 = Harness::new();
    h2.now = h.now;
    h2.coord = restart(&h);
    assert_eq!(h2.committed("t", 0), 77);
    let group = h2.coord.group(GROUP).unwrap();
    assert_eq!(group.state(), GroupState::Stable);
    assert_eq!(group.generation_id(), 1);
    assert_eq!(group.leader_id(), Some(ids[0].as_str()));
    assert_eq!(group.protocol_name(), Some("range"));
    let assignments: Vec<Vec<u8>> = group.members().map(|m| m.assignment().to_vec()).collect();
    assert_eq!(
        assignments,
        vec![
            format!("assigned-to-{}", ids[0]).into_bytes(),
            format!("assigned-to-{}", ids[1]).into_bytes()
        ]
    );
    // Members carry on where they were: heartbeats and syncs in generation 1 work.
    assert_eq!(h2.heartbeat(1, &ids[1]), Ok(()));
    let sync = h2.sync(1, &ids[1], vec![]);
    assert_eq!(
        h2.sync_answer(sync).unwrap().assignment,
        format!("assigned-to-{}", ids[1]).into_bytes()
    );
    let described = &h2.coord.describe_groups(&[GROUP.to_string()])[0];
    assert_eq!(described.state, "Stable");
    assert_eq!(described.members.len(), 2);
}

#[test]
fn replay_applies_tombstones() {
    let mut h = Harness::new();
    h.commit(-1, "", 5);
    let (results, records) = h.coord.delete_groups(&[GROUP.to_string()]);
    assert_eq!(results[0].error, None);
    h.records.extend(records);
    let restarted = restart(&h);
    assert!(restarted.group(GROUP).is_none());
}

#[test]
fn restored_members_expire_if_they_do_not_come_back() {
    let mut h = Harness::new();
    let ids = h.stable_group(1);
    h.commit(1, &ids[0], 3);
    let mut coord = restart(&h);
    let effects = coord.tick(h.now + i64::from(SESSION_MS));
    let group = coord.group(GROUP).unwrap();
    assert_eq!(group.state(), GroupState::Empty);
    assert_eq!(group.generation_id(), 2);
    assert!(effects
        .records
        .iter()
        .any(|r| matches!(r, CoordinatorRecord::GroupMetadata { value: Some(v), .. } if v.members.is_empty())));
}
