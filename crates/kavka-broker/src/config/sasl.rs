//! A SASL listener's settings, with Kafka's property names:
//! `listener.name.<listener>.sasl.enabled.mechanisms` (else `sasl.enabled.mechanisms`,
//! Kafka's default GSSAPI) and, per mechanism,
//! `listener.name.<listener>.<mechanism>.sasl.jaas.config`. Like Kafka's broker,
//! an unprefixed `sasl.jaas.config` is ignored with a warning. JAAS files named by
//! `-Djava.security.auth.login.config` are not read: a mechanism without its
//! property stops the start, naming the property to set.

use std::collections::BTreeMap;

use kavka_sasl::jaas::{self, PLAIN_LOGIN_MODULE, SCRAM_LOGIN_MODULE};
use kavka_sasl::plain::PlainUsers;
use kavka_sasl::Mechanism;

use super::cluster::NamedListener;
use super::ConfigError;

/// What a SASL listener accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSasl {
    /// The enabled mechanisms, in the configured order.
    pub mechanisms: Vec<Mechanism>,
    /// PLAIN's users (`user_<name>="<password>"`), when PLAIN is enabled.
    pub plain_users: PlainUsers,
    /// `connections.max.reauth.ms` (listener-prefixed first); 0: sessions never expire.
    pub max_reauth_ms: u64,
}

/// Keys this module reads (the listener-prefixed ones are matched by shape).
pub(crate) const SASL_KEYS: &[&str] = &[
    "sasl.enabled.mechanisms",
    "sasl.jaas.config",
    "sasl.mechanism.inter.broker.protocol",
    "connections.max.reauth.ms",
];

/// Whether `protocol` authenticates with SASL.
pub(super) fn is_sasl(protocol: &str) -> bool {
    matches!(protocol, "SASL_PLAINTEXT" | "SASL_SSL")
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// A listener's value for `setting`: `listener.name.<listener>.<setting>` first.
fn listener_value<'a>(
    raw: &'a BTreeMap<String, String>,
    listener: &str,
    setting: &str,
) -> Option<(String, &'a str)> {
    let prefixed = format!("listener.name.{}.{setting}", listener.to_ascii_lowercase());
    if let Some(v) = raw.get(&prefixed) {
        return Some((prefixed, v.trim()));
    }
    raw.get(setting).map(|v| (setting.to_string(), v.trim()))
}

/// The SASL settings of `listener`, or None when it does not use SASL.
pub(super) fn parse(
    raw: &BTreeMap<String, String>,
    listener: &NamedListener,
) -> Result<Option<ListenerSasl>, ConfigError> {
    if !is_sasl(&listener.protocol) {
        return Ok(None);
    }
    let (key, value) = listener_value(raw, &listener.name, "sasl.enabled.mechanisms")
        .unwrap_or_else(|| ("sasl.enabled.mechanisms".to_string(), "GSSAPI"));
    let mut mechanisms = Vec::new();
    for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let m = Mechanism::from_name(name).ok_or_else(|| {
            invalid(
                &key,
                value,
                format!(
                    "Kavka does not support SASL mechanism {name}; it supports PLAIN, \
                     SCRAM-SHA-256 and SCRAM-SHA-512 (Kafka's default is GSSAPI, so set \
                     {key} explicitly)"
                ),
            )
        })?;
        if !mechanisms.contains(&m) {
            mechanisms.push(m);
        }
    }
    if mechanisms.is_empty() {
        return Err(invalid(&key, value, "No SASL mechanisms are enabled"));
    }
    if raw.contains_key("sasl.jaas.config") {
        tracing::warn!(
            "Server config sasl.jaas.config should be prefixed with SASL mechanism name, ignoring config"
        );
    }
    let mut plain_users = PlainUsers::default();
    for m in &mechanisms {
        let jaas_key = format!(
            "listener.name.{}.{}.sasl.jaas.config",
            listener.name.to_ascii_lowercase(),
            m.name().to_ascii_lowercase()
        );
        let Some(text) = raw.get(&jaas_key) else {
            return Err(invalid(
                &jaas_key,
                "",
                format!(
                    "SASL mechanism {m} is enabled on listener {} but has no JAAS configuration; \
                     set {jaas_key} (JAAS files are not read)",
                    listener.name
                ),
            ));
        };
        let entry =
            jaas::parse_single(text).map_err(|e| invalid(&jaas_key, "[hidden]", e.to_string()))?;
        let expected = match m {
            Mechanism::Plain => PLAIN_LOGIN_MODULE,
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => SCRAM_LOGIN_MODULE,
        };
        if entry.login_module != expected {
            return Err(invalid(
                &jaas_key,
                "[hidden]",
                format!(
                    "{m} needs login module {expected}, not {}",
                    entry.login_module
                ),
            ));
        }
        if *m == Mechanism::Plain {
            plain_users = PlainUsers::new(entry.plain_users());
        }
    }
    let max_reauth_ms = match listener_value(raw, &listener.name, "connections.max.reauth.ms") {
        Some((key, v)) => v
            .parse::<i64>()
            .map_err(|_| invalid(&key, v, "not a number"))?
            .max(0) as u64,
        None => 0,
    };
    Ok(Some(ListenerSasl {
        mechanisms,
        plain_users,
        max_reauth_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(protocol: &str) -> NamedListener {
        NamedListener {
            name: "SASL_PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9092,
            protocol: protocol.into(),
        }
    }

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const PLAIN_JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";"#;

    #[test]
    fn plain_and_scram_listener_from_kafka_properties() {
        let s = parse(
            &props(&[
                ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256"),
                (
                    "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                    PLAIN_JAAS,
                ),
                (
                    "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                ),
            ]),
            &listener("SASL_PLAINTEXT"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.mechanisms, vec![Mechanism::Plain, Mechanism::ScramSha256]);
        assert!(s.plain_users.verify("alice", "alice-secret"));
        assert_eq!(s.max_reauth_ms, 0);
    }

    #[test]
    fn listener_prefixed_mechanisms_win() {
        let s = parse(
            &props(&[
                ("sasl.enabled.mechanisms", "GSSAPI"),
                (
                    "listener.name.sasl_plaintext.sasl.enabled.mechanisms",
                    "PLAIN",
                ),
                (
                    "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                    PLAIN_JAAS,
                ),
                (
                    "listener.name.sasl_plaintext.connections.max.reauth.ms",
                    "60000",
                ),
            ]),
            &listener("SASL_PLAINTEXT"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.mechanisms, vec![Mechanism::Plain]);
        assert_eq!(s.max_reauth_ms, 60000);
    }

    #[test]
    fn unusable_settings_stop_the_start() {
        let l = listener("SASL_PLAINTEXT");
        // Kafka's default mechanism, GSSAPI, is not served.
        assert!(parse(&props(&[]), &l).is_err());
        assert!(parse(&props(&[("sasl.enabled.mechanisms", " , ")]), &l).is_err());
        // No JAAS config for an enabled mechanism; the global form does not count.
        assert!(parse(
            &props(&[
                ("sasl.enabled.mechanisms", "PLAIN"),
                ("sasl.jaas.config", PLAIN_JAAS)
            ]),
            &l
        )
        .is_err());
        // Malformed JAAS, and the wrong module for the mechanism.
        for jaas in [
            "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"x\"",
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        ] {
            let err = parse(
                &props(&[
                    ("sasl.enabled.mechanisms", "PLAIN"),
                    ("listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas),
                ]),
                &l,
            )
            .unwrap_err();
            // The message never shows the JAAS text (it holds passwords).
            assert!(!err.to_string().contains("user_a"), "{err}");
        }
    }

    #[test]
    fn plaintext_listener_has_no_sasl() {
        assert_eq!(parse(&props(&[]), &listener("PLAINTEXT")).unwrap(), None);
    }
}
