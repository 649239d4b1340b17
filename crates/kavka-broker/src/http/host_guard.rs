//! DNS-rebinding protection for an HTTP listener bound to loopback (the default,
//! `http://127.0.0.1:9644`). A web page from another site can point its own host
//! name at 127.0.0.1 and then read and change this listener through the visitor's
//! browser, with an `Origin` and a `Host` that agree, so the console's same-origin
//! check alone does not stop it. The browser still sends that site's name in
//! `Host`, though: a loopback listener answers only requests for a loopback name
//! (`localhost`, `*.localhost`, a loopback address). A listener bound wider is
//! reached under names it cannot know, and answers every `Host`.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses a request whose `Host` names anything but this machine's loopback.
pub(crate) async fn loopback_names_only(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}"));
    match host {
        // Browsers always send Host; a request without one is no browser's.
        None => next.run(request).await,
        Some(host) if is_loopback_name(host) => next.run(request).await,
        Some(host) => {
            tracing::info!(
                host,
                "HTTP request refused: Host is not a loopback name on a loopback listener"
            );
            (
                StatusCode::FORBIDDEN,
                format!(
                    "this listener is bound to loopback and answers only requests for \
                     localhost or a loopback address, not for {host:?}; bind \
                     http.listeners to another address to reach it under other names\n"
                ),
            )
                .into_response()
        }
    }
}

/// Whether a `Host` header value (host, optional port) names loopback.
pub(crate) fn is_loopback_name(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((v6, _)) => v6,
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_other_names_do_not() {
        for ok in [
            "localhost",
            "localhost:9644",
            "LOCALHOST:9644",
            "console.localhost:9644",
            "127.0.0.1",
            "127.0.0.1:9644",
            "127.1.2.3:80",
            "[::1]:9644",
            "[::1]",
            "localhost.:9644",
        ] {
            assert!(is_loopback_name(ok), "{ok}");
        }
        for refused in [
            "evil.example:9644",
            "evil.example",
            "localhost.evil.example:9644",
            "notlocalhost:9644",
            "10.0.0.1:9644",
            "[fe80::1]:9644",
            "[::1",
            "",
            "0.0.0.0:9644",
            "\u{fffd}",
            "é.localhost\u{fffd}",
        ] {
            assert!(!is_loopback_name(refused), "{refused}");
        }
    }
}
