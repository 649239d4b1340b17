//! The Kavka broker: network, request handlers, hosted partitions and the
//! metadata they follow. Storage lives in `kavka-storage`, metadata records in
//! `kavka-metadata`, framing in `kavka-wire`.

pub mod config;
mod connection;
pub mod connection_quotas;
mod console;
pub mod controller;
mod controller_apis;
mod controller_node;
mod coordinator_runtime;
pub mod descriptors;
mod group_service;
mod handlers;
pub mod http;
mod hw_checkpoint;
mod log_cleaner;
mod log_loader;
mod log_upkeep;
pub mod meta_properties;
mod metadata_store;
pub mod metrics;
mod partition;
mod partition_timers;
mod partition_watch;
mod producer_ids;
mod quorum_node;
pub mod quotas;
mod replica_manager;
mod replication;
pub mod request_queue;
pub mod security;
mod server;
mod state;
mod stream;
mod topic_config;
mod txn_markers;
mod txn_service;
mod txn_verify;

pub use config::{BrokerConfig, ConfigError};
pub use controller_node::ControllerNode;
pub use server::Broker;
pub use state::{BrokerState, StartError};
