//! `http.listeners`: where the broker serves `/metrics`, `/health` and `/ready`.
//! On by default on loopback only, like a JMX port nobody opened to the network;
//! an empty value turns it off.

use super::{invalid, ConfigError, Endpoint, Props};

/// The keys read here.
pub(super) const HTTP_KEYS: &[&str] = &["http.listeners"];

/// Kafka has no such setting; 9644 is the port operators know for a broker's
/// admin/metrics HTTP endpoint, and nothing Kafka uses by default.
pub const DEFAULT_HTTP_LISTENERS: &str = "http://127.0.0.1:9644";

/// The HTTP listeners to bind; empty when turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub listeners: Vec<Endpoint>,
}

impl HttpSettings {
    pub(super) fn parse(p: &Props<'_>) -> Result<Self, ConfigError> {
        let value = p.get("http.listeners").unwrap_or(DEFAULT_HTTP_LISTENERS);
        Ok(Self {
            listeners: parse_listeners(value)?,
        })
    }
}

/// Parses `http://host:port[,http://host:port...]`. An empty host binds every
/// interface (as Kafka's `PLAINTEXT://:9092` does); port 0 takes a free one.
fn parse_listeners(value: &str) -> Result<Vec<Endpoint>, ConfigError> {
    let bad = |reason: &str| invalid("http.listeners", value, reason);
    let mut out: Vec<Endpoint> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let rest = match item.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(bad(&format!(
                    "scheme '{scheme}' is not supported; use http://host:port (or an empty \
                     value to turn the HTTP listener off)"
                )))
            }
            None => return Err(bad("expected http://host:port")),
        };
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("expected http://host:port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.contains(['/', ' ']) {
            return Err(bad("the host must not contain '/' or spaces"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
        let endpoint = Endpoint {
            host: host.to_string(),
            port,
        };
        if port != 0 && out.iter().any(|e| e.port == port && e.host == host) {
            return Err(bad("the same address is listed twice"));
        }
        out.push(endpoint);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn default_is_loopback_9644_and_empty_turns_it_off() {
        assert_eq!(
            parse_listeners(DEFAULT_HTTP_LISTENERS).unwrap(),
            [endpoint("127.0.0.1", 9644)]
        );
        assert!(parse_listeners("").unwrap().is_empty());
        assert!(parse_listeners("  ").unwrap().is_empty());
    }

    #[test]
    fn lists_hosts_and_ipv6() {
        assert_eq!(
            parse_listeners("http://:9644, HTTP://[::1]:9645").unwrap(),
            [endpoint("", 9644), endpoint("::1", 9645)]
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        for bad in [
            "127.0.0.1:9644",
            "https://127.0.0.1:9644",
            "http://127.0.0.1",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:port",
            "http://a:1,http://a:1",
        ] {
            let e = parse_listeners(bad).unwrap_err().to_string();
            assert!(e.contains("http.listeners"), "{bad}: {e}");
        }
    }
}
