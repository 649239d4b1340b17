//! One log line per administrative change, under the `kavka::admin` target:
//! who (principal, client address) changed what (topic, config, ACL, SCRAM user,
//! quota, group offsets), and whether the broker applied it. Read from the
//! response, so a line says what really happened, not what was asked; dry runs
//! (`validate_only`) change nothing and log nothing.

use kafka_protocol::messages::{RequestKind, ResponseKind};
use kafka_protocol::ResponseError;
use kavka_metadata::acl::{AclOperation, AclPermission, PatternType, ResourceType};

use super::RequestContext;

/// What a request says that its response does not repeat.
pub(crate) enum Pending {
    /// Not an admin change, or a dry run.
    None,
    /// A change whose response names every item.
    FromResponse,
    /// The ACLs asked for, in the order their results come back.
    CreateAcls(Vec<String>),
    /// The group whose committed offsets are being deleted.
    OffsetDelete(String),
}

impl Pending {
    /// Takes what the log line will need from `body` before it is handled.
    pub(crate) fn of(body: &RequestKind) -> Pending {
        match body {
            RequestKind::CreateTopics(r) if !r.validate_only => Pending::FromResponse,
            RequestKind::CreatePartitions(r) if !r.validate_only => Pending::FromResponse,
            RequestKind::AlterConfigs(r) if !r.validate_only => Pending::FromResponse,
            RequestKind::IncrementalAlterConfigs(r) if !r.validate_only => Pending::FromResponse,
            RequestKind::AlterClientQuotas(r) if !r.validate_only => Pending::FromResponse,
            RequestKind::DeleteTopics(_)
            | RequestKind::DeleteAcls(_)
            | RequestKind::AlterUserScramCredentials(_)
            | RequestKind::DeleteGroups(_) => Pending::FromResponse,
            RequestKind::CreateAcls(r) => Pending::CreateAcls(
                r.creations
                    .iter()
                    .map(|c| {
                        acl_text(
                            c.principal.as_str(),
                            c.host.as_str(),
                            c.operation,
                            c.permission_type,
                            c.resource_type,
                            c.resource_name.as_str(),
                            c.resource_pattern_type,
                        )
                    })
                    .collect(),
            ),
            RequestKind::OffsetDelete(r) => Pending::OffsetDelete(r.group_id.0.to_string()),
            _ => Pending::None,
        }
    }
}

/// Logs each change `response` reports, one line apiece.
pub(crate) fn record(ctx: &RequestContext<'_>, pending: Pending, response: &ResponseKind) {
    if matches!(pending, Pending::None) {
        return;
    }
    let line = |change: &str, resource: &str, detail: String, code: i16| {
        change_line(ctx, change, resource, &detail, code)
    };
    match (pending, response) {
        (_, ResponseKind::CreateTopics(r)) => {
            for t in &r.topics {
                let detail = format!(
                    "partitions={} replication_factor={}",
                    t.num_partitions, t.replication_factor
                );
                line("topic created", t.name.0.as_str(), detail, t.error_code);
            }
        }
        (_, ResponseKind::DeleteTopics(r)) => {
            for t in &r.responses {
                let name = t.name.as_ref().map_or("-", |n| n.0.as_str());
                line(
                    "topic deleted",
                    name,
                    format!("topic_id={}", t.topic_id),
                    t.error_code,
                );
            }
        }
        (_, ResponseKind::CreatePartitions(r)) => {
            for t in &r.results {
                line(
                    "partitions added",
                    t.name.0.as_str(),
                    String::new(),
                    t.error_code,
                );
            }
        }
        (_, ResponseKind::AlterConfigs(r)) => {
            for c in &r.responses {
                let detail = format!("resource_type={}", c.resource_type);
                line(
                    "configs altered",
                    c.resource_name.as_str(),
                    detail,
                    c.error_code,
                );
            }
        }
        (_, ResponseKind::IncrementalAlterConfigs(r)) => {
            for c in &r.responses {
                let detail = format!("resource_type={}", c.resource_type);
                line(
                    "configs altered",
                    c.resource_name.as_str(),
                    detail,
                    c.error_code,
                );
            }
        }
        (Pending::CreateAcls(asked), ResponseKind::CreateAcls(r)) => {
            for (acl, result) in asked.iter().zip(&r.results) {
                line("acl created", "-", acl.clone(), result.error_code);
            }
        }
        (_, ResponseKind::DeleteAcls(r)) => {
            for filter in &r.filter_results {
                for a in &filter.matching_acls {
                    let acl = acl_text(
                        a.principal.as_str(),
                        a.host.as_str(),
                        a.operation,
                        a.permission_type,
                        a.resource_type,
                        a.resource_name.as_str(),
                        a.pattern_type,
                    );
                    line("acl deleted", "-", acl, a.error_code);
                }
            }
        }
        (_, ResponseKind::AlterUserScramCredentials(r)) => {
            for u in &r.results {
                line(
                    "scram credentials altered",
                    u.user.as_str(),
                    String::new(),
                    u.error_code,
                );
            }
        }
        (_, ResponseKind::AlterClientQuotas(r)) => {
            for e in &r.entries {
                let entity = e
                    .entity
                    .iter()
                    .map(|d| {
                        let name = d.entity_name.as_ref().map_or("<default>", |n| n.as_str());
                        format!("{}={name}", d.entity_type.as_str())
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                line("quotas altered", &entity, String::new(), e.error_code);
            }
        }
        (_, ResponseKind::DeleteGroups(r)) => {
            for g in &r.results {
                line(
                    "group deleted",
                    g.group_id.0.as_str(),
                    String::new(),
                    g.error_code,
                );
            }
        }
        (Pending::OffsetDelete(group), ResponseKind::OffsetDelete(r)) => {
            if r.error_code != 0 {
                line("offsets deleted", &group, String::new(), r.error_code);
                return;
            }
            for t in &r.topics {
                for p in &t.partitions {
                    let detail = format!(
                        "topic={} partition={}",
                        t.name.0.as_str(),
                        p.partition_index
                    );
                    line("offsets deleted", &group, detail, p.error_code);
                }
            }
        }
        _ => {}
    }
}

/// The line itself: applied changes at info, refused ones at warn with Kafka's
/// error name, so an operator sees both who changed what and who tried.
fn change_line(ctx: &RequestContext<'_>, change: &str, resource: &str, detail: &str, code: i16) {
    if ctx.session.internal {
        return;
    }
    let principal = ctx.session.principal.to_string();
    if code == 0 {
        tracing::info!(
            target: "kavka::admin",
            principal = %principal,
            peer = %ctx.peer,
            resource,
            detail,
            outcome = "applied",
            "{change}"
        );
    } else {
        let outcome = ResponseError::try_from_code(code)
            .map_or_else(|| format!("error {code}"), |e| format!("{e:?}"));
        tracing::warn!(
            target: "kavka::admin",
            principal = %principal,
            peer = %ctx.peer,
            resource,
            detail,
            outcome = %outcome,
            "{change} refused"
        );
    }
}

/// An ACL as `kafka-acls` describes one, with the wire's numeric codes.
fn acl_text(
    principal: &str,
    host: &str,
    operation: i8,
    permission: i8,
    resource_type: i8,
    resource_name: &str,
    pattern_type: i8,
) -> String {
    // Names as `kafka-acls` prints them; a code the broker refused stays a number.
    fn named<T: std::fmt::Display, E>(code: i8, parse: fn(i8) -> Result<T, E>) -> String {
        parse(code).map_or_else(|_| code.to_string(), |v| v.to_string())
    }
    format!(
        "principal={principal} host={host} operation={} permission={} \
         resource_type={} resource_name={resource_name} pattern_type={}",
        named(operation, AclOperation::from_code),
        named(permission, AclPermission::from_code),
        named(resource_type, ResourceType::from_code),
        named(pattern_type, PatternType::from_code),
    )
}
