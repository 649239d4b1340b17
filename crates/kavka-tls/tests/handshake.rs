//! Real TLS handshakes between the configs this crate builds, over an in-memory
//! pipe: what a broker's SSL listener accepts and refuses, and what it learns.

use std::collections::BTreeMap;
use std::path::Path;

use kavka_tls::testing::{Issued, TestCa};
use kavka_tls::tokio_rustls::rustls::pki_types::ServerName;
use kavka_tls::tokio_rustls::{TlsAcceptor, TlsConnector};
use kavka_tls::{client_config, peer_subject, server_config, SslSettings};
use rcgen::DnType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn settings(pairs: &[(&str, String)]) -> SslSettings {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    SslSettings::from_lookup(|k| map.get(k).cloned()).expect("settings")
}

fn pem_server(dir: &Path, server: &Issued, extra: &[(&str, String)]) -> SslSettings {
    let mut pairs = vec![
        ("ssl.keystore.type", "PEM".to_string()),
        (
            "ssl.keystore.location",
            server
                .write_pem_keystore(dir, "server")
                .display()
                .to_string(),
        ),
        ("ssl.truststore.type", "PEM".to_string()),
        (
            "ssl.truststore.location",
            server
                .write_pem_truststore(dir, "server")
                .display()
                .to_string(),
        ),
    ];
    pairs.extend(extra.iter().cloned());
    settings(&pairs)
}

/// Runs one handshake and a byte each way; the server's view of the peer's DN.
async fn handshake(
    server: &SslSettings,
    client: &SslSettings,
    name: &str,
) -> Result<Option<String>, String> {
    let acceptor = TlsAcceptor::from(server_config(server).map_err(|e| e.to_string())?);
    let connector = TlsConnector::from(client_config(client).map_err(|e| e.to_string())?);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server_side = tokio::spawn(async move {
        let mut tls = acceptor.accept(a).await.map_err(|e| e.to_string())?;
        let dn = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|leaf| peer_subject(leaf).expect("subject"));
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
        tls.write_all(&byte).await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(dn)
    });
    let name = ServerName::try_from(name.to_string()).expect("name");
    let client_side = async {
        let mut tls = connector
            .connect(name, b)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(b"k").await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    };
    let client_result = client_side.await;
    let server_result = server_side.await.map_err(|e| e.to_string())?;
    client_result?;
    server_result
}

#[tokio::test]
async fn one_way_tls_with_pem_stores() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let server = pem_server(dir.path(), &ca.server("broker"), &[]);
    let client = settings(&[("ssl.truststore.certificates", ca.cert_pem())]);
    assert_eq!(handshake(&server, &client, "localhost").await, Ok(None));
}

#[tokio::test]
async fn mutual_tls_gives_the_server_the_clients_dn() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let server = pem_server(
        dir.path(),
        &ca.server("broker"),
        &[("ssl.client.auth", "required".into())],
    );
    let alice = ca.client(&[
        (DnType::CountryName, "DE"),
        (DnType::OrganizationName, "Kavka"),
        (DnType::OrganizationalUnitName, "Eng"),
        (DnType::CommonName, "alice"),
    ]);
    // Inline PEM, as ssl.keystore.key / ssl.keystore.certificate.chain allow.
    let client = settings(&[
        ("ssl.keystore.type", "PEM".into()),
        ("ssl.keystore.key", alice.key_pem.clone()),
        ("ssl.keystore.certificate.chain", alice.cert_pem.clone()),
        ("ssl.truststore.type", "PEM".into()),
        ("ssl.truststore.certificates", ca.cert_pem()),
    ]);
    assert_eq!(
        handshake(&server, &client, "127.0.0.1").await,
        Ok(Some("CN=alice,OU=Eng,O=Kavka,C=DE".to_string()))
    );
}

#[tokio::test]
async fn required_client_auth_refuses_a_stranger_and_a_certless_client() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let server = pem_server(
        dir.path(),
        &ca.server("broker"),
        &[("ssl.client.auth", "required".into())],
    );
    let other_ca = TestCa::new("Other CA");
    let stranger = other_ca.client(&[(DnType::CommonName, "mallory")]);
    let client = settings(&[
        ("ssl.keystore.type", "PEM".into()),
        ("ssl.keystore.key", stranger.key_pem.clone()),
        ("ssl.keystore.certificate.chain", stranger.cert_pem.clone()),
        ("ssl.truststore.certificates", ca.cert_pem()),
    ]);
    assert!(handshake(&server, &client, "localhost").await.is_err());
    let certless = settings(&[("ssl.truststore.certificates", ca.cert_pem())]);
    assert!(handshake(&server, &certless, "localhost").await.is_err());
}

#[tokio::test]
async fn requested_client_auth_lets_a_certless_client_in() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let server = pem_server(
        dir.path(),
        &ca.server("broker"),
        &[("ssl.client.auth", "requested".into())],
    );
    let certless = settings(&[("ssl.truststore.certificates", ca.cert_pem())]);
    assert_eq!(handshake(&server, &certless, "localhost").await, Ok(None));
}

#[tokio::test]
async fn pkcs12_key_and_trust_stores() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let broker = ca.server("broker");
    let client_cert = ca.client(&[(DnType::CommonName, "bob")]);
    let server = settings(&[
        ("ssl.keystore.type", "PKCS12".into()),
        (
            "ssl.keystore.location",
            broker
                .write_pkcs12_keystore(dir.path(), "broker", "ks-secret")
                .display()
                .to_string(),
        ),
        ("ssl.keystore.password", "ks-secret".into()),
        ("ssl.truststore.type", "PKCS12".into()),
        (
            "ssl.truststore.location",
            broker
                .write_pkcs12_truststore(dir.path(), "broker", "ts-secret")
                .display()
                .to_string(),
        ),
        ("ssl.truststore.password", "ts-secret".into()),
        ("ssl.client.auth", "required".into()),
    ]);
    let client = settings(&[
        ("ssl.keystore.type", "PKCS12".into()),
        (
            "ssl.keystore.location",
            client_cert
                .write_pkcs12_keystore(dir.path(), "bob", "bob-secret")
                .display()
                .to_string(),
        ),
        ("ssl.keystore.password", "bob-secret".into()),
        (
            "ssl.truststore.location",
            client_cert
                .write_pem_truststore(dir.path(), "bob")
                .display()
                .to_string(),
        ),
        ("ssl.truststore.type", "PEM".into()),
    ]);
    assert_eq!(
        handshake(&server, &client, "localhost").await,
        Ok(Some("CN=bob".to_string()))
    );
    let wrong_password = settings(&[
        ("ssl.keystore.type", "PKCS12".into()),
        (
            "ssl.keystore.location",
            dir.path().join("broker.keystore.p12").display().to_string(),
        ),
        ("ssl.keystore.password", "guess".into()),
    ]);
    let err = server_config(&wrong_password).unwrap_err().to_string();
    assert!(err.contains("ssl.keystore.location"), "{err}");
}

#[tokio::test]
async fn hostname_is_checked_unless_endpoint_identification_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let server = pem_server(dir.path(), &ca.server("broker"), &[]);
    let checking = settings(&[("ssl.truststore.certificates", ca.cert_pem())]);
    let err = handshake(&server, &checking, "broker.elsewhere.example")
        .await
        .unwrap_err();
    assert!(
        err.contains("not valid for name") || err.contains("NotValidForName"),
        "{err}"
    );
    let unchecked = settings(&[
        ("ssl.truststore.certificates", ca.cert_pem()),
        ("ssl.endpoint.identification.algorithm", String::new()),
    ]);
    assert_eq!(
        handshake(&server, &unchecked, "broker.elsewhere.example").await,
        Ok(None)
    );
    // The chain is still checked with the name check off.
    let other = TestCa::new("Other CA");
    let untrusting = settings(&[
        ("ssl.truststore.certificates", other.cert_pem()),
        ("ssl.endpoint.identification.algorithm", String::new()),
    ]);
    assert!(handshake(&server, &untrusting, "localhost").await.is_err());
}

#[tokio::test]
async fn protocols_and_cipher_suites_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let server = pem_server(
        dir.path(),
        &ca.server("broker"),
        &[("ssl.enabled.protocols", "TLSv1.3".into())],
    );
    let tls12_only = settings(&[
        ("ssl.truststore.certificates", ca.cert_pem()),
        ("ssl.enabled.protocols", "TLSv1.2".into()),
    ]);
    assert!(handshake(&server, &tls12_only, "localhost").await.is_err());
    let suite = settings(&[
        ("ssl.truststore.certificates", ca.cert_pem()),
        ("ssl.cipher.suites", "TLS_AES_256_GCM_SHA384".into()),
    ]);
    assert_eq!(handshake(&server, &suite, "localhost").await, Ok(None));
    let bad = SslSettings::from_lookup(|k| {
        (k == "ssl.cipher.suites").then(|| "TLS_RSA_WITH_RC4_128_MD5".to_string())
    })
    .unwrap();
    let err = client_config(&bad).unwrap_err().to_string();
    assert!(err.contains("TLS_RSA_WITH_RC4_128_MD5"), "{err}");
}
