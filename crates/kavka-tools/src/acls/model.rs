//! What a `kafka-acls` command line asks for, worked out without a broker: the
//! resource patterns (or pattern filters) it names and the access control
//! entries it adds or removes on each, with Kafka's texts for them.
//!
//! Kafka's tool keeps these in Java hash sets whose order changes from run to
//! run (enum hash codes are identity hashes), so no order can match it line for
//! line; `BTreeMap`/`BTreeSet` make Kavka's order stable: by resource type,
//! name and pattern type, then by principal, host, operation and permission.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kavka_metadata::acl::{
    AclOperation, AclPermission, PatternType, ResourceType, CLUSTER_NAME, WILDCARD,
};

/// A resource pattern, or a pattern filter when its type is MATCH or ANY
/// (Kafka prints both as `ResourcePattern(...)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pattern {
    pub(crate) resource_type: ResourceType,
    pub(crate) name: String,
    pub(crate) pattern_type: PatternType,
}

impl Pattern {
    pub(crate) fn new(resource_type: ResourceType, name: &str, pattern_type: PatternType) -> Self {
        Self {
            resource_type,
            name: name.to_string(),
            pattern_type,
        }
    }

    fn cluster() -> Self {
        Self::new(ResourceType::Cluster, CLUSTER_NAME, PatternType::Literal)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }
}

/// One access control entry: who, from where, may or may not do what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) principal: String,
    pub(crate) host: String,
    pub(crate) operation: AclOperation,
    pub(crate) permission: AclPermission,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission
        )
    }
}

/// Kafka's AclBinding text, as in "Acl … already exists.".
pub(crate) fn binding_text(pattern: &Pattern, entry: &Entry) -> String {
    format!("(pattern={pattern}, entry={entry})")
}

/// The entries per pattern (or filter) of a command, in print order.
pub(crate) type PatternAcls = BTreeMap<Pattern, BTreeSet<Entry>>;

/// Why a command line cannot be turned into ACLs, as Kafka's tool reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CommandError {
    /// The message, then the usage, on stderr; exit status 1.
    #[error("{0}")]
    Usage(String),
    /// Kafka's IllegalArgumentException, reported as an error of the command.
    #[error("{0}")]
    Argument(String),
    /// A `--resource-pattern-type` value that is no pattern type; Kafka's
    /// option parser converts it only when the command first needs it.
    #[error("Cannot parse argument '{0}' of option resource-pattern-type")]
    PatternType(String),
}

impl CommandError {
    /// The Java exception lines Kafka's tool prints after its error line
    /// (without the stack frames).
    pub(crate) fn exception_lines(&self) -> Vec<String> {
        match self {
            CommandError::Usage(_) => Vec::new(),
            CommandError::Argument(m) => vec![format!("java.lang.IllegalArgumentException: {m}")],
            CommandError::PatternType(value) => {
                let cause = if value.eq_ignore_ascii_case("unknown") {
                    format!("Unknown resource-pattern-type: {value}")
                } else {
                    format!("Value [{value}] is not one of [ANY|MATCH|LITERAL|PREFIXED]")
                };
                vec![
                    format!("joptsimple.OptionArgumentConversionException: {self}"),
                    format!("Caused by: joptsimple.ValueConversionException: {cause}"),
                ]
            }
        }
    }
}

/// The resource and ACL flags of one command line.
#[derive(Debug, Clone)]
pub(crate) struct AclFlags {
    pub(crate) topics: Vec<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) transactional_ids: Vec<String>,
    pub(crate) delegation_tokens: Vec<String>,
    pub(crate) user_principals: Vec<String>,
    pub(crate) cluster: bool,
    pub(crate) idempotent: bool,
    pub(crate) producer: bool,
    pub(crate) consumer: bool,
    pub(crate) pattern_type: PatternType,
    /// `--operation` values as given (Kafka's default is `All`).
    pub(crate) operations: Vec<String>,
    pub(crate) allow_principals: Vec<String>,
    pub(crate) deny_principals: Vec<String>,
    pub(crate) allow_hosts: Vec<String>,
    pub(crate) deny_hosts: Vec<String>,
}

impl Default for AclFlags {
    /// Kafka's defaults: a LITERAL pattern type and operation `All`.
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            groups: Vec::new(),
            transactional_ids: Vec::new(),
            delegation_tokens: Vec::new(),
            user_principals: Vec::new(),
            cluster: false,
            idempotent: false,
            producer: false,
            consumer: false,
            pattern_type: PatternType::Literal,
            operations: vec!["All".to_string()],
            allow_principals: Vec::new(),
            deny_principals: Vec::new(),
            allow_hosts: Vec::new(),
            deny_hosts: Vec::new(),
        }
    }
}

const NO_RESOURCE: &str = "You must provide at least one resource: --topic <topic> or --cluster or --group <group> or --delegation-token <Delegation Token ID>";

impl AclFlags {
    /// The patterns (or filters) the resource flags name; the cluster only with
    /// a LITERAL pattern type, as in Kafka.
    pub(crate) fn resource_filters(&self) -> BTreeSet<Pattern> {
        let p = self.pattern_type;
        let mut filters = BTreeSet::new();
        let named = [
            (ResourceType::Topic, &self.topics, true),
            (ResourceType::Group, &self.groups, true),
            // Kafka's tool does not trim transactional ids.
            (
                ResourceType::TransactionalId,
                &self.transactional_ids,
                false,
            ),
            (ResourceType::DelegationToken, &self.delegation_tokens, true),
            (ResourceType::User, &self.user_principals, true),
        ];
        for (resource_type, names, trim) in named {
            for name in names {
                let name = if trim { name.trim() } else { name.as_str() };
                filters.insert(Pattern::new(resource_type, name, p));
            }
        }
        if p == PatternType::Literal && (self.cluster || self.idempotent) {
            filters.insert(Pattern::cluster());
        }
        filters
    }

    fn required_filters(&self) -> Result<BTreeSet<Pattern>, CommandError> {
        let filters = self.resource_filters();
        if filters.is_empty() {
            return Err(CommandError::Usage(NO_RESOURCE.to_string()));
        }
        Ok(filters)
    }

    /// The entries for `operations`: every allowed principal from every allowed
    /// host, every denied principal from every denied host (hosts default to `*`).
    fn entries(&self, operations: &[AclOperation]) -> Result<BTreeSet<Entry>, CommandError> {
        let allowed = parse_principals(&self.allow_principals)?;
        let denied = parse_principals(&self.deny_principals)?;
        let mut entries = BTreeSet::new();
        for (principals, hosts, permission) in [
            (&allowed, &self.allow_hosts, AclPermission::Allow),
            (&denied, &self.deny_hosts, AclPermission::Deny),
        ] {
            let hosts: BTreeSet<&str> = if hosts.is_empty() {
                BTreeSet::from([WILDCARD])
            } else {
                hosts.iter().map(|h| h.trim()).collect()
            };
            for principal in principals {
                for &operation in operations {
                    for host in &hosts {
                        entries.insert(Entry {
                            principal: principal.clone(),
                            host: host.to_string(),
                            operation,
                            permission,
                        });
                    }
                }
            }
        }
        Ok(entries)
    }

    /// The entries per pattern filter the command adds or removes: from
    /// `--operation`, or the roles of `--producer` and `--consumer`.
    pub(crate) fn filter_acls(&self) -> Result<PatternAcls, CommandError> {
        let mut acls = PatternAcls::new();
        if !self.producer && !self.consumer {
            let operations: Vec<AclOperation> = self
                .operations
                .iter()
                .map(|o| parse_operation(o.trim()))
                .collect();
            let entries = self.entries(&operations)?;
            for filter in self.required_filters()? {
                acls.insert(filter, entries.clone());
            }
        }
        if self.producer {
            use AclOperation::*;
            let filters = self.required_filters()?;
            let topic = self.entries(&[Write, Describe, Create])?;
            let transactional_id = self.entries(&[Write, Describe])?;
            for filter in filters {
                match filter.resource_type {
                    ResourceType::Topic => acls.insert(filter, topic.clone()),
                    ResourceType::TransactionalId => acls.insert(filter, transactional_id.clone()),
                    _ => None,
                };
            }
            if self.idempotent {
                acls.insert(Pattern::cluster(), self.entries(&[IdempotentWrite])?);
            }
        }
        if self.consumer {
            use AclOperation::*;
            let filters = self.required_filters()?;
            let topic = self.entries(&[Read, Describe])?;
            let group = self.entries(&[Read])?;
            for filter in filters {
                let entries = match filter.resource_type {
                    ResourceType::Topic => &topic,
                    ResourceType::Group => &group,
                    _ => continue,
                };
                acls.entry(filter)
                    .or_default()
                    .extend(entries.iter().cloned());
            }
        }
        validate_operations(&acls)?;
        Ok(acls)
    }

    /// The patterns and entries `--add` creates: a specific pattern type, and
    /// at least one principal for every resource.
    pub(crate) fn acls_to_add(&self) -> Result<PatternAcls, CommandError> {
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return Err(CommandError::Usage(format!(
                "A '--resource-pattern-type' value of '{}' is not valid when adding acls.",
                self.pattern_type
            )));
        }
        let acls = self.filter_acls()?;
        if acls.values().any(BTreeSet::is_empty) {
            return Err(CommandError::Usage(
                "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs."
                    .to_string(),
            ));
        }
        Ok(acls)
    }
}

/// Every operation must be one the resource type supports (or ALL).
fn validate_operations(acls: &PatternAcls) -> Result<(), CommandError> {
    for (pattern, entries) in acls {
        let supported = pattern.resource_type.supported_operations();
        let valid = |op: AclOperation| op == AclOperation::All || supported.contains(&op);
        if entries.iter().any(|e| !valid(e.operation)) {
            let names: Vec<&str> = supported
                .iter()
                .chain([&AclOperation::All])
                .map(|op| op.name())
                .collect();
            return Err(CommandError::Usage(format!(
                "ResourceType {} only supports operations [{}]",
                pattern.resource_type,
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// A `Type:name` principal (Kafka's `SecurityUtils.parseKafkaPrincipal`), trimmed.
pub(crate) fn parse_principal(text: &str) -> Result<String, CommandError> {
    let text = text.trim();
    match text.split_once(':') {
        Some(_) => Ok(text.to_string()),
        None => Err(CommandError::Argument(format!(
            "expected a string in format principalType:principalName but got {text}"
        ))),
    }
}

fn parse_principals(texts: &[String]) -> Result<BTreeSet<String>, CommandError> {
    texts.iter().map(|t| parse_principal(t)).collect()
}

/// An operation name as Kafka's tool reads it: in Pascal case (`Read`,
/// `DescribeConfigs`) or that in upper case (`READ`, `DESCRIBECONFIGS`); any
/// other name is UNKNOWN, which no resource type supports.
pub(crate) fn parse_operation(text: &str) -> AclOperation {
    AclOperation::ALL_VALUES
        .iter()
        .copied()
        .find(|op| text == pascal_case(op.name()) || text == op.name().replace('_', ""))
        .unwrap_or(AclOperation::Unknown)
}

/// `DESCRIBE_CONFIGS` as `DescribeConfigs`.
pub(crate) fn pascal_case(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_string() + &chars.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

/// `--resource-pattern-type`: a pattern type's name in any case, never UNKNOWN.
pub(crate) fn parse_pattern_type(text: &str) -> Result<PatternType, CommandError> {
    PatternType::ALL_VALUES
        .iter()
        .copied()
        .filter(|p| *p != PatternType::Unknown)
        .find(|p| p.name().eq_ignore_ascii_case(text))
        .ok_or_else(|| CommandError::PatternType(text.to_string()))
}

#[cfg(test)]
mod tests;
