//! SASL authentication of a connection, as Kafka's `SaslServerAuthenticator`:
//! before a connection has authenticated, only ApiVersions, SaslHandshake and
//! SaslAuthenticate are served; anything else closes it. The authenticator works
//! on decoded requests (and, after a v0 SaslHandshake, on raw size-prefixed
//! tokens), never on a socket, so it serves any stream: plain TCP or TLS.

mod authenticator;
mod connection_auth;

pub(crate) use authenticator::{out_of_place, Failure, RawVerdict, SaslAuthenticator, Verdict};
pub(crate) use connection_auth::{Admission, ConnectionAuth};
