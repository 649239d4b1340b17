//! TLS as Kafka configures it, on rustls.
//!
//! Kafka's `ssl.*` settings (key and trust stores in PEM or PKCS12, client
//! authentication, protocols, cipher suites, hostname verification) become
//! rustls configs here: [`server_config`] for a broker's SSL listener,
//! [`client_config`] for the tools and the inter-broker client. A client
//! certificate becomes a principal through [`dn`] (Java's RFC 2253 form of the
//! subject) and [`principal_mapping`] (`ssl.principal.mapping.rules`). Nothing
//! here touches a socket.

mod config;
pub mod dn;
pub mod principal_mapping;
mod settings;
mod store;
#[cfg(feature = "test-certs")]
pub mod testing;

pub use config::{client_config, peer_subject, server_config};
pub use principal_mapping::{NoMatchingRule, PrincipalMapper};
pub use settings::{ClientAuth, SslSettings, StoreType, SSL_KEYS};
pub use store::{load_key_store, load_trust_store, KeyStore};
pub use tokio_rustls;

/// Why TLS cannot be set up from the given settings.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("invalid value '{value}' for configuration {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("cannot read {key} file {path}: {source}")]
    Read {
        key: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{key}: {reason}")]
    Store { key: String, reason: String },
    #[error("TLS setup failed: {0}")]
    Rustls(String),
}

/// DER bytes as a PEM block (`-----BEGIN <label>-----`, 64-column base64).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl TlsConfigError {
    pub(crate) fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn store(key: &str, reason: impl Into<String>) -> Self {
        Self::Store {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}
