//! What each listener asks of its connections: its security protocol, and for
//! SSL listeners the TLS server config and the principal mapping, resolved
//! with Kafka's precedence (`listener.name.<name>.ssl.*` over `ssl.*`).

use std::collections::BTreeMap;
use std::sync::Arc;

use kavka_tls::tokio_rustls::TlsAcceptor;
use kavka_tls::{PrincipalMapper, SslSettings, TlsConfigError};

use super::SecurityProtocol;
use crate::config::{Endpoint, NamedListener};

/// Why a listener cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    #[error("listener {listener}: unknown security protocol {protocol}")]
    UnknownProtocol { listener: String, protocol: String },
    #[error("listener {listener}: {source}")]
    Tls {
        listener: String,
        source: TlsConfigError,
    },
    #[error("listener {listener}: ssl.principal.mapping.rules: {reason}")]
    MappingRules { listener: String, reason: String },
}

/// One listener the broker serves, ready for connections.
pub struct ListenerSecurity {
    /// The listener's name, as in `listeners` (`PLAINTEXT`, `SSL`, `EXTERNAL`, …).
    pub name: String,
    pub protocol: SecurityProtocol,
    /// Set for SSL and SASL_SSL listeners.
    pub tls: Option<TlsAcceptor>,
    /// `ssl.principal.mapping.rules` for client certificates.
    pub principal_mapper: PrincipalMapper,
}

impl std::fmt::Debug for ListenerSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerSecurity")
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl ListenerSecurity {
    /// Reads the listener's settings from the broker's properties; for a TLS
    /// listener this loads its key and trust stores.
    pub fn build(
        raw: &BTreeMap<String, String>,
        listener: &NamedListener,
    ) -> Result<Arc<Self>, ListenerError> {
        let protocol = SecurityProtocol::parse(&listener.protocol).ok_or_else(|| {
            ListenerError::UnknownProtocol {
                listener: listener.name.clone(),
                protocol: listener.protocol.clone(),
            }
        })?;
        let tls_error = |source| ListenerError::Tls {
            listener: listener.name.clone(),
            source,
        };
        let settings = listener_ssl_settings(raw, &listener.name).map_err(tls_error)?;
        let tls = if protocol.uses_tls() {
            Some(TlsAcceptor::from(
                kavka_tls::server_config(&settings).map_err(tls_error)?,
            ))
        } else {
            None
        };
        let principal_mapper =
            PrincipalMapper::parse(&settings.principal_mapping_rules).map_err(|e| {
                ListenerError::MappingRules {
                    listener: listener.name.clone(),
                    reason: e.to_string(),
                }
            })?;
        Ok(Arc::new(Self {
            name: listener.name.clone(),
            protocol,
            tls,
            principal_mapper,
        }))
    }
}

/// The `ssl.*` settings of one listener: each key from
/// `listener.name.<lower-case name>.<key>` when set there, else from `<key>`.
pub fn listener_ssl_settings(
    raw: &BTreeMap<String, String>,
    listener: &str,
) -> Result<SslSettings, TlsConfigError> {
    let prefix = format!("listener.name.{}.", listener.to_ascii_lowercase());
    SslSettings::from_lookup(|key| {
        raw.get(&format!("{prefix}{key}"))
            .or_else(|| raw.get(key))
            .cloned()
    })
}

/// The address a client reaching `listener` is told to use for this broker:
/// that listener's entry in `advertised.listeners`, else its bind address.
pub fn advertised_for(
    advertised: &[NamedListener],
    listeners: &[NamedListener],
    listener: &str,
) -> Option<Endpoint> {
    if let Some(a) = advertised.iter().find(|l| l.name == listener) {
        return Some(Endpoint {
            host: a.host.clone(),
            port: a.port,
        });
    }
    let bound = listeners.iter().find(|l| l.name == listener)?;
    Some(Endpoint {
        host: if bound.host.is_empty() || bound.host == "0.0.0.0" {
            "localhost".to_string()
        } else {
            bound.host.clone()
        },
        port: bound.port,
    })
}

/// Where a client that came in on `listener` reaches broker `broker`: this
/// broker's own advertised address for that listener; other brokers' registered
/// (inter-broker listener) address, since registrations carry one endpoint so far.
pub(crate) fn broker_address(
    config: &crate::config::BrokerConfig,
    listener: &str,
    broker: &kavka_metadata::BrokerImage,
) -> (String, i32) {
    if broker.broker_id == config.node_id && !listener.is_empty() {
        let own = config.advertised_for(listener);
        return (own.host, i32::from(own.port));
    }
    (broker.host.clone(), broker.port)
}

/// Settings Kafka types as PASSWORD: DescribeConfigs answers them with no value.
pub(crate) fn is_sensitive_config(key: &str) -> bool {
    let setting = match key.strip_prefix("listener.name.") {
        Some(rest) => rest.split_once('.').map_or(rest, |(_, s)| s),
        None => key,
    };
    matches!(
        setting,
        "ssl.keystore.password"
            | "ssl.key.password"
            | "ssl.truststore.password"
            | "ssl.keystore.key"
    ) || setting.ends_with("sasl.jaas.config")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn listener_prefixed_settings_win_key_by_key() {
        let props = raw(&[
            ("ssl.keystore.location", "/etc/kafka/broker.p12"),
            ("ssl.client.auth", "required"),
            ("listener.name.external.ssl.client.auth", "none"),
            (
                "listener.name.internal.ssl.keystore.location",
                "/etc/kafka/internal.p12",
            ),
        ]);
        let external = listener_ssl_settings(&props, "EXTERNAL").unwrap();
        assert_eq!(external.client_auth, kavka_tls::ClientAuth::None);
        assert_eq!(
            external.keystore_location.as_deref(),
            Some("/etc/kafka/broker.p12")
        );
        let internal = listener_ssl_settings(&props, "INTERNAL").unwrap();
        assert_eq!(internal.client_auth, kavka_tls::ClientAuth::Required);
        assert_eq!(
            internal.keystore_location.as_deref(),
            Some("/etc/kafka/internal.p12")
        );
    }

    #[test]
    fn each_listener_advertises_its_own_address() {
        let l = |name: &str, host: &str, port| NamedListener {
            name: name.into(),
            host: host.into(),
            port,
            protocol: name.into(),
        };
        let listeners = [l("PLAINTEXT", "0.0.0.0", 9092), l("SSL", "10.0.0.5", 9093)];
        let advertised = [l("PLAINTEXT", "broker1.example", 9092)];
        let at = |name| advertised_for(&advertised, &listeners, name);
        assert_eq!(
            at("PLAINTEXT").map(|e| e.host),
            Some("broker1.example".into())
        );
        assert_eq!(
            at("SSL").map(|e| (e.host, e.port)),
            Some(("10.0.0.5".into(), 9093))
        );
        assert_eq!(at("OTHER"), None);
    }

    #[test]
    fn passwords_and_keys_are_sensitive() {
        assert!(is_sensitive_config("ssl.keystore.password"));
        assert!(is_sensitive_config("listener.name.ssl.ssl.key.password"));
        assert!(is_sensitive_config("ssl.keystore.key"));
        assert!(!is_sensitive_config("ssl.keystore.location"));
    }

    #[test]
    fn a_tls_listener_without_a_key_store_is_refused_by_name() {
        let listener = NamedListener {
            name: "SSL".into(),
            host: "127.0.0.1".into(),
            port: 0,
            protocol: "SSL".into(),
        };
        let err = ListenerSecurity::build(&raw(&[]), &listener).unwrap_err();
        assert!(err.to_string().contains("ssl.keystore.location"), "{err}");
    }
}
