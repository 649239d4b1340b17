//! The persisted metadata log: entries of `[len u32][crc32c u32][JSON batch]`.
//! A batch of records is one entry, so a multi-record change (a topic and its
//! partitions) lands whole or not at all.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::{MetadataError, MetadataRecord};

const ENTRY_HEADER: usize = 8;

/// An append-only file of metadata record batches.
#[derive(Debug)]
pub struct MetadataLog {
    path: PathBuf,
    file: File,
}

impl MetadataLog {
    /// Opens the log, returning every record in it. A torn or corrupt tail left by
    /// a crash is cut off, since its change was never acknowledged.
    pub fn open(path: &Path) -> Result<(Self, Vec<MetadataRecord>), MetadataError> {
        if let Some(parent) = path.parent() {
            kavka_storage::durable::create_dir_all_durably(parent).map_err(io)?;
        }
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        if created {
            kavka_storage::durable::sync_parent(path).map_err(io)?;
        }
        let (records, valid_len) = parse_entries(&bytes);
        if valid_len < bytes.len() && !is_torn_tail(&bytes, valid_len) {
            return Err(MetadataError::Log(format!(
                "{} is corrupt at byte {valid_len}: an entry there fails its checksum \
                 but committed entries follow it; refusing to start rather than drop \
                 them. Restore the file from a backup",
                path.display()
            )));
        }
        if valid_len < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                kept = valid_len,
                dropped = bytes.len() - valid_len,
                "truncating torn tail of metadata log"
            );
            file.set_len(valid_len as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
            },
            records,
        ))
    }

    /// Appends a batch durably (fsync): metadata changes are rare and must survive.
    pub fn append(&mut self, records: &[MetadataRecord]) -> Result<(), MetadataError> {
        let payload = serde_json::to_vec(records).map_err(|e| MetadataError::Log(e.to_string()))?;
        let mut entry = Vec::with_capacity(ENTRY_HEADER + payload.len());
        entry.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        entry.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
        entry.extend_from_slice(&payload);
        let before = self.file.metadata().map_err(io)?.len();
        let written = self
            .file
            .write_all(&entry)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // A partial entry followed by later ones would read as corruption in
            // the middle of the log at the next start: cut it off now.
            let _ = self
                .file
                .set_len(before)
                .and_then(|()| self.file.sync_data());
            return Err(io(e));
        }
        Ok(())
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Parses whole valid entries; returns the records and the byte length they span.
fn parse_entries(bytes: &[u8]) -> (Vec<MetadataRecord>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while let Some(header) = bytes.get(pos..pos + ENTRY_HEADER) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let Some(payload) = bytes.get(pos + ENTRY_HEADER..pos + ENTRY_HEADER + len) else {
            break;
        };
        if crc32c::crc32c(payload) != crc {
            break;
        }
        let Ok(batch) = serde_json::from_slice::<Vec<MetadataRecord>>(payload) else {
            break;
        };
        records.extend(batch);
        pos += ENTRY_HEADER + len;
    }
    (records, pos)
}

/// Whether the bytes from `pos` on are what a crash in the middle of the last append
/// leaves: an incomplete entry, one whole entry that fails its checksum with nothing
/// after it, or zeros (a file extended but never written). Anything else is
/// corruption in the middle of the log.
fn is_torn_tail(bytes: &[u8], pos: usize) -> bool {
    let rest = &bytes[pos..];
    if rest.iter().all(|&b| b == 0) {
        return true;
    }
    let Some(header) = rest.get(..ENTRY_HEADER) else {
        return true;
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    rest.len() <= ENTRY_HEADER.saturating_add(len)
}

fn io(e: std::io::Error) -> MetadataError {
    MetadataError::Log(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn batch(name: &str) -> Vec<MetadataRecord> {
        vec![MetadataRecord::Topic {
            name: name.into(),
            topic_id: Uuid::new_v4(),
        }]
    }

    #[test]
    fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.log");
        let (mut log, records) = MetadataLog::open(&path).unwrap();
        assert!(records.is_empty());
        log.append(&batch("a")).unwrap();
        log.append(&batch("b")).unwrap();
        drop(log);
        let (_, records) = MetadataLog::open(&path).unwrap();
        assert_eq!(records.len(), 2);
    }

    #[test]
    fn corruption_before_committed_entries_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.log");
        let (mut log, _) = MetadataLog::open(&path).unwrap();
        log.append(&batch("a")).unwrap();
        log.append(&batch("b")).unwrap();
        drop(log);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[ENTRY_HEADER + 2] ^= 0xff; // inside the first entry's payload
        std::fs::write(&path, &bytes).unwrap();
        let err = MetadataLog::open(&path).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
        // Damage to the last entry alone is a torn append: cut, not refused.
        bytes[ENTRY_HEADER + 2] ^= 0xff;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, records) = MetadataLog::open(&path).unwrap();
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn torn_tail_is_cut_at_every_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.log");
        let (mut log, _) = MetadataLog::open(&path).unwrap();
        log.append(&batch("a")).unwrap();
        let first_len = std::fs::metadata(&path).unwrap().len();
        log.append(&batch("b")).unwrap();
        drop(log);
        let full = std::fs::read(&path).unwrap();
        for cut in 0..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (mut log, records) = MetadataLog::open(&path).unwrap();
            let expected = if (cut as u64) < first_len { 0 } else { 1 };
            assert_eq!(records.len(), expected, "cut at {cut}");
            // The log stays appendable after recovery.
            log.append(&batch("c")).unwrap();
            drop(log);
            let (_, records) = MetadataLog::open(&path).unwrap();
            assert_eq!(records.len(), expected + 1, "cut at {cut}");
        }
    }
}
