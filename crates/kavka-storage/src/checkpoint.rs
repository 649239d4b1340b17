//! Small state files written crash-safely: a temp file, fsync, then rename over.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Atomically replaces `path` with `data`: after a crash the old or the new content
/// is there, never a torn mix.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    {
        let mut file = fs::File::create(tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
    }
    fs::rename(tmp, path)
}

/// Reads a checkpoint file; None when it does not exist.
pub(crate) fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a file holding one decimal offset; None when missing or unparsable
/// (a bad checkpoint costs recovery work, never correctness).
pub(crate) fn read_offset(path: &Path) -> io::Result<Option<i64>> {
    Ok(read_optional(path)?.and_then(|s| s.trim().parse().ok()))
}

/// Writes one decimal offset atomically.
pub(crate) fn write_offset(path: &Path, offset: i64) -> io::Result<()> {
    write_atomic(path, format!("{offset}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_round_trip_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        assert_eq!(read_offset(&p).unwrap(), None);
        write_offset(&p, 42).unwrap();
        assert_eq!(read_offset(&p).unwrap(), Some(42));
        fs::write(&p, "garbage").unwrap();
        assert_eq!(read_offset(&p).unwrap(), None);
    }
}
