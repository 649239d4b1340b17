//! `cleaner-offset-checkpoint`: the first dirty offset of every compacted partition
//! in a log directory, in Kafka's checkpoint text format (version `0`, the number
//! of entries, then `topic partition offset` per line). It only saves work: a
//! missing or unreadable file makes the next pass start at each log's start.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::checkpoint;

/// File name inside the log directory, as Kafka names it.
pub const CLEANER_OFFSET_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// Topic and partition → first dirty offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanerCheckpoint {
    pub offsets: BTreeMap<(String, i32), i64>,
}

impl CleanerCheckpoint {
    /// Parses the file's text; None when it is not a version-0 checkpoint.
    pub fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()?.trim() != "0" {
            return None;
        }
        let count: usize = lines.next()?.trim().parse().ok()?;
        let mut offsets = BTreeMap::new();
        for line in lines.take(count) {
            // Topic names cannot hold spaces, so the last two fields are unambiguous.
            let mut fields = line.rsplitn(3, ' ');
            let offset = fields.next()?.parse().ok()?;
            let partition = fields.next()?.parse().ok()?;
            let topic = fields.next()?.to_string();
            offsets.insert((topic, partition), offset);
        }
        (offsets.len() == count).then_some(Self { offsets })
    }

    /// The file's text.
    pub fn encode(&self) -> String {
        let mut out = format!("0\n{}\n", self.offsets.len());
        for ((topic, partition), offset) in &self.offsets {
            out.push_str(&format!("{topic} {partition} {offset}\n"));
        }
        out
    }

    /// Reads the checkpoint in `log_dir`; empty when missing or unreadable.
    pub fn read(log_dir: &Path) -> io::Result<Self> {
        let path = log_dir.join(CLEANER_OFFSET_CHECKPOINT_FILE);
        // A damaged checkpoint only costs work (cleaning starts over), never data,
        // so unlike the partition's own state files it does not stop the start.
        let Some(text) = checkpoint::read_optional(&path).map_err(io::Error::other)? else {
            return Ok(Self::default());
        };
        Ok(Self::decode(&text).unwrap_or_else(|| {
            tracing::warn!(path = %path.display(), "unreadable cleaner checkpoint; cleaning starts over");
            Self::default()
        }))
    }

    /// Replaces the checkpoint in `log_dir` atomically.
    pub fn write(&self, log_dir: &Path) -> io::Result<()> {
        checkpoint::write_atomic(
            &log_dir.join(CLEANER_OFFSET_CHECKPOINT_FILE),
            self.encode().as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafkas_format() {
        let mut c = CleanerCheckpoint::default();
        c.offsets.insert(("__consumer_offsets".into(), 7), 1234);
        c.offsets.insert(("t".into(), 0), 5);
        let text = c.encode();
        assert_eq!(text, "0\n2\n__consumer_offsets 7 1234\nt 0 5\n");
        assert_eq!(CleanerCheckpoint::decode(&text), Some(c.clone()));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            CleanerCheckpoint::read(dir.path()).unwrap(),
            CleanerCheckpoint::default()
        );
        c.write(dir.path()).unwrap();
        assert_eq!(CleanerCheckpoint::read(dir.path()).unwrap(), c);
    }

    #[test]
    fn damaged_files_read_as_empty() {
        assert_eq!(CleanerCheckpoint::decode("0\n2\nt 0 5\n"), None);
        assert_eq!(CleanerCheckpoint::decode("1\n0\n"), None);
        assert_eq!(CleanerCheckpoint::decode("0\n1\nt x 5\n"), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CLEANER_OFFSET_CHECKPOINT_FILE), "junk").unwrap();
        assert!(CleanerCheckpoint::read(dir.path())
            .unwrap()
            .offsets
            .is_empty());
    }
}
