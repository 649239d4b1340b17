//! The process's open-file limit and how the broker shares it out.
//!
//! A partition's log needs one descriptor while its active segment is in use (the
//! storage layer opens segment files on use and closes them when idle), so the
//! broker hosts at most `limit - reserved` partition replicas. The reserve keeps
//! room for the metadata log, the coordinators' topics, client connections and
//! state files: clients creating topics must never leave the broker unable to write
//! its own metadata. Kafka has no such check; an operator raises the limit.

use std::sync::atomic::{AtomicU64, Ordering};

use kavka_metadata::{MetadataError, MetadataImage, MetadataRecord};

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

    /// Partition replicas this broker may host.
    pub fn max_partitions(&self) -> u64 {
        self.limit - self.reserved
    }

    /// Refuses a change that would bring this broker past `max_partitions`
    /// (POLICY_VIOLATION: Kafka's nearest refusal of a creation clients handle).
    pub fn admit(&self, hosted: u64, adding: u64) -> Result<(), MetadataError> {
        let after = hosted.saturating_add(adding);
        if adding == 0 || after <= self.max_partitions() {
            return Ok(());
        }
        Err(MetadataError::PolicyViolation(format!(
            "Adding {adding} partition(s) would bring this broker to {after} partitions, over the {} \
             its open-file limit allows (RLIMIT_NOFILE {}, {} descriptors reserved for the metadata \
             log, coordinators and connections). Raise the broker's open-file limit and restart it.",
            self.max_partitions(),
            self.limit,
            self.reserved
        )))
    }

    /// `admit` for the partitions that `records` place on `node`, given `image`.
    pub fn admit_records(
        &self,
        image: &MetadataImage,
        node: i32,
        records: &[MetadataRecord],
    ) -> Result<(), MetadataError> {
        let adding = records
            .iter()
            .filter(|r| matches!(r, MetadataRecord::Partition { replicas, .. } if replicas.contains(&node)))
            .count() as u64;
        let result = self.admit(hosted_on(image, node), adding);
        if let Err(e) = &result {
            tracing::warn!(reason = %e, "refused creating partitions");
        }
        result
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

/// Partition replicas the image places on `node`.
fn hosted_on(image: &MetadataImage, node: i32) -> u64 {
    image
        .topics()
        .flat_map(|t| t.partitions.values())
        .filter(|p| p.replicas.contains(&node))
        .count() as u64
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
    fn partitions_get_the_limit_less_a_reserve() {
        let small = DescriptorBudget::new(512);
        assert_eq!(small.reserved, 128);
        assert_eq!(small.max_partitions(), 384);
        let large = DescriptorBudget::new(1 << 20);
        assert_eq!(large.reserved, 8192);
    }

    #[test]
    fn creation_past_the_budget_is_a_policy_violation_naming_the_limit() {
        let budget = DescriptorBudget::new(512);
        assert!(budget.admit(380, 4).is_ok());
        let refused = budget.admit(380, 5).unwrap_err();
        assert_eq!(refused.code(), 44);
        let message = refused.to_string();
        assert!(message.contains("385 partitions"), "{message}");
        assert!(message.contains("RLIMIT_NOFILE 512"), "{message}");
        // Nothing added is never refused, even over the budget (a smaller limit
        // after a restart must not block config changes).
        assert!(budget.admit(1000, 0).is_ok());
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
