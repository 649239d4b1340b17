//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka uses them:
//! credentials as Kafka stores them (salt, stored key, server key, iterations),
//! the server's two steps with Kafka's `ScramSaslServer` checks, and a client
//! for Kavka's own tools.
//!
//! The password-based key derivation (PBKDF2) runs only where the password is:
//! in the client, and in the tool that creates a credential. The server holds
//! only the stored and server keys, so a leaked metadata log does not reveal a
//! password, and each login attempt costs a guesser the full iteration count on
//! their side, as with Kafka.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::{random_bytes, AuthError, ServerStep};

/// Kafka's minimum iteration count for both SCRAM mechanisms.
pub const MIN_ITERATIONS: i32 = 4096;
/// Kafka's controller refuses credentials with more iterations than this.
pub const MAX_ITERATIONS: i32 = 16384;

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    /// Kafka's type code on the wire (AlterUserScramCredentials, its metadata record).
    pub fn type_code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_type_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SCRAM-SHA-256" => Some(ScramMechanism::Sha256),
            "SCRAM-SHA-512" => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        match self {
            ScramMechanism::Sha256 => match Hmac::<Sha256>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
            ScramMechanism::Sha512 => match Hmac::<Sha512>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
        }
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with this mechanism's HMAC.
    pub fn salted_password(self, password: &str, salt: &[u8], iterations: i32) -> Vec<u8> {
        let rounds = iterations.max(1) as u32;
        match self {
            ScramMechanism::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password.as_bytes(), salt, rounds).to_vec()
            }
            ScramMechanism::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password.as_bytes(), salt, rounds).to_vec()
            }
        }
    }

    fn client_key(self, salted_password: &[u8]) -> Vec<u8> {
        self.hmac(salted_password, b"Client Key")
    }
}

/// What the broker keeps of a SCRAM user: never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// The credential for a salted password (what AlterUserScramCredentials carries).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: Vec<u8>,
        salted_password: &[u8],
        iterations: i32,
    ) -> Self {
        let client_key = mechanism.client_key(salted_password);
        Self {
            salt,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }

    /// The credential for a password with a fresh random salt.
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &str,
        iterations: i32,
    ) -> Result<Self, AuthError> {
        let salt = random_salt()?;
        let salted = mechanism.salted_password(password, &salt, iterations);
        Ok(Self::from_salted_password(
            mechanism, salt, &salted, iterations,
        ))
    }
}

/// A random salt, as long as Kafka's (a 32-byte random string).
pub fn random_salt() -> Result<Vec<u8>, AuthError> {
    Ok(random_bytes::<32>()?.to_vec())
}

fn random_nonce() -> Result<String, AuthError> {
    // URL-safe base64 never contains ',', which would end a SCRAM attribute.
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<24>()?))
}

/// A user name as SCRAM writes it: ',' and '=' escaped.
pub fn to_sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// The user name a SCRAM `saslname` stands for; None if an escape is invalid.
pub fn from_sasl_name(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn invalid(what: &str) -> AuthError {
    AuthError::Hidden(format!("Invalid SCRAM {what}"))
}

/// `client-first-message`, split as the server needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// `n,,` or `n,a=<authzid>,`, echoed base64-encoded in the final message.
    pub gs2_header: String,
    pub authzid: String,
    pub user: String,
    pub nonce: String,
    pub bare: String,
}

impl ClientFirst {
    pub fn parse(message: &[u8]) -> Result<Self, AuthError> {
        let text = std::str::from_utf8(message).map_err(|_| invalid("client first message"))?;
        let rest = text
            .strip_prefix("n,")
            .ok_or_else(|| invalid("client first message: channel binding is not supported"))?;
        let (authz, bare) = rest
            .split_once(',')
            .ok_or_else(|| invalid("client first message"))?;
        let authzid = if authz.is_empty() {
            String::new()
        } else {
            let name = authz
                .strip_prefix("a=")
                .ok_or_else(|| invalid("client first message"))?;
            from_sasl_name(name).ok_or_else(|| invalid("authorization id"))?
        };
        let mut attrs = bare.split(',');
        let user = attrs
            .next()
            .and_then(|a| a.strip_prefix("n="))
            .and_then(from_sasl_name)
            .ok_or_else(|| invalid("client first message: no user name"))?;
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid("client first message: no nonce"))?;
        // Further attributes are extensions (Kafka's `tokenauth`); Kavka has no
        // delegation tokens and ignores them, as Kafka ignores unknown ones.
        Ok(Self {
            gs2_header: format!("n,{authz},"),
            authzid,
            user,
            nonce: nonce.to_string(),
            bare: bare.to_string(),
        })
    }
}

/// `client-final-message`, split as the server needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClientFinal {
    channel_binding: Vec<u8>,
    nonce: String,
    proof: Vec<u8>,
    without_proof: String,
}

impl ClientFinal {
    fn parse(message: &[u8]) -> Result<Self, AuthError> {
        let text = std::str::from_utf8(message).map_err(|_| invalid("client final message"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or_else(|| invalid("client final message: no proof"))?;
        let mut attrs = without_proof.split(',');
        let channel_binding = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .and_then(|c| B64.decode(c).ok())
            .ok_or_else(|| invalid("client final message: no channel binding"))?;
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or_else(|| invalid("client final message: no nonce"))?;
        let proof = B64
            .decode(proof)
            .map_err(|_| invalid("client final message: proof"))?;
        Ok(Self {
            channel_binding,
            nonce: nonce.to_string(),
            proof,
            without_proof: without_proof.to_string(),
        })
    }
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// Where the server is in the exchange.
// One per exchange in progress, gone once it ends: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum ServerState {
    AwaitingFirst,
    AwaitingFinal {
        first: ClientFirst,
        server_first: String,
        nonce: String,
        credential: ScramCredential,
    },
    Done,
}

/// The server side of one SCRAM exchange, as Kafka's `ScramSaslServer`.
pub struct ScramServer {
    mechanism: ScramMechanism,
    state: ServerState,
    /// The user the client named, kept for the audit log of a failure.
    claimed: Option<String>,
}

impl ScramServer {
    pub fn new(mechanism: ScramMechanism) -> Self {
        Self {
            mechanism,
            state: ServerState::AwaitingFirst,
            claimed: None,
        }
    }

    /// The user the client named in its first message, once it sent one.
    pub fn claimed_user(&self) -> Option<&str> {
        self.claimed.as_deref()
    }

    /// Evaluates the client's next message. `lookup` finds a user's credential
    /// for this mechanism. An unknown user fails at once with the same generic
    /// answer as a wrong proof, as on Kafka.
    pub fn evaluate(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<ServerStep, AuthError> {
        match std::mem::replace(&mut self.state, ServerState::Done) {
            ServerState::AwaitingFirst => {
                let first = ClientFirst::parse(message)?;
                self.claimed = Some(first.user.clone());
                let credential = lookup(&first.user).ok_or_else(|| {
                    AuthError::Hidden(format!("Invalid user credentials for '{}'", first.user))
                })?;
                if !first.authzid.is_empty() && first.authzid != first.user {
                    return Err(AuthError::Visible(
                        "Authentication failed: Client requested an authorization id that is different from username".into(),
                    ));
                }
                if credential.iterations < MIN_ITERATIONS {
                    return Err(AuthError::Hidden(format!(
                        "Iterations {} is less than the minimum {MIN_ITERATIONS} for {}",
                        credential.iterations,
                        self.mechanism.name()
                    )));
                }
                let nonce = format!("{}{}", first.nonce, random_nonce()?);
                let server_first = format!(
                    "r={nonce},s={},i={}",
                    B64.encode(&credential.salt),
                    credential.iterations
                );
                let reply = server_first.clone().into_bytes();
                self.state = ServerState::AwaitingFinal {
                    first,
                    server_first,
                    nonce,
                    credential,
                };
                Ok(ServerStep::Challenge(reply))
            }
            ServerState::AwaitingFinal {
                first,
                server_first,
                nonce,
                credential,
            } => {
                let last = ClientFinal::parse(message)?;
                if last.nonce != nonce {
                    return Err(AuthError::Hidden(
                        "Invalid client nonce in the final client message.".into(),
                    ));
                }
                if last.channel_binding != first.gs2_header.as_bytes() {
                    return Err(invalid("channel binding"));
                }
                let auth_message =
                    format!("{},{},{}", first.bare, server_first, last.without_proof);
                let m = self.mechanism;
                let client_signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
                if last.proof.len() != client_signature.len() {
                    return Err(AuthError::Hidden("Invalid client credentials".into()));
                }
                let client_key = xor(&last.proof, &client_signature);
                let computed = m.hash(&client_key);
                if !bool::from(computed.as_slice().ct_eq(credential.stored_key.as_slice())) {
                    return Err(AuthError::Hidden(format!(
                        "Invalid client credentials for '{}'",
                        first.user
                    )));
                }
                let signature = m.hmac(&credential.server_key, auth_message.as_bytes());
                Ok(ServerStep::Complete {
                    response: format!("v={}", B64.encode(signature)).into_bytes(),
                    user: first.user,
                })
            }
            ServerState::Done => Err(AuthError::Hidden(
                "Unexpected challenge in Sasl server state COMPLETE".into(),
            )),
        }
    }
}

/// The client side of one SCRAM exchange (Kavka's tools and tests).
pub struct ScramClient {
    mechanism: ScramMechanism,
    password: String,
    first_bare: String,
    nonce: String,
    server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    /// Starts an exchange as `user`; the first message is [`ScramClient::first_message`].
    pub fn new(mechanism: ScramMechanism, user: &str, password: &str) -> Result<Self, AuthError> {
        let nonce = random_nonce()?;
        Ok(Self {
            mechanism,
            password: password.to_string(),
            first_bare: format!("n={},r={nonce}", to_sasl_name(user)),
            nonce,
            server_signature: None,
        })
    }

    pub fn first_message(&self) -> Vec<u8> {
        format!("n,,{}", self.first_bare).into_bytes()
    }

    /// Answers the server's first message with the client proof.
    pub fn final_message(&mut self, server_first: &[u8]) -> Result<Vec<u8>, AuthError> {
        let text =
            std::str::from_utf8(server_first).map_err(|_| invalid("server first message"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attr in text.split(',') {
            if let Some(v) = attr.strip_prefix("r=") {
                nonce = Some(v);
            } else if let Some(v) = attr.strip_prefix("s=") {
                salt = B64.decode(v).ok();
            } else if let Some(v) = attr.strip_prefix("i=") {
                iterations = v.parse::<i32>().ok();
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(invalid("server first message"));
        };
        if !nonce.starts_with(&self.nonce) || iterations < MIN_ITERATIONS {
            return Err(invalid("server first message"));
        }
        let m = self.mechanism;
        let salted = m.salted_password(&self.password, &salt, iterations);
        let without_proof = format!("c={},r={nonce}", B64.encode("n,,"));
        let auth_message = format!("{},{text},{without_proof}", self.first_bare);
        let client_key = m.client_key(&salted);
        let stored_key = m.hash(&client_key);
        let proof = xor(&client_key, &m.hmac(&stored_key, auth_message.as_bytes()));
        let server_key = m.hmac(&salted, b"Server Key");
        self.server_signature = Some(m.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server's final message: the server proved it knows the credential.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), AuthError> {
        let text =
            std::str::from_utf8(server_final).map_err(|_| invalid("server final message"))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(AuthError::Visible(format!("SCRAM error: {e}")));
        }
        let signature = text
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v).ok())
            .ok_or_else(|| invalid("server final message"))?;
        match &self.server_signature {
            Some(expected) if bool::from(expected.as_slice().ct_eq(&signature)) => Ok(()),
            _ => Err(AuthError::Visible(
                "Invalid server signature in server final message".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(
        m: ScramMechanism,
        stored: &ScramCredential,
        user: &str,
        password: &str,
    ) -> Result<String, AuthError> {
        let mut client = ScramClient::new(m, user, password).unwrap();
        let mut server = ScramServer::new(m);
        let challenge = match server.evaluate(&client.first_message(), |u| {
            (u == "alice").then(|| stored.clone())
        })? {
            ServerStep::Challenge(c) => c,
            other => panic!("unexpected {other:?}"),
        };
        let last = client.final_message(&challenge)?;
        match server.evaluate(&last, |_| None)? {
            ServerStep::Complete { response, user } => {
                client.verify_server_final(&response)?;
                Ok(user)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn both_mechanisms_authenticate_the_right_password_only() {
        for m in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
            let cred = ScramCredential::from_password(m, "alice-secret", 4096).unwrap();
            assert_eq!(
                exchange(m, &cred, "alice", "alice-secret").unwrap(),
                "alice"
            );
            let wrong = exchange(m, &cred, "alice", "guess").unwrap_err();
            let unknown = exchange(m, &cred, "bob", "alice-secret").unwrap_err();
            // Both are hidden behind the same generic message.
            assert!(matches!(wrong, AuthError::Hidden(_)));
            assert!(matches!(unknown, AuthError::Hidden(_)));
            let mech = if m == ScramMechanism::Sha256 {
                crate::Mechanism::ScramSha256
            } else {
                crate::Mechanism::ScramSha512
            };
            assert_eq!(
                wrong.client_message(mech, false),
                unknown.client_message(mech, false)
            );
        }
    }

    #[test]
    fn rfc7677_test_vector() {
        // RFC 7677 section 3: user "user", password "pencil".
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let m = ScramMechanism::Sha256;
        let salted = m.salted_password("pencil", &salt, 4096);
        let cred = ScramCredential::from_salted_password(m, salt, &salted, 4096);
        let bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth = format!("{bare},{server_first},{without_proof}");
        let proof = xor(
            &m.client_key(&salted),
            &m.hmac(&cred.stored_key, auth.as_bytes()),
        );
        assert_eq!(
            B64.encode(proof),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            B64.encode(m.hmac(&cred.server_key, auth.as_bytes())),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn credentials_below_the_minimum_iterations_are_refused() {
        let m = ScramMechanism::Sha256;
        let cred = ScramCredential::from_password(m, "pw", 1000).unwrap();
        let client = ScramClient::new(m, "alice", "pw").unwrap();
        let mut server = ScramServer::new(m);
        assert!(server
            .evaluate(&client.first_message(), |_| Some(cred))
            .is_err());
    }

    #[test]
    fn sasl_names_escape_commas_and_equals() {
        assert_eq!(to_sasl_name("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(from_sasl_name("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(from_sasl_name("a=2"), None);
        assert_eq!(from_sasl_name("a=XYb"), None);
    }

    #[test]
    fn garbage_messages_fail_without_panicking() {
        let m = ScramMechanism::Sha512;
        let cred = ScramCredential::from_password(m, "pw", 4096).unwrap();
        for garbage in [
            &b""[..],
            b"n,,",
            b"y,,n=alice,r=x",
            b"n,,n=alice",
            b"n,,n=alice,r=",
            b"n,a=bob,n=alice,r=abc",
            &[0xff, 0xfe],
        ] {
            let mut server = ScramServer::new(m);
            assert!(server.evaluate(garbage, |_| Some(cred.clone())).is_err());
        }
        let client = ScramClient::new(m, "alice", "pw").unwrap();
        for garbage in [&b""[..], b"c=biws", b"c=!!,r=x,p=y", b"c=biws,r=x,p=AAAA"] {
            let mut server = ScramServer::new(m);
            server
                .evaluate(&client.first_message(), |_| Some(cred.clone()))
                .unwrap();
            assert!(server.evaluate(garbage, |_| None).is_err());
        }
    }
}
