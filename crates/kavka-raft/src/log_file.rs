//! Framing of the metadata log file: entries of `[len u32][crc32c u32][JSON entry]`,
//! big-endian, as `kavka_metadata::MetadataLog` frames its batches, and the recovery
//! rules applied when the file is opened.
//!
//! A crash in the middle of an append leaves a torn tail: an incomplete entry, one
//! whole last entry that fails its checksum, or zeros. That entry was never fsynced
//! and so never acknowledged to openraft, and it is cut. Damage followed by valid
//! entries is something else (the disk lost committed data) and opening refuses,
//! naming the file, rather than silently dropping entries a quorum counted on.

use std::path::{Path, PathBuf};

use openraft::RaftLogId;

use crate::types::Entry;

/// Bytes before each entry's payload: its length and its CRC-32C.
pub(crate) const ENTRY_HEADER: usize = 8;

/// Why a log file cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    /// Bytes that are not a torn tail fail their checksum or do not decode.
    #[error(
        "metadata log {} is corrupt at byte {offset}: {reason}; refusing to open rather \
         than drop committed entries. Restore the directory from a replica or a backup",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// An entry could not be encoded (a bug, not bad input).
    #[error("cannot encode metadata log entry: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One entry read back: its position in the file and its content.
#[derive(Debug)]
pub(crate) struct StoredEntry {
    pub(crate) offset: u64,
    pub(crate) entry: Entry,
}

/// What a scan of the file found.
#[derive(Debug)]
pub(crate) struct Scan {
    pub(crate) entries: Vec<StoredEntry>,
    /// Length of the valid prefix; the file is cut here if it is longer.
    pub(crate) valid_len: u64,
}

/// Encodes one entry with its header.
pub(crate) fn encode(entry: &Entry, out: &mut Vec<u8>) -> Result<(), LogFileError> {
    let payload = serde_json::to_vec(entry)?;
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// Reads every valid entry of `bytes`, the content of the file at `path`. A torn tail
/// is left out of `valid_len`; corruption before valid data, an entry whose checksum
/// holds but whose content does not decode, and indexes that do not follow each
/// other are errors.
pub(crate) fn scan(path: &Path, bytes: &[u8]) -> Result<Scan, LogFileError> {
    let corrupt = |offset: usize, reason: String| LogFileError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    let mut entries: Vec<StoredEntry> = Vec::new();
    let mut pos = 0usize;
    while let Some(header) = bytes.get(pos..pos + ENTRY_HEADER) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        // Slicing (not allocating) by the length read from disk: a garbage length
        // cannot make us allocate, it only fails the bounds check.
        let Some(payload) = bytes.get(pos + ENTRY_HEADER..pos + ENTRY_HEADER + len) else {
            break;
        };
        // No real entry is empty; a zero length with a zero checksum (which is the
        // CRC of nothing) is a zero-filled tail, not an entry.
        if len == 0 || crc32c::crc32c(payload) != crc {
            break;
        }
        let entry: Entry = serde_json::from_slice(payload).map_err(|e| {
            corrupt(
                pos,
                format!("entry passes its checksum but does not decode ({e})"),
            )
        })?;
        if let Some(prev) = entries.last() {
            let expected = prev.entry.get_log_id().index + 1;
            if entry.get_log_id().index != expected {
                return Err(corrupt(
                    pos,
                    format!(
                        "entry has index {} where {expected} was expected",
                        entry.get_log_id().index
                    ),
                ));
            }
        }
        entries.push(StoredEntry {
            offset: pos as u64,
            entry,
        });
        pos += ENTRY_HEADER + len;
    }
    if pos < bytes.len() && !is_torn_tail(&bytes[pos..]) {
        return Err(corrupt(
            pos,
            "an entry fails its checksum but more data follows it".to_string(),
        ));
    }
    Ok(Scan {
        entries,
        valid_len: pos as u64,
    })
}

/// Whether `rest` is what a crash in the middle of the last append leaves: an
/// incomplete entry, one whole entry that fails its checksum with nothing after it,
/// or zeros (a file extended but never written).
fn is_torn_tail(rest: &[u8]) -> bool {
    if rest.iter().all(|&b| b == 0) {
        return true;
    }
    let Some(header) = rest.get(..ENTRY_HEADER) else {
        return true;
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    rest.len() <= ENTRY_HEADER.saturating_add(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LogId, MetadataBatch};
    use kavka_metadata::MetadataRecord;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(MetadataBatch::new(vec![MetadataRecord::Config {
                resource: kavka_metadata::ConfigResource::Broker(None),
                name: "min.insync.replicas".into(),
                value: Some(index.to_string()),
            }])),
        }
    }

    fn file_of(indexes: std::ops::Range<u64>) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for i in indexes {
            starts.push(bytes.len());
            encode(&entry(i), &mut bytes).unwrap();
        }
        (bytes, starts)
    }

    #[test]
    fn entries_read_back_in_order() {
        let (bytes, starts) = file_of(3..6);
        let scan = scan(Path::new("m.log"), &bytes).unwrap();
        let got: Vec<(u64, u64)> = scan
            .entries
            .iter()
            .map(|e| (e.offset, e.entry.get_log_id().index))
            .collect();
        let want: Vec<(u64, u64)> = starts.iter().map(|&s| s as u64).zip(3..6).collect();
        assert_eq!(got, want);
        assert_eq!(scan.valid_len, bytes.len() as u64);
    }

    #[test]
    fn torn_tail_is_cut_at_every_length() {
        let (bytes, starts) = file_of(0..3);
        let ends: Vec<usize> = starts[1..].iter().copied().chain([bytes.len()]).collect();
        for cut in 0..bytes.len() {
            let scan = scan(Path::new("m.log"), &bytes[..cut]).unwrap();
            // Entries that end at or before the cut survive; the valid prefix ends
            // where the entry cut through started.
            let complete = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(scan.entries.len(), complete, "cut at {cut}");
            assert_eq!(scan.valid_len, starts[complete] as u64, "cut at {cut}");
        }
    }

    #[test]
    fn zeroed_tail_is_torn() {
        let (mut bytes, _) = file_of(0..2);
        bytes.extend_from_slice(&[0; 4096]);
        let scan = scan(Path::new("m.log"), &bytes).unwrap();
        assert_eq!(scan.entries.len(), 2);
    }

    #[test]
    fn damaged_last_entry_is_torn_but_damage_before_valid_entries_is_refused() {
        let (bytes, starts) = file_of(0..3);
        let mut last = bytes.clone();
        let n = last.len();
        last[n - 2] ^= 0xff;
        assert_eq!(scan(Path::new("m.log"), &last).unwrap().entries.len(), 2);

        for victim in [0, 1] {
            let mut middle = bytes.clone();
            middle[starts[victim] + ENTRY_HEADER + 3] ^= 0xff;
            let err = scan(Path::new("/data/m.log"), &middle).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("/data/m.log"), "{msg}");
            assert!(msg.contains("corrupt"), "{msg}");
        }
    }

    #[test]
    fn gap_in_indexes_is_refused() {
        let mut bytes = Vec::new();
        encode(&entry(0), &mut bytes).unwrap();
        encode(&entry(2), &mut bytes).unwrap();
        let err = scan(Path::new("m.log"), &bytes).unwrap_err();
        assert!(err.to_string().contains("index 2"), "{err}");
    }

    #[test]
    fn checksummed_garbage_is_refused() {
        let payload = b"not json";
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
        bytes.extend_from_slice(payload);
        assert!(scan(Path::new("m.log"), &bytes).is_err());
    }
}
