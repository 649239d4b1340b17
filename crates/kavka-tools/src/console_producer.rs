//! `kafka-console-producer`: one record per line of standard input.

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use crate::client::{client_config, create, require_bootstrap};
use crate::error::ToolError;
use crate::props::{unescape, Props};
use crate::wire::Connection;

/// Kafka's ConsoleProducer options.
#[derive(Parser, Debug)]
#[command(
    name = "kafka-console-producer",
    about = "This tool helps to read data from standard input and publish it to Kafka."
)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// REQUIRED: The server(s) to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// REQUIRED: The topic id to produce messages to.
    #[arg(long)]
    topic: Option<String>,
    /// Producer config properties file.
    #[arg(long)]
    command_config: Option<PathBuf>,
    /// Producer config properties in the form key=value.
    #[arg(long)]
    command_property: Vec<String>,
    /// (DEPRECATED) Producer config properties file.
    #[arg(long = "producer.config")]
    producer_config: Option<PathBuf>,
    /// (DEPRECATED) Producer config properties in the form key=value.
    #[arg(long)]
    producer_property: Vec<String>,
    /// Config properties file for the message reader.
    #[arg(long)]
    reader_config: Option<PathBuf>,
    /// Properties for the message reader: parse.key, key.separator, parse.headers, ...
    #[arg(long)]
    reader_property: Vec<String>,
    /// (DEPRECATED) Properties for the message reader.
    #[arg(long)]
    property: Vec<String>,
    /// The required `acks` of the producer requests.
    #[arg(long, default_value = "-1")]
    request_required_acks: String,
    /// The compression codec: none, gzip, snappy, lz4 or zstd (gzip without a value).
    #[arg(long, num_args = 0..=1, default_missing_value = "gzip")]
    compression_codec: Option<String>,
    /// Send each record synchronously, one at a time.
    #[arg(long)]
    sync: bool,
    /// Linger time in ms when producing asynchronously.
    #[arg(long, default_value_t = 1000)]
    timeout: u64,
    /// The ack timeout of the producer requests.
    #[arg(long, default_value_t = 1500)]
    request_timeout_ms: u64,
    /// How long sending may block waiting for metadata.
    #[arg(long, default_value_t = 60000)]
    max_block_ms: u64,
    /// Retries before a send fails.
    #[arg(long)]
    message_send_max_retries: Option<u32>,
    /// Retry backoff in ms.
    #[arg(long)]
    retry_backoff_ms: Option<u64>,
    /// Batch size in bytes.
    #[arg(long)]
    batch_size: Option<u64>,
    /// Accepted for compatibility; librdkafka sizes its buffers itself.
    #[arg(long)]
    max_memory_bytes: Option<u64>,
    /// Accepted for compatibility.
    #[arg(long)]
    max_partition_memory_bytes: Option<u64>,
    /// Accepted for compatibility.
    #[arg(long)]
    metadata_expiry_ms: Option<u64>,
    /// Accepted for compatibility.
    #[arg(long)]
    socket_buffer_size: Option<u64>,
    /// Only the default line reader is built in.
    #[arg(long)]
    line_reader: Option<String>,
}

/// How lines become records: LineMessageReader's properties.
#[derive(Debug, Clone)]
pub(crate) struct LineFormat {
    parse_key: bool,
    key_separator: String,
    parse_headers: bool,
    headers_delimiter: String,
    headers_separator: String,
    headers_key_separator: String,
    ignore_error: bool,
    null_marker: Option<String>,
}

/// One parsed line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParsedLine {
    pub(crate) headers: Vec<(String, Option<String>)>,
    pub(crate) key: Option<String>,
    pub(crate) value: Option<String>,
}

impl LineFormat {
    pub(crate) fn from_props(p: &Props) -> Self {
        let get = |k: &str, d: &str| p.get(k).map(unescape).unwrap_or_else(|| d.to_string());
        Self {
            parse_key: p.flag("parse.key"),
            key_separator: get("key.separator", "\t"),
            parse_headers: p.flag("parse.headers"),
            headers_delimiter: get("headers.delimiter", "\t"),
            headers_separator: get("headers.separator", ","),
            headers_key_separator: get("headers.key.separator", ":"),
            ignore_error: p.flag("ignore.error"),
            null_marker: p.get("null.marker").map(str::to_string),
        }
    }

    fn nullable(&self, s: &str) -> Option<String> {
        match &self.null_marker {
            Some(m) if m == s => None,
            _ => Some(s.to_string()),
        }
    }

    /// Splits a line (without its newline) into headers, key and value.
    pub(crate) fn parse(&self, line: &str, number: usize) -> Result<ParsedLine, ToolError> {
        let mut rest = line;
        let mut headers = Vec::new();
        if self.parse_headers {
            match rest.split_once(self.headers_delimiter.as_str()) {
                Some((h, r)) => {
                    rest = r;
                    if self.null_marker.as_deref() != Some(h) {
                        for header in h.split(self.headers_separator.as_str()).filter(|s| !s.is_empty()) {
                            let (k, v) = match header.split_once(self.headers_key_separator.as_str()) {
                                Some((k, v)) => (k, self.nullable(v)),
                                None => (header, None),
                            };
                            headers.push((k.to_string(), v));
                        }
                    }
                }
                None if self.ignore_error => {}
                None => {
                    return Err(ToolError::Usage(format!(
                        "org.apache.kafka.common.KafkaException: No headers delimiter found on line number {number}: '{line}'"
                    )))
                }
            }
        }
        let (key, value) = if self.parse_key {
            match rest.split_once(self.key_separator.as_str()) {
                Some((k, v)) => (self.nullable(k), self.nullable(v)),
                None if self.ignore_error => (None, self.nullable(rest)),
                None => {
                    return Err(ToolError::Usage(format!(
                        "org.apache.kafka.common.KafkaException: No key separator found on line number {number}: '{line}'"
                    )))
                }
            }
        } else {
            (None, self.nullable(rest))
        };
        Ok(ParsedLine {
            headers,
            key,
            value,
        })
    }
}

fn warn_deprecated(used: bool, old: &str, new: &str) {
    if used {
        println!("Warning: --{old} is deprecated and will be removed in a future version. Use --{new} instead.");
    }
}

/// Runs kafka-console-producer.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match crate::parse_args(argv) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let bootstrap = match require_bootstrap(args.bootstrap_server.as_deref()) {
        Ok(b) => b.to_string(),
        Err(code) => return Ok(code),
    };
    let Some(topic) = args.topic.clone() else {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[topic]\"",
        ));
    };
    warn_deprecated(
        !args.producer_property.is_empty(),
        "producer-property",
        "command-property",
    );
    warn_deprecated(
        args.producer_config.is_some(),
        "producer.config",
        "command-config",
    );
    warn_deprecated(!args.property.is_empty(), "property", "reader-property");

    let reader_props = Props::layered(
        args.reader_config.as_deref(),
        &[&args.property, &args.reader_property],
    )?;
    let format = LineFormat::from_props(&reader_props);

    let mut props = Props::default();
    props.set(
        "acks",
        if args.request_required_acks == "-1" {
            "all"
        } else {
            &args.request_required_acks
        },
    );
    props.set("request.timeout.ms", &args.request_timeout_ms.to_string());
    props.set("linger.ms", &args.timeout.min(1000).to_string());
    props.set("client.id", "console-producer");
    // Java's default partitioner, so a key lands where Kafka's own tool puts it.
    props.set("partitioner", "murmur2_random");
    if let Some(codec) = &args.compression_codec {
        props.set("compression.type", codec);
    }
    if let Some(r) = args.message_send_max_retries {
        props.set("retries", &r.to_string());
    }
    if let Some(r) = args.retry_backoff_ms {
        props.set("retry.backoff.ms", &r.to_string());
    }
    if let Some(b) = args.batch_size {
        props.set("batch.size", &b.to_string());
    }
    props.set(
        "message.timeout.ms",
        &(args.max_block_ms + 60_000).to_string(),
    );
    for file in [&args.producer_config, &args.command_config]
        .into_iter()
        .flatten()
    {
        props.merge(&Props::load(file)?);
    }
    props.merge(&Props::from_pairs(&args.producer_property)?);
    props.merge(&Props::from_pairs(&args.command_property)?);

    if let Err(e) =
        crate::wire::use_client_properties(&props).and_then(|()| Connection::bootstrap(&bootstrap))
    {
        eprintln!("ERROR {e}");
        return Ok(1);
    }
    let producer: FutureProducer = create(client_config(&bootstrap, &props)?)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(produce_lines(&producer, &topic, &format, args.sync)))
}

/// Sends every line of stdin; returns the exit status (1 when a record was not delivered).
async fn produce_lines(
    producer: &FutureProducer,
    topic: &str,
    format: &LineFormat,
    sync: bool,
) -> i32 {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal() && std::io::stdout().is_terminal();
    let mut pending = Vec::new();
    let mut failed = 0usize;
    let mut lines = stdin.lock();
    let mut number = 0usize;
    loop {
        if interactive {
            print!(">");
            let _ = std::io::stdout().flush();
        }
        let mut line = String::new();
        match lines.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("ERROR cannot read standard input: {e}");
                failed += 1;
                break;
            }
        }
        number += 1;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let parsed = match format.parse(line, number) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
                break;
            }
        };
        let mut record: FutureRecord<'_, str, str> = FutureRecord::to(topic);
        if let Some(k) = parsed.key.as_deref() {
            record = record.key(k);
        }
        if let Some(v) = parsed.value.as_deref() {
            record = record.payload(v);
        }
        if !parsed.headers.is_empty() {
            let mut headers = OwnedHeaders::new();
            for (k, v) in &parsed.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: v.as_deref(),
                });
            }
            record = record.headers(headers);
        }
        let key_len = parsed.key.as_ref().map(String::len);
        let value_len = parsed.value.as_ref().map(String::len);
        let delivery = loop {
            match producer.send_result(record) {
                Ok(f) => break Ok(f),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => break Err(e),
            }
        };
        let delivery = match delivery {
            Ok(d) => d,
            Err(e) => {
                report(topic, key_len, value_len, &e.to_string());
                failed += 1;
                continue;
            }
        };
        if sync {
            failed += settle(topic, (delivery, key_len, value_len)).await;
        } else {
            pending.push((delivery, key_len, value_len));
        }
        // Keep memory bounded on long pipes: settle what is already in flight.
        if pending.len() >= 10_000 {
            for p in pending.drain(..) {
                failed += settle(topic, p).await;
            }
        }
    }
    for p in pending {
        failed += settle(topic, p).await;
    }
    let _ = producer.flush(Duration::from_secs(30));
    i32::from(failed > 0)
}

/// Waits for one delivery; 1 when it failed (and was reported), else 0.
async fn settle(
    topic: &str,
    (delivery, key_len, value_len): (DeliveryFuture, Option<usize>, Option<usize>),
) -> usize {
    match delivery.await {
        Ok(Ok(_)) => 0,
        Ok(Err((e, _))) => {
            report(topic, key_len, value_len, &e.to_string());
            1
        }
        Err(_) => {
            report(topic, key_len, value_len, "the producer was closed");
            1
        }
    }
}

/// Kafka's ErrorLoggingCallback line for a record that was not delivered.
fn report(topic: &str, key_len: Option<usize>, value_len: Option<usize>, e: &str) {
    let size = |n: Option<usize>| n.map_or_else(|| "null".to_string(), |n| format!("{n} bytes"));
    eprintln!(
        "ERROR Error when sending message to topic {topic} with key: {}, value: {} with error: ",
        size(key_len),
        size(value_len)
    );
    eprintln!("{e}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(pairs: &[&str]) -> LineFormat {
        let pairs: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
        LineFormat::from_props(&Props::from_pairs(&pairs).expect("props"))
    }

    #[test]
    fn key_is_split_at_the_first_separator() {
        let f = format(&["parse.key=true", "key.separator=:"]);
        let p = f
            .parse(r#"1001:{"orderId":1001,"userId":42}"#, 1)
            .expect("parse");
        assert_eq!(p.key.as_deref(), Some("1001"));
        assert_eq!(p.value.as_deref(), Some(r#"{"orderId":1001,"userId":42}"#));
    }

    #[test]
    fn missing_key_separator_is_an_error_unless_ignored() {
        let f = format(&["parse.key=true"]);
        assert!(f.parse("nokeyhere", 1).is_err());
        let f = format(&["parse.key=true", "ignore.error=true"]);
        assert_eq!(
            f.parse("nokeyhere", 1).expect("parse").value.as_deref(),
            Some("nokeyhere")
        );
    }

    #[test]
    fn headers_key_and_null_marker() {
        let f = format(&["parse.key=true", "parse.headers=true", "null.marker=NULL"]);
        let p = f.parse("h1:v1,h2:NULL\tNULL\tval", 1).expect("parse");
        assert_eq!(
            p.headers,
            vec![("h1".into(), Some("v1".into())), ("h2".into(), None)]
        );
        assert_eq!(p.key, None);
        assert_eq!(p.value.as_deref(), Some("val"));
    }
}
