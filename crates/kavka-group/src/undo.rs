//! Undoing a change whose records could not be persisted.
//!
//! The coordinator changes its state first and hands back the records that make the
//! change durable. When writing them fails, the change must not stand: a client told
//! "error" must find the group as it was, and the state in memory must never run ahead
//! of `__consumer_offsets` (a restart would silently bring back the old state). Kafka's
//! coordinator reverts to its last committed snapshot; here the caller saves the
//! groups a request can touch before the call and puts them back on failure.

use crate::consumer::group::ConsumerGroup;
use crate::coordinator::GroupCoordinator;
use crate::group::Group;

/// Saved state of some groups (absent ones included, so a group the change
/// created is removed again on restore).
#[derive(Debug, Clone, Default)]
pub struct SavedGroups {
    groups: Vec<(String, Option<Group>, Option<ConsumerGroup>)>,
}

impl SavedGroups {
    /// Whether `group_id` was saved, so a change to it can be undone.
    pub fn covers(&self, group_id: &str) -> bool {
        self.groups.iter().any(|(id, _, _)| id == group_id)
    }
}

impl GroupCoordinator {
    /// Saves the current state of `group_ids` for [`GroupCoordinator::restore_groups`].
    pub fn save_groups<'a>(&self, group_ids: impl IntoIterator<Item = &'a str>) -> SavedGroups {
        let mut saved = SavedGroups::default();
        for id in group_ids {
            if saved.covers(id) {
                continue;
            }
            saved.groups.push((
                id.to_string(),
                self.groups.get(id).cloned(),
                self.consumer_groups.get(id).cloned(),
            ));
        }
        saved
    }

    /// Puts back the saved state of every saved group for which `undo` is true.
    pub fn restore_groups(&mut self, saved: SavedGroups, undo: impl Fn(&str) -> bool) {
        for (id, group, consumer_group) in saved.groups {
            if !undo(&id) {
                continue;
            }
            match group {
                Some(g) => self.groups.insert(id.clone(), g),
                None => self.groups.remove(&id),
            };
            match consumer_group {
                Some(g) => self.consumer_groups.insert(id, g),
                None => self.consumer_groups.remove(&id),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{CommitPartition, OffsetCommitRequest};
    use crate::config::GroupConfig;
    use crate::coordinator::GroupCoordinator;

    fn commit(c: &mut GroupCoordinator, group: &str, offset: i64) -> usize {
        let req = OffsetCommitRequest {
            group_id: group.to_string(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            offsets: vec![CommitPartition {
                topic: "t".into(),
                partition: 0,
                offset,
                leader_epoch: -1,
                metadata: None,
            }],
        };
        c.commit_offsets(req, 1_000).1.len()
    }

    fn committed(c: &GroupCoordinator, group: &str) -> Option<i64> {
        c.group(group)
            .and_then(|g| g.offsets.get(&("t".to_string(), 0)))
            .map(|o| o.offset)
    }

    #[test]
    fn a_failed_commit_is_undone_and_a_new_group_removed() {
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        assert_eq!(commit(&mut c, "g", 5), 1);

        let saved = c.save_groups(["g", "new"]);
        commit(&mut c, "g", 9);
        commit(&mut c, "new", 1);
        assert_eq!(committed(&c, "g"), Some(9));
        c.restore_groups(saved, |_| true);
        assert_eq!(committed(&c, "g"), Some(5));
        assert!(c.group("new").is_none());
    }

    #[test]
    fn only_the_groups_asked_for_are_restored() {
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        commit(&mut c, "a", 1);
        commit(&mut c, "b", 1);
        let saved = c.save_groups(["a", "b"]);
        commit(&mut c, "a", 2);
        commit(&mut c, "b", 2);
        c.restore_groups(saved, |id| id == "b");
        assert_eq!(committed(&c, "a"), Some(2));
        assert_eq!(committed(&c, "b"), Some(1));
    }
}
