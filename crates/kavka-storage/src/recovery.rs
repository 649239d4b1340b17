//! Loading a partition directory: which segments exist, which can be trusted, and
//! which must be scanned and truncated after a crash.

use std::fs;
use std::path::Path;

use crate::epoch_cache::LeaderEpochCache;
use crate::segment::{LogSegment, LOG_SUFFIX};
use crate::StorageError;

/// Base offsets of the segments in `dir`, ascending. Leftover temp files from an
/// interrupted checkpoint write are removed on the way.
pub(crate) fn segment_bases(dir: &Path) -> Result<Vec<i64>, StorageError> {
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            fs::remove_file(entry.path())?;
            continue;
        }
        if let Some(stem) = name.strip_suffix(&format!(".{LOG_SUFFIX}")) {
            if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                }
            }
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Opens every segment. After a clean shutdown all are trusted; otherwise every
/// segment that may hold offsets at or after `recovery_point` (always the last one)
/// is scanned. A segment cut short in the middle of the log makes the later ones
/// unreachable, so they are deleted, as Kafka does.
pub(crate) fn load_segments(
    dir: &Path,
    clean: bool,
    recovery_point: i64,
    index_interval_bytes: u32,
    epochs: &mut LeaderEpochCache,
) -> Result<Vec<LogSegment>, StorageError> {
    let bases = segment_bases(dir)?;
    let mut segments = Vec::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let needs_recovery = !clean && next_base.is_none_or(|next| next > recovery_point);
        if !needs_recovery {
            segments.push(LogSegment::load(dir, base)?);
            continue;
        }
        let mut on_batch = |h: &crate::BatchHeader| {
            epochs.assign(h.partition_leader_epoch, h.base_offset);
        };
        let (segment, outcome) =
            LogSegment::recover(dir, base, index_interval_bytes, &mut on_batch)?;
        segments.push(segment);
        if outcome.truncated_bytes > 0 && next_base.is_some() {
            tracing::warn!(
                dir = %dir.display(),
                segment = base,
                "segment truncated during recovery; deleting the segments after it"
            );
            for &later in &bases[i + 1..] {
                LogSegment::create(dir, later)?.delete()?;
            }
            break;
        }
    }
    Ok(segments)
}
