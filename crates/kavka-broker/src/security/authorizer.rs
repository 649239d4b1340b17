//! The broker's side of authorization: one request's principal and address
//! checked against the ACLs of the committed metadata image, by the rules in
//! [`kavka_metadata::acl::Authorizer`]. With no authorizer configured, and for
//! the broker's own internal requests, everything is allowed.

use std::sync::Arc;

use kavka_metadata::acl::{
    AclOperation, AuthorizationResult, Authorizer, AuthorizerConfig, ResourceType, CLUSTER_NAME,
};
use kavka_metadata::MetadataImage;

use super::Session;

/// Checks for one request, over one snapshot of the ACLs.
pub(crate) struct SessionAuthorizer<'a> {
    /// None when authorization is off (no authorizer, or an internal request).
    active: Option<(&'a AuthorizerConfig, Arc<MetadataImage>)>,
    principal: String,
    host: String,
}

impl<'a> SessionAuthorizer<'a> {
    /// `config` is the broker's authorizer, if one is configured; `image` is read
    /// only then.
    pub(crate) fn new(
        config: Option<&'a AuthorizerConfig>,
        image: impl FnOnce() -> Arc<MetadataImage>,
        session: &Session,
        host: String,
    ) -> Self {
        let active = match config {
            Some(config) if !session.internal => Some((config, image())),
            _ => None,
        };
        Self {
            active,
            principal: session.principal.to_string(),
            host,
        }
    }

    /// Whether authorization applies at all (Kafka: an authorizer is configured).
    pub(crate) fn is_enabled(&self) -> bool {
        self.active.is_some()
    }

    /// May the session do `operation` on the named resource?
    pub(crate) fn allows(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let Some((config, image)) = &self.active else {
            return true;
        };
        Authorizer::new(config, image.acls().values()).authorize(
            &self.principal,
            &self.host,
            operation,
            resource_type,
            name,
        ) == AuthorizationResult::Allowed
    }

    /// May the session do `operation` on the cluster?
    pub(crate) fn allows_cluster(&self, operation: AclOperation) -> bool {
        self.allows(operation, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// May the session do `operation` on some resource of the type (KIP-679)?
    pub(crate) fn allows_any(&self, operation: AclOperation, resource_type: ResourceType) -> bool {
        let Some((config, image)) = &self.active else {
            return true;
        };
        Authorizer::new(config, image.acls().values()).authorize_any(
            &self.principal,
            &self.host,
            operation,
            resource_type,
        ) == AuthorizationResult::Allowed
    }

    /// The `authorized_operations` bit set for the resource: everything it
    /// supports without an authorizer, as Kafka answers then.
    pub(crate) fn operations(&self, resource_type: ResourceType, name: &str) -> i32 {
        let Some((config, image)) = &self.active else {
            return resource_type
                .supported_operations()
                .iter()
                .fold(0, |set, op| set | (1 << op.code()));
        };
        Authorizer::new(config, image.acls().values()).authorized_operations(
            &self.principal,
            &self.host,
            resource_type,
            name,
        )
    }
}
