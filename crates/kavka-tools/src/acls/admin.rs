//! The three ACL calls of Kafka's admin client over the tool's wire
//! connection: DescribeAcls, CreateAcls and DeleteAcls, each with the first
//! error the broker reports turned into a `ToolError`.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;
use kavka_metadata::acl::{AclOperation, AclPermission, PatternType, ResourceType};

use super::model::{Entry, Pattern, PatternAcls};
use crate::error::ToolError;
use crate::wire::Connection;

/// Every ACL the broker has that `filter` matches (all of them for `None`),
/// grouped by resource pattern.
pub(crate) fn describe(
    conn: &mut Connection,
    filter: Option<&Pattern>,
) -> Result<PatternAcls, ToolError> {
    let request = match filter {
        Some(f) => DescribeAclsRequest::default()
            .with_resource_type_filter(f.resource_type.code())
            .with_resource_name_filter(Some(StrBytes::from_string(f.name.clone())))
            .with_pattern_type_filter(f.pattern_type.code()),
        None => DescribeAclsRequest::default()
            .with_resource_type_filter(ResourceType::Any.code())
            .with_resource_name_filter(None)
            .with_pattern_type_filter(PatternType::Any.code()),
    }
    .with_principal_filter(None)
    .with_host_filter(None)
    .with_operation(AclOperation::Any.code())
    .with_permission_type(AclPermission::Any.code());
    let response = conn.send(request)?;
    if response.error_code != 0 {
        return Err(ToolError::from_code(
            response.error_code,
            response.error_message.as_deref(),
        ));
    }
    let mut acls = PatternAcls::new();
    for resource in response.resources {
        let pattern = Pattern {
            resource_type: decode(ResourceType::from_code(resource.resource_type))?,
            name: resource.resource_name.to_string(),
            pattern_type: decode(PatternType::from_code(resource.pattern_type))?,
        };
        let entries = acls.entry(pattern).or_default();
        for acl in resource.acls {
            entries.insert(Entry {
                principal: acl.principal.to_string(),
                host: acl.host.to_string(),
                operation: decode(AclOperation::from_code(acl.operation))?,
                permission: decode(AclPermission::from_code(acl.permission_type))?,
            });
        }
    }
    Ok(acls)
}

/// Creates `entries` on `pattern`.
pub(crate) fn create(
    conn: &mut Connection,
    pattern: &Pattern,
    entries: &[Entry],
) -> Result<(), ToolError> {
    let creations = entries
        .iter()
        .map(|e| {
            AclCreation::default()
                .with_resource_type(pattern.resource_type.code())
                .with_resource_name(StrBytes::from_string(pattern.name.clone()))
                .with_resource_pattern_type(pattern.pattern_type.code())
                .with_principal(StrBytes::from_string(e.principal.clone()))
                .with_host(StrBytes::from_string(e.host.clone()))
                .with_operation(e.operation.code())
                .with_permission_type(e.permission.code())
        })
        .collect();
    let response = conn.send(CreateAclsRequest::default().with_creations(creations))?;
    match response.results.iter().find(|r| r.error_code != 0) {
        Some(r) => Err(ToolError::from_code(
            r.error_code,
            r.error_message.as_deref(),
        )),
        None => Ok(()),
    }
}

/// Deletes the ACLs on `filter` that match one of `entries` exactly, or every
/// ACL on it when `entries` is empty.
pub(crate) fn delete(
    conn: &mut Connection,
    filter: &Pattern,
    entries: &[Entry],
) -> Result<(), ToolError> {
    let base = DeleteAclsFilter::default()
        .with_resource_type_filter(filter.resource_type.code())
        .with_resource_name_filter(Some(StrBytes::from_string(filter.name.clone())))
        .with_pattern_type_filter(filter.pattern_type.code());
    let filters = if entries.is_empty() {
        vec![base
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(AclOperation::Any.code())
            .with_permission_type(AclPermission::Any.code())]
    } else {
        entries
            .iter()
            .map(|e| {
                base.clone()
                    .with_principal_filter(Some(StrBytes::from_string(e.principal.clone())))
                    .with_host_filter(Some(StrBytes::from_string(e.host.clone())))
                    .with_operation(e.operation.code())
                    .with_permission_type(e.permission.code())
            })
            .collect()
    };
    let response = conn.send(DeleteAclsRequest::default().with_filters(filters))?;
    let failed = response.filter_results.iter().find_map(|r| {
        if r.error_code != 0 {
            return Some((r.error_code, r.error_message.as_deref()));
        }
        r.matching_acls
            .iter()
            .find(|m| m.error_code != 0)
            .map(|m| (m.error_code, m.error_message.as_deref()))
    });
    match failed {
        Some((code, message)) => Err(ToolError::from_code(code, message)),
        None => Ok(()),
    }
}

fn decode<T>(value: Result<T, kavka_metadata::acl::UnknownCode>) -> Result<T, ToolError> {
    value.map_err(|e| ToolError::Protocol(format!("DescribeAcls answered an {e}")))
}
