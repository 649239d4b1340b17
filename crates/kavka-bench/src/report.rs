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

/// The Markdown tables for a set of rows (throughput, latency, startup).
pub(crate) fn markdown(rows: &[Row]) -> String {
    let mut out = String::new();
    let throughput: Vec<&Row> = rows
        .iter()
        .filter(|r| !r.is_latency() && !r.is_startup())
        .collect();
    let latency: Vec<&Row> = rows.iter().filter(|r| r.is_latency()).collect();
    let startup: Vec<&Row> = rows.iter().filter(|r| r.is_startup()).collect();
    if !throughput.is_empty() {
        out.push_str("| workload | records/s | MB/s | broker CPU s | client CPU s | broker/client CPU | broker peak RSS MiB |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for r in throughput {
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
                    grouped(r.records_per_s),
                    cell(r.mb_per_s, 1),
                    cell(r.broker_cpu_s, 2),
                    cell(r.client_cpu_s, 2),
                    cell(r.cpu_ratio(), 2),
                    cell(r.broker_peak_rss_mib, 0),
                ),
            };
        }
    }
    if !latency.is_empty() {
        out.push_str("\n| workload | p50 ms | p99 ms | p99.9 ms | max ms | broker CPU s | broker peak RSS MiB |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for r in latency {
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
                    cell(r.p50_ms, 2),
                    cell(r.p99_ms, 2),
                    cell(r.p999_ms, 2),
                    cell(r.max_ms, 2),
                    cell(r.broker_cpu_s, 2),
                    cell(r.broker_peak_rss_mib, 0),
                ),
            };
        }
    }
    if !startup.is_empty() {
        out.push_str("\n| workload | ms to first Metadata response |\n| --- | ---: |\n");
        for r in startup {
            let _ = match &r.failure {
                Some(e) => writeln!(out, "| {} | failed: {} |", r.workload, e.replace('|', "/")),
                None => writeln!(out, "| {} | {} |", r.workload, cell(r.startup_ms, 0)),
            };
        }
    }
    out.trim_start_matches('\n').to_string()
}

const TSV_HEADER: &str =
    "workload\trecords_per_s\tmb_per_s\tbroker_cpu_s\tclient_cpu_s\tbroker_peak_rss_mib\tp50_ms\tp99_ms\tp999_ms\tmax_ms\tstartup_ms\tfailure";

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
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    for r in rows {
        let failure = r
            .failure
            .as_deref()
            .unwrap_or("-")
            .replace(['\t', '\n'], " ");
        writeln!(
            f,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.workload,
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
        )?;
    }
    Ok(())
}

/// Reads rows written by [`append_tsv`].
pub(crate) fn read_tsv(path: &Path) -> anyhow::Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 12 {
            anyhow::bail!(
                "{}:{}: expected 12 fields, found {}",
                path.display(),
                n + 1,
                f.len()
            );
        }
        let num = |s: &str| s.parse::<f64>().ok();
        rows.push(Row {
            workload: f[0].to_string(),
            records_per_s: num(f[1]),
            mb_per_s: num(f[2]),
            broker_cpu_s: num(f[3]),
            client_cpu_s: num(f[4]),
            broker_peak_rss_mib: num(f[5]),
            p50_ms: num(f[6]),
            p99_ms: num(f[7]),
            p999_ms: num(f[8]),
            max_ms: num(f[9]),
            startup_ms: num(f[10]),
            failure: (f[11] != "-").then(|| f[11].to_string()),
        });
    }
    Ok(rows)
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
    for ra in a {
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
    fn thousands_are_grouped() {
        assert_eq!(grouped(Some(1234567.4)), "1,234,567");
        assert_eq!(grouped(Some(999.0)), "999");
    }
}
