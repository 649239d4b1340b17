//! Resource usage of a process, read from `/proc`: CPU time from `/proc/PID/stat`
//! (utime + stime) and resident memory from `/proc/PID/status` (VmRSS).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context};

/// Which process to read: ourselves (the client) or the broker under test.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Proc {
    SelfProcess,
    Pid(u32),
}

impl Proc {
    fn path(self, file: &str) -> PathBuf {
        match self {
            Proc::SelfProcess => PathBuf::from(format!("/proc/self/{file}")),
            Proc::Pid(pid) => PathBuf::from(format!("/proc/{pid}/{file}")),
        }
    }
}

/// Clock ticks per second for the utime/stime fields (`getconf CLK_TCK`, else 100).
pub(crate) fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// User plus system CPU time of every thread of the process, in clock ticks.
pub(crate) fn cpu_ticks(proc: Proc) -> anyhow::Result<u64> {
    let path = proc.path("stat");
    let stat =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_cpu_ticks(&stat).with_context(|| format!("parsing {}", path.display()))
}

/// Fields after the command name (which may hold spaces and parentheses): the
/// state is field 3, utime field 14 and stime field 15 of `proc(5)`.
fn parse_cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let Some(close) = stat.rfind(')') else {
        bail!("no ')' after the command name");
    };
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        let s = fields
            .get(n - 3)
            .with_context(|| format!("missing field {n}"))?;
        s.parse()
            .with_context(|| format!("field {n} is not a number: {s}"))
    };
    Ok(field(14)? + field(15)?)
}

/// Resident set size in KiB (VmRSS).
pub(crate) fn rss_kib(proc: Proc) -> anyhow::Result<u64> {
    let path = proc.path("status");
    let status =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no VmRSS in {}", path.display()))
}

/// CPU seconds used by the brokers and by this client over one workload, and
/// each broker's peak RSS sampled every 100 ms in between.
pub(crate) struct Meter {
    ticks_per_second: f64,
    brokers: Vec<u32>,
    broker_ticks: Vec<u64>,
    client_ticks: u64,
    sampler: Option<Sampler>,
}

/// The RSS sampler thread: a stop flag and one peak per broker PID.
struct Sampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Vec<AtomicU64>>,
    handle: JoinHandle<()>,
}

/// One broker process's share of a workload.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct NodeUsage {
    pub(crate) cpu_s: f64,
    pub(crate) peak_rss_kib: u64,
}

/// What a [`Meter`] measured. With several brokers (a cluster), `broker_cpu_s`
/// and `broker_peak_rss_kib` are sums over the nodes and `per_node` holds each.
#[derive(Debug, Clone, Default)]
pub(crate) struct Usage {
    pub(crate) client_cpu_s: f64,
    pub(crate) broker_cpu_s: Option<f64>,
    pub(crate) broker_peak_rss_kib: Option<u64>,
    pub(crate) per_node: Vec<NodeUsage>,
}

impl Meter {
    /// Takes the "before" readings and starts the RSS sampler.
    pub(crate) fn start(brokers: &[u32], ticks_per_second: u64) -> anyhow::Result<Self> {
        let broker_ticks = brokers
            .iter()
            .map(|&pid| cpu_ticks(Proc::Pid(pid)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let sampler = if brokers.is_empty() {
            None
        } else {
            let stop = Arc::new(AtomicBool::new(false));
            let peaks = Arc::new(
                brokers
                    .iter()
                    .map(|&pid| rss_kib(Proc::Pid(pid)).map(AtomicU64::new))
                    .collect::<anyhow::Result<Vec<_>>>()?,
            );
            let (s, p, pids) = (stop.clone(), peaks.clone(), brokers.to_vec());
            let handle = std::thread::Builder::new()
                .name("rss-sampler".into())
                .spawn(move || {
                    while !s.load(Ordering::Relaxed) {
                        sample(&pids, &p);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
                .context("spawning the RSS sampler")?;
            Some(Sampler {
                stop,
                peaks,
                handle,
            })
        };
        Ok(Self {
            ticks_per_second: ticks_per_second as f64,
            brokers: brokers.to_vec(),
            broker_ticks,
            client_ticks: cpu_ticks(Proc::SelfProcess)?,
            sampler,
        })
    }

    /// Takes the "after" readings and stops the sampler.
    pub(crate) fn finish(self) -> anyhow::Result<Usage> {
        let client = cpu_ticks(Proc::SelfProcess)?;
        let mut cpu = Vec::with_capacity(self.brokers.len());
        for (&pid, &before) in self.brokers.iter().zip(&self.broker_ticks) {
            let ticks = cpu_ticks(Proc::Pid(pid))?.saturating_sub(before);
            cpu.push(ticks as f64 / self.ticks_per_second);
        }
        let peaks: Vec<u64> = match self.sampler {
            Some(Sampler {
                stop,
                peaks,
                handle,
            }) => {
                stop.store(true, Ordering::Relaxed);
                let _ = handle.join();
                sample(&self.brokers, &peaks);
                peaks.iter().map(|p| p.load(Ordering::Relaxed)).collect()
            }
            None => Vec::new(),
        };
        let per_node: Vec<NodeUsage> = cpu
            .iter()
            .zip(&peaks)
            .map(|(&cpu_s, &peak_rss_kib)| NodeUsage {
                cpu_s,
                peak_rss_kib,
            })
            .collect();
        let any = !per_node.is_empty();
        Ok(Usage {
            client_cpu_s: client.saturating_sub(self.client_ticks) as f64 / self.ticks_per_second,
            broker_cpu_s: any.then(|| per_node.iter().map(|n| n.cpu_s).sum()),
            broker_peak_rss_kib: any.then(|| per_node.iter().map(|n| n.peak_rss_kib).sum()),
            per_node,
        })
    }
}

/// Raises each PID's recorded peak to its current RSS (a PID that is gone is skipped).
fn sample(pids: &[u32], peaks: &[AtomicU64]) {
    for (&pid, peak) in pids.iter().zip(peaks) {
        if let Ok(kib) = rss_kib(Proc::Pid(pid)) {
            peak.fetch_max(kib, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_skip_a_command_name_with_spaces_and_parentheses() {
        let stat = "1234 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4";
        assert_eq!(parse_cpu_ticks(stat).ok(), Some(300));
    }
}
