//! `--scrape-url`: fetches a broker's metrics page at a fixed interval while a
//! workload runs, as a Prometheus server would, so a run with and one without
//! show what scraping costs. Plain HTTP/1.1 over a fresh connection per scrape.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// What the scrapes of one run cost and returned.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ScrapeStats {
    pub(crate) scrapes: u64,
    pub(crate) failures: u64,
    pub(crate) total: Duration,
    pub(crate) slowest: Duration,
    pub(crate) last_bytes: usize,
}

/// A thread scraping until stopped.
pub(crate) struct Scraper {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<ScrapeStats>,
}

/// `http://host:port/path` split into address and path.
fn parse_url(url: &str) -> anyhow::Result<(String, String)> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("--scrape-url must start with http://, got {url}");
    };
    let (address, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    };
    if !address.contains(':') {
        bail!("--scrape-url needs host:port, got {url}");
    }
    Ok((address.to_string(), path.to_string()))
}

/// One GET; the body's length.
fn scrape_once(address: &str, path: &str) -> anyhow::Result<usize> {
    let mut s = TcpStream::connect(address).with_context(|| format!("connecting to {address}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    if !answer.starts_with(b"HTTP/1.1 200") {
        bail!("{address}{path} did not answer 200");
    }
    Ok(answer.len())
}

impl Scraper {
    /// Checks the URL answers once, then scrapes it every `interval`.
    pub(crate) fn start(url: &str, interval: Duration) -> anyhow::Result<Self> {
        let (address, path) = parse_url(url)?;
        scrape_once(&address, &path).context("first scrape")?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut stats = ScrapeStats::default();
            let mut next = Instant::now();
            while !stopping.load(Ordering::Relaxed) {
                let started = Instant::now();
                match scrape_once(&address, &path) {
                    Ok(bytes) => stats.last_bytes = bytes,
                    Err(_) => stats.failures += 1,
                }
                let took = started.elapsed();
                stats.scrapes += 1;
                stats.total += took;
                stats.slowest = stats.slowest.max(took);
                next += interval;
                while Instant::now() < next && !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            stats
        });
        Ok(Self { stop, thread })
    }

    /// Stops scraping and returns what it cost.
    pub(crate) fn finish(self) -> ScrapeStats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

impl ScrapeStats {
    /// One line for the run's log.
    pub(crate) fn summary(&self) -> String {
        let mean = if self.scrapes == 0 {
            0.0
        } else {
            self.total.as_secs_f64() * 1000.0 / self.scrapes as f64
        };
        format!(
            "{} scrapes ({} failed), mean {mean:.2} ms, slowest {:.2} ms, last page {} bytes",
            self.scrapes,
            self.failures,
            self.slowest.as_secs_f64() * 1000.0,
            self.last_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_and_path() {
        assert_eq!(
            parse_url("http://127.0.0.1:9644/metrics").unwrap(),
            ("127.0.0.1:9644".to_string(), "/metrics".to_string())
        );
        assert_eq!(parse_url("http://h:1").unwrap().1, "/metrics");
        assert!(parse_url("https://h:1/metrics").is_err());
        assert!(parse_url("http://h/metrics").is_err());
    }
}
