//! The high watermark as a pure function of the replicas' log ends.

/// One follower as the high-watermark rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HwFollower {
    /// Its log end offset as of its last fetch (`None`: not fetched since leadership).
    pub log_end_offset: Option<i64>,
    /// Member of the maximal ISR: the committed ISR plus a pending addition.
    pub in_maximal_isr: bool,
    /// Outside the ISR but caught up and eligible to join it: it holds the HW back so it
    /// can reach it and join instead of chasing a HW that runs away from it.
    pub caught_up_and_eligible: bool,
}

/// The next high watermark: the smallest log end among the leader and every follower in
/// the maximal ISR or about to join it, but never lower than `current` (the HW does not
/// go back) and unchanged while the committed ISR is smaller than the effective
/// `min.insync.replicas` (KIP-966: nothing becomes visible that fewer replicas hold).
/// Always ≤ `leader_log_end` when `current` is.
pub fn next_high_watermark(
    current: i64,
    leader_log_end: i64,
    committed_isr_size: usize,
    effective_min_isr: usize,
    followers: impl IntoIterator<Item = HwFollower>,
) -> i64 {
    if committed_isr_size < effective_min_isr {
        return current;
    }
    let candidate = followers
        .into_iter()
        .filter(|f| f.in_maximal_isr || f.caught_up_and_eligible)
        .map(|f| f.log_end_offset.unwrap_or(-1))
        .fold(leader_log_end, i64::min);
    current.max(candidate)
}
