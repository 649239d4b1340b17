//! Time-driven transitions: session expiry, join and sync timeouts, the initial
//! rebalance delay, and the periodic offsets-expiry sweep.

use crate::api::Effects;
use crate::coordinator::GroupCoordinator;
use crate::group::{Group, GroupState};
use crate::records::CoordinatorRecord;

impl GroupCoordinator {
    /// Advances time to `now_ms`: fires every due timer and returns what it produced.
    pub fn tick(&mut self, now_ms: i64) -> Effects {
        let mut effects = Effects::default();
        let config = &self.config;
        for group in self.groups.values_mut() {
            group.expire_pending_members(now_ms, &mut effects);
            if group.state == GroupState::PreparingRebalance
                && group.join_deadline_ms.is_some_and(|d| d <= now_ms)
            {
                group.on_join_deadline(config, now_ms, &mut effects);
            }
            if matches!(
                group.state,
                GroupState::CompletingRebalance | GroupState::Stable
            ) && group.sync_deadline_ms.is_some_and(|d| d <= now_ms)
            {
                group.expire_pending_syncs(config, now_ms, &mut effects);
            }
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| m.session_expired(now_ms))
                .map(|m| m.member_id.clone())
                .collect();
            for member_id in expired {
                group.remove_member(&member_id, config, now_ms, &mut effects);
            }
        }
        self.tick_consumer_groups(now_ms, &mut effects);
        if now_ms >= self.next_sweep_ms {
            self.next_sweep_ms =
                now_ms.saturating_add(self.config.offsets_retention_check_interval_ms);
            self.sweep(now_ms, &mut effects.records);
        }
        effects
    }

    /// The earliest time at which `tick` has something to do.
    pub fn next_deadline(&self) -> Option<i64> {
        self.groups
            .values()
            .filter_map(Group::next_deadline)
            .chain(std::iter::once(self.next_sweep_ms))
            .chain(self.next_consumer_deadline())
            .min()
    }

    /// Expires offsets of empty groups and removes groups left with nothing.
    fn sweep(&mut self, now_ms: i64, records: &mut Vec<CoordinatorRecord>) {
        // An empty consumer-protocol group without offsets is gone, as in Kafka.
        let mut empty: Vec<String> = self
            .consumer_groups
            .values()
            .filter(|g| g.members.is_empty())
            .filter(|g| {
                self.groups
                    .get(&g.group_id)
                    .is_none_or(|c| c.offsets.is_empty() && c.pending_txn_offsets.is_empty())
            })
            .map(|g| g.group_id.clone())
            .collect();
        empty.sort();
        for id in empty {
            self.consumer_groups.remove(&id);
            records.extend(CoordinatorRecord::consumer_group_tombstones(&id));
        }
        let retention = self.config.offsets_retention_ms;
        let mut ids: Vec<String> = self.groups.keys().cloned().collect();
        ids.sort();
        for id in ids {
            // Offsets of a consumer-protocol group with members are in use.
            if self
                .consumer_groups
                .get(&id)
                .is_some_and(|g| !g.members.is_empty())
            {
                continue;
            }
            let Some(group) = self.groups.get_mut(&id) else {
                continue;
            };
            records.extend(group.expire_offsets(retention, now_ms));
            // Offsets pending in a transaction keep the group: its COMMIT marker
            // must find them.
            let dead = group.state == GroupState::Empty
                && group.offsets.is_empty()
                && group.pending_txn_offsets.is_empty()
                && group.members.is_empty()
                && group.pending_members.is_empty();
            if dead && !self.consumer_groups.contains_key(&id) {
                self.groups.remove(&id);
                records.push(CoordinatorRecord::group_tombstone(&id));
            }
        }
    }
}

impl Group {
    fn next_deadline(&self) -> Option<i64> {
        let join = self
            .join_deadline_ms
            .filter(|_| self.state == GroupState::PreparingRebalance);
        let sessions = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.awaiting_sync.is_none())
            .map(|m| m.session_deadline_ms);
        join.into_iter()
            .chain(self.sync_deadline_ms)
            .chain(self.pending_members.values().copied())
            .chain(sessions)
            .min()
    }

    /// Members told MEMBER_ID_REQUIRED that never came back are forgotten.
    fn expire_pending_members(&mut self, now_ms: i64, effects: &mut Effects) {
        let before = self.pending_members.len();
        self.pending_members
            .retain(|_, deadline| *deadline > now_ms);
        if self.pending_members.len() != before {
            self.maybe_complete_join(now_ms, effects);
        }
    }

    /// Members that got a join answer but never sent SyncGroup in time are removed.
    fn expire_pending_syncs(
        &mut self,
        config: &crate::config::GroupConfig,
        now_ms: i64,
        effects: &mut Effects,
    ) {
        self.sync_deadline_ms = None;
        let mut late: Vec<String> = self.pending_sync.drain().collect();
        if late.is_empty() {
            return;
        }
        late.sort();
        for member_id in &late {
            self.detach_member(member_id, effects);
        }
        self.prepare_rebalance(config, now_ms, effects);
    }
}
