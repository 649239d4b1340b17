//! Certificates made on the spot for tests (feature `test-certs`): a CA, and
//! server and client certificates it signs, written as PEM or PKCS12 files.
//! Nothing here is for production use; no key ever leaves a test's directory.
#![allow(clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};

pub use rcgen::DnType;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};

/// A certificate authority for one test.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its private key, as PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pkcs8_der: Vec<u8>,
    /// The CA's certificate, to complete the chain.
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
}

impl TestCa {
    /// A fresh CA named `CN=<name>`.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { cert, key }
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn server(&self, cn: &str) -> Issued {
        self.issue(
            &[(DnType::CommonName, cn)],
            vec!["localhost".to_string(), "127.0.0.1".to_string()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A certificate with the subject given in encoding order (C first, CN
    /// last, as most tools write it), usable by clients and brokers alike.
    pub fn client(&self, subject: &[(DnType, &str)]) -> Issued {
        self.issue(
            subject,
            vec!["localhost".to_string(), "127.0.0.1".to_string()],
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    fn issue(
        &self,
        subject: &[(DnType, &str)],
        names: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> Issued {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name = DistinguishedName::new();
        for (t, v) in subject {
            params.distinguished_name.push(t.clone(), *v);
        }
        // Both usages: brokers present theirs as clients to other brokers too.
        params.extended_key_usages = vec![
            usage,
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_pkcs8_der: key.serialize_der(),
            ca_pem: self.cert.pem(),
            ca_der: self.cert.der().to_vec(),
        }
    }
}

impl Issued {
    /// A PEM key store: the key, then the chain (leaf, CA).
    pub fn write_pem_keystore(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.keystore.pem"));
        std::fs::write(
            &path,
            format!("{}{}{}", self.key_pem, self.cert_pem, self.ca_pem),
        )
        .expect("write keystore");
        path
    }

    /// A PKCS12 key store with one key entry (leaf and CA in its chain).
    pub fn write_pkcs12_keystore(&self, dir: &Path, name: &str, password: &str) -> PathBuf {
        let chain = [
            p12_keystore::Certificate::from_der(&self.cert_der).expect("leaf"),
            p12_keystore::Certificate::from_der(&self.ca_der).expect("ca"),
        ];
        let entry = p12_keystore::PrivateKeyChain::new(&self.key_pkcs8_der, b"key-1", chain);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(name, p12_keystore::KeyStoreEntry::PrivateKeyChain(entry));
        let bytes = store.writer(password).write().expect("pkcs12");
        let path = dir.join(format!("{name}.keystore.p12"));
        std::fs::write(&path, bytes).expect("write pkcs12");
        path
    }

    /// The CA as a PEM trust store.
    pub fn write_pem_truststore(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.truststore.pem"));
        std::fs::write(&path, &self.ca_pem).expect("write truststore");
        path
    }

    /// The CA as a PKCS12 trust store (one trusted certificate entry).
    pub fn write_pkcs12_truststore(&self, dir: &Path, name: &str, password: &str) -> PathBuf {
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "ca",
            p12_keystore::KeyStoreEntry::Certificate(
                p12_keystore::Certificate::from_der(&self.ca_der).expect("ca"),
            ),
        );
        let bytes = store.writer(password).write().expect("pkcs12");
        let path = dir.join(format!("{name}.truststore.p12"));
        std::fs::write(&path, bytes).expect("write pkcs12");
        path
    }
}
