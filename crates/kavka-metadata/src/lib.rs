//! Cluster metadata the KRaft way: every change is a [`MetadataRecord`] appended to
//! a persisted [`MetadataLog`], and the [`MetadataImage`] changes only by applying
//! those records in order. The [`controller`] module validates admin requests and
//! turns them into records; the [`cluster`] module decides broker liveness and
//! partition leadership the same way. A Raft quorum can later replicate the same log
//! unchanged.

pub mod acl;
pub mod client_quotas;
pub mod cluster;
pub mod controller;
mod error;
mod image;
mod log;
mod records;
pub mod scram;
pub mod topic_config;
pub mod topic_name;

pub use error::MetadataError;
pub use image::{BrokerImage, MetadataImage, PartitionImage, ScramCredentialData, TopicImage};
pub use log::MetadataLog;
pub use records::{ConfigResource, MetadataRecord};
