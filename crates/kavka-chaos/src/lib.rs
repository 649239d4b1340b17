//! Fault tests for Kavka, in the style of Jepsen's Kafka queue workload:
//! - [`cluster`]: node processes through `kavka cluster`, with kill -9, pause,
//!   restart and link cuts by node id;
//! - [`proxy`]: a fault-injecting TCP proxy between nodes (drop, delay, blackhole
//!   per link), so link cuts work on loopback without root;
//! - [`nemesis`]: a seeded, bounded schedule of faults that replays from its seed;
//! - [`workload`]: an acks=all idempotent producer, a committing group consumer
//!   and a final read, recorded as a [`history::History`];
//! - [`checker`]: the pure checker of that history.

pub mod checker;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod proxy;
pub mod resolve;
pub mod segments;
pub mod trial;
pub mod workload;
