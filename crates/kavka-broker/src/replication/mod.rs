//! Partition replication's background tasks: the replica fetchers that copy the
//! leaders' logs to this broker's follower partitions, and the ISR upkeep that
//! sends the leaders' ISR changes to the controller. The per-partition decisions
//! live in `kavka-replica`, driven through [`crate::partition::Partition`].

pub(crate) mod client;
mod fetcher;
mod isr;

pub(crate) use fetcher::run_fetchers;
pub(crate) use isr::run_isr_upkeep;

#[cfg(test)]
mod tests;
