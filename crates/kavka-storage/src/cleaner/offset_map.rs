//! Key → offset of its latest record, over the dirty part of a log. Bounded by
//! `log.cleaner.dedupe.buffer.size`: when the next new key would not fit, the map is
//! full and the cleaning pass ends at the last offset it covers; the rest waits for
//! the next pass. Keys are stored whole, so two keys can never be confused.

use std::collections::HashMap;

use bytes::Bytes;

/// Bytes charged per entry on top of the key: the offset, the hash table slot and
/// the key's allocation header, roughly.
const ENTRY_OVERHEAD: usize = 48;

/// The latest offset of every key seen so far.
#[derive(Debug)]
pub(crate) struct OffsetMap {
    entries: HashMap<Bytes, i64>,
    bytes_used: usize,
    capacity_bytes: usize,
    latest_offset: i64,
}

impl OffsetMap {
    /// An empty map allowed to use about `capacity_bytes`.
    pub(crate) fn new(capacity_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            bytes_used: 0,
            capacity_bytes,
            latest_offset: -1,
        }
    }

    /// Records `offset` as the latest for `key`. Returns false, changing nothing,
    /// when `key` is new and does not fit.
    pub(crate) fn put(&mut self, key: &[u8], offset: i64) -> bool {
        if let Some(latest) = self.entries.get_mut(key) {
            *latest = (*latest).max(offset);
        } else {
            let cost = key.len() + ENTRY_OVERHEAD;
            if self.bytes_used + cost > self.capacity_bytes {
                return false;
            }
            self.bytes_used += cost;
            // Copied so the map never pins a whole decompressed batch in memory.
            self.entries.insert(Bytes::copy_from_slice(key), offset);
        }
        self.latest_offset = self.latest_offset.max(offset);
        true
    }

    /// The latest offset recorded for `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<i64> {
        self.entries.get(key).copied()
    }

    /// The largest offset recorded, -1 when empty. Records past it are not covered
    /// by the map and must be kept.
    pub(crate) fn latest_offset(&self) -> i64 {
        self.latest_offset
    }

    /// Number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_latest_offset_per_key() {
        let mut map = OffsetMap::new(1 << 20);
        assert!(map.put(b"a", 1));
        assert!(map.put(b"b", 2));
        assert!(map.put(b"a", 5));
        assert_eq!(map.get(b"a"), Some(5));
        assert_eq!(map.get(b"b"), Some(2));
        assert_eq!(map.get(b"c"), None);
        assert_eq!(map.latest_offset(), 5);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn refuses_new_keys_when_full_but_updates_known_ones() {
        let mut map = OffsetMap::new(2 * (ENTRY_OVERHEAD + 1));
        assert!(map.put(b"a", 0));
        assert!(map.put(b"b", 1));
        assert!(!map.put(b"c", 2));
        assert_eq!(map.latest_offset(), 1);
        assert!(map.put(b"a", 3));
        assert_eq!(map.get(b"a"), Some(3));
        assert_eq!(map.get(b"c"), None);
    }
}
