//! `kafka-transactions`: the transaction coordinators' state. `list` asks every
//! broker (ListTransactions, API 66), `describe --transactional-id` asks the id's
//! coordinator (FindCoordinator type 1, DescribeTransactions, API 65); the other
//! subcommands (`describe-producers`, `abort`, `find-hanging`,
//! `forceTerminateTransaction`) are not supported yet.
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
use crate::output::java_hashmap_order;
use crate::wire::Connection;

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
    fn error(usage: &str, message: &str) -> Self {
        Exit {
            stdout: String::new(),
            stderr: format!("{usage}\n{PROG}: error: {message}\n"),
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
        "list" => parse_list(&rest)?,
        "describe" => parse_describe(&rest)?,
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

fn parse_list(rest: &[&String]) -> Result<Command, Exit> {
    let mut duration_filter = -1;
    let mut pattern = None;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(Exit::help(LIST_USAGE, LIST_HELP)),
            "--duration-filter" => {
                let value = it.next().ok_or_else(|| {
                    Exit::error(
                        LIST_USAGE,
                        "argument --duration-filter: expected one argument",
                    )
                })?;
                duration_filter = value.parse().map_err(|_| {
                    Exit::error(
                        LIST_USAGE,
                        &format!("argument --duration-filter: could not convert '{value}' to Long"),
                    )
                })?;
            }
            "--transactional-id-pattern" => {
                let value = it.next().ok_or_else(|| {
                    Exit::error(
                        LIST_USAGE,
                        "argument --transactional-id-pattern: expected one argument",
                    )
                })?;
                pattern = Some(value.to_string());
            }
            other => {
                return Err(Exit::error(
                    MAIN_USAGE,
                    &format!("unrecognized arguments: '{other}'"),
                ))
            }
        }
    }
    Ok(Command::List {
        duration_filter,
        pattern,
    })
}

fn parse_describe(rest: &[&String]) -> Result<Command, Exit> {
    let mut id = None;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(Exit::help(DESCRIBE_USAGE, DESCRIBE_HELP)),
            "--transactional-id" => {
                let value = it.next().ok_or_else(|| {
                    Exit::error(
                        DESCRIBE_USAGE,
                        "argument --transactional-id: expected one argument",
                    )
                })?;
                id = Some(value.to_string());
            }
            other => {
                return Err(Exit::error(
                    MAIN_USAGE,
                    &format!("unrecognized arguments: '{other}'"),
                ))
            }
        }
    }
    let transactional_id =
        id.ok_or_else(|| Exit::error(DESCRIBE_USAGE, "argument --transactional-id is required"))?;
    Ok(Command::Describe { transactional_id })
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
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
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
