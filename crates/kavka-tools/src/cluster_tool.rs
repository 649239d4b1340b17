//! `kafka-cluster`: the cluster's id (`cluster-id`) and removing a broker's
//! registration (`unregister`), with Kafka's subcommands and messages.

use std::ffi::OsString;

use clap::{Parser, Subcommand};
use kafka_protocol::messages::{ApiKey, BrokerId, DescribeClusterRequest, UnregisterBrokerRequest};

use crate::error::java_exception;
use crate::wire::Connection;

/// Kafka's ClusterTool options.
#[derive(Parser, Debug)]
#[command(name = "kafka-cluster", about = "The Kafka cluster tool.")]
#[command(disable_version_flag = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Get information about the ID of a cluster.
    ClusterId(Connect),
    /// Unregister a broker.
    Unregister {
        #[command(flatten)]
        connect: Connect,
        /// The ID of the broker to unregister.
        #[arg(long, short = 'i')]
        id: i32,
    },
}

#[derive(clap::Args, Debug)]
struct Connect {
    /// A list of host/port pairs to use for establishing the connection to the Kafka cluster.
    #[arg(long, short = 'b')]
    bootstrap_server: String,
    /// A property file containing configurations for the Admin client.
    #[arg(long, short = 'c')]
    config: Option<String>,
}

/// Runs kafka-cluster.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match crate::parse_args(argv) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let connect = match &args.command {
        Command::ClusterId(c) | Command::Unregister { connect: c, .. } => c,
    };
    if let Some(path) = &connect.config {
        if let Err(e) = crate::props::Props::load(std::path::Path::new(path)) {
            eprintln!("{e}");
            return Ok(1);
        }
    }
    let result =
        Connection::bootstrap(&connect.bootstrap_server).and_then(|mut conn| match args.command {
            Command::ClusterId(_) => cluster_id(&mut conn),
            Command::Unregister { id, .. } => unregister(&mut conn, id),
        });
    match result {
        Ok(line) => {
            println!("{line}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("{}", java_exception(&e));
            Ok(1)
        }
    }
}

fn cluster_id(conn: &mut Connection) -> Result<String, crate::ToolError> {
    let response = conn.send(DescribeClusterRequest::default())?;
    if response.error_code != 0 {
        return Err(crate::ToolError::from_code(
            response.error_code,
            response.error_message.as_deref(),
        ));
    }
    Ok(format!("Cluster ID: {}", response.cluster_id))
}

fn unregister(conn: &mut Connection, id: i32) -> Result<String, crate::ToolError> {
    // Kafka's tool says this when the cluster answers UnsupportedVersion.
    if !conn.supports(ApiKey::UnregisterBroker) {
        return Ok("The target cluster does not support the broker unregistration API.".into());
    }
    let response = conn.send(UnregisterBrokerRequest::default().with_broker_id(BrokerId(id)))?;
    if response.error_code != 0 {
        return Err(crate::ToolError::from_code(
            response.error_code,
            response.error_message.as_deref(),
        ));
    }
    Ok(format!("Broker {id} is no longer registered."))
}
