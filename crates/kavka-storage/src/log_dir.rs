//! A log directory as a whole: Kafka's one clean-shutdown marker for every
//! partition in it.
//!
//! A clean stop closes every partition log (`PartitionLog::close_in_log_dir`, which
//! writes what is pending without an fsync per file), makes the whole file system
//! durable with one `syncfs`, and only then writes `<log.dirs>/.kafka_cleanshutdown`.
//! At start the marker is read and removed durably *before* any partition opens, so
//! a crash from then on (during the start or after it) counts as unclean and the
//! next start recovers every partition, exactly as without the marker.

use std::fs;
use std::io;
use std::path::Path;

use crate::durable;

/// Name of the marker, in the log directory itself (and, written by Kavka before it
/// kept one per log directory, in each partition directory: still honoured once).
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// How the log directory was last stopped, as read at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDirShutdown {
    /// Every log was flushed and closed: indexes and state files can be trusted.
    Clean,
    /// A crash, a kill, or a directory never closed: recover past recovery points.
    Unclean,
}

/// Reads whether `log_dir` was shut down cleanly and removes the marker durably, so
/// it cannot come back after a crash and vouch for files written from now on.
pub fn take_clean_shutdown_marker(log_dir: &Path) -> io::Result<LogDirShutdown> {
    let marker = log_dir.join(CLEAN_SHUTDOWN_FILE);
    match fs::remove_file(&marker) {
        Ok(()) => {
            durable::sync_dir(log_dir)?;
            Ok(LogDirShutdown::Clean)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(LogDirShutdown::Unclean),
        Err(e) => Err(e),
    }
}

/// Records a clean shutdown of `log_dir`: first everything written to its file
/// system is made durable (one `syncfs` instead of an fsync per file of every
/// partition), then the marker is written atomically. Call it only after every
/// partition log in the directory was closed with `close_in_log_dir` without error.
pub fn mark_clean_shutdown(log_dir: &Path) -> io::Result<()> {
    sync_file_system(log_dir)?;
    durable::write_atomic(&log_dir.join(CLEAN_SHUTDOWN_FILE), b"")
}

/// Flushes every dirty page and inode of the file system holding `dir`: one call
/// that makes many small writes durable together (a clean stop).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn sync_file_system(dir: &Path) -> io::Result<()> {
    let handle = fs::File::open(dir)?;
    rustix::fs::syncfs(&handle).map_err(io::Error::from)
}

/// Elsewhere `sync` (all file systems) is what is portable; POSIX lets it return
/// before the writes end, so an fsync of the directory follows as on Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn sync_file_system(dir: &Path) -> io::Result<()> {
    rustix::fs::sync();
    durable::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_counts_once() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            take_clean_shutdown_marker(dir.path()).unwrap(),
            LogDirShutdown::Unclean
        );
        mark_clean_shutdown(dir.path()).unwrap();
        assert!(dir.path().join(CLEAN_SHUTDOWN_FILE).exists());
        assert_eq!(
            take_clean_shutdown_marker(dir.path()).unwrap(),
            LogDirShutdown::Clean
        );
        assert_eq!(
            take_clean_shutdown_marker(dir.path()).unwrap(),
            LogDirShutdown::Unclean,
            "a start consumes the marker: a crash after it is unclean"
        );
    }
}
