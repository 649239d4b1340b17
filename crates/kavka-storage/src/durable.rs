//! Durable small files: the one way every state file in Kavka is written.
//!
//! A state file (checkpoint, marker, producer-id block, cluster identity) is replaced
//! by writing a temp file beside it, fsyncing it, renaming it over the old one and
//! fsyncing the directory, so that after a crash at any point the old or the new
//! content is there, never a torn mix, and a rename or removal that was reported done
//! is not undone by the crash.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Suffix of the temp file [`write_atomic`] writes before the rename; a leftover one
/// is the remains of an interrupted write and may be removed.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Atomically and durably replaces `path` with `data`.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_parent(path)
}

/// Replaces `path` with `data` by a rename, like [`write_atomic`] but without any
/// fsync: only for a caller that makes the whole file system durable afterwards
/// (a clean stop, `log_dir::mark_clean_shutdown`) and for a file whose loss in a
/// crash before that costs nothing but work (the producer snapshot, rebuilt from
/// the log when damaged).
pub fn write_replace_unsynced(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    fs::write(&tmp, data)?;
    fs::rename(&tmp, path)
}

/// Removes `path` (if present) and makes the removal durable.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `dir` and its missing parents, fsyncing each parent that gained an entry,
/// so a directory reported created survives a crash.
pub fn create_dir_all_durably(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all_durably(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => sync_parent(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// fsyncs the directory holding `path`, making renames, creations and removals
/// of its entries durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => sync_dir(Path::new(".")),
    }
}

/// fsyncs a directory.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(TEMP_SUFFIX);
    PathBuf::from(name)
}

/// Reads a state file; `None` when it does not exist. Any other failure is an error
/// naming the file, since a state file that cannot be read must stop the start
/// rather than be silently taken as absent.
pub fn read_optional(path: &Path) -> Result<Option<String>, StateFileError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| StateFileError::Corrupt {
                path: path.to_path_buf(),
                reason: "not valid UTF-8 text".to_string(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateFileError::Unreadable {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A state file that exists but cannot be trusted. Starting anyway would silently
/// reset what it records (producer ids, log start offsets, leader epochs), so the
/// caller refuses to start and names the file.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot read state file {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error(
        "state file {} is corrupt ({reason}); refusing to guess its content. \
         Restore it from a backup, or remove it only if you know what it held",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
}

impl StateFileError {
    /// A corrupt-file error for `path`.
    pub fn corrupt(path: &Path, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_whole_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn remove_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("marker");
        write_atomic(&path, b"").unwrap();
        remove_durably(&path).unwrap();
        remove_durably(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn creates_nested_directories() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("b").join("c");
        create_dir_all_durably(&nested).unwrap();
        assert!(nested.is_dir());
        create_dir_all_durably(&nested).unwrap();
    }

    #[test]
    fn missing_is_none_and_binary_garbage_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        assert!(read_optional(&path).unwrap().is_none());
        fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        let err = read_optional(&path).unwrap_err();
        assert!(err.to_string().contains(&path.display().to_string()));
    }
}
