//! The decision rules of Kafka's StandardAuthorizer, over a set of ACLs.
//!
//! For one action (operation on a named resource) by a principal from a host:
//! a super user is allowed; otherwise the ACLs whose pattern covers the resource
//! (the literal name, the literal `*`, and every prefix of the name) are read. A
//! matching DENY wins over any ALLOW, whatever its pattern; else a matching ALLOW
//! allows; else, if some ACL covers the resource (for anyone), it is denied; if
//! none does, `allow.everyone.if.no.acl.found` decides.

use std::collections::BTreeSet;

use super::{
    Acl, AclOperation, AclPermission, PatternType, ResourceType, WILDCARD, WILDCARD_PRINCIPAL,
};

/// The authorizer's settings from the broker's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// `super.users`: principals (`User:admin`) every check lets through.
    pub super_users: BTreeSet<String>,
    /// `allow.everyone.if.no.acl.found`.
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerConfig {
    /// Reads `super.users`, a semicolon-separated list of principals.
    pub fn parse_super_users(value: &str) -> BTreeSet<String> {
        value
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationResult {
    Allowed,
    Denied,
}

/// Decisions over one snapshot of the ACLs.
#[derive(Debug, Clone, Copy)]
pub struct Authorizer<'a, I> {
    config: &'a AuthorizerConfig,
    acls: I,
}

impl<'a, I> Authorizer<'a, I>
where
    I: Iterator<Item = &'a Acl> + Clone,
{
    pub fn new(config: &'a AuthorizerConfig, acls: I) -> Self {
        Self { config, acls }
    }

    /// May `principal` connected from `host` do `operation` on the resource?
    pub fn authorize(
        &self,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> AuthorizationResult {
        if self.config.super_users.contains(principal) {
            return AuthorizationResult::Allowed;
        }
        let mut covered = false;
        let mut allowed = false;
        for acl in self.acls.clone() {
            if acl.resource_type != resource_type || !acl.matches_name(name) {
                continue;
            }
            covered = true;
            match applies(acl, principal, host, operation) {
                Some(AclPermission::Deny) => return AuthorizationResult::Denied,
                Some(_) => allowed = true,
                None => {}
            }
        }
        let allow = if covered {
            allowed
        } else {
            self.config.allow_everyone_if_no_acl_found
        };
        if allow {
            AuthorizationResult::Allowed
        } else {
            AuthorizationResult::Denied
        }
    }

    /// Whether `principal` may do `operation` on at least one resource of the
    /// type (Kafka's authorizeByResourceType, KIP-679: idempotent producers need
    /// WRITE on some topic). Denied if a DENY covers every name (`*` literal);
    /// allowed if some ALLOW pattern is not wholly covered by a DENY.
    pub fn authorize_any(
        &self,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> AuthorizationResult {
        // Kafka first checks a made-up name so that super users and
        // allow.everyone.if.no.acl.found apply as for a named resource.
        if self.authorize(principal, host, operation, resource_type, "hardcode")
            == AuthorizationResult::Allowed
        {
            return AuthorizationResult::Allowed;
        }
        let relevant = |acl: &&Acl, permission| {
            acl.resource_type == resource_type
                && acl.permission == permission
                && (acl.operation == operation || acl.operation == AclOperation::All)
                && principal_matches(&acl.principal, principal)
                && (acl.host == WILDCARD || acl.host == host)
        };
        let denies: Vec<&Acl> = self
            .acls
            .clone()
            .filter(|a| relevant(a, AclPermission::Deny))
            .collect();
        if denies
            .iter()
            .any(|d| d.pattern_type == PatternType::Literal && d.resource_name == WILDCARD)
        {
            return AuthorizationResult::Denied;
        }
        let denied = |allow: &Acl| {
            denies
                .iter()
                .any(|d| match (allow.pattern_type, d.pattern_type) {
                    (PatternType::Literal, PatternType::Literal) => {
                        d.resource_name == allow.resource_name
                    }
                    (_, PatternType::Prefixed) => allow.resource_name.starts_with(&d.resource_name),
                    _ => false,
                })
        };
        let any_allowed = self
            .acls
            .clone()
            .filter(|a| relevant(a, AclPermission::Allow))
            .any(|a| {
                (a.pattern_type == PatternType::Literal && a.resource_name == WILDCARD)
                    || !denied(a)
            });
        if any_allowed {
            AuthorizationResult::Allowed
        } else {
            AuthorizationResult::Denied
        }
    }

    /// The operations of `resource_type` the principal may do on the resource:
    /// what Kafka answers as `authorized_operations`, as a bit set of op codes.
    pub fn authorized_operations(
        &self,
        principal: &str,
        host: &str,
        resource_type: ResourceType,
        name: &str,
    ) -> i32 {
        resource_type
            .supported_operations()
            .iter()
            .filter(|op| {
                self.authorize(principal, host, **op, resource_type, name)
                    == AuthorizationResult::Allowed
            })
            .fold(0, |set, op| set | (1 << op.code()))
    }
}

/// The permission of `acl` if it applies to this principal, host and operation.
fn applies(
    acl: &Acl,
    principal: &str,
    host: &str,
    operation: AclOperation,
) -> Option<AclPermission> {
    if !principal_matches(&acl.principal, principal) {
        return None;
    }
    if acl.host != WILDCARD && acl.host != host {
        return None;
    }
    let op_matches = match acl.permission {
        AclPermission::Allow => acl.operation.allow_implies(operation),
        AclPermission::Deny => acl.operation == AclOperation::All || acl.operation == operation,
        _ => false,
    };
    op_matches.then_some(acl.permission)
}

fn principal_matches(acl_principal: &str, principal: &str) -> bool {
    acl_principal == principal || acl_principal == WILDCARD_PRINCIPAL
}
