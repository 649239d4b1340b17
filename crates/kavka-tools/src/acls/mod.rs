//! `kafka-acls`: adds, removes and lists ACLs with Kafka's flags and output.
//!
//! Kafka's tool prints a failure as "Error while executing ACL command: …"
//! followed by the Java exception and its stack trace, on stdout; Kavka prints
//! the same lines without the stack frames. Where Kafka reads the answer to the
//! `--remove` question from the console only (and fails when standard input is
//! not a terminal), Kavka reads a line from standard input, so `yes | kavka
//! acls --remove …` works; no line at all counts as "no".

mod admin;
mod model;

use std::ffi::OsString;
use std::io::BufRead;

use clap::Parser;

use crate::error::{java_exception, ToolError};
use crate::wire::Connection;
use model::{binding_text, AclFlags, CommandError, Entry, Pattern, PatternAcls};

const ABOUT: &str = "This tool helps to manage acls on kafka.";

/// Kafka's AclCommand options.
#[derive(Parser, Debug)]
#[command(name = "kafka-acls", about = ABOUT)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// A list of host/port pairs to use for establishing the connection to the
    /// Kafka cluster. This list should be in the form host1:port1,host2:port2,...
    /// This config is required for acl management using admin client API.
    #[arg(long, value_name = "server to connect to")]
    bootstrap_server: Option<String>,
    /// A list of host/port pairs of controllers to connect to instead.
    #[arg(long, value_name = "controller to connect to")]
    bootstrap_controller: Option<String>,
    /// A property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "command-config", num_args = 0..=1)]
    command_config: Option<Option<String>>,
    /// topic to which ACLs should be added or removed. A value of '*' indicates
    /// ACL should apply to all topics.
    #[arg(long, value_name = "topic")]
    topic: Vec<String>,
    /// Add/Remove cluster ACLs.
    #[arg(long)]
    cluster: bool,
    /// Consumer Group to which the ACLs should be added or removed. A value of
    /// '*' indicates the ACLs should apply to all groups.
    #[arg(long, value_name = "group")]
    group: Vec<String>,
    /// The transactionalId to which ACLs should be added or removed. A value of
    /// '*' indicates the ACLs should apply to all transactionalIds.
    #[arg(long, value_name = "transactional-id")]
    transactional_id: Vec<String>,
    /// Enable idempotence for the producer. This should be used in combination
    /// with the --producer option.
    #[arg(long)]
    idempotent: bool,
    /// Delegation token to which ACLs should be added or removed. A value of '*'
    /// indicates ACL should apply to all tokens.
    #[arg(long, value_name = "delegation-token")]
    delegation_token: Vec<String>,
    /// The type of the resource pattern or pattern filter: literal or prefixed
    /// when adding; also any or match when listing or removing.
    #[arg(long, value_name = "ANY|MATCH|LITERAL|PREFIXED")]
    resource_pattern_type: Option<String>,
    /// Indicates you are trying to add ACLs.
    #[arg(long)]
    add: bool,
    /// Indicates you are trying to remove ACLs.
    #[arg(long)]
    remove: bool,
    /// List ACLs for the specified resource, use --topic <topic> or --group
    /// <group> or --cluster to specify a resource.
    #[arg(long)]
    list: bool,
    /// Operation that is being allowed or denied (default: All).
    #[arg(long)]
    operation: Vec<String>,
    /// principal is in principalType:name format. For example, User:'*' is the
    /// wild card indicating all users.
    #[arg(long, value_name = "allow-principal")]
    allow_principal: Vec<String>,
    /// principal is in principalType:name format. DENY RULES TAKE PRECEDENCE
    /// OVER ALLOW RULES.
    #[arg(long, value_name = "deny-principal")]
    deny_principal: Vec<String>,
    /// List ACLs for the specified principal (repeatable).
    #[arg(long, value_name = "principal", num_args = 0..=1)]
    principal: Option<Vec<String>>,
    /// Host from which principals listed in --allow-principal will have access
    /// (default '*').
    #[arg(long, value_name = "allow-host")]
    allow_host: Vec<String>,
    /// Host from which principals listed in --deny-principal will be denied
    /// access (default '*').
    #[arg(long, value_name = "deny-host")]
    deny_host: Vec<String>,
    /// Convenience option to add/remove ACLs for producer role. This will
    /// generate ACLs that allows WRITE,DESCRIBE and CREATE on topic.
    #[arg(long)]
    producer: bool,
    /// Convenience option to add/remove ACLs for consumer role. This will
    /// generate ACLs that allows READ,DESCRIBE on topic and READ on group.
    #[arg(long)]
    consumer: bool,
    /// Assume Yes to all queries and do not prompt.
    #[arg(long)]
    force: bool,
    /// Specifies a user principal as a resource in relation with the operation.
    #[arg(long, value_name = "user-principal")]
    user_principal: Vec<String>,
}

/// Runs kafka-acls.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    if argv.len() <= 1 {
        return Ok(crate::usage::<Args>(ABOUT));
    }
    let args: Args = match crate::parse_args(argv) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    if let Err(message) = check_args(&args) {
        return Ok(crate::usage::<Args>(&message));
    }
    match run(&args) {
        Ok(()) => Ok(0),
        Err(Failure::Command(CommandError::Usage(message))) => Ok(crate::usage::<Args>(&message)),
        Err(Failure::Command(e)) => {
            println!("Error while executing ACL command: {e}");
            for line in e.exception_lines() {
                println!("{line}");
            }
            // Where Kafka's stack trace ends.
            println!();
            Ok(1)
        }
        Err(Failure::Tool(e)) => {
            let text = java_exception(&e);
            println!("Error while executing ACL command: {text}");
            if matches!(e, ToolError::Kafka { .. }) {
                println!("java.util.concurrent.ExecutionException: {text}");
                println!("Caused by: {text}");
            }
            println!();
            Ok(1)
        }
    }
}

/// Kafka's checks of the flag combinations, in its order.
fn check_args(a: &Args) -> Result<(), String> {
    if a.bootstrap_server.is_some() && a.bootstrap_controller.is_some() {
        return Err(
            "Only one of --bootstrap-server or --bootstrap-controller must be specified".into(),
        );
    }
    if a.bootstrap_server.is_none() && a.bootstrap_controller.is_none() {
        return Err("One of --bootstrap-server or --bootstrap-controller must be specified".into());
    }
    if [a.add, a.remove, a.list].iter().filter(|x| **x).count() != 1 {
        return Err("Command must include exactly one action: --list, --add, --remove. ".into());
    }
    let cannot = |used: &str, other: &str| {
        Err(format!(
            "Option \"[{used}]\" can't be used with option \"[{other}]\""
        ))
    };
    if a.list {
        let invalid = [
            ("producer", a.producer),
            ("consumer", a.consumer),
            ("allow-host", !a.allow_host.is_empty()),
            ("allow-principal", !a.allow_principal.is_empty()),
            ("deny-host", !a.deny_host.is_empty()),
            ("deny-principal", !a.deny_principal.is_empty()),
        ];
        if let Some((other, _)) = invalid.iter().find(|(_, given)| *given) {
            return cannot("list", other);
        }
    }
    for (role, used) in [("producer", a.producer), ("consumer", a.consumer)] {
        if !used {
            continue;
        }
        let invalid = [
            ("operation", !a.operation.is_empty()),
            ("deny-principal", !a.deny_principal.is_empty()),
            ("deny-host", !a.deny_host.is_empty()),
        ];
        if let Some((other, _)) = invalid.iter().find(|(_, given)| *given) {
            return cannot(role, other);
        }
    }
    if a.principal.is_some() && !a.list {
        return Err("The --principal option is only available if --list is set".into());
    }
    if a.producer && a.topic.is_empty() {
        return Err("With --producer you must specify a --topic".into());
    }
    if a.idempotent && !a.producer {
        return Err("The --idempotent option is only available if --producer is set".into());
    }
    if a.consumer
        && (a.topic.is_empty()
            || a.group.is_empty()
            || (!a.producer && (a.cluster || !a.transactional_id.is_empty())))
    {
        return Err("With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified.".into());
    }
    Ok(())
}

fn flags(a: &Args) -> Result<AclFlags, CommandError> {
    let pattern_type = match a.resource_pattern_type.as_deref() {
        None => kavka_metadata::acl::PatternType::Literal,
        Some(text) => model::parse_pattern_type(text)?,
    };
    let operations = if a.operation.is_empty() {
        vec!["All".to_string()]
    } else {
        a.operation.clone()
    };
    Ok(AclFlags {
        topics: a.topic.clone(),
        groups: a.group.clone(),
        transactional_ids: a.transactional_id.clone(),
        delegation_tokens: a.delegation_token.clone(),
        user_principals: a.user_principal.clone(),
        cluster: a.cluster,
        idempotent: a.idempotent,
        producer: a.producer,
        consumer: a.consumer,
        pattern_type,
        operations,
        allow_principals: a.allow_principal.clone(),
        deny_principals: a.deny_principal.clone(),
        allow_hosts: a.allow_host.clone(),
        deny_hosts: a.deny_host.clone(),
    })
}

/// What ended a run early.
enum Failure {
    Command(CommandError),
    Tool(ToolError),
}

impl From<CommandError> for Failure {
    fn from(e: CommandError) -> Self {
        Failure::Command(e)
    }
}

impl From<ToolError> for Failure {
    fn from(e: ToolError) -> Self {
        Failure::Tool(e)
    }
}

fn run(a: &Args) -> Result<(), Failure> {
    let config = a.command_config.clone().flatten();
    crate::wire::use_command_config(config.as_deref().map(std::path::Path::new))?;
    let servers = a
        .bootstrap_server
        .as_deref()
        .or(a.bootstrap_controller.as_deref())
        .unwrap_or_default();
    let mut conn = Connection::bootstrap(servers)?;
    let flags = &flags(a)?;
    if a.add {
        add(&mut conn, flags)
    } else if a.remove {
        remove(&mut conn, flags, a.force)
    } else {
        list(&mut conn, flags, a.principal.as_deref().unwrap_or_default())
    }
}

fn add(conn: &mut Connection, flags: &AclFlags) -> Result<(), Failure> {
    for (pattern, entries) in flags.acls_to_add()? {
        let existing = admin::describe(conn, Some(&pattern))?;
        let existing = existing.get(&pattern);
        let mut new = Vec::new();
        for entry in entries {
            if existing.is_some_and(|e| e.contains(&entry)) {
                println!("Acl {} already exists.", binding_text(&pattern, &entry));
            } else {
                new.push(entry);
            }
        }
        if !new.is_empty() {
            println!(
                "Adding ACLs for resource `{pattern}`: \n {}\n",
                entry_lines(&new)
            );
            admin::create(conn, &pattern, &new)?;
        }
    }
    Ok(())
}

fn remove(conn: &mut Connection, flags: &AclFlags, force: bool) -> Result<(), Failure> {
    for (filter, entries) in flags.filter_acls()? {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let question = if entries.is_empty() {
            format!(
                "Are you sure you want to delete all ACLs for resource filter `{filter}`? (y/n)"
            )
        } else {
            format!(
                "Are you sure you want to remove ACLs: \n {}\n from resource filter `{filter}`? (y/n)",
                entry_lines(&entries)
            )
        };
        if force || confirm(&question) {
            admin::delete(conn, &filter, &entries)?;
        }
    }
    Ok(())
}

fn list(conn: &mut Connection, flags: &AclFlags, principals: &[String]) -> Result<(), Failure> {
    let principals = principals
        .iter()
        .map(|p| model::parse_principal(p))
        .collect::<Result<std::collections::BTreeSet<_>, _>>()?;
    let filters = flags.resource_filters();
    let acls = if filters.is_empty() {
        admin::describe(conn, None)?
    } else {
        let mut acls = PatternAcls::new();
        for filter in &filters {
            for (pattern, entries) in admin::describe(conn, Some(filter))? {
                acls.entry(pattern).or_default().extend(entries);
            }
        }
        acls
    };
    if principals.is_empty() {
        print_acls(&acls);
        return Ok(());
    }
    for principal in principals {
        println!("ACLs for principal `{principal}`");
        let theirs: PatternAcls = acls
            .iter()
            .map(|(pattern, entries)| {
                let entries = entries
                    .iter()
                    .filter(|e| e.principal == principal)
                    .cloned()
                    .collect();
                (pattern.clone(), entries)
            })
            .filter(
                |(_, entries): &(Pattern, std::collections::BTreeSet<Entry>)| !entries.is_empty(),
            )
            .collect();
        print_acls(&theirs);
    }
    Ok(())
}

fn print_acls(acls: &PatternAcls) {
    for (pattern, entries) in acls {
        let entries: Vec<Entry> = entries.iter().cloned().collect();
        println!(
            "Current ACLs for resource `{pattern}`:\n{}\n",
            entry_lines(&entries)
        );
    }
}

/// Entries one per line, each after a tab.
fn entry_lines(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| format!("\t{e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints the question and reads the answer: `y` or `Y` says yes.
fn confirm(question: &str) -> bool {
    println!("{question}");
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) => answer
            .trim_end_matches(['\r', '\n'])
            .eq_ignore_ascii_case("y"),
        Err(_) => false,
    }
}
