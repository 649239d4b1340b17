//! Requests for the controller that runs beside a quorum node, carried over the
//! quorum's own connections (Kafka's controller listener carries both the Raft
//! traffic and the brokers' registration, heartbeats and ISR changes).
//!
//! The quorum does not interpret them: a request is a JSON value in, a JSON value
//! out, and the controller (in the broker crate) gives them meaning.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::RwLock;

/// Future of a controller's answer.
pub type ControllerFuture = Pin<Box<dyn Future<Output = serde_json::Value> + Send>>;

/// Answers controller requests arriving at this node.
pub trait ControllerHandler: Send + Sync + 'static {
    /// Handles one request; the answer goes back on the same connection.
    fn handle(&self, request: serde_json::Value) -> ControllerFuture;
}

/// Where the server finds the handler, which is installed after the quorum
/// starts (the controller needs the running quorum to exist).
#[derive(Default, Clone)]
pub(crate) struct HandlerSlot(Arc<RwLock<Option<Arc<dyn ControllerHandler>>>>);

impl HandlerSlot {
    pub(crate) fn set(&self, handler: Arc<dyn ControllerHandler>) {
        *self.0.write() = Some(handler);
    }

    pub(crate) fn clear(&self) {
        *self.0.write() = None;
    }

    pub(crate) fn get(&self) -> Option<Arc<dyn ControllerHandler>> {
        self.0.read().clone()
    }
}
