//! rustls configs from [`SslSettings`].

use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme, SupportedProtocolVersion,
};

use crate::settings::{ClientAuth, SslSettings};
use crate::store::{load_key_store, load_trust_store};
use crate::TlsConfigError;

/// The server side of an SSL listener.
pub fn server_config(s: &SslSettings) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let provider = provider(s)?;
    let versions = versions(s)?;
    let store = load_key_store(s)?.ok_or_else(|| {
        TlsConfigError::store(
            "ssl.keystore.location",
            "an SSL listener needs a key store (ssl.keystore.location, or \
             ssl.keystore.key with ssl.keystore.certificate.chain)",
        )
    })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(rustls_error)?;
    let builder = match s.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let roots = roots(
                s,
                "ssl.client.auth needs ssl.truststore.* to check client certificates",
            )?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(rustls_error)?)
        }
    };
    let config = builder
        .with_single_cert(store.chain, store.key)
        .map_err(|e| TlsConfigError::store("ssl.keystore.location", e.to_string()))?;
    Ok(Arc::new(config))
}

/// The client side: tools and the inter-broker client. Without a trust store
/// the system's CA certificates are trusted, as Java trusts its default ones.
pub fn client_config(s: &SslSettings) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let provider = provider(s)?;
    let versions = versions(s)?;
    let roots = if s.has_trust_store() {
        roots(s, "")?
    } else {
        system_roots()
    };
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(rustls_error)?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(rustls_error)?;
    let builder = if s.endpoint_identification {
        builder.with_webpki_verifier(verifier)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier(verifier)))
    };
    let config = match load_key_store(s)? {
        Some(store) => builder
            .with_client_auth_cert(store.chain, store.key)
            .map_err(|e| TlsConfigError::store("ssl.keystore.location", e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The subject of the peer's leaf certificate in Java's RFC 2253 form, the
/// DN Kafka maps to a principal.
pub fn peer_subject(leaf: &CertificateDer<'_>) -> Result<String, crate::dn::DnError> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(leaf.as_ref())
        .map_err(|_| crate::dn::DnError::new("not an X.509 certificate"))?;
    crate::dn::rfc2253_from_der(cert.subject().as_raw())
}

/// ring, with `ssl.cipher.suites` applied.
fn provider(s: &SslSettings) -> Result<Arc<CryptoProvider>, TlsConfigError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !s.cipher_suites.is_empty() {
        let known: Vec<String> = provider
            .cipher_suites
            .iter()
            .map(|c| iana_name(c.suite()))
            .collect();
        if let Some(unknown) = s.cipher_suites.iter().find(|c| !known.contains(c)) {
            return Err(TlsConfigError::invalid(
                "ssl.cipher.suites",
                unknown,
                format!("supported suites are {}", known.join(", ")),
            ));
        }
        provider
            .cipher_suites
            .retain(|c| s.cipher_suites.contains(&iana_name(c.suite())));
    }
    Ok(Arc::new(provider))
}

/// A suite's IANA name, as Java's `ssl.cipher.suites` lists it (rustls calls the
/// TLS 1.3 ones `TLS13_*`; IANA and Java call them `TLS_*`).
fn iana_name(suite: rustls::CipherSuite) -> String {
    let name = format!("{suite:?}");
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

/// `ssl.enabled.protocols` as rustls versions; older TLS versions do not exist
/// in rustls and are refused by name.
fn versions(s: &SslSettings) -> Result<Vec<&'static SupportedProtocolVersion>, TlsConfigError> {
    let mut versions = Vec::new();
    for p in &s.enabled_protocols {
        match p.as_str() {
            "TLSv1.3" => versions.push(&rustls::version::TLS13),
            "TLSv1.2" => versions.push(&rustls::version::TLS12),
            other => {
                return Err(TlsConfigError::invalid(
                    "ssl.enabled.protocols",
                    other,
                    "supported protocols are TLSv1.2 and TLSv1.3",
                ))
            }
        }
    }
    if versions.is_empty() {
        return Err(TlsConfigError::invalid(
            "ssl.enabled.protocols",
            "",
            "name TLSv1.2, TLSv1.3 or both",
        ));
    }
    Ok(versions)
}

fn roots(s: &SslSettings, missing: &str) -> Result<RootCertStore, TlsConfigError> {
    let certs = load_trust_store(s)?;
    if certs.is_empty() {
        return Err(TlsConfigError::store("ssl.truststore.location", missing));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| TlsConfigError::store("ssl.truststore.location", e.to_string()))?;
    }
    Ok(roots)
}

/// The CA bundle Debian-like systems keep; empty where there is none.
fn system_roots() -> RootCertStore {
    use rustls_pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    if let Ok(iter) = CertificateDer::pem_file_iter("/etc/ssl/certs/ca-certificates.crt") {
        roots.add_parsable_certificates(iter.flatten());
    }
    roots
}

fn rustls_error(e: impl std::fmt::Display) -> TlsConfigError {
    TlsConfigError::Rustls(e.to_string())
}

/// `ssl.endpoint.identification.algorithm=` (empty): the chain is checked, the
/// server's name is not, as Kafka's clients do with the check turned off.
#[derive(Debug)]
struct ChainOnlyVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
