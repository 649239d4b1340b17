//! Connecting to the cluster: the `--bootstrap-server` rule and `rdkafka` client setup.

use rdkafka::config::{ClientConfig, FromClientConfig};
use rdkafka::error::KafkaError;

use crate::error::ToolError;
use crate::props::Props;

/// Kafka's tools refuse to run without `--bootstrap-server` (exit status 1).
pub(crate) fn require_bootstrap(server: Option<&str>) -> Result<&str, i32> {
    server.ok_or_else(|| {
        eprintln!("--bootstrap-server must be specified");
        1
    })
}

/// Java client properties that mean nothing to librdkafka; Kafka's tools accept them.
fn java_only(key: &str) -> bool {
    key.ends_with(".serializer")
        || key.ends_with(".deserializer")
        || matches!(
            key,
            "interceptor.classes"
                | "partitioner.class"
                | "max.block.ms"
                | "buffer.memory"
                | "key.deserializer"
        )
}

/// An rdkafka configuration for `bootstrap` with the user's properties on top,
/// Java's TLS properties translated to librdkafka's (see `tls`).
pub(crate) fn client_config(bootstrap: &str, props: &Props) -> Result<ClientConfig, ToolError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3");
    // Java's `sasl.jaas.config` means nothing to librdkafka: its user and
    // password become `sasl.username`/`sasl.password`. A malformed one is left
    // for librdkafka to refuse by name.
    let props = crate::sasl_login::for_librdkafka(props).unwrap_or_else(|_| props.clone());
    for (k, v) in props.iter() {
        if !java_only(k) && !crate::tls::JAVA_ONLY_SSL_KEYS.contains(&k) {
            config.set(k, v);
        }
    }
    for (k, v) in crate::tls::librdkafka_properties(&props)? {
        config.set(k, v);
    }
    Ok(config)
}

/// Creates a client, dropping (with a warning) properties librdkafka does not know, as
/// Kafka's clients only warn about unknown configs.
pub(crate) fn create<T: FromClientConfig>(mut config: ClientConfig) -> Result<T, ToolError> {
    loop {
        match config.create::<T>() {
            Ok(client) => return Ok(client),
            Err(KafkaError::ClientConfig(_, desc, key, _))
                if desc.contains("No such configuration property") =>
            {
                eprintln!(
                    "WARN These configurations '[{key}]' were supplied but are not used yet."
                );
                config.remove(&key);
            }
            Err(e) => {
                return Err(ToolError::Usage(format!(
                    "Invalid client configuration: {e}"
                )))
            }
        }
    }
}
