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
//! - `crash_watch`: a prompt election when the leader's process is gone;
//! - `kafka_listener`: Kafka's protocol on the same listener, for tools;
//! - `quorum`: the public handle.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use kavka_raft::{parse_voters, MetadataQuorum, QuorumConfig, QuorumError};
//!
//! let voters = parse_voters("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095")?;
//! let dir = "/var/lib/kavka/__cluster_metadata-0";
//! let config = QuorumConfig::new("MkU3OEVBNTcwNTJENDM2Qk", 1, "127.0.0.1:9093", voters, dir);
//! let quorum = MetadataQuorum::start(config).await?;
//!
//! let mut images = quorum.subscribe();
//! tokio::spawn(async move {
//!     while images.changed().await.is_ok() {
//!         let committed = images.borrow_and_update().clone();
//!         // Reconcile partitions with committed.image, as of committed.applied_index.
//!     }
//! });
//!
//! match quorum.propose(vec![/* records from the controller */]).await {
//!     Ok(index) => println!("committed at {index}"),
//!     Err(QuorumError::NotLeader { leader, .. }) => println!("forward to {leader:?}"),
//!     Err(e) => return Err(e.into()),
//! }
//! quorum.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod config;
mod controller_rpc;
mod crash_watch;
mod error;
mod kafka_listener;
mod log_file;
mod log_store;
mod network;
mod quorum;
mod rpc;
mod server;
mod state_machine;
mod types;

pub use config::{parse_voters, QuorumConfig, QuorumTimeouts, Voter};
pub use controller_rpc::{ControllerFuture, ControllerHandler};
pub use error::{ConfigError, QuorumError, StartError, StoreOpenError};
pub use kafka_listener::KafkaConnectionHandler;
pub use log_file::LogFileError;
pub use quorum::{MetadataQuorum, QuorumDescription, ReplicaDescription};
pub use state_machine::CommittedImage;
pub use types::{EntryOutcome, MetadataBatch, NodeId, Refusal, TypeConfig};
