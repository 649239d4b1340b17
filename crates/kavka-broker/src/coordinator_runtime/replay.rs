//! Rebuilding a coordinator's state from its partition's log.

use kafka_protocol::records::RecordBatchDecoder;

use super::log::CoordinatorLog;
use super::shard::CoordinatorShard;
use crate::partition::PartitionError;

/// Replays one partition into `loader`, from its log start to its log end (not
/// only the high watermark: as in Kafka's loader, a new leader's log is the
/// truth its followers converge to). Returns how many records meant something.
pub(crate) fn replay<S: CoordinatorShard>(
    log: &impl CoordinatorLog,
    partition: i32,
    loader: &mut S::Loader,
    now_ms: i64,
) -> Result<usize, PartitionError> {
    let mut records = 0;
    let mut offset = log.log_start_offset();
    loop {
        let mut buf = log.read(offset, 1 << 20)?;
        if buf.is_empty() {
            break;
        }
        let mut next = offset;
        while !buf.is_empty() {
            // The batch's last offset, not its last record's: compaction leaves
            // batches whose last records (or all records) are gone.
            if let Ok(header) = kavka_storage::BatchHeader::parse(&buf) {
                next = next.max(header.last_offset().saturating_add(1));
            }
            let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
                break;
            };
            for r in set.records {
                next = next.max(r.offset + 1);
                if r.offset < offset {
                    continue;
                }
                if S::replay(loader, partition, &r, now_ms) {
                    records += 1;
                }
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok(records)
}
