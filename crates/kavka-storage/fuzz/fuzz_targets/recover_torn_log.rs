//! Arbitrary bytes as the only segment file, opened after a "crash": recovery must
//! keep only whole valid batches and leave a log that reads and appends.
#![no_main]

use kavka_storage::{LogConfig, PartitionLog};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    if std::fs::write(dir.path().join("00000000000000000000.log"), data).is_err() {
        return;
    }
    let Ok(log) = PartitionLog::open(dir.path(), LogConfig::default()) else {
        return;
    };
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let Ok(fetched) = log.read(offset, 1 << 20, i64::MAX) else {
            panic!("recovered log cannot serve offset {offset}");
        };
        let Ok(header) = kavka_storage::BatchHeader::parse(&fetched.records) else {
            panic!("recovered log served a bad batch at {offset}");
        };
        offset = header.last_offset() + 1;
    }
    assert!(log.size_bytes() <= data.len() as u64);
});
