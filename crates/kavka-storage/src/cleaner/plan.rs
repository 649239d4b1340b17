//! Pure cleaning decisions, no I/O: which part of a log is cleanable and how dirty
//! it is, which records and batches survive, and how cleaned segments are grouped.

use std::collections::HashMap;

use super::offset_map::OffsetMap;
use super::records::{delete_horizon, is_control, CleanRecord};
use crate::batch::BatchHeader;
use crate::segment::MAX_RELATIVE_OFFSET;

/// What the planner needs to know of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentInfo {
    pub(crate) base_offset: i64,
    /// Offset after its last batch.
    pub(crate) next_offset: i64,
    pub(crate) size: u64,
    /// Largest batch max timestamp, -1 when none.
    pub(crate) max_timestamp: i64,
    /// Max timestamp of its first batch, -1 when unknown (for `max.compaction.lag.ms`).
    pub(crate) first_batch_timestamp: i64,
}

/// The cleanable part of a log: `[first_dirty, first_uncleanable)` has not been
/// cleaned yet and may be; everything before `first_dirty` was cleaned before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanableRange {
    pub first_dirty: i64,
    pub first_uncleanable: i64,
    /// Bytes of segments wholly before `first_dirty`.
    pub clean_bytes: u64,
    /// Bytes of segments in the dirty range.
    pub dirty_bytes: u64,
    /// `max.compaction.lag.ms` has passed for the oldest dirty record.
    pub overdue: bool,
}

impl CleanableRange {
    /// dirty / (clean + dirty), 0 when there is nothing.
    pub fn dirty_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.dirty_bytes;
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes as f64 / total as f64
        }
    }
}

/// Settings the range computation reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RangeSettings {
    pub(crate) now_ms: i64,
    pub(crate) min_compaction_lag_ms: i64,
    pub(crate) max_compaction_lag_ms: i64,
}

/// Where cleaning may start and must stop. `segments` is the whole log, the active
/// segment last; the active segment and anything at or past `high_watermark` are
/// never cleanable, nor a segment holding records younger than
/// `min.compaction.lag.ms`. `checkpoint` is the persisted first dirty offset; one
/// outside the log (lost, or retention and truncation moved past it) restarts at
/// the log start.
pub(crate) fn cleanable_range(
    segments: &[SegmentInfo],
    log_start: i64,
    high_watermark: i64,
    checkpoint: Option<i64>,
    settings: RangeSettings,
) -> CleanableRange {
    let log_end = segments.last().map_or(log_start, |s| s.next_offset);
    let first_dirty = checkpoint
        .filter(|&c| c >= log_start && c <= log_end)
        .unwrap_or(log_start);
    let active_base = segments.last().map_or(log_start, |s| s.base_offset);
    let mut first_uncleanable = active_base.min(high_watermark);
    let lag_horizon = settings
        .now_ms
        .saturating_sub(settings.min_compaction_lag_ms);
    if settings.min_compaction_lag_ms > 0 {
        if let Some(young) = segments.iter().find(|s| {
            s.next_offset > first_dirty && (s.max_timestamp < 0 || s.max_timestamp > lag_horizon)
        }) {
            first_uncleanable = first_uncleanable.min(young.base_offset);
        }
    }
    // A segment straddling the high watermark is not wholly committed.
    if let Some(straddling) = segments
        .iter()
        .find(|s| s.base_offset < first_uncleanable && s.next_offset > first_uncleanable)
    {
        first_uncleanable = straddling.base_offset;
    }
    let first_uncleanable = first_uncleanable.max(first_dirty);
    let mut clean_bytes = 0;
    let mut dirty_bytes = 0;
    let mut overdue = false;
    let overdue_horizon = settings
        .now_ms
        .saturating_sub(settings.max_compaction_lag_ms);
    for s in &segments[..segments.len().saturating_sub(1)] {
        if s.next_offset <= first_dirty {
            clean_bytes += s.size;
        } else if s.base_offset < first_uncleanable {
            dirty_bytes += s.size;
            if settings.max_compaction_lag_ms != i64::MAX
                && s.first_batch_timestamp >= 0
                && s.first_batch_timestamp < overdue_horizon
            {
                overdue = true;
            }
        }
    }
    CleanableRange {
        first_dirty,
        first_uncleanable,
        clean_bytes,
        dirty_bytes,
        overdue,
    }
}

/// Whether the cleaner should pick this log now: dirtier than
/// `min.cleanable.dirty.ratio` (strictly, as Kafka compares) or overdue.
pub(crate) fn needs_cleaning(range: &CleanableRange, min_cleanable_dirty_ratio: f64) -> bool {
    range.first_dirty < range.first_uncleanable
        && range.dirty_bytes > 0
        && (range.overdue || range.dirty_ratio() > min_cleanable_dirty_ratio)
}

/// Consecutive segments cleaned into one: at most `max_bytes` together (Kafka's
/// `segment.bytes`) and an offset span an index can address. Returns index ranges
/// into `segments`; a segment larger than `max_bytes` is a group of its own.
pub(crate) fn group_segments(
    segments: &[SegmentInfo],
    max_bytes: u64,
) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < segments.len() {
        let mut end = start + 1;
        let mut bytes = segments[start].size;
        while end < segments.len() {
            let next = &segments[end];
            let span = next.next_offset - 1 - segments[start].base_offset;
            if bytes + next.size > max_bytes || span > MAX_RELATIVE_OFFSET {
                break;
            }
            bytes += next.size;
            end += 1;
        }
        groups.push(start..end);
        start = end;
    }
    groups
}

/// Everything the record filter consults.
#[derive(Debug)]
pub(crate) struct FilterContext<'a> {
    pub(crate) map: &'a OffsetMap,
    pub(crate) now_ms: i64,
    pub(crate) delete_retention_ms: i64,
    /// Producer id → last offset of its latest batch: that batch is kept, if only
    /// as an empty shell, so the producer's sequence survives.
    pub(crate) producer_last_offsets: &'a HashMap<i64, i64>,
    /// The first uncleanable offset: the batch ending right before it is kept, if
    /// only as an empty shell, so the log end of the cleaned range is not lost.
    pub(crate) round_end: i64,
}

/// What becomes of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BatchOutcome {
    /// Written unchanged.
    Original,
    /// Rewritten with only these records (indexes into the batch's records).
    Rewrite {
        keep: Vec<usize>,
        delete_horizon: Option<i64>,
    },
    /// All records go but the batch header stays.
    Empty,
    /// Removed entirely.
    Drop,
}

/// Whether one record of a data batch survives: the latest of its key (or past what
/// the map covers), and not a tombstone whose delete horizon has passed. Records
/// without a key cannot be compacted and are dropped, as Kafka does.
fn retain_record(header: &BatchHeader, record: &CleanRecord, ctx: &FilterContext<'_>) -> bool {
    if record.offset > ctx.map.latest_offset() {
        return true;
    }
    let Some(key) = &record.key else {
        return false;
    };
    let latest = ctx.map.get(key).is_none_or(|o| record.offset >= o);
    let horizon_passed = delete_horizon(header).is_some_and(|h| h <= ctx.now_ms);
    latest && !(record.is_tombstone && horizon_passed)
}

/// Decides one batch. Control batches are never touched: without transactions there
/// is nothing to tell an obsolete marker from a needed one. `records` are the
/// decoded records of a data batch (ignored for control batches).
pub(crate) fn filter_batch(
    header: &BatchHeader,
    records: &[CleanRecord],
    ctx: &FilterContext<'_>,
) -> BatchOutcome {
    if is_control(header) {
        return BatchOutcome::Original;
    }
    let keep: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| retain_record(header, r, ctx))
        .map(|(i, _)| i)
        .collect();
    if keep.is_empty() {
        let producers_last = header.producer_id >= 0
            && ctx.producer_last_offsets.get(&header.producer_id) == Some(&header.last_offset());
        let ends_round = header.last_offset() + 1 == ctx.round_end;
        return if producers_last || ends_round {
            BatchOutcome::Empty
        } else {
            BatchOutcome::Drop
        };
    }
    let has_tombstone = keep.iter().any(|&i| records[i].is_tombstone);
    let existing = delete_horizon(header);
    // A tombstone's clock starts at its first cleaning (KIP-534).
    let needs_horizon = has_tombstone && existing.is_none();
    if keep.len() == records.len() && !needs_horizon {
        return BatchOutcome::Original;
    }
    let delete_horizon = if needs_horizon {
        Some(ctx.now_ms.saturating_add(ctx.delete_retention_ms))
    } else {
        existing
    };
    BatchOutcome::Rewrite {
        keep,
        delete_horizon,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(base: i64, next: i64, size: u64, max_ts: i64) -> SegmentInfo {
        SegmentInfo {
            base_offset: base,
            next_offset: next,
            size,
            max_timestamp: max_ts,
            first_batch_timestamp: max_ts,
        }
    }

    const SETTINGS: RangeSettings = RangeSettings {
        now_ms: 10_000,
        min_compaction_lag_ms: 0,
        max_compaction_lag_ms: i64::MAX,
    };

    #[test]
    fn range_never_includes_the_active_segment() {
        let segs = [seg(0, 10, 100, 1), seg(10, 20, 100, 2), seg(20, 25, 50, 3)];
        let r = cleanable_range(&segs, 0, 25, None, SETTINGS);
        assert_eq!((r.first_dirty, r.first_uncleanable), (0, 20));
        assert_eq!((r.clean_bytes, r.dirty_bytes), (0, 200));
        assert_eq!(r.dirty_ratio(), 1.0);
        let r = cleanable_range(&segs, 0, 25, Some(10), SETTINGS);
        assert_eq!(
            (r.first_dirty, r.clean_bytes, r.dirty_bytes),
            (10, 100, 100)
        );
        // Strictly above the ratio, as Kafka compares.
        assert!(needs_cleaning(&r, 0.49));
        assert!(!needs_cleaning(&r, 0.5));
        // A checkpoint past the log end (the log was truncated) starts over.
        let r = cleanable_range(&segs, 0, 25, Some(99), SETTINGS);
        assert_eq!(r.first_dirty, 0);
    }

    #[test]
    fn min_lag_and_high_watermark_stop_the_range() {
        let segs = [
            seg(0, 10, 100, 1),
            seg(10, 20, 100, 9_990),
            seg(20, 25, 50, 3),
        ];
        let lagged = RangeSettings {
            min_compaction_lag_ms: 100,
            ..SETTINGS
        };
        let r = cleanable_range(&segs, 0, 25, None, lagged);
        assert_eq!(r.first_uncleanable, 10);
        let r = cleanable_range(&segs, 0, 15, None, SETTINGS);
        assert_eq!(r.first_uncleanable, 10);
    }

    #[test]
    fn max_lag_makes_a_barely_dirty_log_overdue() {
        let segs = [seg(0, 10, 1000, 1), seg(10, 20, 1, 2), seg(20, 25, 50, 3)];
        let r = cleanable_range(&segs, 0, 25, Some(10), SETTINGS);
        assert!(!needs_cleaning(&r, 0.5));
        let forced = RangeSettings {
            max_compaction_lag_ms: 1000,
            ..SETTINGS
        };
        let r = cleanable_range(&segs, 0, 25, Some(10), forced);
        assert!(r.overdue && needs_cleaning(&r, 0.5));
    }

    #[test]
    fn groups_respect_size_and_offset_span() {
        let segs = [
            seg(0, 10, 40, 1),
            seg(10, 20, 40, 1),
            seg(20, 30, 40, 1),
            seg(30, 40, 200, 1),
        ];
        assert_eq!(group_segments(&segs, 100), vec![0..2, 2..3, 3..4]);
        let wide = [seg(0, 10, 1, 1), seg(10, i64::from(i32::MAX) + 5, 1, 1)];
        assert_eq!(group_segments(&wide, 100), vec![0..1, 1..2]);
    }

    mod properties {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::super::*;

        /// One produced batch: (key id, value or tombstone) per record.
        type History = Vec<Vec<(u8, Option<u8>)>>;

        fn header(base: i64, count: usize, attributes: i16, base_ts: i64) -> BatchHeader {
            BatchHeader {
                base_offset: base,
                batch_length: 100,
                partition_leader_epoch: 0,
                magic: 2,
                crc: 0,
                attributes,
                last_offset_delta: count as i32 - 1,
                base_timestamp: base_ts,
                max_timestamp: base_ts,
                producer_id: -1,
                producer_epoch: -1,
                base_sequence: -1,
                record_count: count as i32,
            }
        }

        fn build(history: &History) -> Vec<(BatchHeader, Vec<CleanRecord>)> {
            let mut offset = 0i64;
            history
                .iter()
                .map(|batch| {
                    let h = header(offset, batch.len(), 0, 1_000);
                    let records = batch
                        .iter()
                        .map(|(k, v)| {
                            let key = [b'k', *k];
                            let value = v.map(|v| [v]);
                            let r = CleanRecord::new(
                                offset,
                                1_000,
                                Some(&key),
                                value.as_ref().map(|v| &v[..]),
                            );
                            offset += 1;
                            r
                        })
                        .collect();
                    (h, records)
                })
                .collect()
        }

        /// One cleaning pass over every batch, as the I/O layer does it; returns the
        /// surviving batches with their surviving records.
        fn pass(
            batches: &[(BatchHeader, Vec<CleanRecord>)],
            now_ms: i64,
            round_end: i64,
        ) -> Vec<(BatchHeader, Vec<CleanRecord>)> {
            let mut map = OffsetMap::new(usize::MAX);
            for (_, records) in batches {
                for r in records {
                    assert!(map.put(r.key.as_deref().unwrap_or_default(), r.offset));
                }
            }
            let producers = HashMap::new();
            let ctx = FilterContext {
                map: &map,
                now_ms,
                delete_retention_ms: 100,
                producer_last_offsets: &producers,
                round_end,
            };
            let mut out = Vec::new();
            for (h, records) in batches {
                match filter_batch(h, records, &ctx) {
                    BatchOutcome::Original => out.push((*h, records.clone())),
                    BatchOutcome::Rewrite {
                        keep,
                        delete_horizon,
                    } => {
                        let kept: Vec<CleanRecord> =
                            keep.iter().map(|&i| records[i].clone()).collect();
                        let mut nh = *h;
                        nh.record_count = kept.len() as i32;
                        if let Some(horizon) = delete_horizon {
                            nh.attributes |= super::super::super::records::DELETE_HORIZON_FLAG;
                            nh.base_timestamp = horizon;
                        }
                        out.push((nh, kept));
                    }
                    BatchOutcome::Empty => {
                        let mut nh = *h;
                        nh.record_count = 0;
                        out.push((nh, Vec::new()));
                    }
                    BatchOutcome::Drop => {}
                }
            }
            out
        }

        fn latest(history: &History) -> BTreeMap<Vec<u8>, (i64, bool)> {
            let mut latest = BTreeMap::new();
            for (offset, (k, v)) in history.iter().flatten().enumerate() {
                latest.insert(vec![b'k', *k], (offset as i64, v.is_none()));
            }
            latest
        }

        fn records(batches: &[(BatchHeader, Vec<CleanRecord>)]) -> Vec<(i64, Vec<u8>, bool)> {
            batches
                .iter()
                .flat_map(|(_, rs)| rs.iter())
                .map(|r| {
                    (
                        r.offset,
                        r.key.as_deref().unwrap_or_default().to_vec(),
                        r.is_tombstone,
                    )
                })
                .collect()
        }

        fn history() -> impl Strategy<Value = History> {
            prop::collection::vec(
                prop::collection::vec((0u8..6, prop::option::weighted(0.8, any::<u8>())), 1..5),
                1..30,
            )
        }

        proptest! {
            #[test]
            fn cleaned_log_is_the_latest_record_per_key_at_its_offset(history in history()) {
                let batches = build(&history);
                let end = batches.last().map_or(0, |(h, _)| h.last_offset() + 1);
                let now = 10_000;
                let once = pass(&batches, now, end);
                let kept = records(&once);
                // Offsets strictly increase, batch by batch and record by record.
                prop_assert!(kept.windows(2).all(|w| w[0].0 < w[1].0));
                prop_assert!(once.windows(2).all(|w| w[0].0.last_offset() < w[1].0.base_offset));
                // Exactly the latest record of every key, tombstones included (their
                // horizon starts now), each at its original offset.
                let expected: Vec<(i64, Vec<u8>, bool)> = {
                    let mut v: Vec<_> = latest(&history).into_iter().map(|(k, (o, t))| (o, k, t)).collect();
                    v.sort();
                    v
                };
                prop_assert_eq!(&kept, &expected);
                // Every batch holding a tombstone now carries a delete horizon.
                for (h, rs) in &once {
                    if rs.iter().any(|r| r.is_tombstone) {
                        prop_assert_eq!(super::super::super::records::delete_horizon(h), Some(now + 100));
                    }
                }
                // The last batch of the round survives, if only empty.
                prop_assert_eq!(once.last().map(|(h, _)| h.last_offset() + 1), Some(end));

                // Cleaning again before the horizon changes nothing.
                let again = pass(&once, now + 99, end);
                prop_assert_eq!(records(&again), kept.clone());
                // After the horizon the tombstones go, the values stay.
                let later = pass(&once, now + 100, end);
                let values: Vec<_> = expected.iter().filter(|r| !r.2).cloned().collect();
                prop_assert_eq!(records(&later), values);
            }
        }
    }
}
