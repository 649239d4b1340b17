//! The controller (on controller nodes) and the broker's side of it: what a
//! broker asks of the active controller (registration, heartbeats, ISR changes,
//! metadata writes), wherever in the quorum that controller runs.

mod client;
mod protocol;
mod service;

pub use client::{ControllerCallError, ControllerClient, HeartbeatAnswer};
pub use protocol::{ControllerRequest, ControllerResponse};
pub use service::{ControllerHandle, ControllerService};
