//! Access control lists as Kafka's StandardAuthorizer models them: who
//! (principal, host) may or may not do what (operation) to which resources
//! (type, name, literal or prefixed pattern). Pure data and decisions: the broker
//! reads the ACLs from the metadata image and asks [`Authorizer`] per action.

mod authorizer;
mod filter;
mod types;

pub use authorizer::{AuthorizationResult, Authorizer, AuthorizerConfig};
pub use filter::{AclFilter, FilterError};
pub use types::{AclOperation, AclPermission, PatternType, ResourceType, UnknownCode};

use serde::{Deserialize, Serialize};

/// The one name a CLUSTER resource has.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// A resource name, principal or host that matches every one.
pub const WILDCARD: &str = "*";
/// The principal that matches every principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// One access control entry bound to a resource pattern (Kafka's AclBinding,
/// stored as StandardAcl in AccessControlEntryRecord).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Acl {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `Type:name`, e.g. `User:alice` or `User:*`.
    pub principal: String,
    /// An IP address as the client's connection shows it, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

/// Why an ACL cannot be created (Kafka answers INVALID_REQUEST with the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAcl(pub String);

impl Acl {
    /// Checks a new ACL as Kafka's broker and controller do before storing it.
    pub fn validate(&self) -> Result<(), InvalidAcl> {
        let bad =
            |what: &str, v: &dyn std::fmt::Display| Err(InvalidAcl(format!("Invalid {what} {v}")));
        if !self.resource_type.is_concrete() {
            return bad("resourceType", &self.resource_type);
        }
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return bad("patternType", &self.pattern_type);
        }
        if !self.operation.is_concrete() {
            return bad("operation", &self.operation);
        }
        if !matches!(self.permission, AclPermission::Allow | AclPermission::Deny) {
            return bad("permissionType", &self.permission);
        }
        if self.resource_type == ResourceType::Cluster && self.resource_name != CLUSTER_NAME {
            return Err(InvalidAcl(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            )));
        }
        if self.resource_name.is_empty() {
            return Err(InvalidAcl("Invalid empty resource name".to_string()));
        }
        if !self.principal.contains(':') {
            return Err(InvalidAcl(format!(
                "Could not parse principal from `{}` (no colon is present separating the principal type from the principal name)",
                self.principal
            )));
        }
        Ok(())
    }

    /// Whether this ACL's pattern covers the resource `name` (of its type).
    pub fn matches_name(&self, name: &str) -> bool {
        match self.pattern_type {
            PatternType::Literal => self.resource_name == name || self.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&self.resource_name),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
