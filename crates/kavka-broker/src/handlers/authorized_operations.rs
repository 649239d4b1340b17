//! The `authorized_operations` bit sets clients may ask for: the operations the
//! request's principal may do on the resource. Without an authorizer, as in
//! Apache Kafka without one, every operation the resource supports.

use kavka_metadata::acl::{ResourceType, CLUSTER_NAME};

use crate::security::authorizer::SessionAuthorizer;

/// Kafka's answer when the client did not ask.
pub(crate) const NOT_REQUESTED: i32 = i32::MIN;

/// Operations allowed on a topic, if the client asked.
pub(crate) fn topic(authz: &SessionAuthorizer<'_>, requested: bool, name: &str) -> i32 {
    of(authz, requested, ResourceType::Topic, name)
}

/// Operations allowed on a group, if the client asked.
pub(crate) fn group(authz: &SessionAuthorizer<'_>, requested: bool, name: &str) -> i32 {
    of(authz, requested, ResourceType::Group, name)
}

/// Operations allowed on the cluster, if the client asked.
pub(crate) fn cluster(authz: &SessionAuthorizer<'_>, requested: bool) -> i32 {
    of(authz, requested, ResourceType::Cluster, CLUSTER_NAME)
}

fn of(
    authz: &SessionAuthorizer<'_>,
    requested: bool,
    resource_type: ResourceType,
    name: &str,
) -> i32 {
    if requested {
        authz.operations(resource_type, name)
    } else {
        NOT_REQUESTED
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kavka_metadata::MetadataImage;

    use super::*;
    use crate::security::Session;

    #[test]
    fn without_an_authorizer_every_supported_operation_is_allowed() {
        let session = Session::anonymous("PLAINTEXT");
        let authz = SessionAuthorizer::new(
            None,
            || Arc::new(MetadataImage::default()),
            &session,
            "127.0.0.1".into(),
        );
        // READ..ALTER_CONFIGS except CLUSTER_ACTION, as Kafka lists for topics.
        assert_eq!(topic(&authz, true, "t"), 0b1101_1111_1000);
        assert_eq!(group(&authz, true, "g"), 0b1101_0100_1000);
        assert_eq!(cluster(&authz, false), i32::MIN);
    }

    #[test]
    fn with_an_authorizer_and_no_acls_nothing_is_allowed() {
        let session = Session::anonymous("PLAINTEXT");
        let config = kavka_metadata::acl::AuthorizerConfig::default();
        let authz = SessionAuthorizer::new(
            Some(&config),
            || Arc::new(MetadataImage::default()),
            &session,
            "127.0.0.1".into(),
        );
        assert_eq!(topic(&authz, true, "t"), 0);
        assert_eq!(cluster(&authz, true), 0);
    }
}
