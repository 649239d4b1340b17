//! Logging in to a SASL listener as Kafka's clients do, from their properties:
//! `security.protocol=SASL_PLAINTEXT`, `sasl.mechanism` (PLAIN, SCRAM-SHA-256,
//! SCRAM-SHA-512) and the Java client's `sasl.jaas.config` (its `username` and
//! `password`), or librdkafka's `sasl.username`/`sasl.password`.

use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use kavka_sasl::scram::ScramClient;
use kavka_sasl::{jaas, plain, Mechanism};

use crate::error::ToolError;
use crate::props::Props;
use crate::wire::Connection;

/// Who to log in as, and how.
#[derive(Clone)]
pub(crate) struct SaslLogin {
    pub(crate) mechanism: Mechanism,
    pub(crate) user: String,
    password: String,
}

impl std::fmt::Debug for SaslLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslLogin")
            .field("mechanism", &self.mechanism)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The user and password of a Java `sasl.jaas.config`, or of librdkafka's keys.
fn credentials(props: &Props) -> Result<Option<(String, String)>, ToolError> {
    if let Some(text) = props.get("sasl.jaas.config") {
        let entry = jaas::parse_single(text)
            .map_err(|e| ToolError::Usage(format!("Invalid sasl.jaas.config: {e}")))?;
        return Ok(entry
            .credentials()
            .map(|(u, p)| (u.to_string(), p.to_string())));
    }
    Ok(
        match (props.get("sasl.username"), props.get("sasl.password")) {
            (Some(u), Some(p)) => Some((u.to_string(), p.to_string())),
            _ => None,
        },
    )
}

impl SaslLogin {
    /// The login the properties ask for; None for PLAINTEXT.
    pub(crate) fn from_props(props: &Props) -> Result<Option<Self>, ToolError> {
        let protocol = props
            .get("security.protocol")
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase();
        match protocol.as_str() {
            "PLAINTEXT" | "SSL" => return Ok(None),
            "SASL_PLAINTEXT" | "SASL_SSL" => {}
            other => {
                return Err(ToolError::Unsupported(format!(
                "security.protocol={other} (supported: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)"
            )))
            }
        }
        let name = props.get("sasl.mechanism").unwrap_or("GSSAPI");
        let mechanism = Mechanism::from_name(name).ok_or_else(|| {
            ToolError::Unsupported(format!(
                "sasl.mechanism={name} (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
            ))
        })?;
        let (user, password) = credentials(props)?.ok_or_else(|| {
            ToolError::Usage(
                "SASL needs a user and password: sasl.jaas.config with username and password, \
                 or sasl.username and sasl.password"
                    .into(),
            )
        })?;
        Ok(Some(Self {
            mechanism,
            user,
            password,
        }))
    }

    /// Runs SaslHandshake and SaslAuthenticate on a fresh connection.
    pub(crate) fn authenticate(&self, conn: &mut Connection) -> Result<(), ToolError> {
        let handshake = SaslHandshakeRequest::default()
            .with_mechanism(StrBytes::from_static_str(self.mechanism.name()));
        let answer = conn.send_version(handshake, 1)?;
        if answer.error_code != 0 {
            return Err(ToolError::from_code(
                answer.error_code,
                Some(&format!(
                    "Client SASL mechanism '{}' not enabled in the server, enabled mechanisms are {:?}",
                    self.mechanism.name(),
                    answer.mechanisms.iter().map(|m| m.as_str()).collect::<Vec<_>>()
                )),
            ));
        }
        let mut round = |token: Vec<u8>| -> Result<Vec<u8>, ToolError> {
            let r = conn.send(SaslAuthenticateRequest::default().with_auth_bytes(token.into()))?;
            if r.error_code != 0 {
                return Err(ToolError::from_code(
                    r.error_code,
                    r.error_message.as_deref(),
                ));
            }
            Ok(r.auth_bytes.to_vec())
        };
        let scram = match self.mechanism.scram() {
            None => {
                round(plain::client_message(&self.user, &self.password))?;
                return Ok(());
            }
            Some(s) => s,
        };
        let fail = |e: kavka_sasl::AuthError| ToolError::Protocol(e.to_string());
        let mut client = ScramClient::new(scram, &self.user, &self.password).map_err(fail)?;
        let server_first = round(client.first_message())?;
        let last = client.final_message(&server_first).map_err(fail)?;
        let server_final = round(last)?;
        client.verify_server_final(&server_final).map_err(fail)
    }
}

/// Kafka's Java SASL properties as librdkafka takes them: `sasl.jaas.config`
/// becomes `sasl.username`/`sasl.password` (librdkafka has no JAAS).
pub(crate) fn for_librdkafka(props: &Props) -> Result<Props, ToolError> {
    let mut out = Props::default();
    for (k, v) in props.iter() {
        if k != "sasl.jaas.config" {
            out.set(k, v);
        }
    }
    if props.get("sasl.jaas.config").is_some() {
        if let Some((user, password)) = credentials(props)? {
            out.set("sasl.username", &user);
            out.set("sasl.password", &password);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> Props {
        Props::parse(text)
    }

    #[test]
    fn java_client_properties_give_a_login() {
        let p = props(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"alice-secret\";\n",
        );
        let login = SaslLogin::from_props(&p).unwrap().unwrap();
        assert_eq!(login.mechanism, Mechanism::ScramSha256);
        assert_eq!(login.user, "alice");
        let rd = for_librdkafka(&p).unwrap();
        assert_eq!(rd.get("sasl.username"), Some("alice"));
        assert_eq!(rd.get("sasl.password"), Some("alice-secret"));
        assert_eq!(rd.get("sasl.jaas.config"), None);
        assert!(!format!("{login:?}").contains("secret"));
    }

    #[test]
    fn plaintext_needs_no_login_and_bad_settings_are_errors() {
        assert!(SaslLogin::from_props(&props("")).unwrap().is_none());
        assert!(SaslLogin::from_props(&props("security.protocol=SASL_PLAINTEXT\n")).is_err());
        assert!(SaslLogin::from_props(&props(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=broken\n"
        ))
        .is_err());
        assert!(SaslLogin::from_props(&props("security.protocol=SSL\n"))
            .unwrap()
            .is_none());
        assert!(SaslLogin::from_props(&props("security.protocol=KERBEROS\n")).is_err());
    }
}
