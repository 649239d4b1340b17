//! Appending arbitrary bytes must return an error or append, never panic, and a
//! rejected append must leave the log unchanged.
#![no_main]

use bytes::Bytes;
use kavka_storage::{LogConfig, PartitionLog};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let Ok(mut log) = PartitionLog::open(dir.path(), LogConfig::default()) else {
        return;
    };
    let before = log.log_end_offset();
    match log.append(Bytes::copy_from_slice(data), 0, 1_700_000_000_000) {
        Ok(info) => {
            assert!(info.last_offset >= info.first_offset);
            assert!(log.read(before, usize::MAX, i64::MAX).is_ok());
        }
        Err(_) => assert_eq!(log.log_end_offset(), before),
    }
});
