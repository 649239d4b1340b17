//! Time-driven removal of consumer-protocol members: a silent member past its session
//! timeout, or one that did not revoke within its rebalance timeout, is fenced.

use crate::api::Effects;
use crate::coordinator::GroupCoordinator;

impl GroupCoordinator {
    /// Fences members whose session or revocation deadline has passed.
    pub(crate) fn tick_consumer_groups(&mut self, now_ms: i64, effects: &mut Effects) {
        let mut ids: Vec<String> = self.consumer_groups.keys().cloned().collect();
        ids.sort();
        for id in ids {
            let Some(group) = self.consumer_groups.get_mut(&id) else {
                continue;
            };
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| {
                    m.session_deadline_ms <= now_ms
                        || m.revocation_deadline_ms.is_some_and(|d| d <= now_ms)
                })
                .map(|m| m.member_id.clone())
                .collect();
            if expired.is_empty() {
                continue;
            }
            let before = group.clone();
            for member_id in &expired {
                group.remove_member(member_id);
            }
            effects
                .records
                .extend(super::persist::diff(&id, Some(&before), Some(group)));
        }
    }

    /// The earliest session or revocation deadline of any consumer-protocol member.
    pub(crate) fn next_consumer_deadline(&self) -> Option<i64> {
        self.consumer_groups
            .values()
            .flat_map(|g| g.members.values())
            .flat_map(|m| std::iter::once(m.session_deadline_ms).chain(m.revocation_deadline_ms))
            .min()
    }
}
