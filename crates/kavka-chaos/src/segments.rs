//! Replica dumps: a partition's batches read straight from a node's segment files
//! (`<log dir>/<topic>-<partition>/*.log`), as the bytes the node stored.

use std::path::Path;

use crate::history::{BatchBytes, NodeId, Partition, ReplicaDump};

/// The batch header up to `lastOffsetDelta`: baseOffset(8) batchLength(4)
/// partitionLeaderEpoch(4) magic(1) crc(4) attributes(2) lastOffsetDelta(4).
const LAST_OFFSET_DELTA_AT: usize = 23;
const LOG_OVERHEAD: usize = 12;

/// Reads `topic`/`partition` from `log_dir`; None when the node has no directory
/// for it (with more nodes than the replication factor, a node hosts only some
/// partitions, and is no replica of the others).
pub fn dump(
    node: NodeId,
    log_dir: &Path,
    topic: &str,
    partition: Partition,
) -> std::io::Result<Option<ReplicaDump>> {
    let dir = log_dir.join(format!("{topic}-{partition}"));
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // Segment names are zero-padded base offsets: name order is offset order.
    files.sort();
    let mut batches = Vec::new();
    for f in files {
        batches.extend(parse(&std::fs::read(&f)?));
    }
    Ok(Some(ReplicaDump {
        node,
        partition,
        batches,
    }))
}

/// Whole batches in `bytes`; a torn tail (a crash mid-write) is left out.
pub fn parse(bytes: &[u8]) -> Vec<BatchBytes> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= LAST_OFFSET_DELTA_AT + 4 {
        let field = |from: usize, n: usize| &bytes[at + from..at + from + n];
        let base = i64::from_be_bytes(field(0, 8).try_into().unwrap_or([0; 8]));
        let len = i32::from_be_bytes(field(8, 4).try_into().unwrap_or([0; 4]));
        let Ok(len) = usize::try_from(len) else {
            break;
        };
        let end = at + LOG_OVERHEAD + len;
        if len < LAST_OFFSET_DELTA_AT + 4 - LOG_OVERHEAD || end > bytes.len() {
            break;
        }
        let delta = i32::from_be_bytes(field(LAST_OFFSET_DELTA_AT, 4).try_into().unwrap_or([0; 4]));
        out.push(BatchBytes {
            base_offset: base,
            last_offset: base + i64::from(delta),
            bytes: bytes[at..end].to_vec(),
        });
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base: i64, records: i32, extra: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&base.to_be_bytes());
        let len = (4 + 1 + 4 + 2 + 4 + extra) as i32;
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&(records - 1).to_be_bytes());
        b.extend(std::iter::repeat_n(7u8, extra));
        b
    }

    #[test]
    fn whole_batches_are_read_and_a_torn_tail_is_not() {
        let mut log = batch(0, 3, 10);
        log.extend(batch(3, 1, 5));
        let whole = log.len();
        log.extend(&batch(4, 2, 8)[..15]);
        let batches = parse(&log);
        assert_eq!(batches.len(), 2);
        assert_eq!((batches[0].base_offset, batches[0].last_offset), (0, 2));
        assert_eq!((batches[1].base_offset, batches[1].last_offset), (3, 3));
        assert_eq!(batches.iter().map(|b| b.bytes.len()).sum::<usize>(), whole);
    }

    #[test]
    fn a_partition_the_node_does_not_host_is_no_dump() {
        let dir = tempfile::tempdir().unwrap();
        assert!(dump(1, dir.path(), "t", 0).unwrap().is_none());
    }
}
