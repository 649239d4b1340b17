//! Sparse offset and time indexes of one segment, kept in memory for lookups.
//! Pure logic plus the on-disk entry encoding; the segment owns the files.

/// Bytes of one offset index entry: relative offset (u32) and file position (u32).
pub(crate) const OFFSET_ENTRY_LEN: usize = 8;
/// Bytes of one time index entry: timestamp (i64) and relative offset (u32).
pub(crate) const TIME_ENTRY_LEN: usize = 12;

/// One offset index entry: the batch starting at `relative_offset` sits at `position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub(crate) relative_offset: u32,
    pub(crate) position: u32,
}

/// One time index entry: no batch at or before `relative_offset` is newer than `timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub(crate) timestamp: i64,
    pub(crate) relative_offset: u32,
}

/// Maps relative offsets to file positions; entries ascend in both.
#[derive(Debug, Default, Clone)]
pub(crate) struct OffsetIndex {
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    /// Decodes an index file, dropping a torn trailing entry and anything not ascending
    /// or pointing past `log_size` (a stale index must never send a read past the data).
    pub(crate) fn decode(bytes: &[u8], log_size: u64) -> Self {
        let mut entries: Vec<OffsetEntry> = Vec::with_capacity(bytes.len() / OFFSET_ENTRY_LEN);
        for chunk in bytes.chunks_exact(OFFSET_ENTRY_LEN) {
            let entry = OffsetEntry {
                relative_offset: u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
                position: u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]),
            };
            let ascending = entries.last().is_none_or(|last| {
                entry.relative_offset > last.relative_offset && entry.position > last.position
            });
            if !ascending || u64::from(entry.position) >= log_size {
                break;
            }
            entries.push(entry);
        }
        Self { entries }
    }

    /// The on-disk form of one entry.
    pub(crate) fn encode(entry: OffsetEntry) -> [u8; OFFSET_ENTRY_LEN] {
        let mut out = [0u8; OFFSET_ENTRY_LEN];
        out[0..4].copy_from_slice(&entry.relative_offset.to_be_bytes());
        out[4..8].copy_from_slice(&entry.position.to_be_bytes());
        out
    }

    pub(crate) fn push(&mut self, entry: OffsetEntry) {
        self.entries.push(entry);
    }

    pub(crate) fn entries(&self) -> &[OffsetEntry] {
        &self.entries
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes the entries take in the file.
    pub(crate) fn disk_bytes(&self) -> u64 {
        (self.entries.len() * OFFSET_ENTRY_LEN) as u64
    }

    pub(crate) fn last(&self) -> Option<OffsetEntry> {
        self.entries.last().copied()
    }

    /// File position of a batch starting at or before `relative_offset` (0 if none indexed).
    pub(crate) fn lookup(&self, relative_offset: u32) -> u32 {
        let idx = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        idx.checked_sub(1).map_or(0, |i| self.entries[i].position)
    }
}

/// Maps timestamps to the relative offset where scanning must start; ascending in both.
#[derive(Debug, Default, Clone)]
pub(crate) struct TimeIndex {
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Decodes a time index file, dropping a torn tail and non-ascending entries.
    pub(crate) fn decode(bytes: &[u8]) -> Self {
        let mut entries: Vec<TimeEntry> = Vec::with_capacity(bytes.len() / TIME_ENTRY_LEN);
        for chunk in bytes.chunks_exact(TIME_ENTRY_LEN) {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&chunk[0..8]);
            let entry = TimeEntry {
                timestamp: i64::from_be_bytes(ts),
                relative_offset: u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]),
            };
            let ascending = entries.last().is_none_or(|last| {
                entry.timestamp > last.timestamp && entry.relative_offset >= last.relative_offset
            });
            if !ascending {
                break;
            }
            entries.push(entry);
        }
        Self { entries }
    }

    /// The on-disk form of one entry.
    pub(crate) fn encode(entry: TimeEntry) -> [u8; TIME_ENTRY_LEN] {
        let mut out = [0u8; TIME_ENTRY_LEN];
        out[0..8].copy_from_slice(&entry.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&entry.relative_offset.to_be_bytes());
        out
    }

    pub(crate) fn entries(&self) -> &[TimeEntry] {
        &self.entries
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes the entries take in the file.
    pub(crate) fn disk_bytes(&self) -> u64 {
        (self.entries.len() * TIME_ENTRY_LEN) as u64
    }

    pub(crate) fn last(&self) -> Option<TimeEntry> {
        self.entries.last().copied()
    }

    /// Appends only when the timestamp grows, so the index stays ascending.
    pub(crate) fn maybe_push(&mut self, entry: TimeEntry) -> bool {
        if self
            .entries
            .last()
            .is_some_and(|l| entry.timestamp <= l.timestamp)
        {
            return false;
        }
        self.entries.push(entry);
        true
    }

    /// Relative offset from which a scan for the first batch with max timestamp
    /// `>= target` may start: every batch up to an entry older than `target` is older too.
    pub(crate) fn lookup(&self, target: i64) -> u32 {
        let idx = self.entries.partition_point(|e| e.timestamp < target);
        idx.checked_sub(1)
            .map_or(0, |i| self.entries[i].relative_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset_index(pairs: &[(u32, u32)]) -> OffsetIndex {
        let mut idx = OffsetIndex::default();
        for &(relative_offset, position) in pairs {
            idx.push(OffsetEntry {
                relative_offset,
                position,
            });
        }
        idx
    }

    #[test]
    fn offset_lookup_finds_entry_at_or_before() {
        let idx = offset_index(&[(10, 4100), (20, 8300)]);
        assert_eq!(idx.lookup(0), 0);
        assert_eq!(idx.lookup(9), 0);
        assert_eq!(idx.lookup(10), 4100);
        assert_eq!(idx.lookup(19), 4100);
        assert_eq!(idx.lookup(25), 8300);
    }

    #[test]
    fn offset_index_round_trips_and_drops_torn_or_stale_entries() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&OffsetIndex::encode(OffsetEntry {
            relative_offset: 3,
            position: 100,
        }));
        bytes.extend_from_slice(&OffsetIndex::encode(OffsetEntry {
            relative_offset: 7,
            position: 900,
        }));
        bytes.extend_from_slice(&[1, 2, 3]);
        assert_eq!(OffsetIndex::decode(&bytes, 1000).entries().len(), 2);
        assert_eq!(OffsetIndex::decode(&bytes, 500).entries().len(), 1);
    }

    #[test]
    fn time_lookup_starts_after_older_entries() {
        let mut idx = TimeIndex::default();
        assert!(idx.maybe_push(TimeEntry {
            timestamp: 100,
            relative_offset: 5
        }));
        assert!(!idx.maybe_push(TimeEntry {
            timestamp: 100,
            relative_offset: 6
        }));
        assert!(idx.maybe_push(TimeEntry {
            timestamp: 200,
            relative_offset: 9
        }));
        assert_eq!(idx.lookup(50), 0);
        assert_eq!(idx.lookup(100), 0);
        assert_eq!(idx.lookup(101), 5);
        assert_eq!(idx.lookup(500), 9);
        let bytes: Vec<u8> = idx
            .entries()
            .iter()
            .flat_map(|e| TimeIndex::encode(*e))
            .collect();
        assert_eq!(TimeIndex::decode(&bytes).entries(), idx.entries());
    }
}
