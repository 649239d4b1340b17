//! `replication-offset-checkpoint`: every hosted partition's high watermark, in
//! Kafka's checkpoint text format (version `0`, the number of entries, then
//! `topic partition offset` per line), written every few seconds and at a clean
//! shutdown. A restarted leader starts from it instead of its log start, so
//! consumers keep seeing what was committed while followers come back.
//!
//! It is only a lower bound the leader may expose at once: a missing or damaged
//! file costs availability (the HW waits for the followers), never data, so it is
//! not a reason to refuse the start.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use kavka_storage::durable;

/// File name inside the log directory, as Kafka names it.
pub(crate) const HW_CHECKPOINT_FILE: &str = "replication-offset-checkpoint";

/// Topic and partition → high watermark.
pub(crate) type HighWatermarks = BTreeMap<(String, i32), i64>;

/// Parses the file's text; None when it is not a version-0 checkpoint.
pub(crate) fn decode(text: &str) -> Option<HighWatermarks> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut out = BTreeMap::new();
    for line in lines.take(count) {
        // Topic names cannot hold spaces, so the last two fields are unambiguous.
        let mut fields = line.rsplitn(3, ' ');
        let offset = fields.next()?.parse().ok()?;
        let partition = fields.next()?.parse().ok()?;
        let topic = fields.next()?.to_string();
        out.insert((topic, partition), offset);
    }
    (out.len() == count).then_some(out)
}

/// The file's text.
pub(crate) fn encode(hws: &HighWatermarks) -> String {
    let mut out = format!("0\n{}\n", hws.len());
    for ((topic, partition), offset) in hws {
        out.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    out
}

/// Reads the checkpoint in `log_dir`; empty when missing or unreadable.
pub(crate) fn read(log_dir: &Path) -> HighWatermarks {
    let path = log_dir.join(HW_CHECKPOINT_FILE);
    match durable::read_optional(&path) {
        Ok(None) => HighWatermarks::new(),
        Ok(Some(text)) => decode(&text).unwrap_or_else(|| {
            tracing::warn!(path = %path.display(), "unreadable high-watermark checkpoint; leaders wait for their followers");
            HighWatermarks::new()
        }),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the high-watermark checkpoint");
            HighWatermarks::new()
        }
    }
}

/// Replaces the checkpoint in `log_dir` atomically.
pub(crate) fn write(log_dir: &Path, hws: &HighWatermarks) -> io::Result<()> {
    durable::write_atomic(&log_dir.join(HW_CHECKPOINT_FILE), encode(hws).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafkas_format_and_refuses_damage() {
        let mut hws = HighWatermarks::new();
        hws.insert(("orders".into(), 0), 42);
        hws.insert(("__consumer_offsets".into(), 7), 1234);
        let text = encode(&hws);
        assert_eq!(text, "0\n2\n__consumer_offsets 7 1234\norders 0 42\n");
        assert_eq!(decode(&text), Some(hws));
        for bad in ["", "1\n0\n", "0\n2\norders 0 42\n", "0\n1\norders x 42\n"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).is_empty());
        std::fs::write(dir.path().join(HW_CHECKPOINT_FILE), "garbage").unwrap();
        assert!(read(dir.path()).is_empty());
    }
}
