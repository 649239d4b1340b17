//! The client listener's connection and request limits, with Kafka's names,
//! defaults and validation (`max.connections*`, `queued.max.request*`,
//! `connections.max.idle.ms`).

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};

use super::{invalid, parse_num, ConfigError, Props};

/// The keys read here.
pub(super) const CONNECTION_KEYS: &[&str] = &[
    "max.connections",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "queued.max.requests",
    "queued.max.request.bytes",
    "connections.max.idle.ms",
];

/// Kafka's `Integer.MAX_VALUE`, the default of both connection limits.
const INT_MAX: usize = i32::MAX as usize;

/// How many connections and unanswered requests the listener allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// `max.connections`: open client connections, broker-wide. At the limit
    /// the acceptor waits for one to close (Kafka's `waitForConnectionSlot`).
    pub max_connections: usize,
    /// `max.connections.per.ip`: a connection beyond it is closed at once.
    pub max_connections_per_ip: usize,
    /// `max.connections.per.ip.overrides`, resolved to addresses.
    pub per_ip_overrides: HashMap<IpAddr, usize>,
    /// `queued.max.requests`: requests read and not yet being handled, broker-wide.
    pub queued_max_requests: usize,
    /// `queued.max.request.bytes`: their bytes; `None` is Kafka's -1, unlimited.
    pub queued_max_request_bytes: Option<usize>,
    /// `connections.max.idle.ms`: a connection with no traffic this long is closed.
    pub connections_max_idle_ms: u64,
}

impl ConnectionSettings {
    /// The limit for one address: its override, else `max.connections.per.ip`.
    pub fn max_for(&self, ip: IpAddr) -> usize {
        self.per_ip_overrides
            .get(&ip)
            .copied()
            .unwrap_or(self.max_connections_per_ip)
    }

    pub(super) fn parse(
        p: &Props<'_>,
        socket_request_max_bytes: usize,
    ) -> Result<Self, ConfigError> {
        let max_connections = at_least(p, "max.connections", INT_MAX, 0)?;
        let max_connections_per_ip = at_least(p, "max.connections.per.ip", INT_MAX, 0)?;
        let overrides = p.get("max.connections.per.ip.overrides").unwrap_or("");
        let per_ip_overrides = parse_overrides(overrides)?;
        // Kafka's rule: a zero per-IP limit makes sense only with overrides that
        // let some addresses in.
        if max_connections_per_ip == 0 && per_ip_overrides.is_empty() {
            return Err(invalid(
                "max.connections.per.ip",
                "0",
                "0 requires max.connections.per.ip.overrides, or no client could connect",
            ));
        }
        let queued_max_requests = at_least(p, "queued.max.requests", 500, 1)?;
        let queued_bytes: i64 = p.num("queued.max.request.bytes", -1)?;
        let queued_max_request_bytes = if queued_bytes <= 0 {
            None
        } else {
            let bytes = usize::try_from(queued_bytes).unwrap_or(usize::MAX);
            // Below one maximal request, such a request could never be read.
            if bytes < socket_request_max_bytes {
                return Err(invalid(
                    "queued.max.request.bytes",
                    &queued_bytes.to_string(),
                    "must be -1 or at least socket.request.max.bytes",
                ));
            }
            Some(bytes)
        };
        let idle: i64 = p.num("connections.max.idle.ms", 600_000)?;
        if idle <= 0 {
            return Err(invalid(
                "connections.max.idle.ms",
                &idle.to_string(),
                "must be positive",
            ));
        }
        Ok(Self {
            max_connections,
            max_connections_per_ip,
            per_ip_overrides,
            queued_max_requests,
            queued_max_request_bytes,
            connections_max_idle_ms: idle as u64,
        })
    }
}

fn at_least(p: &Props<'_>, key: &str, default: usize, min: usize) -> Result<usize, ConfigError> {
    let v: i64 = p.num(key, default as i64)?;
    if v < min as i64 {
        return Err(invalid(
            key,
            &v.to_string(),
            &format!("must be at least {min}"),
        ));
    }
    Ok(usize::try_from(v).unwrap_or(usize::MAX))
}

/// `host:count,host:count`; a host is an IP literal or a name resolved now, as
/// Kafka resolves it when the config is read.
fn parse_overrides(text: &str) -> Result<HashMap<IpAddr, usize>, ConfigError> {
    const KEY: &str = "max.connections.per.ip.overrides";
    let mut out = HashMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((host, count)) = entry.rsplit_once(':') else {
            return Err(invalid(KEY, text, "expected host:count entries"));
        };
        let count: i64 = parse_num(KEY, count)?;
        if count < 0 {
            return Err(invalid(KEY, text, "a count must not be negative"));
        }
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let ip = match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => (host, 0)
                .to_socket_addrs()
                .ok()
                .and_then(|mut addrs| addrs.next())
                .map(|a| a.ip())
                .ok_or_else(|| invalid(KEY, text, &format!("cannot resolve host {host}")))?,
        };
        out.insert(ip, usize::try_from(count).unwrap_or(usize::MAX));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ConnectionSettings, ConfigError> {
        let raw: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConnectionSettings::parse(&Props(&raw), 104_857_600)
    }

    #[test]
    fn defaults_are_kafkas() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.max_connections, i32::MAX as usize);
        assert_eq!(s.max_connections_per_ip, i32::MAX as usize);
        assert!(s.per_ip_overrides.is_empty());
        assert_eq!(s.queued_max_requests, 500);
        assert_eq!(s.queued_max_request_bytes, None);
        assert_eq!(s.connections_max_idle_ms, 600_000);
    }

    #[test]
    fn an_override_beats_the_per_ip_default() {
        let s = parse(&[
            ("max.connections.per.ip", "3"),
            (
                "max.connections.per.ip.overrides",
                "127.0.0.1:7, 10.0.0.2:0,[::1]:5",
            ),
        ])
        .unwrap();
        assert_eq!(s.max_for("127.0.0.1".parse().unwrap()), 7);
        assert_eq!(s.max_for("10.0.0.2".parse().unwrap()), 0);
        assert_eq!(s.max_for("::1".parse().unwrap()), 5);
        assert_eq!(s.max_for("10.0.0.9".parse().unwrap()), 3);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            ("max.connections.per.ip.overrides", "127.0.0.1"),
            ("max.connections.per.ip.overrides", "127.0.0.1:-1"),
            ("max.connections.per.ip.overrides", "127.0.0.1:many"),
            ("max.connections.per.ip", "0"),
            ("max.connections", "-1"),
            ("queued.max.requests", "0"),
            ("queued.max.request.bytes", "1000"),
            ("connections.max.idle.ms", "0"),
        ] {
            assert!(parse(&[bad]).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn queued_bytes_of_at_least_one_request_are_a_limit() {
        let s = parse(&[("queued.max.request.bytes", "209715200")]).unwrap();
        assert_eq!(s.queued_max_request_bytes, Some(209_715_200));
        let s = parse(&[("queued.max.request.bytes", "-1")]).unwrap();
        assert_eq!(s.queued_max_request_bytes, None);
    }
}
