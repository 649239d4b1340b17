//! Results: one [`Row`] per workload, printed as Markdown tables, saved as TSV so
//! that two runs (two brokers) can be compared as ratios.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::broker_stats::Usage;

/// What one workload measured; `failure` is set when it did not complete.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) workload: String,
    pub(crate) records_per_s: Option<f64>,
    pub(crate) mb_per_s: Option<f64>,
    pub(crate) broker_cpu_s: Option<f64>,
    pub(crate) client_cpu_s: Option<f64>,
    pub(crate) broker_peak_rss_mib: Option<f64>,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) p999_ms: Option<f64>,
    pub(crate) max_ms: Option<f64>,
    pub(crate) startup_ms: Option<f64>,
    pub(crate) failure: Option<String>,
    /// Each broker node's CPU seconds, when several PIDs were sampled.
    pub(crate) node_cpu_s: Vec<f64>,
    /// Each broker node's peak RSS in MiB, when several PIDs were sampled.
    pub(crate) node_rss_mib: Vec<f64>,
    /// Failover: from starting the kill command to the first acknowledgement
    /// of a record sent after it returned.
    pub(crate) failover_ms: Option<f64>,
    /// Failover: the longest time between two acknowledgements in the trial.
    pub(crate) max_gap_ms: Option<f64>,
    /// Failover: how long the kill command itself ran.
    pub(crate) kill_cmd_ms: Option<f64>,
    /// Failover: from starting the restart command to a full ISR again.
    pub(crate) recovery_ms: Option<f64>,
    /// Failover: records acknowledged over the whole run.
    pub(crate) acked: Option<f64>,
    /// Failover: acknowledged records not found when reading the log back.
    pub(crate) lost: Option<f64>,
    /// Idle connections: the broker's RSS growth per connection held open, KiB.
    pub(crate) kib_per_connection: Option<f64>,
}

impl Row {
    /// An empty row for a workload.
    pub(crate) fn new(workload: impl Into<String>) -> Self {
        Self {
            workload: workload.into(),
            ..Self::default()
        }
    }

    /// A row for a workload that failed.
    pub(crate) fn failed(workload: impl Into<String>, error: &anyhow::Error) -> Self {
        Self {
            failure: Some(format!("{error:#}")),
            ..Self::new(workload)
        }
    }

    /// Fills in throughput from a record count, byte count and elapsed seconds.
    pub(crate) fn with_throughput(mut self, records: u64, bytes: u64, seconds: f64) -> Self {
        if seconds > 0.0 {
            self.records_per_s = Some(records as f64 / seconds);
            self.mb_per_s = Some(bytes as f64 / seconds / 1e6);
        }
        self
    }

    /// Fills in CPU and memory figures.
    pub(crate) fn with_usage(mut self, usage: Usage) -> Self {
        self.client_cpu_s = Some(usage.client_cpu_s);
        self.broker_cpu_s = usage.broker_cpu_s;
        self.broker_peak_rss_mib = usage.broker_peak_rss_kib.map(|k| k as f64 / 1024.0);
        if usage.per_node.len() > 1 {
            self.node_cpu_s = usage.per_node.iter().map(|n| n.cpu_s).collect();
            self.node_rss_mib = usage
                .per_node
                .iter()
                .map(|n| n.peak_rss_kib as f64 / 1024.0)
                .collect();
        }
        self
    }

    fn cpu_ratio(&self) -> Option<f64> {
        match (self.broker_cpu_s, self.client_cpu_s) {
            (Some(b), Some(c)) if c > 0.0 => Some(b / c),
            _ => None,
        }
    }

    fn is_latency(&self) -> bool {
        self.p50_ms.is_some() || self.workload.starts_with("latency")
    }

    fn is_failover(&self) -> bool {
        self.failover_ms.is_some() || self.workload.starts_with("failover")
    }

    fn is_startup(&self) -> bool {
        self.startup_ms.is_some() || self.workload.starts_with("startup")
    }
}

/// Nearest-rank percentile (`p` in 0..=100) of an ascending slice.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    // The epsilon keeps float noise (99.9 * 1000 = 99900.000...01) off the next rank.
    let rank = ((p * sorted.len() as f64) / 100.0 - 1e-9).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn cell(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

/// Per-node figures as `a / b / c`.
fn per_node(values: &[f64], decimals: usize) -> String {
    if values.is_empty() {
        return "-".to_string();
    }
    values
        .iter()
        .map(|v| format!("{v:.decimals$}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn grouped(v: Option<f64>) -> String {
    let Some(v) = v else { return "-".to_string() };
    let digits = format!("{:.0}", v.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The Markdown tables for a set of rows (throughput, latency, startup,
/// failover). With several broker PIDs, the throughput and latency tables gain
/// per-node CPU and RSS columns (the main columns are then sums over the nodes).
pub(crate) fn markdown(rows: &[Row]) -> String {
    let mut out = String::new();
    let throughput: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            !r.is_latency() && !r.is_startup() && !r.is_failover() && r.kib_per_connection.is_none()
        })
        .collect();
    let latency: Vec<&Row> = rows.iter().filter(|r| r.is_latency()).collect();
    let startup: Vec<&Row> = rows.iter().filter(|r| r.is_startup()).collect();
    let connections: Vec<&Row> = rows
        .iter()
        .filter(|r| r.kib_per_connection.is_some())
        .collect();
    let failover: Vec<&Row> = rows.iter().filter(|r| r.is_failover()).collect();
    let nodes = rows.iter().any(|r| !r.node_cpu_s.is_empty());
    let (node_head, node_rule) = if nodes {
        (
            " broker CPU s per node | peak RSS MiB per node |",
            " ---: | ---: |",
        )
    } else {
        ("", "")
    };
    let node_cells = |r: &Row| {
        if nodes {
            format!(
                " {} | {} |",
                per_node(&r.node_cpu_s, 2),
                per_node(&r.node_rss_mib, 0)
            )
        } else {
            String::new()
        }
    };
    let failed_cells = if nodes { " | |" } else { "" };
    if !throughput.is_empty() {
        let _ = writeln!(out, "| workload | records/s | MB/s | broker CPU s | client CPU s | broker/client CPU | broker peak RSS MiB |{node_head}");
        let _ = writeln!(
            out,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |{node_rule}"
        );
        for r in throughput {
            let _ = match &r.failure {
                Some(e) => writeln!(
                    out,
                    "| {} | failed: {} | | | | | |{failed_cells}",
                    r.workload,
                    e.replace('|', "/")
                ),
                None => writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |{}",
                    r.workload,
                    grouped(r.records_per_s),
                    cell(r.mb_per_s, 1),
                    cell(r.broker_cpu_s, 2),
                    cell(r.client_cpu_s, 2),
                    cell(r.cpu_ratio(), 2),
                    cell(r.broker_peak_rss_mib, 0),
                    node_cells(r),
                ),
            };
        }
    }
    if !latency.is_empty() {
        let _ = writeln!(out, "\n| workload | p50 ms | p99 ms | p99.9 ms | max ms | broker CPU s | broker peak RSS MiB |{node_head}");
        let _ = writeln!(
            out,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |{node_rule}"
        );
        for r in latency {
            let _ = match &r.failure {
                Some(e) => writeln!(
                    out,
                    "| {} | failed: {} | | | | | |{failed_cells}",
                    r.workload,
                    e.replace('|', "/")
                ),
                None => writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |{}",
                    r.workload,
                    cell(r.p50_ms, 2),
                    cell(r.p99_ms, 2),
                    cell(r.p999_ms, 2),
                    cell(r.max_ms, 2),
                    cell(r.broker_cpu_s, 2),
                    cell(r.broker_peak_rss_mib, 0),
                    node_cells(r),
                ),
            };
        }
    }
    if !connections.is_empty() {
        out.push_str("\n| workload | broker RSS KiB per idle connection |\n| --- | ---: |\n");
        for r in connections {
            let _ = writeln!(
                out,
                "| {} | {} |",
                r.workload,
                cell(r.kib_per_connection, 1)
            );
        }
    }
    if !startup.is_empty() {
        out.push_str("\n| workload | ms to first Metadata response | broker peak RSS MiB then |\n| --- | ---: | ---: |\n");
        for r in startup {
            let _ = match &r.failure {
                Some(e) => writeln!(
                    out,
                    "| {} | failed: {} | |",
                    r.workload,
                    e.replace('|', "/")
                ),
                None => writeln!(
                    out,
                    "| {} | {} | {} |",
                    r.workload,
                    cell(r.startup_ms, 0),
                    cell(r.broker_peak_rss_mib, 0)
                ),
            };
        }
    }
    if !failover.is_empty() {
        out.push_str(
            "\n| workload | ms kill → first ack | longest ack gap ms | kill command ms | ms restart → full ISR | records acked | acked records lost |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for r in failover {
            let _ = match &r.failure {
                Some(e) => writeln!(
                    out,
                    "| {} | failed: {} | | | | | |",
                    r.workload,
                    e.replace('|', "/")
                ),
                None => writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    r.workload,
                    cell(r.failover_ms, 0),
                    cell(r.max_gap_ms, 0),
                    cell(r.kill_cmd_ms, 0),
                    cell(r.recovery_ms, 0),
                    grouped(r.acked),
                    cell(r.lost, 0),
                ),
            };
        }
    }
    out.trim_start_matches('\n').to_string()
}

const TSV_HEADER: &str =
    "workload\trecords_per_s\tmb_per_s\tbroker_cpu_s\tclient_cpu_s\tbroker_peak_rss_mib\tp50_ms\tp99_ms\tp999_ms\tmax_ms\tstartup_ms\tfailure\
     \tnode_cpu_s\tnode_rss_mib\tfailover_ms\tmax_gap_ms\tkill_cmd_ms\trecovery_ms\tacked\tlost\tkib_per_connection";
/// Fields of a row written before the cluster columns existed.
const OLD_FIELDS: usize = 12;
/// Fields of a row written before the connection column existed.
const CLUSTER_FIELDS: usize = 20;
const FIELDS: usize = 21;

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Per-node values as `a,b,c` (`-` for none).
fn list(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".to_string();
    }
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_list(s: &str) -> Vec<f64> {
    s.split(',').filter_map(|v| v.parse().ok()).collect()
}

/// Appends rows to a TSV file (writing the header if the file is new).
pub(crate) fn append_tsv(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    use std::io::Write;
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    if new {
        writeln!(f, "{TSV_HEADER}")?;
    }
    for r in rows {
        writeln!(f, "{}", tsv_line(r))?;
    }
    Ok(())
}

fn tsv_line(r: &Row) -> String {
    let failure = r
        .failure
        .as_deref()
        .unwrap_or("-")
        .replace(['\t', '\n'], " ");
    [
        r.workload.clone(),
        num(r.records_per_s),
        num(r.mb_per_s),
        num(r.broker_cpu_s),
        num(r.client_cpu_s),
        num(r.broker_peak_rss_mib),
        num(r.p50_ms),
        num(r.p99_ms),
        num(r.p999_ms),
        num(r.max_ms),
        num(r.startup_ms),
        failure,
        list(&r.node_cpu_s),
        list(&r.node_rss_mib),
        num(r.failover_ms),
        num(r.max_gap_ms),
        num(r.kill_cmd_ms),
        num(r.recovery_ms),
        num(r.acked),
        num(r.lost),
        num(r.kib_per_connection),
    ]
    .join("\t")
}

/// Reads rows written by [`append_tsv`] (also files from before the cluster columns).
pub(crate) fn read_tsv(path: &Path) -> anyhow::Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        rows.push(parse_line(line).with_context(|| format!("{}:{}", path.display(), n + 1))?);
    }
    Ok(rows)
}

fn parse_line(line: &str) -> anyhow::Result<Row> {
    let f: Vec<&str> = line.split('\t').collect();
    if ![FIELDS, CLUSTER_FIELDS, OLD_FIELDS].contains(&f.len()) {
        anyhow::bail!(
            "expected {FIELDS} (or {CLUSTER_FIELDS} or {OLD_FIELDS}) fields, found {}",
            f.len()
        );
    }
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok());
    let list = |i: usize| f.get(i).map(|s| parse_list(s)).unwrap_or_default();
    Ok(Row {
        workload: f[0].to_string(),
        records_per_s: num(1),
        mb_per_s: num(2),
        broker_cpu_s: num(3),
        client_cpu_s: num(4),
        broker_peak_rss_mib: num(5),
        p50_ms: num(6),
        p99_ms: num(7),
        p999_ms: num(8),
        max_ms: num(9),
        startup_ms: num(10),
        failure: (f[11] != "-").then(|| f[11].to_string()),
        node_cpu_s: list(12),
        node_rss_mib: list(13),
        failover_ms: num(14),
        max_gap_ms: num(15),
        kill_cmd_ms: num(16),
        recovery_ms: num(17),
        acked: num(18),
        lost: num(19),
        kib_per_connection: num(20),
    })
}

/// One row per workload: a workload measured in several rounds (the same name in
/// one file) is summarized by the median of each figure over its completed rounds,
/// so one round disturbed by the machine does not decide the ratio. Failover rows
/// are trials of their own and stay as they are.
pub(crate) fn median_per_workload(rows: Vec<Row>) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::new();
    let mut rounds: Vec<Vec<Row>> = Vec::new();
    for row in rows {
        if row.is_failover() {
            out.push(row);
            rounds.push(Vec::new());
            continue;
        }
        match out
            .iter()
            .position(|r| !r.is_failover() && r.workload == row.workload)
        {
            Some(i) => rounds[i].push(row),
            None => {
                out.push(row.clone());
                rounds.push(vec![row]);
            }
        }
    }
    for (row, rounds) in out.iter_mut().zip(rounds) {
        let done: Vec<&Row> = rounds.iter().filter(|r| r.failure.is_none()).collect();
        if rounds.len() < 2 || done.is_empty() {
            continue;
        }
        let median = |field: fn(&Row) -> Option<f64>| {
            let mut values: Vec<f64> = done.iter().filter_map(|r| field(r)).collect();
            values.sort_by(f64::total_cmp);
            match values.len() {
                0 => None,
                n if n % 2 == 1 => Some(values[n / 2]),
                n => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
            }
        };
        *row = Row {
            workload: row.workload.clone(),
            records_per_s: median(|r| r.records_per_s),
            mb_per_s: median(|r| r.mb_per_s),
            broker_cpu_s: median(|r| r.broker_cpu_s),
            client_cpu_s: median(|r| r.client_cpu_s),
            broker_peak_rss_mib: median(|r| r.broker_peak_rss_mib),
            p50_ms: median(|r| r.p50_ms),
            p99_ms: median(|r| r.p99_ms),
            p999_ms: median(|r| r.p999_ms),
            max_ms: median(|r| r.max_ms),
            startup_ms: median(|r| r.startup_ms),
            kib_per_connection: median(|r| r.kib_per_connection),
            ..done[0].clone()
        };
    }
    out
}

/// A ratio with at least two significant digits (0.0025, 0.046, 1.24).
fn significant(r: f64) -> String {
    match r {
        r if r < 0.01 => format!("{r:.4}"),
        r if r < 0.1 => format!("{r:.3}"),
        r => format!("{r:.2}"),
    }
}

/// A Markdown table of `a / b` for every figure both runs have.
pub(crate) fn ratio_table(a_name: &str, a: &[Row], b_name: &str, b: &[Row]) -> String {
    let mut out = format!(
        "| workload ({a_name} / {b_name}) | records/s | MB/s | broker CPU s | broker/client CPU | broker peak RSS | p50 | p99 | p99.9 | startup ms |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for ra in a.iter().filter(|r| !r.is_failover()) {
        let Some(rb) = b.iter().find(|r| r.workload == ra.workload) else {
            continue;
        };
        if ra.failure.is_some() || rb.failure.is_some() {
            let _ = writeln!(
                out,
                "| {} | n/a (a run failed) | | | | | | | | |",
                ra.workload
            );
            continue;
        }
        let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) if y > 0.0 => significant(x / y),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            ra.workload,
            ratio(ra.records_per_s, rb.records_per_s),
            ratio(ra.mb_per_s, rb.mb_per_s),
            ratio(ra.broker_cpu_s, rb.broker_cpu_s),
            ratio(ra.cpu_ratio(), rb.cpu_ratio()),
            ratio(ra.broker_peak_rss_mib, rb.broker_peak_rss_mib),
            ratio(ra.p50_ms, rb.p50_ms),
            ratio(ra.p99_ms, rb.p99_ms),
            ratio(ra.p999_ms, rb.p999_ms),
            ratio(ra.startup_ms, rb.startup_ms),
        );
    }
    let connections: Vec<(f64, f64, &str)> = a
        .iter()
        .filter_map(|ra| {
            let rb = b.iter().find(|rb| rb.workload == ra.workload)?;
            Some((
                ra.kib_per_connection?,
                rb.kib_per_connection?,
                ra.workload.as_str(),
            ))
        })
        .collect();
    if !connections.is_empty() {
        let _ = write!(
            out,
            "\n| workload ({a_name} / {b_name}) | RSS per idle connection |\n| --- | ---: |\n"
        );
        for (x, y, workload) in connections {
            let ratio = if y > 0.0 {
                significant(x / y)
            } else {
                String::new()
            };
            let _ = writeln!(out, "| {workload} | {ratio} |");
        }
    }
    let failover: Vec<(&Row, &Row)> = a
        .iter()
        .filter(|r| r.is_failover() && r.failure.is_none())
        .filter_map(|ra| {
            b.iter()
                .find(|rb| rb.workload == ra.workload && rb.failure.is_none())
                .map(|rb| (ra, rb))
        })
        .collect();
    if !failover.is_empty() {
        let _ = write!(
            out,
            "\n| workload ({a_name} / {b_name}) | ms kill → first ack | longest ack gap |\n\
             | --- | ---: | ---: |\n"
        );
        for (ra, rb) in failover {
            let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) if y > 0.0 => significant(x / y),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                ra.workload,
                ratio(ra.failover_ms, rb.failover_ms),
                ratio(ra.max_gap_ms, rb.max_gap_ms),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 50.0), Some(500));
        assert_eq!(percentile(&v, 99.0), Some(990));
        assert_eq!(percentile(&v, 99.9), Some(999));
        assert_eq!(percentile(&v, 100.0), Some(1000));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.9), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn a_cluster_row_survives_the_tsv_round_trip() {
        let row = Row {
            records_per_s: Some(1000.5),
            node_cpu_s: vec![0.5, 0.25, 0.125],
            node_rss_mib: vec![30.0, 31.0, 32.0],
            failover_ms: Some(812.0),
            max_gap_ms: Some(900.0),
            lost: Some(0.0),
            ..Row::new("failover median")
        };
        let back = parse_line(&tsv_line(&row)).unwrap();
        assert_eq!(back.workload, "failover median");
        assert_eq!(back.records_per_s, Some(1000.5));
        assert_eq!(back.node_cpu_s, row.node_cpu_s);
        assert_eq!(back.node_rss_mib, row.node_rss_mib);
        assert_eq!(back.failover_ms, Some(812.0));
        assert_eq!(back.max_gap_ms, Some(900.0));
        assert_eq!(back.lost, Some(0.0));
        assert_eq!(back.recovery_ms, None);
        assert!(back.failure.is_none());
    }

    #[test]
    fn the_connection_column_survives_the_tsv_round_trip() {
        let row = Row {
            kib_per_connection: Some(4.5),
            ..Row::new("idle connections 5000")
        };
        let back = parse_line(&tsv_line(&row)).unwrap();
        assert_eq!(back.kib_per_connection, Some(4.5));
        assert!(markdown(&[back]).contains("| idle connections 5000 | 4.5 |"));
    }

    #[test]
    fn a_row_from_before_the_cluster_columns_still_reads() {
        let old = "produce 100 B acks=1\t1000\t0.1\t0.05\t0.5\t12\t-\t-\t-\t-\t-\t-";
        let row = parse_line(old).unwrap();
        assert_eq!(row.records_per_s, Some(1000.0));
        assert!(row.node_cpu_s.is_empty());
        assert_eq!(row.failover_ms, None);
    }

    #[test]
    fn per_node_columns_appear_only_for_several_brokers() {
        let single = Row {
            records_per_s: Some(1.0),
            ..Row::new("produce")
        };
        assert!(!markdown(std::slice::from_ref(&single)).contains("per node"));
        let cluster = Row {
            node_cpu_s: vec![1.0, 2.0, 3.0],
            node_rss_mib: vec![10.0, 20.0, 30.0],
            ..single
        };
        let table = markdown(&[cluster]);
        assert!(table.contains("per node"), "{table}");
        assert!(
            table.contains("1.00 / 2.00 / 3.00 | 10 / 20 / 30 |"),
            "{table}"
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(Some(1234567.4)), "1,234,567");
        assert_eq!(grouped(Some(999.0)), "999");
    }

    #[test]
    fn repeated_rounds_compare_by_their_median() {
        let round = |records: f64| Row {
            records_per_s: Some(records),
            ..Row::new("produce 1000 B acks=1")
        };
        let failed = Row {
            failure: Some("timed out".into()),
            ..Row::new("produce 1000 B acks=1")
        };
        let rows = vec![
            round(100.0),
            Row::new("consume 1000 B"),
            round(900.0),
            failed,
            round(300.0),
        ];
        let merged = median_per_workload(rows);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].records_per_s, Some(300.0));
        assert!(merged[0].failure.is_none());
        assert_eq!(merged[1].workload, "consume 1000 B");
    }
}
