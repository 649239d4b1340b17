//! Loading a partition directory: which segments exist, which can be trusted, and
//! which must be scanned and truncated after a crash.

use std::fs;
use std::path::Path;

use crate::cleaner;
use crate::durable;
use crate::epoch_cache::LeaderEpochCache;
use crate::segment::{file_name, LogSegment, LOG_SUFFIX, TXN_INDEX_SUFFIX};
use crate::StorageError;

/// The names in a partition directory, read once at open, so the open stats and
/// opens only files that exist (a start with many partitions pays per syscall).
#[derive(Debug, Default)]
pub(crate) struct DirListing {
    /// Sorted, for binary search.
    names: Vec<String>,
}

impl DirListing {
    /// Lists `dir`, creating it (durably) when missing. Leftover temp files from an
    /// interrupted checkpoint write are removed on the way.
    pub(crate) fn read(dir: &Path) -> Result<Self, StorageError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                durable::create_dir_all_durably(dir)?;
                return Ok(Self::default());
            }
            Err(e) => return Err(e.into()),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.ends_with(durable::TEMP_SUFFIX) {
                fs::remove_file(entry.path())?;
                continue;
            }
            names.push(name);
        }
        names.sort_unstable();
        Ok(Self { names })
    }

    /// Whether `name` was in the directory.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.names
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    /// Whether a cleaner swap was in flight (a manifest or `.cleaned` output).
    pub(crate) fn has_cleaner_leftovers(&self) -> bool {
        self.names.iter().any(|n| cleaner::swap::is_swap_file(n))
    }

    /// Base offsets of the segments, ascending.
    pub(crate) fn segment_bases(&self) -> Vec<i64> {
        let suffix = format!(".{LOG_SUFFIX}");
        let mut bases: Vec<i64> = self
            .names
            .iter()
            .filter_map(|name| name.strip_suffix(&suffix))
            .filter(|stem| stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|stem| stem.parse::<i64>().ok())
            .collect();
        bases.sort_unstable();
        bases
    }
}

/// Opens every segment. After a clean shutdown all are trusted; otherwise every
/// segment that may hold offsets at or after `recovery_point` (always the last one)
/// is scanned. A segment cut short in the middle of the log makes the later ones
/// unreachable, so they are deleted, as Kafka does.
pub(crate) fn load_segments(
    dir: &Path,
    listing: &DirListing,
    clean: bool,
    recovery_point: i64,
    index_interval_bytes: u32,
    epochs: &mut LeaderEpochCache,
) -> Result<Vec<LogSegment>, StorageError> {
    let bases = listing.segment_bases();
    let mut segments = Vec::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let needs_recovery = !clean && next_base.is_none_or(|next| next > recovery_point);
        if !needs_recovery {
            let has_txn_index = listing.has(&file_name(base, TXN_INDEX_SUFFIX));
            segments.push(LogSegment::load(dir, base, has_txn_index)?);
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
