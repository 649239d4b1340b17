//! Java clients' TLS properties (`security.protocol=SSL`, `ssl.truststore.*`,
//! `ssl.keystore.*`, `ssl.endpoint.identification.algorithm`) for both ways the
//! tools talk to a cluster: translated to librdkafka's names for the `rdkafka`
//! clients, and turned into a rustls config for the tools' own wire client.

use std::sync::Arc;

use kavka_tls::tokio_rustls::rustls::ClientConfig;
use kavka_tls::{SslSettings, StoreType};

use crate::error::ToolError;
use crate::props::Props;

/// Whether the properties ask for TLS (`security.protocol` SSL or SASL_SSL).
pub(crate) fn uses_tls(props: &Props) -> bool {
    props.get("security.protocol").is_some_and(|p| {
        p.trim().eq_ignore_ascii_case("SSL") || p.trim().eq_ignore_ascii_case("SASL_SSL")
    })
}

fn settings(props: &Props) -> Result<SslSettings, ToolError> {
    SslSettings::from_lookup(|k| props.get(k).map(str::to_string))
        .map_err(|e| ToolError::Usage(format!("Invalid client configuration: {e}")))
}

/// The rustls config for the wire client, when the properties ask for TLS.
pub(crate) fn wire_config(props: &Props) -> Result<Option<Arc<ClientConfig>>, ToolError> {
    if !uses_tls(props) {
        return Ok(None);
    }
    kavka_tls::client_config(&settings(props)?)
        .map(Some)
        .map_err(|e| ToolError::Usage(format!("Invalid client configuration: {e}")))
}

/// Java keys librdkafka has no use for once translated.
pub(crate) const JAVA_ONLY_SSL_KEYS: &[&str] = &[
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.keystore.type",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.enabled.protocols",
    "ssl.protocol",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
    // JSSE's suite names are not OpenSSL's; librdkafka would refuse them.
    "ssl.cipher.suites",
];

/// librdkafka properties for the Java TLS properties in `props`. Trust stores of
/// any type become `ssl.ca.pem`; PKCS12 key stores are read by librdkafka itself
/// (`ssl.keystore.location`, the same name); PEM ones become
/// `ssl.key.location`/`ssl.certificate.location` or the inline `.pem` forms.
pub(crate) fn librdkafka_properties(props: &Props) -> Result<Vec<(String, String)>, ToolError> {
    let mut out = Vec::new();
    if !props.iter().any(|(k, _)| k.starts_with("ssl.")) {
        return Ok(out);
    }
    let s = settings(props)?;
    let bad = |e: kavka_tls::TlsConfigError| {
        ToolError::Usage(format!("Invalid client configuration: {e}"))
    };
    if s.has_trust_store() {
        let certs = kavka_tls::load_trust_store(&s).map_err(bad)?;
        let pem: String = certs
            .iter()
            .map(|c| kavka_tls::pem_encode("CERTIFICATE", c.as_ref()))
            .collect();
        out.push(("ssl.ca.pem".to_string(), pem));
    }
    if let (Some(key), Some(chain)) = (&s.keystore_key, &s.keystore_certificate_chain) {
        out.push(("ssl.key.pem".to_string(), key.clone()));
        out.push(("ssl.certificate.pem".to_string(), chain.clone()));
    } else if let Some(location) = &s.keystore_location {
        match s.keystore_type {
            StoreType::Pem => {
                // One file with the key and the chain serves as both.
                out.push(("ssl.key.location".to_string(), location.clone()));
                out.push(("ssl.certificate.location".to_string(), location.clone()));
            }
            StoreType::Pkcs12 | StoreType::Jks => {
                out.push(("ssl.keystore.location".to_string(), location.clone()));
                if let Some(p) = &s.keystore_password {
                    out.push(("ssl.keystore.password".to_string(), p.clone()));
                }
            }
        }
    }
    // Java's empty value turns the check off; librdkafka spells that `none`.
    out.push((
        "ssl.endpoint.identification.algorithm".to_string(),
        if s.endpoint_identification {
            "https"
        } else {
            "none"
        }
        .to_string(),
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_tls_properties_become_librdkafkas() {
        let dir = tempfile::tempdir().unwrap();
        let ca = kavka_tls::testing::TestCa::new("Test CA");
        let client = ca.client(&[(kavka_tls::testing::DnType::CommonName, "tool")]);
        let ts = client.write_pkcs12_truststore(dir.path(), "tool", "pw");
        let ks = client.write_pem_keystore(dir.path(), "tool");
        let props = Props::parse(&format!(
            "security.protocol=SSL\nssl.truststore.type=PKCS12\nssl.truststore.location={}\n\
             ssl.truststore.password=pw\nssl.keystore.type=PEM\nssl.keystore.location={}\n\
             ssl.endpoint.identification.algorithm=\n",
            ts.display(),
            ks.display()
        ));
        let translated: std::collections::BTreeMap<String, String> =
            librdkafka_properties(&props).unwrap().into_iter().collect();
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(squeeze(&translated["ssl.ca.pem"]), squeeze(&client.ca_pem));
        assert_eq!(translated["ssl.key.location"], ks.display().to_string());
        assert_eq!(
            translated["ssl.certificate.location"],
            ks.display().to_string()
        );
        assert_eq!(translated["ssl.endpoint.identification.algorithm"], "none");
        assert!(uses_tls(&props));
        assert!(wire_config(&props).unwrap().is_some());
        assert!(librdkafka_properties(&Props::parse("acks=all\n"))
            .unwrap()
            .is_empty());
    }
}
