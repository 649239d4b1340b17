//! `kafka-transactions`: the transaction coordinators' state. `list` asks every
//! broker (ListTransactions, API 66), `describe --transactional-id` asks the id's
//! coordinator (FindCoordinator type 1, DescribeTransactions, API 65);
//! `describe-producers`, `abort` and `find-hanging` work on partitions (see
//! `producers`). `forceTerminateTransaction` is not supported yet.
//!
//! Kafka parses this tool's arguments with argparse4j; its usage and the errors
//! met most are reproduced here. Tables are Kafka's `prettyPrintTable`: every cell
//! padded to its column's widest, each followed by a tab.

use std::ffi::OsString;
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::{
    DescribeTransactionsRequest, ListTransactionsRequest, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::ToolError;
use crate::output::{java_hashmap_order, wrap_justified};
use crate::wire::Connection;

mod producers;

const PROG: &str = "kafka-transactions.sh";

const MAIN_USAGE: &str = "usage: kafka-transactions.sh [-h] [-v] [--command-config FILE]
                             --bootstrap-server host:port COMMAND ...";

const MAIN_HELP: &str = "
This tool is used to analyze  the  transactional  state of producers in the
cluster. It can be used to detect and recover from hanging transactions.

optional arguments:
  -h, --help             show this help message and exit
  -v, --version          show the version  of  this  Kafka distribution and
                         exit
  --command-config FILE  property file containing configs  to  be passed to
                         admin client
  --bootstrap-server host:port
                         hostname and port for  the  broker  to connect to,
                         in  the   form   `host:port`    (multiple   comma-
                         separated entries can be given)

commands:
  COMMAND
    list                 list transactions
    describe             describe the state of an active transactional-id
    describe-producers   describe the  states  of  active  producers  for a
                         topic partition
    abort                abort    a    hanging     transaction    (requires
                         administrative privileges)
    find-hanging         find hanging transactions
    forceTerminateTransaction
                         Force   abort    an    ongoing    transaction   on
                         transactionalId      (requires      administrative
                         privileges)";

const LIST_USAGE: &str = "usage: kafka-transactions.sh --bootstrap-server host:port list [-h]
                             [--duration-filter DURATION_FILTER]
                             [--transactional-id-pattern TRANSACTIONAL_ID_PATTERN]";

const LIST_HELP: &str = "
optional arguments:
  -h, --help             show this help message and exit
  --duration-filter DURATION_FILTER
                         Duration (in millis) to  filter  by:  if  < 0, all
                         transactions will  be  returned;  otherwise,  only
                         transactions running  longer  than  this  duration
                         will be returned
  --transactional-id-pattern TRANSACTIONAL_ID_PATTERN
                         Transactional id  regular  expression  pattern  to
                         filter by";

const DESCRIBE_USAGE: &str =
    "usage: kafka-transactions.sh --bootstrap-server host:port describe [-h]
                             --transactional-id TRANSACTIONAL_ID";

const DESCRIBE_HELP: &str = "
Describe the state of an active transactional-id.

optional arguments:
  -h, --help             show this help message and exit
  --transactional-id TRANSACTIONAL_ID
                         transactional id";

const LIST_HEADERS: [&str; 4] = [
    "TransactionalId",
    "Coordinator",
    "ProducerId",
    "TransactionState",
];

const DESCRIBE_HEADERS: [&str; 9] = [
    "CoordinatorId",
    "TransactionalId",
    "ProducerId",
    "ProducerEpoch",
    "TransactionState",
    "TransactionTimeoutMs",
    "CurrentTransactionStartTimeMs",
    "TransactionDurationMs",
    "TopicPartitions",
];

const DESCRIBE_PRODUCERS_USAGE: &str = "usage: kafka-transactions.sh --bootstrap-server host:port
                             describe-producers [-h]
                             [--broker-id BROKER_ID] --topic TOPIC
                             --partition PARTITION";

const DESCRIBE_PRODUCERS_HELP: &str = "
optional arguments:
  -h, --help             show this help message and exit
  --broker-id BROKER_ID  optional broker id to  describe the producer state
                         on a specific replica
  --topic TOPIC          topic name
  --partition PARTITION  partition number";

const ABORT_USAGE: &str = "usage: kafka-transactions.sh --bootstrap-server host:port abort [-h]
                             --topic TOPIC --partition PARTITION
                             [--start-offset START_OFFSET]
                             [--producer-id PRODUCER_ID]
                             [--producer-epoch PRODUCER_EPOCH]
                             [--coordinator-epoch COORDINATOR_EPOCH]";

const ABORT_HELP: &str = "
optional arguments:
  -h, --help             show this help message and exit
  --topic TOPIC          topic name
  --partition PARTITION  partition number

Brokers on versions 3.0 and above:
  For newer brokers,  only  the  start  offset  of  the  transaction  to be
  aborted is required

  --start-offset START_OFFSET
                         start offset of the transaction to abort

Brokers on versions older than 3.0:
  For older brokers, you must provide all of these arguments

  --producer-id PRODUCER_ID
                         producer id
  --producer-epoch PRODUCER_EPOCH
                         producer epoch
  --coordinator-epoch COORDINATOR_EPOCH
                         coordinator epoch";

const FIND_HANGING_USAGE: &str =
    "usage: kafka-transactions.sh --bootstrap-server host:port find-hanging [-h]
                             [--broker-id BROKER_ID]
                             [--max-transaction-timeout MAX_TRANSACTION_TIMEOUT]
                             [--topic TOPIC] [--partition PARTITION]";

const FIND_HANGING_HELP: &str = "
optional arguments:
  -h, --help             show this help message and exit
  --broker-id BROKER_ID  broker id to search for hanging transactions
  --max-transaction-timeout MAX_TRANSACTION_TIMEOUT
                         maximum transaction timeout  in  minutes  to limit
                         the scope of the search (15 minutes by default)
  --topic TOPIC          topic name to  limit  search  to  (required  if --
                         partition is specified)
  --partition PARTITION  partition number";

/// argparse4j wraps its error messages at this width.
const WRAP_WIDTH: usize = 75;

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    bootstrap: String,
    command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    List {
        duration_filter: i64,
        pattern: Option<String>,
    },
    Describe {
        transactional_id: String,
    },
    DescribeProducers {
        broker_id: Option<i32>,
        topic: String,
        partition: i32,
    },
    Abort {
        topic: String,
        partition: i32,
        start_offset: Option<i64>,
        producer_id: Option<i64>,
        producer_epoch: Option<i16>,
        coordinator_epoch: Option<i32>,
    },
    FindHanging {
        broker_id: Option<i32>,
        max_transaction_timeout_min: i32,
        topic: Option<String>,
        partition: Option<i32>,
    },
    Unsupported(String),
}

/// Why parsing stopped: what to print and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exit {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Exit {
    /// argparse4j's error: the usage, then `prog: error: message`, wrapped.
    fn error(usage: &str, message: &str) -> Self {
        Exit {
            stdout: String::new(),
            stderr: format!(
                "{usage}\n{}\n",
                wrap_justified(&format!("{PROG}: error: {message}"), WRAP_WIDTH)
            ),
            code: 1,
        }
    }

    /// argparse4j prints help on stdout and, as Kafka's tool runs it, exits 1.
    fn help(usage: &str, help: &str) -> Self {
        Exit {
            stdout: format!("{usage}\n{help}\n"),
            stderr: String::new(),
            code: 1,
        }
    }
}

const COMMANDS: [&str; 6] = [
    "list",
    "describe",
    "describe-producers",
    "abort",
    "find-hanging",
    "forceTerminateTransaction",
];

fn parse(argv: &[String]) -> Result<Args, Exit> {
    let mut bootstrap = None;
    let mut it = argv.iter().peekable();
    let mut command = None;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(Exit::help(MAIN_USAGE, MAIN_HELP)),
            "-v" | "--version" => {
                return Err(Exit {
                    stdout: format!("{}\n", env!("CARGO_PKG_VERSION")),
                    stderr: String::new(),
                    code: 0,
                })
            }
            "--bootstrap-server" | "--command-config" => {
                let Some(value) = it.next() else {
                    return Err(Exit::error(
                        MAIN_USAGE,
                        &format!("argument {arg}: expected one argument"),
                    ));
                };
                if arg == "--bootstrap-server" {
                    bootstrap = Some(value.clone());
                }
            }
            c if COMMANDS.contains(&c) => {
                command = Some(c.to_string());
                break;
            }
            other if other.starts_with('-') => {
                return Err(Exit::error(
                    MAIN_USAGE,
                    &format!("unrecognized arguments: '{other}'"),
                ))
            }
            other => {
                return Err(Exit::error(
                    MAIN_USAGE,
                    &format!(
                        "argument COMMAND: invalid choice: '{other}' (choose from {})",
                        COMMANDS.map(|c| format!("'{c}'")).join(", ")
                    ),
                ))
            }
        }
    }
    let Some(command) = command else {
        return Err(Exit::error(MAIN_USAGE, "too few arguments"));
    };
    let rest: Vec<&String> = it.collect();
    let command = match command.as_str() {
        "list" => {
            let mut o = parse_options(&rest, &LIST)?;
            Command::List {
                duration_filter: o.long("--duration-filter").unwrap_or(-1),
                pattern: o.take("--transactional-id-pattern"),
            }
        }
        "describe" => {
            let mut o = parse_options(&rest, &DESCRIBE)?;
            Command::Describe {
                transactional_id: o.take("--transactional-id").unwrap_or_default(),
            }
        }
        "describe-producers" => {
            let mut o = parse_options(&rest, &DESCRIBE_PRODUCERS)?;
            Command::DescribeProducers {
                broker_id: o.int("--broker-id"),
                topic: o.take("--topic").unwrap_or_default(),
                partition: o.int("--partition").unwrap_or_default(),
            }
        }
        "abort" => {
            let mut o = parse_options(&rest, &ABORT)?;
            Command::Abort {
                topic: o.take("--topic").unwrap_or_default(),
                partition: o.int("--partition").unwrap_or_default(),
                start_offset: o.long("--start-offset"),
                producer_id: o.long("--producer-id"),
                producer_epoch: o.short("--producer-epoch"),
                coordinator_epoch: o.int("--coordinator-epoch"),
            }
        }
        "find-hanging" => {
            let mut o = parse_options(&rest, &FIND_HANGING)?;
            Command::FindHanging {
                broker_id: o.int("--broker-id"),
                max_transaction_timeout_min: o.int("--max-transaction-timeout").unwrap_or(15),
                topic: o.take("--topic"),
                partition: o.int("--partition"),
            }
        }
        other => Command::Unsupported(other.to_string()),
    };
    let Some(bootstrap) = bootstrap else {
        return Err(Exit::error(
            MAIN_USAGE,
            "argument --bootstrap-server is required",
        ));
    };
    Ok(Args { bootstrap, command })
}

/// The Java type argparse4j converts an option's value to.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Short,
    Int,
    Long,
}

impl Kind {
    /// Checks `value` converts as Java's `valueOf` does; the error is argparse4j's.
    fn check(self, value: &str) -> Result<(), String> {
        let (ok, name, an_int) = match self {
            Kind::Str => return Ok(()),
            Kind::Short => (
                value.parse::<i16>().is_ok(),
                "Short",
                value.parse::<i32>().is_ok(),
            ),
            Kind::Int => (value.parse::<i32>().is_ok(), "Integer", false),
            Kind::Long => (value.parse::<i64>().is_ok(), "Long", false),
        };
        if ok {
            return Ok(());
        }
        // Short.valueOf parses an int first and only then finds it out of range.
        let why = if an_int {
            format!("Value out of range. Value:\"{value}\" Radix:10")
        } else {
            format!("For input string: \"{value}\"")
        };
        Err(format!("could not convert '{value}' to {name} ({why})"))
    }
}

/// One subcommand's options, in the order Kafka declares them.
struct Subcommand {
    usage: &'static str,
    help: &'static str,
    options: &'static [(&'static str, Kind, bool)],
}

const LIST: Subcommand = Subcommand {
    usage: LIST_USAGE,
    help: LIST_HELP,
    options: &[
        ("--duration-filter", Kind::Long, false),
        ("--transactional-id-pattern", Kind::Str, false),
    ],
};

const DESCRIBE: Subcommand = Subcommand {
    usage: DESCRIBE_USAGE,
    help: DESCRIBE_HELP,
    options: &[("--transactional-id", Kind::Str, true)],
};

const DESCRIBE_PRODUCERS: Subcommand = Subcommand {
    usage: DESCRIBE_PRODUCERS_USAGE,
    help: DESCRIBE_PRODUCERS_HELP,
    options: &[
        ("--broker-id", Kind::Int, false),
        ("--topic", Kind::Str, true),
        ("--partition", Kind::Int, true),
    ],
};

const ABORT: Subcommand = Subcommand {
    usage: ABORT_USAGE,
    help: ABORT_HELP,
    options: &[
        ("--topic", Kind::Str, true),
        ("--partition", Kind::Int, true),
        ("--start-offset", Kind::Long, false),
        ("--producer-id", Kind::Long, false),
        ("--producer-epoch", Kind::Short, false),
        ("--coordinator-epoch", Kind::Int, false),
    ],
};

const FIND_HANGING: Subcommand = Subcommand {
    usage: FIND_HANGING_USAGE,
    help: FIND_HANGING_HELP,
    options: &[
        ("--broker-id", Kind::Int, false),
        ("--max-transaction-timeout", Kind::Int, false),
        ("--topic", Kind::Str, false),
        ("--partition", Kind::Int, false),
    ],
};

/// The values given to a subcommand's options, already checked to convert.
struct Options(std::collections::HashMap<&'static str, String>);

impl Options {
    fn take(&mut self, flag: &str) -> Option<String> {
        self.0.remove(flag)
    }
    fn short(&mut self, flag: &str) -> Option<i16> {
        self.take(flag).and_then(|v| v.parse().ok())
    }
    fn int(&mut self, flag: &str) -> Option<i32> {
        self.take(flag).and_then(|v| v.parse().ok())
    }
    fn long(&mut self, flag: &str) -> Option<i64> {
        self.take(flag).and_then(|v| v.parse().ok())
    }
}

/// A subcommand's options as argparse4j reads them: a later value replaces an
/// earlier one, and of the required options missing, the last declared is named.
fn parse_options(rest: &[&String], sub: &Subcommand) -> Result<Options, Exit> {
    let mut values = std::collections::HashMap::new();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        if arg.as_str() == "-h" || arg.as_str() == "--help" {
            return Err(Exit::help(sub.usage, sub.help));
        }
        let Some(&(flag, kind, _)) = sub.options.iter().find(|(f, _, _)| *f == arg.as_str()) else {
            return Err(Exit::error(
                sub.usage,
                &format!("unrecognized arguments: '{arg}'"),
            ));
        };
        let value = it.next().ok_or_else(|| {
            Exit::error(
                sub.usage,
                &format!("argument {flag}: expected one argument"),
            )
        })?;
        kind.check(value)
            .map_err(|why| Exit::error(sub.usage, &format!("argument {flag}: {why}")))?;
        values.insert(flag, value.to_string());
    }
    if let Some((flag, _, _)) = sub
        .options
        .iter()
        .rev()
        .find(|(flag, _, required)| *required && !values.contains_key(flag))
    {
        return Err(Exit::error(
            sub.usage,
            &format!("argument {flag} is required"),
        ));
    }
    Ok(Options(values))
}

/// Kafka's `prettyPrintTable`.
fn pretty_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain(std::iter::once(h.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        for (cell, width) in row.iter().zip(&widths) {
            out.push_str(&format!("{cell:<width$}\t"));
        }
        out.push('\n');
    }
    out
}

/// Milliseconds since the epoch, as the tools compare with brokers' timestamps.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The command's failure, printed as Kafka's `printErrorAndExit`.
struct Failure(String);

impl From<ToolError> for Failure {
    fn from(e: ToolError) -> Self {
        Failure(e.to_string())
    }
}

fn list(bootstrap: &str, duration_filter: i64, pattern: Option<&str>) -> Result<String, Failure> {
    let mut conn = Connection::bootstrap(bootstrap)?;
    let metadata = conn.metadata(Some(&[]))?;
    let mut brokers: Vec<(i32, String)> = metadata
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
        .collect();
    // Kafka's result is a HashMap by broker id: small ids iterate in order.
    brokers.sort();
    let mut rows = Vec::new();
    for (id, address) in brokers {
        let mut broker = Connection::connect(&address)?;
        let mut request = ListTransactionsRequest::default().with_duration_filter(duration_filter);
        if let Some(p) = pattern {
            request =
                request.with_transactional_id_pattern(Some(StrBytes::from_string(p.to_string())));
        }
        let response = broker.send(request)?;
        if response.error_code != 0 {
            return Err(Failure(format!(
                "Failed to list transactions: {}",
                ToolError::from_code(response.error_code, None)
            )));
        }
        for t in response.transaction_states {
            rows.push(vec![
                t.transactional_id.0.to_string(),
                id.to_string(),
                t.producer_id.0.to_string(),
                t.transaction_state.to_string(),
            ]);
        }
    }
    Ok(pretty_table(&LIST_HEADERS, &rows))
}

fn describe(bootstrap: &str, id: &str) -> Result<String, Failure> {
    let fail = |message: String| {
        Failure(format!(
            "Failed to describe transaction state of transactional-id `{id}`: {message}"
        ))
    };
    let mut conn = Connection::bootstrap(bootstrap)?;
    let (mut coordinator, node) = conn.coordinator(id, 1).map_err(|e| fail(e.to_string()))?;
    let response = coordinator.send(
        DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(StrBytes::from_string(id.to_string()))]),
    )?;
    let Some(t) = response.transaction_states.into_iter().next() else {
        return Err(fail("no answer for the transactional id".to_string()));
    };
    match t.error_code {
        0 => {}
        105 => {
            return Err(fail(format!(
                "DescribeTransactions request for transactionalId `{id}` failed because the ID \
                 could not be found. Enable debug logging for additional detail."
            )))
        }
        code => return Err(fail(ToolError::from_code(code, None).to_string())),
    }
    let now = now_ms();
    let (start, duration) = if t.transaction_start_time_ms >= 0 {
        (
            t.transaction_start_time_ms.to_string(),
            (now - t.transaction_start_time_ms).to_string(),
        )
    } else {
        ("None".to_string(), "None".to_string())
    };
    let partitions: Vec<(String, i32)> = t
        .topics
        .iter()
        .flat_map(|topic| {
            topic
                .partitions
                .iter()
                .map(|p| (topic.topic.0.to_string(), *p))
        })
        .collect();
    // The admin client collects them in a HashSet<TopicPartition>.
    let partitions = java_hashmap_order(partitions, |(t, p)| (t.as_str(), *p))
        .into_iter()
        .map(|(t, p)| format!("{t}-{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let row = vec![
        node.to_string(),
        id.to_string(),
        t.producer_id.0.to_string(),
        t.producer_epoch.to_string(),
        t.transaction_state.to_string(),
        t.transaction_timeout_ms.to_string(),
        start,
        duration,
        partitions,
    ];
    Ok(pretty_table(&DESCRIBE_HEADERS, &[row]))
}

pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let argv: Vec<String> = argv
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(exit) => {
            print!("{}", exit.stdout);
            eprint!("{}", exit.stderr);
            return Ok(exit.code);
        }
    };
    let result = match &args.command {
        Command::List {
            duration_filter,
            pattern,
        } => list(&args.bootstrap, *duration_filter, pattern.as_deref()),
        Command::Describe { transactional_id } => describe(&args.bootstrap, transactional_id),
        Command::DescribeProducers {
            broker_id,
            topic,
            partition,
        } => producers::describe_producers(&args.bootstrap, *broker_id, topic, *partition),
        Command::Abort {
            topic,
            partition,
            start_offset,
            producer_id,
            producer_epoch,
            coordinator_epoch,
        } => producers::abort(
            &args.bootstrap,
            producers::AbortTarget {
                topic: topic.clone(),
                partition: *partition,
                start_offset: *start_offset,
                producer_id: *producer_id,
                producer_epoch: *producer_epoch,
                coordinator_epoch: *coordinator_epoch,
            },
        ),
        Command::FindHanging {
            broker_id,
            max_transaction_timeout_min,
            topic,
            partition,
        } => producers::find_hanging(
            &args.bootstrap,
            producers::HangingScope {
                broker_id: *broker_id,
                max_transaction_timeout_min: *max_transaction_timeout_min,
                topic: topic.clone(),
                partition: *partition,
            },
        ),
        Command::Unsupported(name) => Err(Failure(format!(
            "{name} is not supported by Kavka's kafka-transactions"
        ))),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            Ok(0)
        }
        Err(Failure(message)) => {
            eprintln!("{message}");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn tables_pad_every_cell_and_end_each_with_a_tab() {
        let t = pretty_table(
            &LIST_HEADERS,
            &[vec![
                "tx-ref".into(),
                "1".into(),
                "0".into(),
                "Ongoing".into(),
            ]],
        );
        assert_eq!(
            t,
            "TransactionalId\tCoordinator\tProducerId\tTransactionState\t\n\
             tx-ref         \t1          \t0         \tOngoing         \t\n"
        );
    }

    #[test]
    fn describe_needs_a_transactional_id() {
        let exit = parse(&args("--bootstrap-server b:9092 describe")).unwrap_err();
        assert_eq!(exit.code, 1);
        assert!(exit
            .stderr
            .ends_with("kafka-transactions.sh: error: argument --transactional-id is required\n"));
        let exit = parse(&args("--bootstrap-server b:9092")).unwrap_err();
        assert!(exit.stderr.ends_with("error: too few arguments\n"));
    }

    #[test]
    fn conversion_errors_are_argparse4js() {
        // As Kafka 4.4's tool prints them (wrapped and justified at 75 columns).
        let exit = parse(&args(
            "--bootstrap-server b:9092 abort --topic t --partition 0 --producer-epoch 99999",
        ))
        .unwrap_err();
        assert!(exit.stderr.ends_with(
            "kafka-transactions.sh: error: argument --producer-epoch:  could not convert\n\
             '99999' to Short (Value out of range. Value:\"99999\" Radix:10)\n"
        ));
        let exit = parse(&args("--bootstrap-server b:9092 list --duration-filter x")).unwrap_err();
        assert!(exit.stderr.ends_with(
            "kafka-transactions.sh:  error:   argument   --duration-filter:   could  not\n\
             convert 'x' to Long (For input string: \"x\")\n"
        ));
        // Of two missing required options, argparse4j names the last declared.
        let exit = parse(&args("--bootstrap-server b:9092 abort")).unwrap_err();
        assert!(exit
            .stderr
            .ends_with("kafka-transactions.sh: error: argument --partition is required\n"));
    }

    #[test]
    fn find_hanging_defaults_to_fifteen_minutes() {
        assert_eq!(
            parse(&args(
                "--bootstrap-server b:9092 find-hanging --broker-id 2"
            ))
            .unwrap()
            .command,
            Command::FindHanging {
                broker_id: Some(2),
                max_transaction_timeout_min: 15,
                topic: None,
                partition: None
            }
        );
    }

    #[test]
    fn list_and_describe_parse() {
        assert_eq!(
            parse(&args("--bootstrap-server b:9092 list"))
                .unwrap()
                .command,
            Command::List {
                duration_filter: -1,
                pattern: None
            }
        );
        assert_eq!(
            parse(&args(
                "--bootstrap-server b:9092 describe --transactional-id t"
            ))
            .unwrap()
            .command,
            Command::Describe {
                transactional_id: "t".into()
            }
        );
    }
}
