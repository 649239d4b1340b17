use std::collections::BTreeMap;

use kafka_protocol::messages::{
    ApiVersionsRequest, MetadataRequest, RequestHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kavka_sasl::plain::PlainUsers;
use kavka_sasl::scram::{ScramClient, ScramMechanism};

use super::*;

fn config(mechanisms: &[Mechanism], max_reauth_ms: u64) -> Arc<ListenerSasl> {
    Arc::new(ListenerSasl {
        mechanisms: mechanisms.to_vec(),
        plain_users: PlainUsers::new(BTreeMap::from([(
            "alice".to_string(),
            "alice-secret".to_string(),
        )])),
        max_reauth_ms,
    })
}

fn request(api_key: ApiKey, version: i16, body: RequestKind) -> DecodedRequest {
    DecodedRequest {
        header: RequestHeader::default(),
        api_key,
        version,
        body: Some(body),
    }
}

fn handshake(mechanism: &str, version: i16) -> DecodedRequest {
    request(
        ApiKey::SaslHandshake,
        version,
        RequestKind::SaslHandshake(
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into())),
        ),
    )
}

fn token(bytes: &[u8]) -> DecodedRequest {
    request(
        ApiKey::SaslAuthenticate,
        2,
        RequestKind::SaslAuthenticate(
            SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(bytes)),
        ),
    )
}

fn metadata() -> DecodedRequest {
    request(
        ApiKey::Metadata,
        12,
        RequestKind::Metadata(MetadataRequest::default()),
    )
}

fn no_scram(_: &str, _: Mechanism) -> Option<ScramCredential> {
    None
}

fn plain_login(auth: &mut SaslAuthenticator, password: &str, now: Instant) -> Verdict {
    assert!(matches!(
        auth.on_request(handshake("PLAIN", 1), now, &no_scram),
        Verdict::Answer(_)
    ));
    auth.on_request(
        token(&plain::client_message("alice", password)),
        now,
        &no_scram,
    )
}

#[test]
fn plain_login_makes_the_user_the_principal() {
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 0));
    let now = Instant::now();
    let versions = request(
        ApiKey::ApiVersions,
        3,
        RequestKind::ApiVersions(ApiVersionsRequest::default()),
    );
    assert!(matches!(
        auth.on_request(versions, now, &no_scram),
        Verdict::Serve(_)
    ));
    match plain_login(&mut auth, "alice-secret", now) {
        Verdict::Authenticated(ResponseKind::SaslAuthenticate(r), principal) => {
            assert_eq!(r.error_code, 0);
            assert_eq!(r.session_lifetime_ms, 0);
            assert_eq!(principal.to_string(), "User:alice");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        auth.on_request(metadata(), now, &no_scram),
        Verdict::Serve(_)
    ));
}

#[test]
fn wrong_password_fails_with_kafkas_message() {
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 0));
    match plain_login(&mut auth, "guess", Instant::now()) {
        Verdict::Fail(ResponseKind::SaslAuthenticate(r), failure) => {
            assert_eq!(r.error_code, SASL_AUTHENTICATION_FAILED);
            assert_eq!(
                r.error_message.as_deref(),
                Some("Authentication failed: Invalid username or password")
            );
            assert_eq!(failure.user.as_deref(), Some("alice"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn requests_out_of_place_close_the_connection() {
    let now = Instant::now();
    // Before any handshake.
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 0));
    assert!(matches!(
        auth.on_request(metadata(), now, &no_scram),
        Verdict::Close(_)
    ));
    // A second ApiVersions.
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 0));
    let versions = || {
        request(
            ApiKey::ApiVersions,
            3,
            RequestKind::ApiVersions(ApiVersionsRequest::default()),
        )
    };
    assert!(matches!(
        auth.on_request(versions(), now, &no_scram),
        Verdict::Serve(_)
    ));
    assert!(matches!(
        auth.on_request(versions(), now, &no_scram),
        Verdict::Close(_)
    ));
    // Between handshake and authenticate.
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 0));
    auth.on_request(handshake("PLAIN", 1), now, &no_scram);
    assert!(matches!(
        auth.on_request(metadata(), now, &no_scram),
        Verdict::Close(_)
    ));
}

#[test]
fn unsupported_mechanism_lists_the_enabled_ones() {
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain, Mechanism::ScramSha512], 0));
    match auth.on_request(handshake("GSSAPI", 1), Instant::now(), &no_scram) {
        Verdict::Fail(ResponseKind::SaslHandshake(r), _) => {
            assert_eq!(r.error_code, UNSUPPORTED_SASL_MECHANISM);
            let names: Vec<&str> = r.mechanisms.iter().map(|m| m.as_str()).collect();
            assert_eq!(names, vec!["PLAIN", "SCRAM-SHA-512"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Enabled by Kavka but not on this listener.
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 0));
    assert!(matches!(
        auth.on_request(handshake("SCRAM-SHA-256", 1), Instant::now(), &no_scram),
        Verdict::Fail(..)
    ));
}

fn scram_login(auth: &mut SaslAuthenticator, password: &str, now: Instant) -> Verdict {
    let stored =
        ScramCredential::from_password(ScramMechanism::Sha256, "alice-secret", 4096).unwrap();
    let lookup = move |user: &str, m: Mechanism| {
        (user == "alice" && m == Mechanism::ScramSha256).then(|| stored.clone())
    };
    auth.on_request(handshake("SCRAM-SHA-256", 1), now, &lookup);
    let mut client = ScramClient::new(ScramMechanism::Sha256, "alice", password).unwrap();
    let challenge = match auth.on_request(token(&client.first_message()), now, &lookup) {
        Verdict::Answer(ResponseKind::SaslAuthenticate(r)) => r.auth_bytes,
        other => return other,
    };
    let last = client.final_message(&challenge).unwrap();
    auth.on_request(token(&last), now, &lookup)
}

#[test]
fn scram_login_and_wrong_password() {
    let now = Instant::now();
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::ScramSha256], 0));
    assert!(matches!(
        scram_login(&mut auth, "alice-secret", now),
        Verdict::Authenticated(..)
    ));
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::ScramSha256], 0));
    match scram_login(&mut auth, "guess", now) {
        Verdict::Fail(ResponseKind::SaslAuthenticate(r), _) => assert_eq!(
            r.error_message.as_deref(),
            Some("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256")
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn expired_session_closes_until_the_client_reauthenticates() {
    let start = Instant::now();
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 1000));
    match plain_login(&mut auth, "alice-secret", start) {
        Verdict::Authenticated(ResponseKind::SaslAuthenticate(r), _) => {
            assert_eq!(r.session_lifetime_ms, 1000)
        }
        other => panic!("unexpected {other:?}"),
    }
    let later = start + Duration::from_millis(1500);
    // Re-authentication on the same connection renews the session.
    assert!(matches!(
        plain_login(&mut auth, "alice-secret", later),
        Verdict::Authenticated(..)
    ));
    assert!(matches!(
        auth.on_request(metadata(), later, &no_scram),
        Verdict::Serve(_)
    ));
    let expired = later + Duration::from_millis(1000);
    assert!(matches!(
        auth.on_request(metadata(), expired, &no_scram),
        Verdict::Close(_)
    ));
}

#[test]
fn reauthentication_cannot_change_the_principal() {
    let start = Instant::now();
    let mut config = (*config(&[Mechanism::Plain], 1000)).clone();
    config.plain_users = PlainUsers::new(BTreeMap::from([
        ("alice".to_string(), "alice-secret".to_string()),
        ("bob".to_string(), "bob-secret".to_string()),
    ]));
    let mut auth = SaslAuthenticator::new(Arc::new(config));
    assert!(matches!(
        plain_login(&mut auth, "alice-secret", start),
        Verdict::Authenticated(..)
    ));
    auth.on_request(handshake("PLAIN", 1), start, &no_scram);
    match auth.on_request(
        token(&plain::client_message("bob", "bob-secret")),
        start,
        &no_scram,
    ) {
        Verdict::Fail(ResponseKind::SaslAuthenticate(r), _) => assert_eq!(
            r.error_message.as_deref(),
            Some("Cannot change principals during re-authentication from User:alice: User:bob")
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn v0_handshake_exchanges_raw_tokens() {
    let now = Instant::now();
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 0));
    auth.on_request(handshake("PLAIN", 0), now, &no_scram);
    assert!(auth.expects_raw_token());
    match auth.on_raw_token(
        &plain::client_message("alice", "alice-secret"),
        now,
        &no_scram,
    ) {
        RawVerdict::Authenticated(response, p) => {
            assert!(response.is_empty());
            assert_eq!(p.name, "alice");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!auth.expects_raw_token());
    let mut auth = SaslAuthenticator::new(config(&[Mechanism::Plain], 0));
    auth.on_request(handshake("PLAIN", 0), now, &no_scram);
    assert!(matches!(
        auth.on_raw_token(b"\xff garbage", now, &no_scram),
        RawVerdict::Close(_)
    ));
}
