//! ACL helpers for tests: the authorizer's overrides and CreateAcls /
//! DescribeAcls over a plain socket (librdkafka's ACL admin API has no Rust
//! binding). Principals are strings, so a SASL user can be used the same way.

use std::net::TcpStream;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::{
    ApiKey, CreateAclsRequest, CreateAclsResponse, DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::raw_call;

/// Kafka's KRaft authorizer, which switches authorization on.
pub const AUTHORIZER: &str =
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer";

// Kafka's codes.
pub const TOPIC: i8 = 2;
pub const GROUP: i8 = 3;
pub const CLUSTER: i8 = 4;
pub const LITERAL: i8 = 3;
pub const PREFIXED: i8 = 4;
pub const ANY: i8 = 1;
pub const ALL: i8 = 2;
pub const READ: i8 = 3;
pub const WRITE: i8 = 4;
pub const ALLOW: i8 = 3;
pub const DENY: i8 = 2;

/// One ACL as kafka-acls would create it, from any host.
pub fn acl(
    resource_type: i8,
    name: &str,
    pattern: i8,
    principal: &str,
    operation: i8,
    permission: i8,
) -> AclCreation {
    AclCreation::default()
        .with_resource_type(resource_type)
        .with_resource_name(StrBytes::from_string(name.to_string()))
        .with_resource_pattern_type(pattern)
        .with_principal(StrBytes::from_string(principal.to_string()))
        .with_host(StrBytes::from_static_str("*"))
        .with_operation(operation)
        .with_permission_type(permission)
}

/// Creates ACLs; returns each one's error code.
pub fn create_acls(port: u16, acls: Vec<AclCreation>) -> Vec<i16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let response: CreateAclsResponse = raw_call(
        &mut stream,
        ApiKey::CreateAcls,
        3,
        &CreateAclsRequest::default().with_creations(acls),
    );
    response.results.iter().map(|r| r.error_code).collect()
}

/// Every ACL, as DescribeAcls with an all-matching filter answers.
pub fn describe_all(port: u16) -> DescribeAclsResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw_call(
        &mut stream,
        ApiKey::DescribeAcls,
        3,
        &DescribeAclsRequest::default()
            .with_resource_type_filter(ANY)
            .with_resource_name_filter(None)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_pattern_type_filter(ANY)
            .with_operation(ANY)
            .with_permission_type(ANY),
    )
}
