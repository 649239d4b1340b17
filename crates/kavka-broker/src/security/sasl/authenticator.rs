//! The per-connection SASL state machine. It is given each request and the
//! current time and says what to do: serve it, answer it, or close.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kavka_sasl::plain;
use kavka_sasl::scram::{ScramCredential, ScramServer};
use kavka_sasl::{AuthError, Mechanism, ServerStep};
use kavka_wire::DecodedRequest;

use crate::config::ListenerSasl;
use crate::security::KafkaPrincipal;

const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const ILLEGAL_SASL_STATE: i16 = 34;
const SASL_AUTHENTICATION_FAILED: i16 = 58;

/// Finds a user's SCRAM credential for a mechanism (the metadata image).
pub(crate) trait ScramLookup {
    fn scram_credential(&self, user: &str, mechanism: Mechanism) -> Option<ScramCredential>;
}

impl<F: Fn(&str, Mechanism) -> Option<ScramCredential>> ScramLookup for F {
    fn scram_credential(&self, user: &str, mechanism: Mechanism) -> Option<ScramCredential> {
        self(user, mechanism)
    }
}

/// A failed authentication, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) mechanism: Option<Mechanism>,
    /// The user the client claimed, when it got that far.
    pub(crate) user: Option<String>,
    pub(crate) reason: String,
}

/// What to do with one request on a SASL listener.
#[derive(Debug)]
// A response is moved once per request; boxing it would allocate for every answer.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Verdict {
    /// Authenticated (or ApiVersions before authentication): the broker serves it.
    Serve(DecodedRequest),
    /// Answer and go on authenticating.
    Answer(ResponseKind),
    /// Answer; the connection is now `principal`'s.
    Authenticated(ResponseKind, KafkaPrincipal),
    /// Answer, then close: authentication failed.
    Fail(ResponseKind, Failure),
    /// Close without an answer, as Kafka does for a request out of place.
    Close(String),
}

/// What to do with a raw token (after a v0 SaslHandshake).
#[derive(Debug)]
pub(crate) enum RawVerdict {
    /// Send this token, size-prefixed, and go on.
    Send(Vec<u8>),
    /// Send this token; the connection is now `principal`'s.
    Authenticated(Vec<u8>, KafkaPrincipal),
    /// Close (Kafka sends nothing after a failed v0 exchange).
    Close(Failure),
}

/// One exchange in progress.
enum Exchange {
    Plain,
    // Boxed: a SCRAM exchange holds ~300 bytes only while it runs.
    Scram(Mechanism, Box<ScramServer>),
}

enum State {
    /// The first request: ApiVersions or SaslHandshake.
    HandshakeOrVersions,
    /// ApiVersions answered: SaslHandshake next.
    Handshake,
    /// Tokens of `exchange` next; `raw` after a v0 handshake.
    Authenticate { exchange: Exchange, raw: bool },
    /// Authenticated; re-authentication may begin with a SaslHandshake.
    Complete,
}

/// The SASL side of one connection.
pub(crate) struct SaslAuthenticator {
    config: Arc<ListenerSasl>,
    state: State,
    principal: Option<KafkaPrincipal>,
    mechanism: Option<Mechanism>,
    /// When the session ends (KIP-368); None: never.
    expires_at: Option<Instant>,
}

impl SaslAuthenticator {
    pub(crate) fn new(config: Arc<ListenerSasl>) -> Self {
        Self {
            config,
            state: State::HandshakeOrVersions,
            principal: None,
            mechanism: None,
            expires_at: None,
        }
    }

    /// Whether the next frame is a raw SASL token rather than a Kafka request.
    pub(crate) fn expects_raw_token(&self) -> bool {
        matches!(self.state, State::Authenticate { raw: true, .. })
    }

    fn reauthenticating(&self) -> bool {
        self.principal.is_some()
    }

    fn mechanism_names(&self) -> Vec<StrBytes> {
        self.config
            .mechanisms
            .iter()
            .map(|m| StrBytes::from_static_str(m.name()))
            .collect()
    }

    /// Decides about one decoded request.
    pub(crate) fn on_request(
        &mut self,
        request: DecodedRequest,
        now: Instant,
        lookup: &dyn ScramLookup,
    ) -> Verdict {
        let api = request.api_key;
        match std::mem::replace(&mut self.state, State::Complete) {
            State::Complete => {
                if api == ApiKey::SaslHandshake && self.expires_at.is_some() {
                    // KIP-368: a client re-authenticates on the same connection.
                    return self.handshake(request);
                }
                if self.expires_at.is_some_and(|t| now >= t) {
                    return Verdict::Close(format!(
                        "session expired; {api:?} received before re-authentication"
                    ));
                }
                // SaslHandshake/SaslAuthenticate after authentication are answered
                // by the handlers with ILLEGAL_SASL_STATE, as Kafka's KafkaApis does.
                Verdict::Serve(request)
            }
            State::HandshakeOrVersions if api == ApiKey::ApiVersions => {
                self.state = State::Handshake;
                Verdict::Serve(request)
            }
            State::HandshakeOrVersions | State::Handshake if api == ApiKey::SaslHandshake => {
                self.handshake(request)
            }
            State::HandshakeOrVersions | State::Handshake => Verdict::Close(format!(
                "Unexpected Kafka request of type {api:?} during SASL handshake."
            )),
            State::Authenticate {
                exchange,
                raw: false,
            } if api == ApiKey::SaslAuthenticate => {
                let Some(RequestKind::SaslAuthenticate(body)) = request.body else {
                    return Verdict::Close("SaslAuthenticate without a body".into());
                };
                self.authenticate(exchange, &body.auth_bytes, now, lookup)
            }
            State::Authenticate { .. } => Verdict::Close(format!(
                "Unexpected Kafka request of type {api:?} during SASL authentication."
            )),
        }
    }

    fn handshake(&mut self, request: DecodedRequest) -> Verdict {
        let Some(RequestKind::SaslHandshake(body)) = request.body else {
            return Verdict::Close("SaslHandshake without a body".into());
        };
        let asked = body.mechanism.to_string();
        let enabled = Mechanism::from_name(&asked).filter(|m| self.config.mechanisms.contains(m));
        let Some(mechanism) = enabled else {
            let response = SaslHandshakeResponse::default()
                .with_error_code(UNSUPPORTED_SASL_MECHANISM)
                .with_mechanisms(self.mechanism_names());
            return Verdict::Fail(
                ResponseKind::SaslHandshake(response),
                Failure {
                    mechanism: None,
                    user: None,
                    reason: format!("Unsupported SASL mechanism {asked}"),
                },
            );
        };
        if self.reauthenticating() && self.mechanism != Some(mechanism) {
            let response = SaslHandshakeResponse::default()
                .with_error_code(UNSUPPORTED_SASL_MECHANISM)
                .with_mechanisms(self.mechanism_names());
            return Verdict::Fail(
                ResponseKind::SaslHandshake(response),
                Failure {
                    mechanism: Some(mechanism),
                    user: self.principal.as_ref().map(|p| p.name.clone()),
                    reason: format!(
                        "SASL mechanism '{asked}' requested by client is not supported for re-authentication of mechanism '{}'",
                        self.mechanism.map(Mechanism::name).unwrap_or_default()
                    ),
                },
            );
        }
        self.mechanism = Some(mechanism);
        let exchange = match mechanism.scram() {
            Some(scram) => Exchange::Scram(mechanism, Box::new(ScramServer::new(scram))),
            None => Exchange::Plain,
        };
        self.state = State::Authenticate {
            exchange,
            raw: request.version == 0,
        };
        Verdict::Answer(ResponseKind::SaslHandshake(
            SaslHandshakeResponse::default().with_mechanisms(self.mechanism_names()),
        ))
    }

    /// Runs one token through the exchange.
    fn step(
        &self,
        exchange: &mut Exchange,
        token: &[u8],
        lookup: &dyn ScramLookup,
    ) -> Result<ServerStep, (AuthError, Option<String>)> {
        match exchange {
            Exchange::Plain => plain::authenticate(&self.config.plain_users, token)
                .map_err(|e| (e, plain::claimed_user(token))),
            Exchange::Scram(mechanism, server) => {
                let m = *mechanism;
                let result = server.evaluate(token, |user| lookup.scram_credential(user, m));
                result.map_err(|e| {
                    let user = server.claimed_user().map(str::to_string).or_else(|| {
                        kavka_sasl::scram::ClientFirst::parse(token)
                            .ok()
                            .map(|f| f.user)
                    });
                    (e, user)
                })
            }
        }
    }

    /// The principal of a completed exchange; re-authentication keeps it.
    fn complete(&mut self, user: String, now: Instant) -> Result<KafkaPrincipal, String> {
        let principal = KafkaPrincipal::user(user);
        if let Some(previous) = &self.principal {
            if *previous != principal {
                return Err(format!(
                    "Cannot change principals during re-authentication from {previous}: {principal}"
                ));
            }
        }
        self.principal = Some(principal.clone());
        self.expires_at = (self.config.max_reauth_ms > 0)
            .then(|| now + Duration::from_millis(self.config.max_reauth_ms));
        self.state = State::Complete;
        Ok(principal)
    }

    fn authenticate(
        &mut self,
        mut exchange: Exchange,
        token: &[u8],
        now: Instant,
        lookup: &dyn ScramLookup,
    ) -> Verdict {
        let mechanism = self.mechanism;
        let failed = |message: String, user: Option<String>, reason: String| {
            Verdict::Fail(
                ResponseKind::SaslAuthenticate(
                    SaslAuthenticateResponse::default()
                        .with_error_code(SASL_AUTHENTICATION_FAILED)
                        .with_error_message(Some(StrBytes::from_string(message))),
                ),
                Failure {
                    mechanism,
                    user,
                    reason,
                },
            )
        };
        match self.step(&mut exchange, token, lookup) {
            Ok(ServerStep::Challenge(bytes)) => {
                self.state = State::Authenticate {
                    exchange,
                    raw: false,
                };
                Verdict::Answer(ResponseKind::SaslAuthenticate(
                    SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(bytes)),
                ))
            }
            Ok(ServerStep::Complete { response, user }) => match self.complete(user.clone(), now) {
                Ok(principal) => Verdict::Authenticated(
                    ResponseKind::SaslAuthenticate(
                        SaslAuthenticateResponse::default()
                            .with_auth_bytes(Bytes::from(response))
                            .with_session_lifetime_ms(self.config.max_reauth_ms as i64),
                    ),
                    principal,
                ),
                Err(reason) => failed(reason.clone(), Some(user), reason),
            },
            Err((e, user)) => {
                let message = match mechanism {
                    Some(m) => e.client_message(m, self.reauthenticating()),
                    None => e.to_string(),
                };
                failed(message, user, e.to_string())
            }
        }
    }

    /// Decides about a raw token (the exchange after a v0 SaslHandshake).
    pub(crate) fn on_raw_token(
        &mut self,
        token: &[u8],
        now: Instant,
        lookup: &dyn ScramLookup,
    ) -> RawVerdict {
        let State::Authenticate {
            mut exchange,
            raw: true,
        } = std::mem::replace(&mut self.state, State::Complete)
        else {
            return RawVerdict::Close(Failure {
                mechanism: self.mechanism,
                user: None,
                reason: "raw SASL token out of place".into(),
            });
        };
        match self.step(&mut exchange, token, lookup) {
            Ok(ServerStep::Challenge(bytes)) => {
                self.state = State::Authenticate {
                    exchange,
                    raw: true,
                };
                RawVerdict::Send(bytes)
            }
            Ok(ServerStep::Complete { response, user }) => match self.complete(user.clone(), now) {
                Ok(principal) => RawVerdict::Authenticated(response, principal),
                Err(reason) => RawVerdict::Close(Failure {
                    mechanism: self.mechanism,
                    user: Some(user),
                    reason,
                }),
            },
            Err((e, user)) => RawVerdict::Close(Failure {
                mechanism: self.mechanism,
                user,
                reason: e.to_string(),
            }),
        }
    }
}

/// The answer to SaslHandshake or SaslAuthenticate on a connection that is
/// already authenticated or does not use SASL, as Kafka's KafkaApis gives it.
pub(crate) fn out_of_place(body: &RequestKind) -> Option<ResponseKind> {
    match body {
        RequestKind::SaslHandshake(_) => Some(ResponseKind::SaslHandshake(
            SaslHandshakeResponse::default().with_error_code(ILLEGAL_SASL_STATE),
        )),
        RequestKind::SaslAuthenticate(_) => Some(ResponseKind::SaslAuthenticate(
            SaslAuthenticateResponse::default()
                .with_error_code(ILLEGAL_SASL_STATE)
                .with_error_message(Some(StrBytes::from_static_str(
                    "SaslAuthenticate request received after successful authentication",
                ))),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
