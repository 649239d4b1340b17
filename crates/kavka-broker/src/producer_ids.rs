//! Producer ids for idempotent producers. Ids are handed out from blocks whose
//! upper bound is persisted before use, so a restart never reuses an id.

use std::path::{Path, PathBuf};

use kavka_storage::durable::{self, StateFileError};
use parking_lot::Mutex;

const BLOCK: i64 = 1000;

/// The file holding the first producer id not yet handed out by any earlier run.
pub(crate) const PRODUCER_ID_BLOCK_FILE: &str = "producer-id-block";

/// Allocates unique producer ids across restarts.
#[derive(Debug)]
pub struct ProducerIdManager {
    path: PathBuf,
    state: Mutex<(i64, i64)>,
}

impl ProducerIdManager {
    /// Loads the persisted high mark from `dir`. A file that exists but does not
    /// hold a non-negative id is an error: starting from 0 would hand out ids that
    /// producers already hold, and their batches would be taken as duplicates.
    pub fn open(dir: &Path) -> Result<Self, StateFileError> {
        let path = dir.join(PRODUCER_ID_BLOCK_FILE);
        let reserved = match durable::read_optional(&path)? {
            None => 0,
            Some(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|&n| n >= 0)
                .ok_or_else(|| {
                    StateFileError::corrupt(
                        &path,
                        format!("expected a producer id, found {text:?}"),
                    )
                })?,
        };
        Ok(Self {
            path,
            state: Mutex::new((reserved, reserved)),
        })
    }

    /// The next unused producer id.
    pub fn next(&self) -> std::io::Result<i64> {
        let mut state = self.state.lock();
        let (next, reserved) = *state;
        if next >= reserved {
            let new_reserved = next + BLOCK;
            durable::write_atomic(&self.path, new_reserved.to_string().as_bytes())?;
            state.1 = new_reserved;
        }
        state.0 = next + 1;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_not_reused_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProducerIdManager::open(dir.path()).unwrap();
        let first = a.next().unwrap();
        let second = a.next().unwrap();
        assert!(second > first);
        drop(a);
        let b = ProducerIdManager::open(dir.path()).unwrap();
        assert!(b.next().unwrap() > second);
    }

    #[test]
    fn corrupt_block_file_is_refused_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        for garbage in ["", "12x", "-5", "\u{0}\u{0}"] {
            std::fs::write(dir.path().join(PRODUCER_ID_BLOCK_FILE), garbage).unwrap();
            let err = ProducerIdManager::open(dir.path()).unwrap_err();
            assert!(err.to_string().contains(PRODUCER_ID_BLOCK_FILE), "{err}");
        }
    }
}
