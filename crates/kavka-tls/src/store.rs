//! Key and trust stores from files or PEM text, as `ssl.keystore.*` and
//! `ssl.truststore.*` name them.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::settings::{SslSettings, StoreType};
use crate::TlsConfigError;

/// A private key and the certificate chain that goes with it, leaf first.
#[derive(Debug)]
pub struct KeyStore {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// The key store the settings name, if any.
pub fn load_key_store(s: &SslSettings) -> Result<Option<KeyStore>, TlsConfigError> {
    if let Some(key_pem) = &s.keystore_key {
        if s.keystore_type != StoreType::Pem {
            return Err(TlsConfigError::invalid(
                "ssl.keystore.type",
                type_name(s.keystore_type),
                "ssl.keystore.key needs ssl.keystore.type=PEM",
            ));
        }
        let chain_pem = s.keystore_certificate_chain.as_deref().ok_or_else(|| {
            TlsConfigError::store(
                "ssl.keystore.certificate.chain",
                "must be set with ssl.keystore.key",
            )
        })?;
        let key = pem_key("ssl.keystore.key", key_pem.as_bytes())?;
        let chain = pem_certificates("ssl.keystore.certificate.chain", chain_pem.as_bytes())?;
        return Ok(Some(KeyStore { chain, key }));
    }
    let Some(location) = &s.keystore_location else {
        return Ok(None);
    };
    let key = "ssl.keystore.location";
    let bytes = read(key, location)?;
    match s.keystore_type {
        StoreType::Pem => Ok(Some(KeyStore {
            key: pem_key(key, &bytes)?,
            chain: pem_certificates(key, &bytes)?,
        })),
        StoreType::Pkcs12 | StoreType::Jks => {
            let password = s.keystore_password.as_deref().unwrap_or("");
            let store = pkcs12(key, &bytes, password, s.keystore_type)?;
            let Some((_, entry)) = store.private_key_chain() else {
                return Err(TlsConfigError::store(
                    key,
                    "no private key entry in the store",
                ));
            };
            let chain: Vec<CertificateDer<'static>> = entry
                .chain()
                .iter()
                .map(|c| CertificateDer::from(c.as_der().to_vec()))
                .collect();
            if chain.is_empty() {
                return Err(TlsConfigError::store(
                    key,
                    "the key entry has no certificate",
                ));
            }
            Ok(Some(KeyStore {
                chain,
                key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(entry.key().to_vec())),
            }))
        }
    }
}

/// The trusted certificates the settings name (empty when none are named).
pub fn load_trust_store(s: &SslSettings) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    if let Some(pem) = &s.truststore_certificates {
        return pem_certificates("ssl.truststore.certificates", pem.as_bytes());
    }
    let Some(location) = &s.truststore_location else {
        return Ok(Vec::new());
    };
    let key = "ssl.truststore.location";
    let bytes = read(key, location)?;
    match s.truststore_type {
        StoreType::Pem => pem_certificates(key, &bytes),
        StoreType::Pkcs12 | StoreType::Jks => {
            let password = s.truststore_password.as_deref().unwrap_or("");
            let store = pkcs12(key, &bytes, password, s.truststore_type)?;
            let mut certs = Vec::new();
            for (_, entry) in store.entries() {
                match entry {
                    p12_keystore::KeyStoreEntry::Certificate(c) => {
                        certs.push(CertificateDer::from(c.as_der().to_vec()))
                    }
                    p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) => certs.extend(
                        chain
                            .chain()
                            .iter()
                            .map(|c| CertificateDer::from(c.as_der().to_vec())),
                    ),
                    p12_keystore::KeyStoreEntry::Secret(_) => {}
                }
            }
            if certs.is_empty() {
                return Err(TlsConfigError::store(key, "no certificates in the store"));
            }
            Ok(certs)
        }
    }
}

fn type_name(t: StoreType) -> &'static str {
    match t {
        StoreType::Pem => "PEM",
        StoreType::Pkcs12 => "PKCS12",
        StoreType::Jks => "JKS",
    }
}

fn read(key: &str, path: &str) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|source| TlsConfigError::Read {
        key: key.to_string(),
        path: path.to_string(),
        source,
    })
}

/// A Java JKS file starts with 0xFEEDFEED.
const JKS_MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];

fn pkcs12(
    key: &str,
    bytes: &[u8],
    password: &str,
    declared: StoreType,
) -> Result<p12_keystore::KeyStore, TlsConfigError> {
    if bytes.starts_with(&JKS_MAGIC) {
        return Err(TlsConfigError::store(
            key,
            "a JKS store; convert it with `keytool -importkeystore -deststoretype PKCS12` \
             or use PEM",
        ));
    }
    p12_keystore::KeyStore::from_pkcs12(bytes, password).map_err(|e| {
        let hint = if declared == StoreType::Jks {
            " (type JKS, Kafka's default, is read as PKCS12)"
        } else {
            ""
        };
        TlsConfigError::store(key, format!("cannot read the PKCS12 store{hint}: {e}"))
    })
}

fn pem_certificates(key: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::store(key, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsConfigError::store(key, "no CERTIFICATE in the PEM"));
    }
    Ok(certs)
}

fn pem_key(key: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(k) => Ok(k),
        Err(_) if contains(pem, b"ENCRYPTED PRIVATE KEY") => Err(TlsConfigError::store(
            key,
            "encrypted PEM private keys (ssl.key.password) are not supported yet; \
             use an unencrypted key or a PKCS12 store",
        )),
        Err(e) => Err(TlsConfigError::store(
            key,
            format!("no private key in the PEM: {e}"),
        )),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
