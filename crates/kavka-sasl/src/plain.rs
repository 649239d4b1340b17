//! SASL/PLAIN (RFC 4616): one client message `[authzid] NUL authcid NUL passwd`,
//! checked against the `user_<name>` passwords of the listener's JAAS config, with
//! Kafka's error messages.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AuthError, ServerStep};

/// The users a PLAIN listener accepts: name → password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PlainUsers(BTreeMap<String, String>);

impl std::fmt::Debug for PlainUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: a logged config must never show a password.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl PlainUsers {
    pub fn new(users: BTreeMap<String, String>) -> Self {
        Self(users)
    }

    /// Whether `password` is `user`'s. Passwords are compared as SHA-256 digests
    /// in constant time, and an unknown user is compared against a stand-in, so
    /// the time taken says neither how much of a password matched nor whether the
    /// user exists.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let given = Sha256::digest(password.as_bytes());
        let (expected, known) = match self.0.get(user) {
            Some(p) => (Sha256::digest(p.as_bytes()), true),
            None => (Sha256::digest(b"\0no such user\0"), false),
        };
        let same: bool = given.as_slice().ct_eq(expected.as_slice()).into();
        same && known
    }
}

/// Evaluates the one PLAIN message, as Kafka's `PlainSaslServer` does.
pub fn authenticate(users: &PlainUsers, message: &[u8]) -> Result<ServerStep, AuthError> {
    let text = std::str::from_utf8(message).map_err(|_| {
        AuthError::Visible("Invalid SASL/PLAIN response: expected 3 tokens, got 1".into())
    })?;
    let tokens: Vec<&str> = text.splitn(4, '\0').collect();
    if tokens.len() != 3 {
        return Err(AuthError::Visible(format!(
            "Invalid SASL/PLAIN response: expected 3 tokens, got {}",
            tokens.len()
        )));
    }
    let (authzid, user, password) = (tokens[0], tokens[1], tokens[2]);
    if user.is_empty() {
        return Err(AuthError::Visible(
            "Authentication failed: username not specified".into(),
        ));
    }
    if password.is_empty() {
        return Err(AuthError::Visible(
            "Authentication failed: password not specified".into(),
        ));
    }
    if !users.verify(user, password) {
        return Err(AuthError::Visible(
            "Authentication failed: Invalid username or password".into(),
        ));
    }
    if !authzid.is_empty() && authzid != user {
        return Err(AuthError::Visible(
            "Authentication failed: Client requested an authorization id that is different from username".into(),
        ));
    }
    Ok(ServerStep::Complete {
        response: Vec::new(),
        user: user.to_string(),
    })
}

/// The client's PLAIN message for `user` and `password`.
pub fn client_message(user: &str, password: &str) -> Vec<u8> {
    format!("\0{user}\0{password}").into_bytes()
}

/// The user name a PLAIN message claims, for the audit log of a failure.
pub fn claimed_user(message: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(message).ok()?;
    text.split('\0').nth(1).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> PlainUsers {
        PlainUsers::new(BTreeMap::from([
            ("alice".to_string(), "alice-secret".to_string()),
            ("admin".to_string(), "admin-secret".to_string()),
        ]))
    }

    fn fails_with(message: &[u8], expected: &str) {
        assert_eq!(
            authenticate(&users(), message),
            Err(AuthError::Visible(expected.to_string()))
        );
    }

    #[test]
    fn right_password_authenticates_the_user() {
        assert_eq!(
            authenticate(&users(), &client_message("alice", "alice-secret")),
            Ok(ServerStep::Complete {
                response: vec![],
                user: "alice".into()
            })
        );
        assert!(authenticate(&users(), b"alice\0alice\0alice-secret").is_ok());
    }

    #[test]
    fn wrong_password_and_unknown_user_get_the_same_answer() {
        let msg = "Authentication failed: Invalid username or password";
        fails_with(&client_message("alice", "nope"), msg);
        fails_with(&client_message("mallory", "alice-secret"), msg);
        fails_with(&client_message("alice", "alice-secret-longer"), msg);
    }

    #[test]
    fn malformed_messages_get_kafkas_errors() {
        fails_with(
            b"alice",
            "Invalid SASL/PLAIN response: expected 3 tokens, got 1",
        );
        fails_with(
            b"\0a\0b\0c",
            "Invalid SASL/PLAIN response: expected 3 tokens, got 4",
        );
        fails_with(b"\0\0pw", "Authentication failed: username not specified");
        fails_with(
            b"\0alice\0",
            "Authentication failed: password not specified",
        );
        fails_with(
            b"bob\0alice\0alice-secret",
            "Authentication failed: Client requested an authorization id that is different from username",
        );
        assert!(authenticate(&users(), &[0xff, 0, 0xfe, 0]).is_err());
    }
}
