//! Who is asking: the authenticated identity of a connection, as Kafka models it.
//!
//! Authentication (TLS, SASL) decides a connection's [`Session`] once; every
//! request on it carries that session to the handlers, where authorization and
//! quotas read it. Requests a broker makes to itself (transaction markers,
//! produce verification) carry [`Session::internal`], which authorization lets
//! through, as Kafka lets its own inter-broker principal through.

pub(crate) mod authorizer;
pub mod handshake;
pub mod inter_broker;
pub mod listener;
mod principal;
mod protocol;
pub(crate) mod sasl;

pub use listener::{ListenerError, ListenerSecurity};
pub use principal::KafkaPrincipal;
pub use protocol::SecurityProtocol;

/// What one connection proved about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub principal: KafkaPrincipal,
    /// The listener's name (`PLAINTEXT`, `EXTERNAL`, …) the connection came in on.
    pub listener: String,
    /// Set only for requests the broker makes to itself.
    pub internal: bool,
}

impl Session {
    /// A connection whose TLS handshake proved `principal` (a client certificate).
    pub fn authenticated(principal: KafkaPrincipal, listener: impl Into<String>) -> Self {
        Self {
            principal,
            listener: listener.into(),
            internal: false,
        }
    }
}

impl Session {
    /// A connection that proved nothing: `User:ANONYMOUS`, as on a PLAINTEXT listener.
    pub fn anonymous(listener: impl Into<String>) -> Self {
        Self {
            principal: KafkaPrincipal::anonymous(),
            listener: listener.into(),
            internal: false,
        }
    }

    /// The broker acting on its own behalf.
    pub fn internal() -> Self {
        Self {
            principal: KafkaPrincipal::anonymous(),
            listener: String::new(),
            internal: true,
        }
    }
}
