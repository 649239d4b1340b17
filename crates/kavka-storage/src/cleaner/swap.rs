//! Replacing a group of segments by their cleaned version, crash-safely.
//!
//! The cleaned segment is written beside the log as `<base>.log.cleaned` (with
//! `.index.cleaned`, `.timeindex.cleaned` and `.txnindex.cleaned`) and fsynced. Then:
//!
//! 1. a manifest `<base>.cleaner-swap` naming the new base and every replaced base is
//!    written atomically (temp, fsync, rename, fsync of the directory): the commit
//!    point. Before it the old segments are intact and the `.cleaned` files are
//!    garbage; after it the swap is finished by whoever gets there first;
//! 2. the replaced segments' files are removed;
//! 3. each `.cleaned` file is renamed over its final name, the `.log` last;
//! 4. the directory is fsynced and the manifest removed.
//!
//! Opening a log runs [`recover`] first: every manifest is finished (steps 2–4 are
//! idempotent: a `.cleaned` file still there means its rename has not happened, so
//! the file of that name is old), then leftover `.cleaned` files without a manifest
//! are deleted. Every state a crash can leave therefore opens either as the old
//! segments or as the cleaned one, never as a mix that loses or repeats a record.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::segment::file_name;

/// Suffix of a segment file that is being written by the cleaner.
pub(crate) const CLEANED_SUFFIX: &str = "cleaned";
/// Suffix of the manifest that commits a swap.
pub(crate) const MANIFEST_SUFFIX: &str = "cleaner-swap";
/// The files of one segment, the log last: its rename completes a swap.
const SEGMENT_SUFFIXES: [&str; 4] = ["index", "timeindex", "txnindex", "log"];

/// Which segments a cleaned segment replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SwapManifest {
    /// Base offset of the cleaned segment (the first replaced segment's).
    pub(crate) new_base: i64,
    /// Base offsets of every replaced segment, `new_base` first.
    pub(crate) old_bases: Vec<i64>,
}

impl SwapManifest {
    fn encode(&self) -> String {
        let olds: Vec<String> = self.old_bases.iter().map(i64::to_string).collect();
        format!("1\n{}\n{}\n", self.new_base, olds.join(" "))
    }

    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != "1" {
            return None;
        }
        let new_base = lines.next()?.trim().parse().ok()?;
        let old_bases = lines
            .next()?
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<Vec<i64>, _>>()
            .ok()?;
        (old_bases.first() == Some(&new_base)).then_some(Self {
            new_base,
            old_bases,
        })
    }

    /// Where the manifest lives; its existence means the swap is committed.
    pub(crate) fn path(&self, dir: &Path) -> PathBuf {
        dir.join(file_name(self.new_base, MANIFEST_SUFFIX))
    }
}

/// `<base>.<suffix>.cleaned`
pub(crate) fn cleaned_name(base: i64, suffix: &str) -> String {
    format!("{}.{CLEANED_SUFFIX}", file_name(base, suffix))
}

/// One file-system step of a swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SwapStep {
    WriteManifest(PathBuf, String),
    /// Remove a file if it exists.
    Remove(PathBuf),
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    SyncDir,
}

/// The steps of a swap. `fresh`: a swap about to be committed (all `.cleaned`
/// files exist); otherwise the steps that finish an interrupted one, judged from
/// the files present.
pub(crate) fn steps(dir: &Path, manifest: &SwapManifest, fresh: bool) -> Vec<SwapStep> {
    let mut steps = Vec::new();
    if fresh {
        steps.push(SwapStep::WriteManifest(
            manifest.path(dir),
            manifest.encode(),
        ));
        steps.push(SwapStep::SyncDir);
    }
    for &old in manifest
        .old_bases
        .iter()
        .filter(|&&b| b != manifest.new_base)
    {
        for suffix in SEGMENT_SUFFIXES {
            steps.push(SwapStep::Remove(dir.join(file_name(old, suffix))));
        }
    }
    for suffix in SEGMENT_SUFFIXES {
        let cleaned = dir.join(cleaned_name(manifest.new_base, suffix));
        if fresh || cleaned.exists() {
            let target = dir.join(file_name(manifest.new_base, suffix));
            steps.push(SwapStep::Remove(target.clone()));
            steps.push(SwapStep::Rename {
                from: cleaned,
                to: target,
            });
        }
    }
    steps.push(SwapStep::SyncDir);
    steps.push(SwapStep::Remove(manifest.path(dir)));
    steps
}

/// Performs `steps` in order.
pub(crate) fn execute(dir: &Path, steps: &[SwapStep]) -> io::Result<()> {
    for step in steps {
        match step {
            SwapStep::WriteManifest(path, text) => checkpoint::write_atomic(path, text.as_bytes())?,
            SwapStep::Remove(path) => match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
            SwapStep::Rename { from, to } => fs::rename(from, to)?,
            SwapStep::SyncDir => sync_dir(dir)?,
        }
    }
    Ok(())
}

/// Makes renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    crate::durable::sync_dir(dir)
}

/// Removes the `.cleaned` files of a pass that will not be committed.
pub(crate) fn discard_cleaned(dir: &Path, base: i64) -> io::Result<()> {
    for suffix in SEGMENT_SUFFIXES {
        match fs::remove_file(dir.join(cleaned_name(base, suffix))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a file name is a swap manifest or a cleaner's `.cleaned` output.
pub(crate) fn is_swap_file(name: &str) -> bool {
    name.ends_with(&format!(".{MANIFEST_SUFFIX}")) || name.ends_with(&format!(".{CLEANED_SUFFIX}"))
}

/// Finishes every committed swap in `dir` and deletes uncommitted cleaner output.
/// Runs before the segments are listed at open. Returns how many swaps it finished.
pub(crate) fn recover(dir: &Path) -> io::Result<usize> {
    let mut manifests = Vec::new();
    let mut orphans = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(&format!(".{MANIFEST_SUFFIX}")) {
            manifests.push(entry.path());
        } else if name.ends_with(&format!(".{CLEANED_SUFFIX}")) {
            orphans.push(entry.path());
        }
    }
    manifests.sort();
    for path in &manifests {
        let text = fs::read_to_string(path)?;
        // Written atomically, so a manifest that does not parse was damaged on disk:
        // refuse to guess which segments are current.
        let manifest = SwapManifest::decode(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unreadable cleaner swap manifest {}", path.display()),
            )
        })?;
        tracing::warn!(dir = %dir.display(), base = manifest.new_base, "finishing an interrupted cleaner swap");
        execute(dir, &steps(dir, &manifest, false))?;
    }
    for path in orphans.iter().filter(|p| p.exists()) {
        tracing::info!(file = %path.display(), "removing output of an unfinished cleaning");
        fs::remove_file(path)?;
    }
    Ok(manifests.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_rejects_garbage() {
        let m = SwapManifest {
            new_base: 10,
            old_bases: vec![10, 20, 35],
        };
        assert_eq!(SwapManifest::decode(&m.encode()), Some(m));
        assert_eq!(SwapManifest::decode("1\n10\n20 30\n"), None);
        assert_eq!(SwapManifest::decode("2\n10\n10\n"), None);
        assert_eq!(SwapManifest::decode(""), None);
    }

    #[test]
    fn finished_steps_remove_old_files_and_rename_the_log_last() {
        let dir = Path::new("/d");
        let m = SwapManifest {
            new_base: 0,
            old_bases: vec![0, 7],
        };
        let s = steps(dir, &m, true);
        assert!(matches!(s[0], SwapStep::WriteManifest(..)));
        let renames: Vec<&PathBuf> = s
            .iter()
            .filter_map(|st| match st {
                SwapStep::Rename { to, .. } => Some(to),
                _ => None,
            })
            .collect();
        assert_eq!(renames.len(), 4);
        assert!(renames[3].ends_with(file_name(0, "log")));
        assert!(s.contains(&SwapStep::Remove(dir.join(file_name(7, "log")))));
        assert_eq!(
            s.last(),
            Some(&SwapStep::Remove(dir.join(file_name(0, MANIFEST_SUFFIX))))
        );
    }
}
