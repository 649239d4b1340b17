//! Where log lines go and in what shape: text for a person by default, one JSON
//! object per line for a log collector (`--log-format json`).

/// The shape of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `2026-12-03T09:00:00Z  INFO kavka::admin: topic created topic=orders ...`
    Text,
    /// `{"timestamp":"...","level":"INFO","fields":{"message":"topic created",...},"target":"kavka::admin"}`
    Json,
}

/// Installs the global subscriber. `RUST_LOG` picks levels per target as usual.
pub(crate) fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,openraft=warn,openraft::replication=off")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colours only for a person at a terminal: a log file stays greppable.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // Span context is left out: admin and audit lines carry their fields
        // themselves, and a collector indexes flat objects best.
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}
