//! Fail closed on security settings Kavka does not implement yet.
//!
//! A user moving a secured Kafka `server.properties` over must never end up with a
//! broker that serves the same port in plaintext, unauthenticated and unauthorized.
//! So a non-PLAINTEXT listener or any TLS/SASL setting stops the start
//! with one message naming every such setting; other unknown keys stay warnings.

use std::collections::BTreeMap;

use super::cluster::{list, protocol_map};

/// Keys that only make sense with TLS or SASL, matched by prefix.
/// (`listener.name.<name>.ssl.*` and `.sasl.*`/`.<mechanism>.sasl.*` are caught
/// by [`is_listener_security_key`].)
const SECURITY_PREFIXES: &[&str] = &["ssl.", "sasl."];

/// Whole keys that ask for authentication (the authorizer's are read by
/// `config::authorizer`).
const SECURITY_KEYS: &[&str] = &[
    "principal.builder.class",
    "security.inter.broker.protocol",
    "connections.max.reauth.ms",
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
            if protocol != "PLAINTEXT" {
                found.push(UnsupportedSetting {
                    key: key.to_string(),
                    reason: format!(
                        "listener {listener} uses {protocol}; Kavka serves only PLAINTEXT so far"
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
            if value.trim().eq_ignore_ascii_case("PLAINTEXT") {
                continue;
            }
            "Kavka serves only PLAINTEXT so far"
        } else if SECURITY_KEYS.contains(&key.as_str()) {
            "Kavka has no authentication yet"
        } else if SECURITY_PREFIXES.iter().any(|p| key.starts_with(p))
            || is_listener_security_key(key)
        {
            "Kavka has no TLS or SASL yet"
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
    setting.starts_with("ssl.")
        || setting.starts_with("sasl.")
        || setting.contains(".sasl.")
        || setting.starts_with("connections.max.reauth.ms")
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
    fn secured_kafka_config_names_every_setting() {
        let found = keys(&[
            ("listeners", "SASL_SSL://127.0.0.1:9093"),
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("ssl.keystore.location", "/etc/kafka/ks.jks"),
            ("ssl.keystore.password", "secret"),
        ]);
        for key in [
            "listeners",
            "sasl.enabled.mechanisms",
            "ssl.keystore.location",
            "ssl.keystore.password",
        ] {
            assert!(
                found.contains(&key.to_string()),
                "{key} not reported: {found:?}"
            );
        }
    }

    #[test]
    fn named_listener_mapped_to_ssl_is_refused() {
        assert_eq!(
            keys(&[
                ("listeners", "INTERNAL://:9092"),
                ("listener.security.protocol.map", "INTERNAL:SSL"),
            ]),
            vec!["listeners".to_string()]
        );
        assert!(keys(&[
            ("listeners", "INTERNAL://:9092"),
            ("listener.security.protocol.map", "INTERNAL:PLAINTEXT"),
        ])
        .is_empty());
    }

    #[test]
    fn per_listener_sasl_settings_are_refused() {
        assert_eq!(
            keys(&[(
                "listener.name.external.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required;"
            )]),
            vec!["listener.name.external.plain.sasl.jaas.config".to_string()]
        );
        assert_eq!(
            keys(&[("listener.name.internal.ssl.keystore.location", "/x")]),
            vec!["listener.name.internal.ssl.keystore.location".to_string()]
        );
    }

    #[test]
    fn ssl_inter_broker_protocol_is_refused() {
        assert_eq!(
            keys(&[("security.inter.broker.protocol", "SSL")]),
            vec!["security.inter.broker.protocol".to_string()]
        );
    }
}
