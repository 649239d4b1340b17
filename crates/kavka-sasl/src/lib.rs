//! SASL as Kafka speaks it, without I/O: the PLAIN and SCRAM-SHA-256/512
//! mechanisms (both the server and the client side), SCRAM credentials as Kafka
//! stores them, and the JAAS configuration strings Kafka's `sasl.jaas.config`
//! properties hold. The broker drives the server side over any connection; the
//! tools drive the client side.

pub mod jaas;
pub mod plain;
pub mod scram;

/// The mechanisms Kavka serves, by Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    /// Kafka's name, as in `sasl.enabled.mechanisms` and SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism Kafka calls `name` (exact, upper case as Kafka requires).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "PLAIN" => Some(Mechanism::Plain),
            "SCRAM-SHA-256" => Some(Mechanism::ScramSha256),
            "SCRAM-SHA-512" => Some(Mechanism::ScramSha512),
            _ => None,
        }
    }

    /// The SCRAM hash behind this mechanism, if it is one.
    pub fn scram(self) -> Option<scram::ScramMechanism> {
        match self {
            Mechanism::Plain => None,
            Mechanism::ScramSha256 => Some(scram::ScramMechanism::Sha256),
            Mechanism::ScramSha512 => Some(scram::ScramMechanism::Sha512),
        }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an authentication exchange failed. Kafka shows the client some reasons
/// word for word (`SaslAuthenticationException`) and hides others behind one
/// generic message, so that a client cannot learn whether a user exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Told to the client as is.
    #[error("{0}")]
    Visible(String),
    /// Logged; the client gets [`AuthError::client_message`]'s generic text.
    #[error("{0}")]
    Hidden(String),
}

impl AuthError {
    /// What Kafka's broker puts in the SaslAuthenticate response's error message.
    pub fn client_message(&self, mechanism: Mechanism, reauthenticating: bool) -> String {
        match self {
            AuthError::Visible(m) => m.clone(),
            AuthError::Hidden(_) => format!(
                "Authentication failed during {} due to invalid credentials with SASL mechanism {}",
                if reauthenticating {
                    "re-authentication"
                } else {
                    "authentication"
                },
                mechanism.name()
            ),
        }
    }
}

/// One step of a server-side exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStep {
    /// Send this challenge and wait for the client's next token.
    Challenge(Vec<u8>),
    /// Authenticated as `user`; send `response` (possibly empty) as the last token.
    Complete { response: Vec<u8>, user: String },
}

/// Random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| AuthError::Hidden(format!("no random bytes from the system: {e}")))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_round_trip_and_are_case_sensitive() {
        for m in [
            Mechanism::Plain,
            Mechanism::ScramSha256,
            Mechanism::ScramSha512,
        ] {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
        }
        assert_eq!(Mechanism::from_name("plain"), None);
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
    }

    #[test]
    fn hidden_reasons_get_kafkas_generic_message() {
        let e = AuthError::Hidden("unknown user bob".into());
        assert_eq!(
            e.client_message(Mechanism::ScramSha256, false),
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
        );
        let e = AuthError::Visible("Authentication failed: Invalid username or password".into());
        assert_eq!(
            e.client_message(Mechanism::Plain, false),
            "Authentication failed: Invalid username or password"
        );
    }
}
