//! Producer ids for idempotent producers. Ids are handed out from blocks whose
//! upper bound is persisted before use, so a restart never reuses an id.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

const BLOCK: i64 = 1000;

/// Allocates unique producer ids across restarts.
#[derive(Debug)]
pub struct ProducerIdManager {
    path: PathBuf,
    state: Mutex<(i64, i64)>,
}

impl ProducerIdManager {
    /// Loads the persisted high mark from `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join("producer-id-block");
        let reserved = match std::fs::read_to_string(&path) {
            Ok(s) => s.trim().parse::<i64>().unwrap_or(0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
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
            let tmp = self.path.with_extension("tmp");
            std::fs::write(&tmp, new_reserved.to_string())?;
            std::fs::rename(&tmp, &self.path)?;
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
}
