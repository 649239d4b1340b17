//! Time-based log upkeep (rolls at `segment.ms`, flushes at `flush.ms`, closing
//! segment files nobody used for a while) for the partitions that have any due,
//! not for every hosted partition each second: a partition comes up when its log
//! was used since the last pass, when its next roll or flush deadline arrives, or,
//! at each idle-file sweep, while it holds an open file.

use std::collections::HashSet;

use crate::partition::Partition;
use crate::partition_timers::{DeadlineQueue, PartitionKey};
use crate::state::BrokerState;

/// The upkeep task's own state between passes.
#[derive(Debug, Default)]
pub(crate) struct LogUpkeep {
    /// When each log's next roll or flush may be due.
    due: DeadlineQueue<PartitionKey>,
    /// Logs that held an open segment file when last looked at.
    open_files: HashSet<PartitionKey>,
    /// The first pass looks at every log (those opened but not yet used).
    started: bool,
}

impl LogUpkeep {
    /// One pass at `now_ms`; with `sweep_files`, closes the segment files unused
    /// since the previous sweep.
    pub(crate) fn pass(&mut self, state: &BrokerState, now_ms: i64, sweep_files: bool) {
        let mut todo: HashSet<PartitionKey> = state
            .replicas
            .signals()
            .timers
            .take_log_touched()
            .into_iter()
            .collect();
        todo.extend(self.due.pop_due(now_ms));
        if !self.started {
            self.started = true;
            todo.extend(
                state
                    .replicas
                    .all()
                    .iter()
                    .map(|p| (p.topic.clone(), p.index)),
            );
        }
        for key in todo {
            match state.replicas.get(&key.0, key.1) {
                Some(p) => self.roll_and_flush(&p, key, now_ms),
                None => {
                    self.due.schedule(key.clone(), None);
                    self.open_files.remove(&key);
                }
            }
        }
        if sweep_files {
            self.open_files.retain(|(topic, index)| {
                let Some(p) = state.replicas.get(topic, *index) else {
                    return false;
                };
                p.log_for_upkeep(|log| {
                    log.close_idle_files();
                    Ok(log.has_open_files())
                })
                .unwrap_or(false)
            });
        }
    }

    /// Rolls and flushes what is due and schedules the log's next look.
    fn roll_and_flush(&mut self, p: &Partition, key: PartitionKey, now_ms: i64) {
        let result = p.log_for_upkeep(|log| {
            log.maybe_roll(now_ms)?;
            log.flush(false, now_ms)?;
            Ok((log.next_upkeep_ms(now_ms), log.has_open_files()))
        });
        match result {
            Ok((next, open)) => {
                if open {
                    self.open_files.insert(key.clone());
                }
                self.due.schedule(key, next);
            }
            Err(e) => {
                // A disk error: looked at again within a second, as before.
                tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "log upkeep skipped");
                self.due.schedule(key, Some(now_ms + 1_000));
            }
        }
    }
}
