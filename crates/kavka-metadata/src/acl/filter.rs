//! ACL filters, as DescribeAcls and DeleteAcls carry them (Kafka's
//! AclBindingFilter): every field may be ANY (or absent), and the pattern type
//! MATCH selects the ACLs that would apply to one named resource.

use super::{Acl, AclOperation, AclPermission, PatternType, ResourceType, WILDCARD};

/// Selects ACLs. `None` strings match any value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

/// Why a filter cannot be used (Kafka answers INVALID_REQUEST).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

impl AclFilter {
    /// A filter that matches every ACL.
    pub fn any() -> Self {
        Self {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// Refuses filters with UNKNOWN values, which Kafka rejects.
    pub fn validate(&self) -> Result<(), FilterError> {
        if self.resource_type == ResourceType::Unknown {
            return Err(FilterError("Filters contain UNKNOWN elements".to_string()));
        }
        if self.pattern_type == PatternType::Unknown {
            return Err(FilterError("Filters contain UNKNOWN elements".to_string()));
        }
        if self.operation == AclOperation::Unknown || self.permission == AclPermission::Unknown {
            return Err(FilterError("Filters contain UNKNOWN elements".to_string()));
        }
        Ok(())
    }

    /// Whether `acl` is one this filter selects.
    pub fn matches(&self, acl: &Acl) -> bool {
        self.matches_pattern(acl) && self.matches_entry(acl)
    }

    fn matches_pattern(&self, acl: &Acl) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != acl.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != acl.pattern_type
        {
            return false;
        }
        let Some(name) = &self.resource_name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == acl.pattern_type {
            return *name == acl.resource_name;
        }
        // MATCH: the ACLs that would apply to the resource `name`.
        match acl.pattern_type {
            PatternType::Literal => *name == acl.resource_name || acl.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&acl.resource_name),
            _ => false,
        }
    }

    fn matches_entry(&self, acl: &Acl) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && (self.operation == AclOperation::Any || self.operation == acl.operation)
            && (self.permission == AclPermission::Any || self.permission == acl.permission)
    }
}
