//! Kafka's `ssl.*` settings, read and checked, before any file is opened.

use crate::TlsConfigError;

/// The `ssl.*` keys this crate reads, for the brokers' and tools' unknown-key checks.
pub const SSL_KEYS: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.protocol",
    "ssl.cipher.suites",
    "ssl.endpoint.identification.algorithm",
    "ssl.principal.mapping.rules",
    // Accepted as Kafka's defaults have them; the JVM's names mean nothing to rustls.
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
    "ssl.engine.factory.class",
];

/// `ssl.keystore.type` / `ssl.truststore.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    Pem,
    Pkcs12,
    /// Kafka's default name. Java 9's keytool writes PKCS12 even under this name,
    /// so such a file is read as PKCS12; a real JKS file is refused with advice.
    Jks,
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// Every `ssl.*` setting of one listener or one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslSettings {
    pub keystore_type: StoreType,
    pub keystore_location: Option<String>,
    pub keystore_password: Option<String>,
    pub key_password: Option<String>,
    /// `ssl.keystore.key`: the private key as PEM text.
    pub keystore_key: Option<String>,
    /// `ssl.keystore.certificate.chain`: the certificate chain as PEM text.
    pub keystore_certificate_chain: Option<String>,
    pub truststore_type: StoreType,
    pub truststore_location: Option<String>,
    pub truststore_password: Option<String>,
    /// `ssl.truststore.certificates`: trusted certificates as PEM text.
    pub truststore_certificates: Option<String>,
    pub client_auth: ClientAuth,
    /// `ssl.enabled.protocols`, as given (`TLSv1.2`, `TLSv1.3`).
    pub enabled_protocols: Vec<String>,
    /// `ssl.cipher.suites`; empty: the provider's defaults.
    pub cipher_suites: Vec<String>,
    /// `ssl.endpoint.identification.algorithm`: `https` checks the server's
    /// name (clients only); empty turns the check off.
    pub endpoint_identification: bool,
    /// `ssl.principal.mapping.rules`, unparsed.
    pub principal_mapping_rules: String,
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn store_type(key: &str, value: Option<String>) -> Result<StoreType, TlsConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(StoreType::Jks),
        Some(v) if v.eq_ignore_ascii_case("PEM") => Ok(StoreType::Pem),
        Some(v) if v.eq_ignore_ascii_case("PKCS12") => Ok(StoreType::Pkcs12),
        Some(v) if v.eq_ignore_ascii_case("JKS") => Ok(StoreType::Jks),
        Some(v) => Err(TlsConfigError::invalid(
            key,
            v,
            "supported types are PEM and PKCS12 (and JKS files written as PKCS12)",
        )),
    }
}

impl SslSettings {
    /// Reads the settings through `get` (which applies whatever precedence the
    /// caller has, e.g. `listener.name.<name>.ssl.*` over `ssl.*`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, TlsConfigError> {
        let some = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        let client_auth = match some("ssl.client.auth").as_deref().map(str::trim) {
            None => ClientAuth::None,
            Some(v) if v.eq_ignore_ascii_case("none") => ClientAuth::None,
            Some(v) if v.eq_ignore_ascii_case("requested") => ClientAuth::Requested,
            Some(v) if v.eq_ignore_ascii_case("required") => ClientAuth::Required,
            Some(v) => {
                return Err(TlsConfigError::invalid(
                    "ssl.client.auth",
                    v,
                    "must be one of required, requested, none",
                ))
            }
        };
        let enabled_protocols = some("ssl.enabled.protocols")
            .map(|v| list(&v))
            .unwrap_or_else(|| vec!["TLSv1.2".to_string(), "TLSv1.3".to_string()]);
        if let Some(p) = some("ssl.protocol") {
            if !["TLS", "TLSv1.2", "TLSv1.3"].contains(&p.trim()) {
                return Err(TlsConfigError::invalid(
                    "ssl.protocol",
                    &p,
                    "supported are TLSv1.3, TLSv1.2 and TLS",
                ));
            }
        }
        // Kafka's default is `https`; only an explicitly empty value turns it off.
        let endpoint_identification = match get("ssl.endpoint.identification.algorithm") {
            None => true,
            Some(v) if v.trim().is_empty() => false,
            Some(v) if v.trim().eq_ignore_ascii_case("https") => true,
            Some(v) => {
                return Err(TlsConfigError::invalid(
                    "ssl.endpoint.identification.algorithm",
                    &v,
                    "supported are https and the empty value",
                ))
            }
        };
        Ok(Self {
            keystore_type: store_type("ssl.keystore.type", get("ssl.keystore.type"))?,
            keystore_location: some("ssl.keystore.location"),
            keystore_password: get("ssl.keystore.password"),
            key_password: get("ssl.key.password"),
            keystore_key: some("ssl.keystore.key"),
            keystore_certificate_chain: some("ssl.keystore.certificate.chain"),
            truststore_type: store_type("ssl.truststore.type", get("ssl.truststore.type"))?,
            truststore_location: some("ssl.truststore.location"),
            truststore_password: get("ssl.truststore.password"),
            truststore_certificates: some("ssl.truststore.certificates"),
            client_auth,
            enabled_protocols,
            cipher_suites: some("ssl.cipher.suites")
                .map(|v| list(&v))
                .unwrap_or_default(),
            endpoint_identification,
            principal_mapping_rules: some("ssl.principal.mapping.rules")
                .unwrap_or_else(|| "DEFAULT".to_string()),
        })
    }

    /// Whether a key store is configured (a file, or PEM text).
    pub fn has_key_store(&self) -> bool {
        self.keystore_location.is_some() || self.keystore_key.is_some()
    }

    /// Whether trusted certificates are configured (a file, or PEM text).
    pub fn has_trust_store(&self) -> bool {
        self.truststore_location.is_some() || self.truststore_certificates.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<SslSettings, TlsConfigError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SslSettings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn kafkas_defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.keystore_type, StoreType::Jks);
        assert_eq!(s.client_auth, ClientAuth::None);
        assert_eq!(s.enabled_protocols, vec!["TLSv1.2", "TLSv1.3"]);
        assert!(s.endpoint_identification);
        assert_eq!(s.principal_mapping_rules, "DEFAULT");
        assert!(!s.has_key_store() && !s.has_trust_store());
    }

    #[test]
    fn values_are_read_and_bad_ones_named() {
        let s = settings(&[
            ("ssl.keystore.type", "pem"),
            ("ssl.truststore.type", "PKCS12"),
            ("ssl.client.auth", "required"),
            ("ssl.endpoint.identification.algorithm", ""),
            ("ssl.enabled.protocols", "TLSv1.3"),
        ])
        .unwrap();
        assert_eq!(s.keystore_type, StoreType::Pem);
        assert_eq!(s.truststore_type, StoreType::Pkcs12);
        assert_eq!(s.client_auth, ClientAuth::Required);
        assert!(!s.endpoint_identification);
        assert_eq!(s.enabled_protocols, vec!["TLSv1.3"]);
        for (key, value) in [
            ("ssl.client.auth", "sometimes"),
            ("ssl.keystore.type", "BKS"),
            ("ssl.protocol", "SSLv3"),
            ("ssl.endpoint.identification.algorithm", "ldap"),
        ] {
            let err = settings(&[(key, value)]).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(value), "{err}");
        }
    }
}
