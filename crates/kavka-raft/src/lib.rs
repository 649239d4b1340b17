//! The metadata quorum: Kavka's cluster metadata log replicated by Raft among the
//! controllers, as KRaft does (KIP-500, KIP-595), on the `openraft` crate.
//!
//! Each entry of the log is a batch of [`kavka_metadata::MetadataRecord`]s; the
//! state machine is the [`kavka_metadata::MetadataImage`], advanced by applying the
//! records of each committed entry in log order, and a snapshot is the serialized
//! image. [`MetadataQuorum`] is the handle: start a node, propose records on the
//! leader, subscribe to committed images, describe the quorum, add observers.
//!
//! - `log_store`/`log_file`: the durable log (fsync before acknowledging), vote,
//!   committed index and purge marker in one directory;
//! - `state_machine`: the image, its snapshots, and the one publisher of images;
//! - `rpc`/`network`/`server`: node-to-node RPCs over plain TCP, length-prefixed
//!   JSON frames (JSON: the records are serde types already, `serde_json` is a
//!   workspace dependency, and metadata is small; no new codec crate to trust);
//! - `quorum`: the public handle.

mod config;
mod error;
mod log_file;
mod log_store;
mod network;
mod quorum;
mod rpc;
mod server;
mod state_machine;
mod types;

pub use config::{parse_voters, QuorumConfig, QuorumTimeouts, Voter};
pub use error::{ConfigError, QuorumError, StartError, StoreOpenError};
pub use log_file::LogFileError;
pub use quorum::{MetadataQuorum, QuorumDescription, ReplicaDescription};
pub use state_machine::CommittedImage;
pub use types::{EntryOutcome, MetadataBatch, NodeId, Refusal, TypeConfig};
