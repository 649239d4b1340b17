//! A partition's small state files, written through [`crate::durable`] and read
//! strictly: a file that exists but does not parse stops the open with its name.

use std::path::Path;

use crate::durable::{self, StateFileError};

pub(crate) use durable::{read_optional, write_atomic};

/// Reads a file holding one decimal offset; None when missing.
pub(crate) fn read_offset(path: &Path) -> Result<Option<i64>, StateFileError> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| StateFileError::corrupt(path, format!("expected one offset, found {text:?}")))
}

/// Writes one decimal offset atomically.
pub(crate) fn write_offset(path: &Path, offset: i64) -> std::io::Result<()> {
    write_atomic(path, format!("{offset}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_round_trip_missing_and_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        assert_eq!(read_offset(&p).unwrap(), None);
        write_offset(&p, 42).unwrap();
        assert_eq!(read_offset(&p).unwrap(), Some(42));
        std::fs::write(&p, "garbage").unwrap();
        let err = read_offset(&p).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
