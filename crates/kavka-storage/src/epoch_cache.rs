//! Leader epoch → start offset, for OffsetForLeaderEpoch and replica truncation.

/// Ordered (epoch, start offset) pairs; both ascend strictly.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct LeaderEpochCache {
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    /// Records that `epoch` starts at `start_offset`; true when the cache changed.
    /// Older or equal epochs are ignored: an epoch starts once.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || self.entries.last().is_some_and(|&(e, _)| epoch <= e) {
            return false;
        }
        // A stale entry cannot start at or after a newer epoch's start.
        self.entries.retain(|&(_, start)| start < start_offset);
        self.entries.push((epoch, start_offset));
        true
    }

    /// Every (epoch, start offset) pair, ascending.
    pub(crate) fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// Forgets every epoch (the log was emptied to follow a leader from scratch).
    pub(crate) fn clear(&mut self) -> bool {
        let changed = !self.entries.is_empty();
        self.entries.clear();
        changed
    }

    /// The newest epoch, -1 when empty.
    pub(crate) fn latest_epoch(&self) -> i32 {
        self.entries.last().map_or(-1, |&(e, _)| e)
    }

    /// Largest cached epoch `<= epoch` and its end offset: the next epoch's start, or `log_end`.
    pub(crate) fn end_offset_for(&self, epoch: i32, log_end: i64) -> Option<(i32, i64)> {
        let idx = self.entries.partition_point(|&(e, _)| e <= epoch);
        let (found, _) = *self.entries.get(idx.checked_sub(1)?)?;
        let end = self.entries.get(idx).map_or(log_end, |&(_, start)| start);
        Some((found, end))
    }

    /// Forgets epochs starting at or after `log_end` (the log was truncated); true if changed.
    pub(crate) fn truncate_from_end(&mut self, log_end: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|&(_, start)| start < log_end);
        before != self.entries.len()
    }

    /// Kafka's `leader-epoch-checkpoint` text format: version, count, then "epoch offset" lines.
    pub(crate) fn encode(&self) -> String {
        let mut out = format!("0\n{}\n", self.entries.len());
        for (epoch, start) in &self.entries {
            out.push_str(&format!("{epoch} {start}\n"));
        }
        out
    }

    /// Parses the checkpoint. Anything but Kafka's exact layout (version 0, the
    /// entry count, then that many ascending "epoch offset" lines) is refused, since
    /// a guessed epoch history would answer OffsetForLeaderEpoch wrongly.
    pub(crate) fn decode(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some("0") {
            return Err("first line is not version 0".to_string());
        }
        let count: usize = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or("second line is not an entry count")?;
        let mut cache = Self::default();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let mut parts = line.split_whitespace();
            let parsed: Option<(i32, i64)> = parts
                .next()
                .and_then(|e| e.parse().ok())
                .zip(parts.next().and_then(|o| o.parse().ok()));
            let Some((epoch, start)) = parsed.filter(|_| parts.next().is_none()) else {
                return Err(format!("malformed line {line:?}"));
            };
            if cache
                .entries
                .last()
                .is_some_and(|&(e, s)| epoch <= e || start < s)
            {
                return Err(format!("line {line:?} does not ascend"));
            }
            cache.entries.push((epoch, start));
        }
        if cache.entries.len() != count {
            return Err(format!(
                "says {count} entries but holds {}",
                cache.entries.len()
            ));
        }
        Ok(cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_offset_is_next_epoch_start_or_log_end() {
        let mut c = LeaderEpochCache::default();
        assert_eq!(c.end_offset_for(0, 10), None);
        assert!(c.assign(1, 0));
        assert!(!c.assign(1, 5));
        assert!(c.assign(3, 10));
        assert!(c.assign(4, 25));
        assert_eq!(c.end_offset_for(0, 30), None);
        assert_eq!(c.end_offset_for(1, 30), Some((1, 10)));
        assert_eq!(c.end_offset_for(2, 30), Some((1, 10)));
        assert_eq!(c.end_offset_for(3, 30), Some((3, 25)));
        assert_eq!(c.end_offset_for(9, 30), Some((4, 30)));
        assert_eq!(LeaderEpochCache::decode(&c.encode()), Ok(c.clone()));
        assert!(c.truncate_from_end(25));
        assert_eq!(c.latest_epoch(), 3);
    }

    #[test]
    fn damaged_checkpoints_are_refused() {
        for text in [
            "",
            "1\n0\n",
            "0\n2\n1 0\n",
            "0\n1\n1 zero\n",
            "0\n2\n3 10\n2 20\n",
            "0\n1\n1 0 7\n",
        ] {
            assert!(LeaderEpochCache::decode(text).is_err(), "{text:?}");
        }
        assert_eq!(
            LeaderEpochCache::decode("0\n0\n"),
            Ok(LeaderEpochCache::default())
        );
    }
}
