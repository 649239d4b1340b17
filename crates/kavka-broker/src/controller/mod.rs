//! The broker's side of the controller: what a broker asks of the active
//! controller (registration, heartbeats, ISR changes, metadata writes), wherever
//! in the quorum that controller runs.

mod client;

pub use client::{ControllerCallError, ControllerClient};
