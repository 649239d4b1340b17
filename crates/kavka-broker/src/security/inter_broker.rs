//! The client side of TLS for connections this broker opens to other brokers
//! (replica fetchers, transaction markers, produce verification) when
//! `inter.broker.listener.name` names an SSL listener.

use std::collections::BTreeMap;
use std::sync::Arc;

use kavka_tls::tokio_rustls::rustls::pki_types::ServerName;
use kavka_tls::tokio_rustls::TlsConnector;
use kavka_tls::TlsConfigError;

use super::listener::listener_ssl_settings;
use super::SecurityProtocol;
use crate::config::ClusterSettings;

/// The TLS client config for the inter-broker listener.
#[derive(Clone)]
pub struct InterBrokerTls {
    connector: TlsConnector,
}

impl std::fmt::Debug for InterBrokerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InterBrokerTls")
    }
}

impl InterBrokerTls {
    /// `None` when the inter-broker listener is not a TLS one. The listener's
    /// own key store doubles as the client certificate, as in Kafka.
    pub fn for_cluster(
        raw: &BTreeMap<String, String>,
        cluster: &ClusterSettings,
    ) -> Result<Option<Self>, TlsConfigError> {
        let name = &cluster.inter_broker_listener_name;
        let Some(listener) = cluster.listeners.iter().find(|l| &l.name == name) else {
            return Ok(None);
        };
        if !SecurityProtocol::parse(&listener.protocol).is_some_and(SecurityProtocol::uses_tls) {
            return Ok(None);
        }
        let settings = listener_ssl_settings(raw, name)?;
        let config = kavka_tls::client_config(&settings)?;
        Ok(Some(Self {
            connector: TlsConnector::from(Arc::clone(&config)),
        }))
    }

    /// Runs the TLS handshake with the broker at `host`.
    pub(crate) async fn connect(
        &self,
        host: &str,
        socket: tokio::net::TcpStream,
    ) -> std::io::Result<kavka_tls::tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        self.connector.connect(name, socket).await
    }
}
