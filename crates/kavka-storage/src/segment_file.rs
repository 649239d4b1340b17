//! A segment's `.log` file, opened on first use and closed when idle, so a broker
//! hosting many partitions holds descriptors only for the segments in use.
//!
//! Every open handle is counted process-wide (`open_segment_files`). A use keeps
//! its handle only while the count is below the budget the broker set
//! (`set_segment_file_budget`); past it a read or a write opens the file just for
//! itself (an fsync through any descriptor flushes the file's pages), so however
//! many partitions a broker hosts and writes at once, segment files never eat the
//! descriptors reserved for the metadata log, the coordinators' topics and
//! sockets.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

static OPEN_FILES: AtomicUsize = AtomicUsize::new(0);
static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Segment files held open across all partition logs of this process.
pub fn open_segment_files() -> usize {
    OPEN_FILES.load(Ordering::Relaxed)
}

/// How many segment files reads may keep open (writes always keep theirs).
pub fn set_segment_file_budget(files: usize) {
    BUDGET.store(files, Ordering::Relaxed);
}

/// An open file that is counted while it lives.
#[derive(Debug)]
struct Counted(File);

impl Counted {
    fn new(file: File) -> Self {
        OPEN_FILES.fetch_add(1, Ordering::Relaxed);
        Self(file)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The `.log` file of one segment, by path, with a handle kept while it is used.
#[derive(Debug)]
pub(crate) struct SegmentFile {
    path: PathBuf,
    handle: OnceLock<Counted>,
    /// Set by every access, cleared by `close_if_idle`: a file untouched between
    /// two sweeps is closed.
    used: AtomicBool,
}

impl SegmentFile {
    /// A file that exists at `path`, not opened yet.
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            handle: OnceLock::new(),
            used: AtomicBool::new(false),
        }
    }

    /// Creates (or empties) the file and keeps it open within the budget: a new
    /// segment is written next.
    pub(crate) fn create(path: PathBuf) -> io::Result<Self> {
        let file = open(&path, true)?;
        file.set_len(0)?;
        let this = Self::new(path);
        if within_budget() {
            let _ = this.handle.set(Counted::new(file));
        }
        this.used.store(true, Ordering::Relaxed);
        Ok(this)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the open file, opening it first if needed; the handle is kept
    /// only within the budget.
    fn with<T>(&self, f: impl FnOnce(&File) -> io::Result<T>) -> io::Result<T> {
        self.used.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.get() {
            return f(&h.0);
        }
        let file = open(&self.path, false)?;
        if !within_budget() {
            return f(&file);
        }
        // Two readers may race to open; the loser's handle is dropped (and uncounted).
        let _ = self.handle.set(Counted::new(file));
        match self.handle.get() {
            Some(h) => f(&h.0),
            None => Err(io::Error::other("segment file handle vanished")),
        }
    }

    pub(crate) fn read_exact_at(&self, buf: &mut [u8], position: u64) -> io::Result<()> {
        self.with(|f| f.read_exact_at(buf, position))
    }

    /// Appends at the end of the file.
    pub(crate) fn append(&self, data: &[u8]) -> io::Result<()> {
        self.with(|mut f| f.write_all(data))
    }

    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|f| f.set_len(len))
    }

    pub(crate) fn sync_data(&self) -> io::Result<()> {
        self.with(File::sync_data)
    }

    /// The file's length, from the file system (no descriptor needed).
    pub(crate) fn len(&self) -> io::Result<u64> {
        Ok(std::fs::metadata(&self.path)?.len())
    }

    /// True while the descriptor is open.
    pub(crate) fn is_open(&self) -> bool {
        self.handle.get().is_some()
    }

    /// Closes the handle now (it reopens on the next use).
    pub(crate) fn close(&mut self) {
        self.handle.take();
    }

    /// Closes the handle when nothing used it since the last call; true if closed.
    pub(crate) fn close_if_idle(&mut self) -> bool {
        if self.used.swap(false, Ordering::Relaxed) {
            return false;
        }
        self.handle.take().is_some()
    }
}

/// Whether one more handle may be kept open.
fn within_budget() -> bool {
    OPEN_FILES.load(Ordering::Relaxed) < BUDGET.load(Ordering::Relaxed)
}

fn open(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(create)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget is process-wide: tests that depend on it run one at a time.
    static BUDGET_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn a_file_opens_on_use_and_closes_after_an_idle_sweep() {
        let _one_at_a_time = BUDGET_TESTS.lock();
        let dir = tempfile::tempdir().unwrap();
        let mut file = SegmentFile::create(dir.path().join("a.log")).unwrap();
        file.append(b"hello").unwrap();
        assert!(file.is_open());
        // Used since the last sweep: kept.
        assert!(!file.close_if_idle());
        assert!(file.close_if_idle());
        assert!(!file.is_open());
        let mut buf = [0u8; 5];
        file.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"hello");
        assert!(file.is_open());
    }

    #[test]
    fn past_the_budget_reads_and_writes_leave_no_handle() {
        let _one_at_a_time = BUDGET_TESTS.lock();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.log");
        std::fs::write(&path, b"abc").unwrap();
        let file = SegmentFile::new(path);
        set_segment_file_budget(0);
        let mut buf = [0u8; 3];
        file.read_exact_at(&mut buf, 0).unwrap();
        let kept_after_read = file.is_open();
        file.append(b"d").unwrap();
        file.sync_data().unwrap();
        let kept_after_write = file.is_open();
        let created = SegmentFile::create(dir.path().join("c.log")).unwrap();
        created.append(b"e").unwrap();
        let kept_after_create = created.is_open();
        set_segment_file_budget(usize::MAX);
        assert_eq!(&buf, b"abc");
        assert!(!kept_after_read);
        assert!(!kept_after_write);
        assert!(!kept_after_create);
        assert_eq!(file.len().unwrap(), 4);
        assert_eq!(created.len().unwrap(), 1);
        // Within the budget again, the next use keeps its handle.
        file.append(b"f").unwrap();
        assert!(file.is_open());
    }
}
