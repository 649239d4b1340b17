//! How a connection's requests get past authentication: on a PLAINTEXT
//! listener every request carries the one anonymous session; on a SASL
//! listener the [`SaslAuthenticator`] decides, and a failure is answered,
//! logged for audit (principal tried, peer, mechanism, reason) and closed.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use kavka_metadata::MetadataImage;
use kavka_sasl::scram::ScramCredential;
use kavka_sasl::Mechanism;
use kavka_wire::DecodedRequest;
use parking_lot::Mutex;

use super::{Failure, RawVerdict, SaslAuthenticator, Verdict};
use crate::config::ListenerSasl;
use crate::connection::Reply;
use crate::security::Session;

/// One connection's authentication state.
pub(crate) enum ConnectionAuth {
    /// No authentication on this listener: one session for the connection's life.
    Fixed(Session),
    /// SASL: the session changes once the client has logged in.
    // Boxed so that connections on a PLAINTEXT listener stay small.
    Sasl(Box<Mutex<SaslConnection>>),
}

pub(crate) struct SaslConnection {
    authenticator: SaslAuthenticator,
    session: Session,
}

/// Whether a request reaches the handlers, and as whom.
pub(crate) enum Admission<'a> {
    Serve(DecodedRequest, Cow<'a, Session>),
    Done(Reply),
}

impl ConnectionAuth {
    /// The state of a new connection whose transport proved `session`
    /// (anonymous, or a TLS client certificate's principal); SASL when `sasl`
    /// is set, and then the principal it logs in as replaces that one.
    pub(crate) fn new(session: Session, sasl: Option<Arc<ListenerSasl>>) -> Self {
        match sasl {
            None => Self::Fixed(session),
            Some(config) => Self::Sasl(Box::new(Mutex::new(SaslConnection {
                authenticator: SaslAuthenticator::new(config),
                session,
            }))),
        }
    }

    /// Decides about one request.
    pub(crate) fn admit(
        &self,
        request: DecodedRequest,
        peer: SocketAddr,
        image: &MetadataImage,
    ) -> Admission<'_> {
        let conn = match self {
            Self::Fixed(session) => return Admission::Serve(request, Cow::Borrowed(session)),
            Self::Sasl(conn) => conn,
        };
        let lookup = |user: &str, m: Mechanism| scram_credential(image, user, m);
        let mut conn = conn.lock();
        match conn
            .authenticator
            .on_request(request, Instant::now(), &lookup)
        {
            Verdict::Serve(request) => Admission::Serve(request, Cow::Owned(conn.session.clone())),
            Verdict::Answer(response) => Admission::Done(Reply::Send(response)),
            Verdict::Authenticated(response, principal) => {
                tracing::debug!(%peer, %principal, "authenticated");
                conn.session.principal = principal;
                Admission::Done(Reply::Send(response))
            }
            Verdict::Fail(response, failure) => {
                audit(peer, &failure);
                Admission::Done(Reply::SendAndClose(response))
            }
            Verdict::Close(reason) => {
                tracing::warn!(target: "kavka::audit", %peer, %reason, "closing unauthenticated connection");
                Admission::Done(Reply::Close)
            }
        }
    }

    /// Whether the next frame is a raw SASL token (after a v0 SaslHandshake).
    pub(crate) fn expects_raw_token(&self) -> bool {
        match self {
            Self::Fixed(_) => false,
            Self::Sasl(conn) => conn.lock().authenticator.expects_raw_token(),
        }
    }

    /// Answers a raw token with the raw token to send; None closes the connection.
    pub(crate) fn answer_raw(
        &self,
        token: &[u8],
        peer: SocketAddr,
        image: &MetadataImage,
    ) -> Option<Vec<u8>> {
        let Self::Sasl(conn) = self else {
            return None;
        };
        let lookup = |user: &str, m: Mechanism| scram_credential(image, user, m);
        let mut conn = conn.lock();
        match conn
            .authenticator
            .on_raw_token(token, Instant::now(), &lookup)
        {
            RawVerdict::Send(bytes) => Some(bytes),
            RawVerdict::Authenticated(bytes, principal) => {
                tracing::debug!(%peer, %principal, "authenticated");
                conn.session.principal = principal;
                Some(bytes)
            }
            RawVerdict::Close(failure) => {
                audit(peer, &failure);
                None
            }
        }
    }
}

/// One line per failed authentication, under its own target so it can be
/// routed apart (`RUST_LOG=kavka::audit=warn`).
fn audit(peer: SocketAddr, failure: &Failure) {
    tracing::warn!(
        target: "kavka::audit",
        %peer,
        principal = failure.user.as_deref().unwrap_or("-"),
        mechanism = failure.mechanism.map(Mechanism::name).unwrap_or("-"),
        reason = %failure.reason,
        "authentication failed"
    );
}

/// A user's SCRAM credential from the metadata image.
fn scram_credential(image: &MetadataImage, user: &str, m: Mechanism) -> Option<ScramCredential> {
    let code = m.scram()?.type_code();
    let c = image.scram_credential(user, code)?;
    Some(ScramCredential {
        salt: c.salt.clone(),
        stored_key: c.stored_key.clone(),
        server_key: c.server_key.clone(),
        iterations: c.iterations,
    })
}
