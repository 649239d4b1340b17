//! What a leader knows about one follower (Kafka's `ReplicaState`): its log end as of
//! its last fetch, and the last time it was caught up, which decides ISR membership.

/// A follower's progress as seen by the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FollowerProgress {
    /// The follower's log end offset: the offset of its latest fetch. `None` until the
    /// first fetch to this leader.
    pub log_end_offset: Option<i64>,
    /// The leader's log end offset when the previous fetch arrived (never decreases
    /// within an epoch). `None` right after becoming leader.
    pub last_fetch_leader_log_end: Option<i64>,
    /// When the previous fetch arrived (0: none since leadership, or not in the ISR).
    pub last_fetch_time_ms: i64,
    /// The latest time at which the follower had fetched up to the leader's log end as
    /// of that time. ISR membership is measured from here, not from the last fetch.
    pub last_caught_up_time_ms: i64,
    /// The broker epoch the follower sent in its last fetch (-1 if it sent none).
    pub broker_epoch: Option<i64>,
}

impl FollowerProgress {
    /// The state of a follower when this replica becomes leader: nothing known, and
    /// counted as caught up now if the controller put it in the ISR.
    pub fn new_leader(now_ms: i64, in_isr: bool) -> FollowerProgress {
        FollowerProgress {
            log_end_offset: None,
            last_fetch_leader_log_end: None,
            last_fetch_time_ms: 0,
            last_caught_up_time_ms: if in_isr { now_ms } else { 0 },
            broker_epoch: None,
        }
    }

    /// Reset for a new leader epoch while this replica stays leader: the log end is
    /// kept; the catch-up clock restarts for ISR members.
    pub fn reset_for_new_epoch(&mut self, now_ms: i64, leader_log_end: i64, in_isr: bool) {
        let t = if in_isr { now_ms } else { 0 };
        self.last_fetch_leader_log_end = Some(leader_log_end);
        self.last_fetch_time_ms = t;
        self.last_caught_up_time_ms = t;
    }

    /// Record a fetch at `fetch_offset` received at `now_ms` while the leader's log ended
    /// at `leader_log_end`. The follower was caught up *now* if it fetched from the
    /// leader's log end; it was caught up at the *previous* fetch time if it now fetches
    /// from at least where the leader's log ended then. So a follower that keeps pace
    /// with a steady stream of small appends stays in sync even though it never reads
    /// the very latest offset.
    pub fn record_fetch(
        &mut self,
        fetch_offset: i64,
        now_ms: i64,
        leader_log_end: i64,
        broker_epoch: i64,
    ) {
        let caught_up = if fetch_offset >= leader_log_end {
            self.last_caught_up_time_ms.max(now_ms)
        } else if self
            .last_fetch_leader_log_end
            .is_none_or(|prev| fetch_offset >= prev)
        {
            self.last_caught_up_time_ms.max(self.last_fetch_time_ms)
        } else {
            self.last_caught_up_time_ms
        };
        self.log_end_offset = Some(fetch_offset);
        self.last_fetch_leader_log_end = Some(
            self.last_fetch_leader_log_end
                .map_or(leader_log_end, |prev| prev.max(leader_log_end)),
        );
        self.last_fetch_time_ms = now_ms;
        self.last_caught_up_time_ms = caught_up;
        self.broker_epoch = Some(broker_epoch);
    }

    /// Caught up: at the leader's log end, or caught up within the last `max_lag_ms`.
    pub fn is_caught_up(&self, leader_log_end: i64, now_ms: i64, max_lag_ms: i64) -> bool {
        self.log_end_offset == Some(leader_log_end)
            || now_ms.saturating_sub(self.last_caught_up_time_ms) <= max_lag_ms
    }
}
