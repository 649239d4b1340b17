//! The authorization checks handlers make, on the request's context: one call
//! per resource so each handler's check reads as Kafka's KafkaApis states it.

use kavka_metadata::acl::{AclOperation, ResourceType};

use super::RequestContext;
use crate::security::authorizer::SessionAuthorizer;

impl RequestContext<'_> {
    /// The checks for this request's session, over the current ACLs. Take it
    /// once for a batch of resources.
    pub(crate) fn authz(&self) -> SessionAuthorizer<'_> {
        SessionAuthorizer::new(
            self.state.config.authorizer.as_ref(),
            || self.state.metadata.image(),
            self.session,
            self.peer.ip().to_string(),
        )
    }

    /// May the session do `operation` on the named resource?
    pub(crate) fn authorize(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        self.authz().allows(operation, resource_type, name)
    }

    /// May the session do `operation` on the cluster?
    pub(crate) fn authorize_cluster(&self, operation: AclOperation) -> bool {
        self.authz().allows_cluster(operation)
    }
}
