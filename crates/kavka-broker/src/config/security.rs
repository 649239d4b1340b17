//! Fail closed on security settings Kavka does not implement yet.
//!
//! A user moving a secured Kafka `server.properties` over must never end up with a
//! broker that serves the same port in plaintext, unauthenticated and unauthorized.
//! So an unknown listener protocol, a TLS controller listener or any SASL setting
//! beyond PLAIN/SCRAM (`sasl.rs`) stops the start with one message naming every
//! such setting; other unknown keys stay warnings. TLS (SSL listeners, `ssl.*`) is
//! served (see `security::listener`), the authorizer is read by `authorizer.rs`.

use std::collections::BTreeMap;

use super::cluster::{list, protocol_map};

/// Keys that only make sense with SASL, matched by prefix.
/// (`listener.name.<name>.sasl.*`/`.<mechanism>.sasl.*` are caught by
/// [`is_listener_security_key`].)
const SECURITY_PREFIXES: &[&str] = &["sasl."];

/// Protocols Kavka's listeners serve.
const SERVED_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Whole keys that ask for authentication (the authorizer's are read by
/// `config::authorizer`).
const SECURITY_KEYS: &[&str] = &[
    "principal.builder.class",
    "security.inter.broker.protocol",
    "delegation.token.secret.key",
    "delegation.token.master.key",
];

/// One setting that would need security Kavka lacks, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedSetting {
    pub key: String,
    pub reason: String,
}

impl std::fmt::Display for UnsupportedSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.key, self.reason)
    }
}

/// Every setting in `raw` that asks for TLS or SASL.
pub(crate) fn unsupported_security_settings(
    raw: &BTreeMap<String, String>,
) -> Vec<UnsupportedSetting> {
    let mut found = Vec::new();
    let map = protocol_map(
        raw.get("listener.security.protocol.map")
            .map(String::as_str),
    );
    let controller_names: Vec<String> = raw
        .get("controller.listener.names")
        .map(|v| list(v).map(str::to_ascii_uppercase).collect())
        .unwrap_or_default();
    for key in ["listeners", "advertised.listeners"] {
        let Some(value) = raw.get(key) else { continue };
        for listener in list(value) {
            let Some((name, _)) = listener.split_once("://") else {
                continue; // the listener parser reports malformed entries
            };
            let name = name.trim().to_ascii_uppercase();
            let protocol = match map.get(&name) {
                Some(p) => p.clone(),
                // Kafka lets an unmapped controller listener default to PLAINTEXT.
                None if controller_names.contains(&name) => "PLAINTEXT".to_string(),
                None => continue,
            };
            if controller_names.contains(&name) && protocol != "PLAINTEXT" {
                // The quorum's connections carry no TLS yet.
                found.push(UnsupportedSetting {
                    key: key.to_string(),
                    reason: format!(
                        "controller listener {listener} uses {protocol}; Kavka's controller \
                         listeners serve PLAINTEXT only so far"
                    ),
                });
            } else if !SERVED_PROTOCOLS.contains(&protocol.as_str()) {
                found.push(UnsupportedSetting {
                    key: key.to_string(),
                    reason: format!(
                        "listener {listener} uses {protocol}; Kavka serves PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL"
                    ),
                });
            }
        }
    }
    for (key, value) in raw {
        if value.trim().is_empty() {
            continue; // an empty value asks for nothing
        }
        let reason = if key == "security.inter.broker.protocol" {
            let protocol = value.trim().to_ascii_uppercase();
            if SERVED_PROTOCOLS.contains(&protocol.as_str()) {
                continue;
            }
            "Kavka serves PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL"
        } else if is_served_sasl_key(key) {
            continue;
        } else if SECURITY_KEYS.contains(&key.as_str()) {
            "Kavka has no custom principal builder or delegation tokens"
        } else if SECURITY_PREFIXES.iter().any(|p| key.starts_with(p))
            || is_listener_security_key(key)
        {
            "Kavka's SASL serves PLAIN and SCRAM only"
        } else {
            continue;
        };
        found.push(UnsupportedSetting {
            key: key.clone(),
            reason: reason.to_string(),
        });
    }
    found
}

/// SASL settings Kavka serves (`sasl.rs`): the enabled mechanisms, PLAIN and
/// SCRAM JAAS configs, and session lifetimes (KIP-368).
fn is_served_sasl_key(key: &str) -> bool {
    if matches!(
        key,
        "sasl.enabled.mechanisms"
            | "sasl.jaas.config"
            | "sasl.mechanism.inter.broker.protocol"
            | "connections.max.reauth.ms"
    ) {
        return true;
    }
    let Some(rest) = key.strip_prefix("listener.name.") else {
        return false;
    };
    let Some((_listener, setting)) = rest.split_once('.') else {
        return false;
    };
    matches!(
        setting,
        "sasl.enabled.mechanisms"
            | "connections.max.reauth.ms"
            | "plain.sasl.jaas.config"
            | "scram-sha-256.sasl.jaas.config"
            | "scram-sha-512.sasl.jaas.config"
    )
}

/// `listener.name.<listener>.ssl.*`, `listener.name.<listener>.sasl.*` and
/// `listener.name.<listener>.<mechanism>.sasl.jaas.config`.
fn is_listener_security_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("listener.name.") else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let _listener = parts.next();
    let Some(setting) = parts.next() else {
        return false;
    };
    setting.starts_with("sasl.")
        || setting.contains(".sasl.")
        || setting.starts_with("connections.max.reauth.ms")
}

/// `ssl.*` keys Kavka reads, also as `listener.name.<listener>.ssl.*`.
pub(crate) fn is_known_ssl_key(key: &str) -> bool {
    let setting = match key.strip_prefix("listener.name.") {
        Some(rest) => rest.split_once('.').map_or("", |(_, s)| s),
        None => key,
    };
    kavka_tls::SSL_KEYS.contains(&setting)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn keys(pairs: &[(&str, &str)]) -> Vec<String> {
        unsupported_security_settings(&props(pairs))
            .into_iter()
            .map(|s| s.key)
            .collect()
    }

    #[test]
    fn plaintext_cluster_config_is_fine() {
        assert!(keys(&[
            ("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"),
            ("advertised.listeners", "PLAINTEXT://localhost:9092"),
            ("controller.listener.names", "CONTROLLER"),
            (
                "listener.security.protocol.map",
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
            ),
            ("security.inter.broker.protocol", "PLAINTEXT"),
            ("ssl.endpoint.identification.algorithm", ""),
        ])
        .is_empty());
    }

    #[test]
    fn only_settings_kavka_does_not_serve_are_named() {
        let found = keys(&[
            ("listeners", "SASL_SSL://127.0.0.1:9093"),
            ("sasl.oauthbearer.jwks.endpoint.url", "https://x"),
            ("ssl.keystore.location", "/etc/kafka/ks.jks"),
            ("ssl.keystore.password", "secret"),
        ]);
        assert_eq!(found, ["sasl.oauthbearer.jwks.endpoint.url".to_string()]);
    }

    #[test]
    fn ssl_and_sasl_listeners_are_served_tls_controllers_refused() {
        assert!(keys(&[
            ("listeners", "PLAINTEXT://:9092,INTERNAL://:9093"),
            (
                "listener.security.protocol.map",
                "INTERNAL:SSL,PLAINTEXT:PLAINTEXT"
            ),
            ("ssl.keystore.location", "/etc/kafka/ks.p12"),
            ("listener.name.internal.ssl.client.auth", "required"),
            ("security.inter.broker.protocol", "SSL"),
        ])
        .is_empty());
        assert_eq!(
            keys(&[
                ("listeners", "INTERNAL://:9092"),
                ("listener.security.protocol.map", "INTERNAL:SASL_SSL"),
            ]),
            Vec::<String>::new()
        );
        assert_eq!(
            keys(&[
                ("listeners", "SSL://:9092,CONTROLLER://:9093"),
                ("controller.listener.names", "CONTROLLER"),
                ("listener.security.protocol.map", "CONTROLLER:SSL,SSL:SSL"),
            ]),
            vec!["listeners".to_string()]
        );
        assert!(is_known_ssl_key("ssl.truststore.location"));
        assert!(is_known_ssl_key("listener.name.internal.ssl.keystore.type"));
        assert!(!is_known_ssl_key("ssl.keystore.locaton"));
        assert!(keys(&[
            ("listeners", "INTERNAL://:9092"),
            ("listener.security.protocol.map", "INTERNAL:PLAINTEXT"),
        ])
        .is_empty());
    }

    #[test]
    fn sasl_plain_and_scram_settings_are_served_others_refused() {
        assert!(keys(&[
            ("listeners", "SASL_PLAINTEXT://:9092"),
            ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
            (
                "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required;"
            ),
            (
                "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            (
                "listener.name.sasl_plaintext.connections.max.reauth.ms",
                "60000"
            ),
            ("security.inter.broker.protocol", "SASL_PLAINTEXT"),
        ])
        .is_empty());
        assert_eq!(
            keys(&[
                ("listeners", "SASL_SSL://:9092"),
                ("sasl.kerberos.service.name", "kafka"),
                (
                    "listener.name.external.gssapi.sasl.jaas.config",
                    "com.sun.security.auth.module.Krb5LoginModule required;"
                ),
            ]),
            vec![
                "listener.name.external.gssapi.sasl.jaas.config".to_string(),
                "sasl.kerberos.service.name".to_string()
            ]
        );
    }

    #[test]
    fn unknown_inter_broker_protocol_is_refused() {
        assert!(keys(&[("security.inter.broker.protocol", "SASL_SSL")]).is_empty());
        assert_eq!(
            keys(&[("security.inter.broker.protocol", "KERBEROS")]),
            vec!["security.inter.broker.protocol".to_string()]
        );
    }
}
