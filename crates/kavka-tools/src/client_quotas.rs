//! `kafka-configs --entity-type users|clients`: client quotas through
//! DescribeClientQuotas and AlterClientQuotas, printed as Kafka's
//! ConfigCommand prints them. Kafka's tool walks Java `HashMap`s for both the
//! entities and their values, so the order of its lines follows Java's hash
//! order; `java_hash_order` reproduces it, so the output matches line for line.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};
use kafka_protocol::protocol::StrBytes;

use crate::error::ToolError;
use crate::java_hash::{java_hash_order, java_string_hash};
use crate::wire::Connection;

/// Quota keys of users and clients (Kafka's `QuotaConfig.isClientOrUserQuotaConfig`).
const QUOTA_KEYS: &[&str] = &[
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
];

/// SCRAM mechanisms, which `--entity-type users` also accepts (KIP-554).
const SCRAM_KEYS: &[&str] = &["SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Whether the command is about client quotas (users or clients).
pub(crate) fn is_quota_entity(entity_types: &[String]) -> bool {
    entity_types
        .first()
        .is_some_and(|t| t == "users" || t == "clients")
}

/// One quota command, as parsed from kafka-configs' flags.
pub(crate) struct QuotaCommand {
    /// `users` / `clients`, in command-line order.
    pub(crate) entity_types: Vec<String>,
    /// Names in command-line order; "" stands for `--entity-default`.
    pub(crate) entity_names: Vec<String>,
    pub(crate) describe: bool,
    pub(crate) add: Vec<(String, String)>,
    pub(crate) delete: Vec<String>,
}

/// What went wrong, as Kafka's tool reports it.
pub(crate) enum QuotaFailure {
    /// Kafka's IllegalArgumentException: the message alone, exit 1.
    Argument(String),
    /// Anything else: "Error while executing config command ..." and the error.
    Error(ToolError),
}

impl From<ToolError> for QuotaFailure {
    fn from(e: ToolError) -> Self {
        QuotaFailure::Error(e)
    }
}

fn wire_type(entity_type: &str) -> Result<&'static str, QuotaFailure> {
    match entity_type {
        "users" => Ok("user"),
        "clients" => Ok("client-id"),
        other => Err(QuotaFailure::Argument(format!(
            "Unexpected entity type {other}"
        ))),
    }
}

/// Runs the command; the lines it prints on success.
pub(crate) fn run(conn: &mut Connection, cmd: &QuotaCommand) -> Result<Vec<String>, QuotaFailure> {
    if cmd.describe {
        let entries = describe(conn, cmd)?;
        return Ok(entries
            .into_iter()
            .map(|(entity, values)| describe_line(&entity, &values))
            .collect());
    }
    alter(conn, cmd)
}

type Entity = Vec<(String, Option<String>)>;

/// One described entity and its (key, value) pairs, in print order.
type Described = (Entity, Vec<(String, f64)>);

/// DescribeClientQuotas with Kafka's `ClientQuotaFilter.containsOnly` (strict)
/// filter built from the command's types and names, in Kafka's print order.
fn describe(conn: &mut Connection, cmd: &QuotaCommand) -> Result<Vec<Described>, QuotaFailure> {
    if cmd.entity_names.len() > cmd.entity_types.len() {
        return Err(QuotaFailure::Argument(
            "More entity names specified than entity types".into(),
        ));
    }
    let mut components = Vec::new();
    for (i, t) in cmd.entity_types.iter().enumerate() {
        let mut c = ComponentData::default();
        c.entity_type = StrBytes::from_static_str(wire_type(t)?);
        // The codec's default match string is "", not null.
        c._match = None;
        match cmd.entity_names.get(i).map(String::as_str) {
            Some("") => c.match_type = 1,
            Some(name) => {
                c.match_type = 0;
                c._match = Some(StrBytes::from_string(name.to_string()));
            }
            None => c.match_type = 2,
        }
        components.push(c);
    }
    let mut request = DescribeClientQuotasRequest::default();
    request.components = components;
    request.strict = true;
    let response = conn.send(request)?;
    if response.error_code != 0 {
        return Err(
            ToolError::from_code(response.error_code, response.error_message.as_deref()).into(),
        );
    }
    let entries: Vec<Described> = response
        .entries
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let entity: Entity = e
                .entity
                .into_iter()
                .map(|d| {
                    (
                        d.entity_type.to_string(),
                        d.entity_name.map(|n| n.to_string()),
                    )
                })
                .collect();
            let values: Vec<(String, f64)> = e
                .values
                .into_iter()
                .map(|v| (v.key.to_string(), v.value))
                .collect();
            (entity, values)
        })
        .collect();
    // The admin client puts the entities in a HashMap sized for them, each
    // entity's values in another; the tool prints them in that map's order.
    let entity_hashes: Vec<i32> = entries.iter().map(|(e, _)| entity_hash(e)).collect();
    let order = java_hash_order(&entity_hashes, entries.len());
    let mut by_index: Vec<Option<Described>> = entries.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .filter_map(|i| by_index.get_mut(i).and_then(Option::take))
        .map(|(entity, values)| {
            let hashes: Vec<i32> = values.iter().map(|(k, _)| java_string_hash(k)).collect();
            let order = java_hash_order(&hashes, values.len());
            let values = order
                .into_iter()
                .filter_map(|i| values.get(i).cloned())
                .collect();
            (entity, values)
        })
        .collect())
}

/// `Quota configs for user-principal 'alice', client-id 'c1' are k=v, ...`.
fn describe_line(entity: &Entity, values: &[(String, f64)]) -> String {
    let part = |wire: &str, label: &str| {
        entity
            .iter()
            .find(|(t, _)| t == wire)
            .map(|(_, n)| match n {
                Some(n) => format!("{label} '{n}'"),
                None => format!("the default {label}"),
            })
    };
    let entity_str = [
        part("user", "user-principal"),
        part("client-id", "client-id"),
        part("ip", "ip"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let values_str = values
        .iter()
        .map(|(k, v)| format!("{k}={}", java_double(*v)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("Quota configs for {entity_str} are {values_str}")
}

/// AlterClientQuotas for one entity, checked first as Kafka's tool checks it.
fn alter(conn: &mut Connection, cmd: &QuotaCommand) -> Result<Vec<String>, QuotaFailure> {
    let head = cmd.entity_types.first().map(String::as_str).unwrap_or("");
    let unknown_add: Vec<&str> = cmd
        .add
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !QUOTA_KEYS.contains(k))
        .collect();
    let unknown_delete: Vec<&str> = cmd
        .delete
        .iter()
        .map(String::as_str)
        .filter(|k| !QUOTA_KEYS.contains(k))
        .collect();
    // Kafka lists the offending names sorted, comma-separated.
    let scala_list = |v: &[&str]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.dedup();
        v.join(",")
    };
    if head == "clients" || cmd.entity_types.len() == 2 {
        if !unknown_add.is_empty() {
            return Err(QuotaFailure::Argument(format!(
                "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: {}",
                scala_list(&unknown_add)
            )));
        }
        if !unknown_delete.is_empty() {
            return Err(QuotaFailure::Argument(format!(
                "Only quota configs can be deleted for 'clients' using --bootstrap-server. Unexpected config names: {}",
                scala_list(&unknown_delete)
            )));
        }
    } else {
        let not_scram = |k: &&str| !SCRAM_KEYS.contains(k);
        let add: Vec<&str> = unknown_add.iter().copied().filter(not_scram).collect();
        let delete: Vec<&str> = unknown_delete.iter().copied().filter(not_scram).collect();
        if !add.is_empty() {
            return Err(QuotaFailure::Argument(format!(
                "Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: {}",
                scala_list(&add)
            )));
        }
        if !delete.is_empty() {
            return Err(QuotaFailure::Argument(format!(
                "Only quota and SCRAM credential configs can be deleted for 'users' using --bootstrap-server. Unexpected config names: {}",
                scala_list(&delete)
            )));
        }
        if unknown_add.len() + unknown_delete.len() > 0 {
            return Err(QuotaFailure::Argument(
                "SCRAM credentials are not supported by this tool yet".into(),
            ));
        }
    }
    if cmd.entity_names.is_empty() {
        return Err(QuotaFailure::Argument(
            "An entity-name or default entity must be specified with --alter of users, clients, brokers or ips".into(),
        ));
    }
    if cmd.entity_types.len() != cmd.entity_names.len() {
        return Err(QuotaFailure::Argument(
            "Exactly one entity name must be specified for every entity type".into(),
        ));
    }
    // Deleting a key the entity does not have is refused before anything is sent.
    let current: BTreeMap<String, f64> = describe(conn, cmd)?
        .into_iter()
        .next()
        .map(|(_, v)| v.into_iter().collect())
        .unwrap_or_default();
    let invalid: Vec<&str> = cmd
        .delete
        .iter()
        .map(String::as_str)
        .filter(|k| !current.contains_key(*k))
        .collect();
    if !invalid.is_empty() {
        return Err(QuotaFailure::Argument(format!(
            "Invalid config(s): {}",
            invalid.join(",")
        )));
    }
    let mut ops = Vec::new();
    for (k, v) in &cmd.add {
        let value: f64 = v.trim().parse().map_err(|_| {
            QuotaFailure::Argument(format!(
                "Cannot parse quota configuration value for {k}: {v}"
            ))
        })?;
        let mut op = OpData::default();
        op.key = StrBytes::from_string(k.clone());
        op.value = value;
        ops.push(op);
    }
    for k in &cmd.delete {
        let mut op = OpData::default();
        op.key = StrBytes::from_string(k.clone());
        op.remove = true;
        ops.push(op);
    }
    let mut entry = EntryData::default();
    for (t, n) in cmd.entity_types.iter().zip(&cmd.entity_names) {
        let mut d = EntityData::default();
        d.entity_type = StrBytes::from_static_str(wire_type(t)?);
        d.entity_name = (!n.is_empty()).then(|| StrBytes::from_string(n.clone()));
        entry.entity.push(d);
    }
    entry.ops = ops;
    let mut request = AlterClientQuotasRequest::default();
    request.entries = vec![entry];
    for e in conn.send(request)?.entries {
        if e.error_code != 0 {
            return Err(ToolError::from_code(e.error_code, e.error_message.as_deref()).into());
        }
    }
    let name = cmd.entity_names.first().map(String::as_str).unwrap_or("");
    Ok(vec![if name.is_empty() {
        format!("Completed updating default config for {head} in the cluster.")
    } else {
        format!(
            "Completed updating config for {} {name}.",
            head.strip_suffix('s').unwrap_or(head)
        )
    }])
}

/// `ClientQuotaEntity.hashCode`: `Objects.hash(entries)`, the entries a
/// `HashMap<String, String>` whose hash sums `key ^ value` per entry.
fn entity_hash(entity: &Entity) -> i32 {
    let map_hash = entity.iter().fold(0i32, |h, (k, v)| {
        h.wrapping_add(java_string_hash(k) ^ v.as_deref().map_or(0, java_string_hash))
    });
    31i32.wrapping_add(map_hash)
}

/// Java's `Double.toString`: plain from 10⁻³ up to 10⁷, else `d.dddE±n`.
fn java_double(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{v:?}");
        return if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        };
    }
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0E{exp}"),
        Some((mantissa, exp)) => format!("{mantissa}E{exp}"),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_doubles_print_as_java_prints_them() {
        assert_eq!(java_double(1024.0), "1024.0");
        assert_eq!(java_double(12.5), "12.5");
        assert_eq!(java_double(100000.0), "100000.0");
        assert_eq!(java_double(1.048576e7), "1.048576E7");
        assert_eq!(java_double(1e7), "1.0E7");
    }

    #[test]
    fn java_string_hash_matches_java() {
        // "hello".hashCode() == 99162322 in Java.
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash(""), 0);
    }

    /// Kafka 4.4's kafka-configs printed, for the same two clients,
    /// `the default client-id` before `client-id 'c1'`, and the values of c1 as
    /// `consumer_byte_rate=2048.0, producer_byte_rate=1024.0`.
    #[test]
    fn order_matches_kafkas_output() {
        let c1: Entity = vec![("client-id".into(), Some("c1".into()))];
        let default: Entity = vec![("client-id".into(), None)];
        let hashes = [entity_hash(&c1), entity_hash(&default)];
        assert_eq!(java_hash_order(&hashes, 2), vec![1, 0]);
        let keys = ["producer_byte_rate", "consumer_byte_rate"].map(java_string_hash);
        assert_eq!(java_hash_order(&keys, 2), vec![1, 0]);
    }
}
