//! CreateAcls, DescribeAcls and DeleteAcls: ACLs live in the metadata log as
//! AccessControlEntry records, committed through the active controller like any
//! other metadata change. Without an authorizer Kafka answers SECURITY_DISABLED.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::acl::{
    Acl, AclFilter, AclOperation, AclPermission, PatternType, ResourceType, UnknownCode,
};
use kavka_metadata::{MetadataError, MetadataRecord};
use uuid::Uuid;

use super::RequestContext;

const NO_AUTHORIZER: &str = "No Authorizer is configured.";

fn text(s: impl Into<String>) -> Option<StrBytes> {
    Some(StrBytes::from_string(s.into()))
}

/// Creates each valid ACL; an ACL already stored succeeds without a record.
pub(crate) async fn create(
    ctx: &RequestContext<'_>,
    request: CreateAclsRequest,
) -> CreateAclsResponse {
    let error = |code: i16, message: String| {
        request
            .creations
            .iter()
            .map(|_| {
                AclCreationResult::default()
                    .with_error_code(code)
                    .with_error_message(text(message.clone()))
            })
            .collect()
    };
    let authz = ctx.authz();
    let results = if ctx.state.config.authorizer.is_none() {
        error(
            ResponseError::SecurityDisabled.code(),
            NO_AUTHORIZER.to_string(),
        )
    } else if !authz.allows_cluster(AclOperation::Alter) {
        error(
            ResponseError::ClusterAuthorizationFailed.code(),
            cluster_denied(),
        )
    } else {
        let parsed: Vec<Result<Acl, String>> = request
            .creations
            .iter()
            .map(|c| {
                acl_from_creation(c)
                    .map_err(|e| e.to_string())
                    .and_then(|a| a.validate().map(|_| a).map_err(|e| e.0))
            })
            .collect();
        let valid: Vec<Acl> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let committed = ctx
            .state
            .commit(|image| {
                let mut records = Vec::new();
                let mut seen: Vec<&Acl> = image.acls().values().collect();
                for acl in &valid {
                    if !seen.contains(&acl) {
                        seen.push(acl);
                        records.push(MetadataRecord::AccessControlEntry {
                            id: Uuid::new_v4(),
                            acl: acl.clone(),
                        });
                    }
                }
                Ok((records, ()))
            })
            .await;
        parsed
            .into_iter()
            .map(|p| match (p, &committed) {
                (Err(message), _) => AclCreationResult::default()
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(text(message)),
                (Ok(_), Err(e)) => failed(e),
                (Ok(_), Ok(())) => AclCreationResult::default(),
            })
            .collect()
    };
    CreateAclsResponse::default().with_results(results)
}

fn failed(e: &MetadataError) -> AclCreationResult {
    AclCreationResult::default()
        .with_error_code(e.code())
        .with_error_message(text(e.to_string()))
}

fn cluster_denied() -> String {
    "Cluster authorization failed.".to_string()
}

/// The ACLs that match the filter, grouped by resource pattern.
pub(crate) fn describe(
    ctx: &RequestContext<'_>,
    request: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let response = DescribeAclsResponse::default();
    if ctx.state.config.authorizer.is_none() {
        return response
            .with_error_code(ResponseError::SecurityDisabled.code())
            .with_error_message(text("No Authorizer is configured on the broker"));
    }
    if !ctx.authz().allows_cluster(AclOperation::Describe) {
        return response
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(text(cluster_denied()));
    }
    let filter = filter_from_wire(
        request.resource_type_filter,
        request.resource_name_filter.as_ref(),
        request.pattern_type_filter,
        request.principal_filter.as_ref(),
        request.host_filter.as_ref(),
        request.operation,
        request.permission_type,
    );
    let filter = match filter {
        Ok(f) => f,
        Err(message) => {
            return response
                .with_error_code(ResponseError::InvalidRequest.code())
                .with_error_message(text(message))
        }
    };
    let image = ctx.state.metadata.image();
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    let mut matching: Vec<&Acl> = image
        .acls()
        .values()
        .filter(|a| filter.matches(a))
        .collect();
    matching.sort();
    for acl in matching {
        let description = AclDescription::default()
            .with_principal(StrBytes::from_string(acl.principal.clone()))
            .with_host(StrBytes::from_string(acl.host.clone()))
            .with_operation(acl.operation.code())
            .with_permission_type(acl.permission.code());
        match resources.last_mut() {
            Some(r)
                if r.resource_type == acl.resource_type.code()
                    && r.pattern_type == acl.pattern_type.code()
                    && r.resource_name.as_str() == acl.resource_name =>
            {
                r.acls.push(description)
            }
            _ => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(acl.resource_type.code())
                    .with_resource_name(StrBytes::from_string(acl.resource_name.clone()))
                    .with_pattern_type(acl.pattern_type.code())
                    .with_acls(vec![description]),
            ),
        }
    }
    response.with_resources(resources)
}

/// Deletes the ACLs each filter matches, all in one metadata change.
pub(crate) async fn delete(
    ctx: &RequestContext<'_>,
    request: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let error = |code: i16, message: &str| {
        request
            .filters
            .iter()
            .map(|_| {
                DeleteAclsFilterResult::default()
                    .with_error_code(code)
                    .with_error_message(text(message))
            })
            .collect()
    };
    let results = if ctx.state.config.authorizer.is_none() {
        error(ResponseError::SecurityDisabled.code(), NO_AUTHORIZER)
    } else if !ctx.authz().allows_cluster(AclOperation::Alter) {
        error(
            ResponseError::ClusterAuthorizationFailed.code(),
            &cluster_denied(),
        )
    } else {
        let filters: Vec<Result<AclFilter, String>> =
            request.filters.iter().map(filter_from_delete).collect();
        let outcome = ctx
            .state
            .commit(|image| {
                let mut removed: Vec<Uuid> = Vec::new();
                let mut per_filter = Vec::new();
                for filter in &filters {
                    let Ok(filter) = filter else {
                        per_filter.push(Vec::new());
                        continue;
                    };
                    let matched: Vec<(Uuid, Acl)> = image
                        .acls()
                        .iter()
                        .filter(|(_, a)| filter.matches(a))
                        .map(|(id, a)| (*id, a.clone()))
                        .collect();
                    for (id, _) in &matched {
                        if !removed.contains(id) {
                            removed.push(*id);
                        }
                    }
                    per_filter.push(matched.into_iter().map(|(_, a)| a).collect::<Vec<_>>());
                }
                let records = removed
                    .into_iter()
                    .map(|id| MetadataRecord::RemoveAccessControlEntry { id })
                    .collect();
                Ok((records, per_filter))
            })
            .await;
        match outcome {
            Err(e) => error(e.code(), &e.to_string()),
            Ok(per_filter) => filters
                .iter()
                .zip(per_filter)
                .map(|(filter, matched)| match filter {
                    Err(message) => DeleteAclsFilterResult::default()
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(text(message.clone())),
                    Ok(_) => DeleteAclsFilterResult::default()
                        .with_matching_acls(matched.iter().map(matching_acl).collect()),
                })
                .collect(),
        }
    };
    DeleteAclsResponse::default().with_filter_results(results)
}

fn matching_acl(acl: &Acl) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(acl.resource_type.code())
        .with_resource_name(StrBytes::from_string(acl.resource_name.clone()))
        .with_pattern_type(acl.pattern_type.code())
        .with_principal(StrBytes::from_string(acl.principal.clone()))
        .with_host(StrBytes::from_string(acl.host.clone()))
        .with_operation(acl.operation.code())
        .with_permission_type(acl.permission.code())
}

fn acl_from_creation(c: &AclCreation) -> Result<Acl, UnknownCode> {
    Ok(Acl {
        resource_type: ResourceType::from_code(c.resource_type)?,
        resource_name: c.resource_name.to_string(),
        pattern_type: PatternType::from_code(c.resource_pattern_type)?,
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation: AclOperation::from_code(c.operation)?,
        permission: AclPermission::from_code(c.permission_type)?,
    })
}

fn filter_from_delete(f: &DeleteAclsFilter) -> Result<AclFilter, String> {
    filter_from_wire(
        f.resource_type_filter,
        f.resource_name_filter.as_ref(),
        f.pattern_type_filter,
        f.principal_filter.as_ref(),
        f.host_filter.as_ref(),
        f.operation,
        f.permission_type,
    )
}

fn filter_from_wire(
    resource_type: i8,
    name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission: i8,
) -> Result<AclFilter, String> {
    let filter = AclFilter {
        resource_type: ResourceType::from_code(resource_type).map_err(|e| e.to_string())?,
        resource_name: name.map(|s| s.to_string()),
        pattern_type: PatternType::from_code(pattern_type).map_err(|e| e.to_string())?,
        principal: principal.map(|s| s.to_string()),
        host: host.map(|s| s.to_string()),
        operation: AclOperation::from_code(operation).map_err(|e| e.to_string())?,
        permission: AclPermission::from_code(permission).map_err(|e| e.to_string())?,
    };
    filter.validate().map_err(|e| e.0)?;
    Ok(filter)
}
