//! The aborted transaction index of one segment (`<base>.txnindex`), in Kafka's
//! format: one 34-byte entry per transaction aborted by a marker in the segment
//! (version i16 = 0, producer id i64, first offset i64, last offset i64, last stable
//! offset i64, big-endian). Fetch in read_committed lists the entries overlapping
//! the fetched range so consumers can drop the aborted records.
//!
//! Aborts are rare, so the entries are kept in memory and each is appended to the
//! file as it happens; the file is created with its first entry.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Bytes of one entry.
pub(crate) const ENTRY_LEN: usize = 34;
const VERSION: i16 = 0;

/// A transaction that ended with an ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    /// Offset of the transaction's first batch.
    pub first_offset: i64,
    /// Offset of the ABORT marker.
    pub last_offset: i64,
    /// The LSO once this transaction ended: the first offset of the oldest other
    /// transaction still open then, else the marker's offset + 1. A fetch collecting
    /// aborts up to an offset below it need look no further.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    /// The entry as stored in the file.
    pub(crate) fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[0..2].copy_from_slice(&VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }

    /// One entry; None for an unknown version.
    pub(crate) fn decode(b: &[u8; ENTRY_LEN]) -> Option<Self> {
        let i64_at = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(a)
        };
        (i16::from_be_bytes([b[0], b[1]]) == VERSION).then(|| AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// Every entry of a file's contents; a torn last entry (a crash mid-write) and
/// anything after an unreadable one are ignored.
pub(crate) fn decode_all(bytes: &[u8]) -> Vec<AbortedTxn> {
    bytes
        .chunks_exact(ENTRY_LEN)
        .map_while(|chunk| {
            let mut entry = [0u8; ENTRY_LEN];
            entry.copy_from_slice(chunk);
            AbortedTxn::decode(&entry)
        })
        .collect()
}

/// One segment's aborted transactions, in marker order.
#[derive(Debug)]
pub(crate) struct TxnIndex {
    path: PathBuf,
    entries: Vec<AbortedTxn>,
}

impl TxnIndex {
    /// An index at `path` with whatever the file already holds (none if missing).
    pub(crate) fn load(path: PathBuf) -> io::Result<Self> {
        let entries = match fs::read(&path) {
            Ok(bytes) => decode_all(&bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Self { path, entries })
    }

    /// The index of a segment whose directory listing had no such file.
    pub(crate) fn absent(path: PathBuf) -> Self {
        Self {
            path,
            entries: Vec::new(),
        }
    }

    /// An empty index whose file exists (the cleaner's output must have one to
    /// rename into place).
    pub(crate) fn create(path: PathBuf) -> io::Result<Self> {
        fs::File::create(&path)?;
        Ok(Self {
            path,
            entries: Vec::new(),
        })
    }

    /// Appends one entry to the file and the memory.
    pub(crate) fn append(&mut self, txn: AbortedTxn) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(&txn.encode())?;
        self.entries.push(txn);
        Ok(())
    }

    /// `append`, unless an entry for the same marker is there already (replaying a
    /// log after a crash meets markers the index may or may not have recorded).
    pub(crate) fn append_if_absent(&mut self, txn: AbortedTxn) -> io::Result<()> {
        if self
            .entries
            .iter()
            .any(|e| e.last_offset == txn.last_offset && e.producer_id == txn.producer_id)
        {
            return Ok(());
        }
        self.append(txn)
    }

    /// Drops the entries whose marker is at or after `offset` (the log was cut there).
    pub(crate) fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        let keep = self.entries.partition_point(|e| e.last_offset < offset);
        if keep == self.entries.len() {
            return Ok(());
        }
        self.entries.truncate(keep);
        let bytes: Vec<u8> = self.entries.iter().flat_map(AbortedTxn::encode).collect();
        crate::durable::write_atomic(&self.path, &bytes)
    }

    pub(crate) fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// fsyncs the file, if there is one.
    pub(crate) fn flush(&self) -> io::Result<()> {
        match fs::File::open(&self.path) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The aborted transactions of `entries` that overlap `[from, upper)`, appended to
/// `out`; true once an entry shows no transaction aborted later can start below
/// `upper` (its LSO at abort is at or past it), so later segments need no look.
pub(crate) fn collect_overlapping(
    entries: &[AbortedTxn],
    from: i64,
    upper: i64,
    out: &mut Vec<AbortedTxn>,
) -> bool {
    for e in entries {
        if e.last_offset >= from && e.first_offset < upper {
            out.push(*e);
        }
        if e.last_stable_offset >= upper {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entries_are_kafkas_34_bytes_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.txnindex");
        let mut index = TxnIndex::load(path.clone()).unwrap();
        index.append(txn(7, 3, 9, 10)).unwrap();
        index.append_if_absent(txn(7, 3, 9, 10)).unwrap();
        index.append(txn(8, 12, 20, 21)).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 2 * ENTRY_LEN);
        assert_eq!(&bytes[0..2], &[0, 0]);
        assert_eq!(&bytes[2..10], &7i64.to_be_bytes());
        // A torn third entry is ignored at load.
        fs::write(&path, [&bytes[..], &[0u8; 10]].concat()).unwrap();
        let reloaded = TxnIndex::load(path).unwrap();
        assert_eq!(reloaded.entries(), index.entries());
    }

    #[test]
    fn truncation_drops_markers_at_or_after_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txnindex");
        let mut index = TxnIndex::load(path.clone()).unwrap();
        index.append(txn(1, 0, 5, 6)).unwrap();
        index.append(txn(2, 6, 9, 10)).unwrap();
        index.truncate_to(9).unwrap();
        assert_eq!(index.entries(), &[txn(1, 0, 5, 6)]);
        assert_eq!(TxnIndex::load(path).unwrap().entries(), index.entries());
    }

    #[test]
    fn collect_stops_at_an_lso_past_the_range() {
        let entries = [txn(1, 0, 5, 6), txn(2, 2, 8, 30), txn(3, 20, 25, 40)];
        let mut out = Vec::new();
        assert!(collect_overlapping(&entries, 6, 10, &mut out));
        assert_eq!(out, vec![txn(2, 2, 8, 30)]);
        let mut out = Vec::new();
        assert!(!collect_overlapping(&entries, 0, 100, &mut out));
        assert_eq!(out.len(), 3);
    }
}
