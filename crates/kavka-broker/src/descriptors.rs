//! The process's open-file limit and how the broker shares it out.
//!
//! Segment files are the only descriptors that grow with the partitions hosted.
//! The storage layer opens them on use, closes them when idle, and keeps at most
//! `limit - reserved` open at once: past that budget a read or write opens its
//! file for itself. So a broker hosts any number of partitions under any limit,
//! and the reserve keeps room for the metadata log, the coordinators' topics,
//! client connections and state files: clients creating topics never leave the
//! broker unable to write its own metadata. (Kafka keeps every segment's files
//! open, and an operator raises the limit.)

use std::sync::atomic::{AtomicU64, Ordering};

/// Share of the limit past which the broker warns (per thousand).
const WARN_PER_MILLE: u64 = 800;

/// The descriptors kept back from partitions for `limit` in all.
fn reserve_for(limit: u64) -> u64 {
    (limit / 10).clamp(128, 8192).min(limit)
}

/// What partitions may use of the process's open-file limit.
#[derive(Debug)]
pub struct DescriptorBudget {
    /// RLIMIT_NOFILE (soft), after raising it to the hard limit.
    pub limit: u64,
    /// Kept back from partitions.
    pub reserved: u64,
    /// Descriptors open at the last check, for a metrics endpoint.
    pub open: AtomicU64,
    /// How many checks found the broker near the limit, for a metrics endpoint.
    pub near_limit_checks: AtomicU64,
}

impl DescriptorBudget {
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            reserved: reserve_for(limit),
            open: AtomicU64::new(0),
            near_limit_checks: AtomicU64::new(0),
        }
    }

    /// Segment files the storage layer may keep open at once.
    pub fn segment_files(&self) -> u64 {
        self.limit - self.reserved
    }

    /// Records `open` descriptors; true when that is near the limit.
    pub fn observe(&self, open: u64) -> bool {
        self.open.store(open, Ordering::Relaxed);
        let near = open.saturating_mul(1000) >= self.limit.saturating_mul(WARN_PER_MILLE);
        if near {
            self.near_limit_checks.fetch_add(1, Ordering::Relaxed);
        }
        near
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, as many servers do, and
/// returns the soft limit in force.
pub fn raise_open_file_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let current = getrlimit(Resource::Nofile);
    let soft = current.current.unwrap_or(u64::MAX);
    let raised = match current.maximum {
        Some(hard) if hard > soft => {
            let wanted = rustix::process::Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            match setrlimit(Resource::Nofile, wanted) {
                Ok(()) => hard,
                Err(e) => {
                    tracing::warn!(soft, hard, error = %e, "cannot raise the open-file limit");
                    soft
                }
            }
        }
        _ => soft,
    };
    tracing::info!(
        open_file_limit = raised,
        hard_limit = ?current.maximum,
        "open-file limit (RLIMIT_NOFILE)"
    );
    raised
}

/// Descriptors this process has open now (Linux: the entries of /proc/self/fd).
pub fn count_open() -> std::io::Result<u64> {
    Ok(std::fs::read_dir("/proc/self/fd")?.count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_files_get_the_limit_less_a_reserve() {
        let small = DescriptorBudget::new(512);
        assert_eq!(small.reserved, 128);
        assert_eq!(small.segment_files(), 384);
        let large = DescriptorBudget::new(1 << 20);
        assert_eq!(large.reserved, 8192);
    }

    #[test]
    fn near_the_limit_is_counted() {
        let budget = DescriptorBudget::new(1000);
        assert!(!budget.observe(799));
        assert!(budget.observe(800));
        assert_eq!(budget.near_limit_checks.load(Ordering::Relaxed), 1);
        assert_eq!(budget.open.load(Ordering::Relaxed), 800);
    }
}
