//! A Jepsen-style checker for Kafka's queue workload, as a pure function from a
//! [`History`] to a [`Report`]. It never talks to a broker, so every property is
//! tested on hand-made histories (`tests.rs`).
//!
//! Properties (each violation is an [`Anomaly`]):
//! - every acknowledged record appears in the final read at its acknowledged offset
//!   (`Lost`, `WrongRecordAtOffset`);
//! - no offset holds two different records, and no two sends were acknowledged at
//!   one offset (`OffsetConflict`, `DoubleAck`);
//! - nothing is read that was never sent or whose send definitely failed
//!   (`Unexpected`, `FailedWriteVisible`);
//! - an idempotent producer's record is in the log at most once (`Duplicate`);
//! - per key within a partition: a record acknowledged before another was sent
//!   comes first, and with an idempotent producer records land in send order
//!   (`KeyOrder`);
//! - committed offsets of a group never go backwards (`CommitRegressed`);
//! - replicas hold byte-identical batches below the high watermark
//!   (`ReplicaDivergence`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::history::{History, NodeId, Offset, Partition, SendOp, SendOutcome};

mod anomaly;
mod order;
mod replicas;
#[cfg(test)]
mod tests;

pub use anomaly::Anomaly;

/// Counts that tell how much the run exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub sends: usize,
    pub acked: usize,
    pub failed: usize,
    pub indeterminate: usize,
    /// Indeterminate sends that turned out to be in the log.
    pub indeterminate_read: usize,
    pub read: usize,
    pub commits: usize,
    pub replicas: usize,
    /// Batches across all replica dumps.
    pub replica_batches: usize,
}

/// The checker's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub anomalies: Vec<Anomaly>,
    pub stats: Stats,
}

impl Report {
    /// No anomaly found.
    pub fn is_valid(&self) -> bool {
        self.anomalies.is_empty()
    }
}

/// How many anomalies of one kind the report prints before summarising.
const SHOWN_PER_KIND: usize = 20;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "{} sends: {} acked, {} failed, {} indeterminate ({} of them read); \
             {} records read; {} commit observations; {} replica dumps ({} batches)",
            s.sends,
            s.acked,
            s.failed,
            s.indeterminate,
            s.indeterminate_read,
            s.read,
            s.commits,
            s.replicas,
            s.replica_batches
        )?;
        if self.anomalies.is_empty() {
            return writeln!(f, "valid: no anomalies");
        }
        writeln!(f, "INVALID: {} anomalies", self.anomalies.len())?;
        let mut shown: BTreeMap<&'static str, usize> = BTreeMap::new();
        for a in &self.anomalies {
            let n = shown.entry(a.kind()).or_default();
            *n += 1;
            if *n <= SHOWN_PER_KIND {
                writeln!(f, "  {a}")?;
            }
        }
        for (kind, n) in shown {
            if n > SHOWN_PER_KIND {
                writeln!(f, "  ... and {} more {kind}", n - SHOWN_PER_KIND)?;
            }
        }
        Ok(())
    }
}

/// Checks every property on `history`.
pub fn check(history: &History) -> Report {
    let resolved = resolve_unknown_offsets(history);
    let history = &resolved;
    let mut anomalies = Vec::new();
    let by_value: HashMap<&[u8], &SendOp> = history
        .sends
        .iter()
        .map(|s| (s.value.as_slice(), s))
        .collect();
    let reads = reads_by_place(history);
    check_offsets(&reads, &mut anomalies);
    check_acked(history, &reads, &mut anomalies);
    let indeterminate_read = check_reads(history, &by_value, &mut anomalies);
    order::check_key_order(history, &mut anomalies);
    check_commits(history, &mut anomalies);
    replicas::check_replicas(history, &mut anomalies);
    let count =
        |f: fn(&SendOutcome) -> bool| history.sends.iter().filter(|s| f(&s.outcome)).count();
    Report {
        anomalies,
        stats: Stats {
            sends: history.sends.len(),
            acked: count(|o| matches!(o, SendOutcome::Acked { .. })),
            failed: count(|o| matches!(o, SendOutcome::Failed)),
            indeterminate: count(|o| matches!(o, SendOutcome::Indeterminate)),
            indeterminate_read,
            read: history.final_read.len(),
            commits: history.commits.len(),
            replicas: history.replicas.len(),
            replica_batches: history.replicas.iter().map(|r| r.batches.len()).sum(),
        },
    }
}

/// librdkafka acknowledges some records without their offset
/// (`RD_KAFKA_OFFSET_INVALID`, -1001): an idempotent retry whose first attempt
/// was written after all, which the client learns from the sequence numbers
/// rather than from the answer. Such a record counts as acknowledged at the
/// place in its partition where it was read, if it was read there exactly
/// once; if it was not, it keeps the unknown offset, is found nowhere, and is
/// reported lost.
fn resolve_unknown_offsets(history: &History) -> History {
    let mut places: HashMap<(Partition, &[u8]), Vec<Offset>> = HashMap::new();
    for r in &history.final_read {
        places
            .entry((r.partition, r.value.as_slice()))
            .or_default()
            .push(r.offset);
    }
    let mut out = history.clone();
    for s in &mut out.sends {
        if let SendOutcome::Acked { partition, offset } = s.outcome {
            if offset >= 0 {
                continue;
            }
            if let Some([only]) = places
                .get(&(partition, s.value.as_slice()))
                .map(Vec::as_slice)
            {
                s.outcome = SendOutcome::Acked {
                    partition,
                    offset: *only,
                };
            }
        }
    }
    out
}

type Place = (Partition, Offset);
/// A record as read: key and value.
type Rec<'a> = (Option<&'a [u8]>, &'a [u8]);
/// The distinct records read at each place.
type Reads<'a> = BTreeMap<Place, Vec<Rec<'a>>>;

/// The distinct (key, value) pairs read at each offset.
fn reads_by_place(history: &History) -> Reads<'_> {
    let mut out = Reads::new();
    for r in &history.final_read {
        let entry = out.entry((r.partition, r.offset)).or_default();
        let rec = (r.key.as_deref(), r.value.as_slice());
        if !entry.contains(&rec) {
            entry.push(rec);
        }
    }
    out
}

fn check_offsets(reads: &Reads<'_>, anomalies: &mut Vec<Anomaly>) {
    for (&(partition, offset), records) in reads {
        if records.len() > 1 {
            anomalies.push(Anomaly::OffsetConflict {
                partition,
                offset,
                values: records.iter().map(|(_, v)| show(v)).collect(),
            });
        }
    }
}

fn check_acked(history: &History, reads: &Reads<'_>, anomalies: &mut Vec<Anomaly>) {
    let mut acked_at: BTreeMap<Place, Vec<u64>> = BTreeMap::new();
    for s in &history.sends {
        let SendOutcome::Acked { partition, offset } = s.outcome else {
            continue;
        };
        acked_at.entry((partition, offset)).or_default().push(s.id);
        match reads.get(&(partition, offset)) {
            None => anomalies.push(Anomaly::Lost {
                id: s.id,
                partition,
                offset,
                value: show(&s.value),
                read_elsewhere: history
                    .final_read
                    .iter()
                    .filter(|r| r.value == s.value)
                    .map(|r| (r.partition, r.offset))
                    .collect(),
            }),
            Some(records) => {
                if let Some((_, found)) = records.iter().find(|(_, v)| *v != s.value.as_slice()) {
                    anomalies.push(Anomaly::WrongRecordAtOffset {
                        id: s.id,
                        partition,
                        offset,
                        expected: show(&s.value),
                        found: show(found),
                    });
                }
            }
        }
    }
    for ((partition, offset), ids) in acked_at {
        if ids.len() > 1 {
            anomalies.push(Anomaly::DoubleAck {
                partition,
                offset,
                ids,
            });
        }
    }
}

/// Reads of unknown or failed sends, and duplicates. Returns how many
/// indeterminate sends were found in the log.
fn check_reads(
    history: &History,
    by_value: &HashMap<&[u8], &SendOp>,
    anomalies: &mut Vec<Anomaly>,
) -> usize {
    let mut places: BTreeMap<u64, BTreeSet<Place>> = BTreeMap::new();
    for r in &history.final_read {
        match by_value.get(r.value.as_slice()) {
            None => anomalies.push(Anomaly::Unexpected {
                partition: r.partition,
                offset: r.offset,
                value: show(&r.value),
            }),
            Some(s) => {
                if s.outcome == SendOutcome::Failed {
                    anomalies.push(Anomaly::FailedWriteVisible {
                        id: s.id,
                        partition: r.partition,
                        offset: r.offset,
                    });
                }
                places
                    .entry(s.id)
                    .or_default()
                    .insert((r.partition, r.offset));
            }
        }
    }
    let mut indeterminate_read = 0;
    for s in &history.sends {
        let Some(found) = places.get(&s.id) else {
            continue;
        };
        if s.outcome == SendOutcome::Indeterminate {
            indeterminate_read += 1;
        }
        if history.idempotent && found.len() > 1 {
            anomalies.push(Anomaly::Duplicate {
                id: s.id,
                places: found.iter().copied().collect(),
            });
        }
    }
    indeterminate_read
}

fn check_commits(history: &History, anomalies: &mut Vec<Anomaly>) {
    let mut commits: Vec<_> = history.commits.iter().collect();
    commits.sort_by_key(|c| c.observed_at);
    let mut last: HashMap<(&str, Partition), (Offset, u64)> = HashMap::new();
    for c in commits {
        let key = (c.group.as_str(), c.partition);
        if let Some(&(before, before_at)) = last.get(&key) {
            if c.offset < before {
                anomalies.push(Anomaly::CommitRegressed {
                    group: c.group.clone(),
                    partition: c.partition,
                    from: before,
                    from_observed_at: before_at,
                    to: c.offset,
                    to_observed_at: c.observed_at,
                });
            }
        }
        // The highest seen so far is what a later observation must not go below.
        let entry = last.entry(key).or_insert((c.offset, c.observed_at));
        if c.offset >= entry.0 {
            *entry = (c.offset, c.observed_at);
        }
    }
}

/// A value as text if it is printable, else hex, cut to a readable length.
pub(crate) fn show(v: &[u8]) -> String {
    const MAX: usize = 40;
    let text = match std::str::from_utf8(v) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_string(),
        _ => v.iter().map(|b| format!("{b:02x}")).collect(),
    };
    if text.len() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// Node pairs as `a/b` for reports.
pub(crate) fn nodes(a: NodeId, b: NodeId) -> String {
    format!("{a}/{b}")
}
