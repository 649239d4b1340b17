//! `kafka-console-consumer`: print records of a topic to standard output.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kafka_protocol::messages::ApiKey;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message, Timestamp};
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{client_config, create, require_bootstrap};
use crate::props::{unescape, Props};
use crate::wire::Connection;

/// Kafka's ConsoleConsumer options.
#[derive(Parser, Debug)]
#[command(
    name = "kafka-console-consumer",
    about = "This tool helps to read data from Kafka topics and outputs it to standard output."
)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// REQUIRED: The server(s) to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// The topic to consume from.
    #[arg(long)]
    topic: Option<String>,
    /// Regular expression specifying list of topics to include for consumption.
    #[arg(long, alias = "whitelist")]
    include: Option<String>,
    /// Start with the earliest message present rather than the latest.
    #[arg(long)]
    from_beginning: bool,
    /// The consumer group id of the consumer.
    #[arg(long)]
    group: Option<String>,
    /// The partition to consume from.
    #[arg(long)]
    partition: Option<i32>,
    /// The offset to consume from: a non-negative number, earliest or latest.
    #[arg(long)]
    offset: Option<String>,
    /// The maximum number of messages to consume before exiting.
    #[arg(long)]
    max_messages: Option<u64>,
    /// Exit if no message is available for consumption for this many ms.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// read_committed or read_uncommitted (default).
    #[arg(long)]
    isolation_level: Option<String>,
    /// Skip a message that cannot be processed instead of halting.
    #[arg(long)]
    skip_message_on_error: bool,
    /// Consumer config properties file.
    #[arg(long)]
    command_config: Option<PathBuf>,
    /// Consumer config properties in the form key=value.
    #[arg(long)]
    command_property: Vec<String>,
    /// (DEPRECATED) Consumer config properties file.
    #[arg(long = "consumer.config")]
    consumer_config: Option<PathBuf>,
    /// (DEPRECATED) Consumer config properties in the form key=value.
    #[arg(long)]
    consumer_property: Vec<String>,
    /// Properties of the message formatter: print.key, print.partition, key.separator, ...
    #[arg(long)]
    formatter_property: Vec<String>,
    /// (DEPRECATED) Properties of the message formatter.
    #[arg(long)]
    property: Vec<String>,
    /// Config properties file of the message formatter.
    #[arg(long)]
    formatter_config: Option<PathBuf>,
    /// Only the default formatter is built in; other classes are ignored.
    #[arg(long)]
    formatter: Option<String>,
    /// Ignored: records are printed as UTF-8 text.
    #[arg(long)]
    key_deserializer: Option<String>,
    /// Ignored: records are printed as UTF-8 text.
    #[arg(long)]
    value_deserializer: Option<String>,
    /// Accepted for compatibility.
    #[arg(long)]
    enable_systest_events: bool,
}

/// DefaultMessageFormatter's switches and separators.
#[derive(Debug, Clone)]
pub(crate) struct Formatter {
    print_timestamp: bool,
    print_key: bool,
    print_value: bool,
    print_partition: bool,
    print_offset: bool,
    print_headers: bool,
    key_separator: String,
    line_separator: String,
    headers_separator: String,
    null_literal: String,
}

impl Formatter {
    pub(crate) fn from_props(p: &Props) -> Self {
        let get = |k: &str, d: &str| p.get(k).map(unescape).unwrap_or_else(|| d.to_string());
        Self {
            print_timestamp: p.flag("print.timestamp"),
            print_key: p.flag("print.key"),
            print_value: p
                .get("print.value")
                .is_none_or(|v| v.eq_ignore_ascii_case("true")),
            print_partition: p.flag("print.partition"),
            print_offset: p.flag("print.offset"),
            print_headers: p.flag("print.headers"),
            key_separator: get("key.separator", "\t"),
            line_separator: get("line.separator", "\n"),
            headers_separator: get("headers.separator", ","),
            null_literal: get("null.literal", "null"),
        }
    }

    fn text(&self, bytes: Option<&[u8]>) -> String {
        match bytes {
            Some(b) => String::from_utf8_lossy(b).into_owned(),
            None => self.null_literal.clone(),
        }
    }

    /// One record as Kafka's DefaultMessageFormatter prints it.
    pub(crate) fn format(&self, m: &BorrowedMessage<'_>) -> String {
        let mut columns = Vec::new();
        if self.print_timestamp {
            columns.push(match m.timestamp() {
                Timestamp::CreateTime(t) => format!("CreateTime:{t}"),
                Timestamp::LogAppendTime(t) => format!("LogAppendTime:{t}"),
                Timestamp::NotAvailable => "NO_TIMESTAMP".to_string(),
            });
        }
        if self.print_partition {
            columns.push(format!("Partition:{}", m.partition()));
        }
        if self.print_offset {
            columns.push(format!("Offset:{}", m.offset()));
        }
        if self.print_headers {
            let headers: Vec<String> = m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| format!("{}:{}", h.key, self.text(h.value)))
                        .collect()
                })
                .unwrap_or_default();
            columns.push(if headers.is_empty() {
                "NO_HEADERS".to_string()
            } else {
                headers.join(&self.headers_separator)
            });
        }
        if self.print_key {
            columns.push(self.text(m.key()));
        }
        if self.print_value {
            columns.push(self.text(m.payload()));
        }
        let mut line = columns.join(&self.key_separator);
        line.push_str(&self.line_separator);
        line
    }
}

fn warn_deprecated(used: bool, old: &str, new: &str) {
    if used {
        println!("Option --{old} is deprecated and will be removed in a future version. Use --{new} instead.");
    }
}

/// Why consumption ended.
enum End {
    Done,
    Timeout,
    Failed(String),
}

/// Runs kafka-console-consumer.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match crate::parse_args(argv) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let bootstrap = match require_bootstrap(args.bootstrap_server.as_deref()) {
        Ok(b) => b.to_string(),
        Err(code) => return Ok(code),
    };
    if args.topic.is_some() == args.include.is_some() {
        return Ok(crate::usage::<Args>(
            "Exactly one of the following arguments is required: [topic], [include]",
        ));
    }
    if args.partition.is_some() && args.topic.is_none() {
        return Ok(crate::usage::<Args>(
            "The topic is required when partition is specified.",
        ));
    }
    if args.offset.is_some() && args.partition.is_none() {
        return Ok(crate::usage::<Args>(
            "The partition is required when offset is specified.",
        ));
    }
    if args.from_beginning && args.offset.is_some() {
        return Ok(crate::usage::<Args>(
            "Options from-beginning and offset cannot be specified together.",
        ));
    }
    warn_deprecated(
        !args.consumer_property.is_empty(),
        "consumer-property",
        "command-property",
    );
    warn_deprecated(
        args.consumer_config.is_some(),
        "consumer.config",
        "command-config",
    );
    warn_deprecated(!args.property.is_empty(), "property", "formatter-property");

    let formatter_props = Props::layered(
        args.formatter_config.as_deref(),
        &[&args.property, &args.formatter_property],
    )?;
    let formatter = Formatter::from_props(&formatter_props);

    let start = match args.offset.as_deref() {
        None if args.from_beginning => Offset::Beginning,
        None | Some("latest") => Offset::End,
        Some("earliest") => Offset::Beginning,
        Some(n) => match n.parse::<i64>() {
            Ok(o) if o >= 0 => Offset::Offset(o),
            _ => {
                return Ok(crate::usage::<Args>(&format!("The provided offset value '{n}' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.")));
            }
        },
    };

    let mut props = Props::default();
    for file in [&args.consumer_config, &args.command_config]
        .into_iter()
        .flatten()
    {
        props.merge(&Props::load(file)?);
    }
    props.merge(&Props::from_pairs(&args.consumer_property)?);
    props.merge(&Props::from_pairs(&args.command_property)?);
    if let Some(g) = &args.group {
        props.set("group.id", g);
    }
    let explicit_group = props.get("group.id").is_some();
    if !explicit_group {
        // Kafka's throwaway group; it commits nothing.
        props.set(
            "group.id",
            &format!("console-consumer-{}", random_below(100_000)),
        );
        if props.get("enable.auto.commit").is_none() {
            props.set("enable.auto.commit", "false");
        }
    }
    if props.get("auto.offset.reset").is_none() {
        props.set(
            "auto.offset.reset",
            if args.from_beginning {
                "earliest"
            } else {
                "latest"
            },
        );
    }
    if let Some(level) = &args.isolation_level {
        props.set("isolation.level", level);
    }
    if props.get("client.id").is_none() {
        props.set("client.id", "console-consumer");
    }
    props.set("enable.partition.eof", "false");

    match crate::wire::use_client_properties(&props)
        .and_then(|()| Connection::bootstrap(&bootstrap))
    {
        Err(e) => {
            eprintln!("ERROR {e}");
            return Ok(1);
        }
        // Subscribing needs a group coordinator; say so instead of waiting forever.
        Ok(conn) if args.partition.is_none() && !conn.supports(ApiKey::JoinGroup) => {
            eprintln!(
                "ERROR The broker at {} has no group coordinator (it does not serve JoinGroup): \
                 consume with --partition P [--offset O] instead.",
                conn.address
            );
            return Ok(1);
        }
        Ok(_) => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The stream consumer spawns its wake-up task on the runtime it is created in.
    let _entered = runtime.enter();
    let consumer: StreamConsumer = create(client_config(&bootstrap, &props)?)?;
    match (&args.topic, args.partition) {
        (Some(topic), Some(partition)) => {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(topic, partition, start)?;
            consumer.assign(&tpl)?;
        }
        (Some(topic), None) => consumer.subscribe(&[topic])?,
        (None, _) => {
            consumer.subscribe(&[&format!("^{}", args.include.as_deref().unwrap_or_default())])?
        }
    }

    let (count, end) = runtime.block_on(consume(&consumer, &formatter, &args));
    // Like the Java consumer closing with auto-commit on: commit the position of every
    // assigned partition, including those that had nothing to read.
    if args.partition.is_none() && props.get("enable.auto.commit") != Some("false") {
        commit_positions(
            &consumer,
            props.get("auto.offset.reset") == Some("earliest"),
        );
    }
    let code = match end {
        End::Done => 0,
        End::Timeout => {
            eprintln!("ERROR Error processing message, terminating consumer process:  (org.apache.kafka.tools.consumer.ConsoleConsumer)");
            eprintln!("org.apache.kafka.common.errors.TimeoutException");
            0
        }
        End::Failed(e) => {
            eprintln!("ERROR Error processing message, terminating consumer process: ");
            eprintln!("{e}");
            1
        }
    };
    eprintln!("Processed a total of {count} messages");
    Ok(code)
}

/// Commits the consumer's position in every assigned partition. A partition it read
/// nothing from keeps its committed offset, or gets the offset the reset policy chose
/// (as the Java consumer commits its resolved position).
fn commit_positions(consumer: &StreamConsumer, from_earliest: bool) {
    let timeout = Duration::from_secs(5);
    let Ok(positions) = consumer.position() else {
        return;
    };
    let committed = consumer.committed(timeout).unwrap_or_default();
    let mut tpl = TopicPartitionList::new();
    for e in positions.elements() {
        let (topic, partition) = (e.topic(), e.partition());
        let offset = match e.offset() {
            Offset::Offset(o) => Some(o),
            _ if committed
                .find_partition(topic, partition)
                .is_some_and(|c| matches!(c.offset(), Offset::Offset(_))) =>
            {
                None
            }
            _ => consumer
                .fetch_watermarks(topic, partition, timeout)
                .ok()
                .map(|(low, high)| if from_earliest { low } else { high }),
        };
        if let Some(o) = offset {
            let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(o));
        }
    }
    if tpl.count() > 0 {
        let _ = consumer.commit(&tpl, CommitMode::Sync);
    }
}

/// Prints records until `--max-messages`, `--timeout-ms`, Ctrl-C or an error.
async fn consume(consumer: &StreamConsumer, formatter: &Formatter, args: &Args) -> (u64, End) {
    let mut count = 0u64;
    let stdout = std::io::stdout();
    let timeout = args.timeout_ms.map(Duration::from_millis);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if args.max_messages.is_some_and(|max| count >= max) {
            return (count, End::Done);
        }
        let next = async {
            match timeout {
                Some(t) => tokio::time::timeout(t, consumer.recv()).await.ok(),
                None => Some(consumer.recv().await),
            }
        };
        let received = tokio::select! {
            _ = &mut ctrl_c => return (count, End::Done),
            r = next => r,
        };
        match received {
            None => return (count, End::Timeout),
            Some(Ok(m)) => {
                let mut out = stdout.lock();
                if out
                    .write_all(formatter.format(&m).as_bytes())
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    // A closed pipe (`| head`): stop quietly, as Kafka does.
                    return (count, End::Done);
                }
                count += 1;
            }
            Some(Err(e)) if args.skip_message_on_error => eprintln!("ERROR {e}"),
            Some(Err(e)) => return (count, End::Failed(e.to_string())),
        }
    }
}

/// A small random number for the throwaway group id, without a PRNG crate.
fn random_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() % n
}
