//! DescribeClientQuotas and AlterClientQuotas (KIP-546). Quotas are metadata:
//! a change is decided on this broker's image and committed by the active
//! controller like any admin change (`BrokerState::commit`), so it reaches
//! every broker and survives restarts.

use kafka_protocol::messages::{
    alter_client_quotas_response, describe_client_quotas_response, AlterClientQuotasRequest,
    AlterClientQuotasResponse, DescribeClientQuotasRequest, DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::client_quotas::{
    alter, describe as select, MatchType, QuotaAlteration, QuotaError,
};

use super::RequestContext;

fn error_code(e: &QuotaError) -> i16 {
    match e {
        QuotaError::InvalidRequest(_) => ResponseError::InvalidRequest.code(),
        QuotaError::UnsupportedVersion(_) => ResponseError::UnsupportedVersion.code(),
    }
}

fn outcome(r: Result<(), QuotaError>) -> Result<(), (i16, String)> {
    r.map_err(|e| (error_code(&e), e.to_string()))
}

/// The quotas a filter selects.
pub(crate) fn describe(
    ctx: &RequestContext<'_>,
    request: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    let image = ctx.state.metadata.image();
    let components: Result<Vec<(String, MatchType)>, QuotaError> = request
        .components
        .iter()
        .map(|c| {
            Ok((
                c.entity_type.to_string(),
                MatchType::from_wire(c.match_type, c._match.as_deref())?,
            ))
        })
        .collect();
    let selected = components.and_then(|c| select(image.client_quotas(), &c, request.strict));
    match selected {
        Ok(entries) => DescribeClientQuotasResponse::default().with_entries(Some(
            entries
                .into_iter()
                .map(|(entity, values)| {
                    describe_client_quotas_response::EntryData::default()
                        .with_entity(
                            entity
                                .to_wire()
                                .into_iter()
                                .map(|(t, n)| {
                                    describe_client_quotas_response::EntityData::default()
                                        .with_entity_type(StrBytes::from_static_str(t))
                                        .with_entity_name(
                                            n.map(|n| StrBytes::from_string(n.into())),
                                        )
                                })
                                .collect(),
                        )
                        .with_values(
                            values
                                .iter()
                                .map(|(k, v)| {
                                    describe_client_quotas_response::ValueData::default()
                                        .with_key(StrBytes::from_string(k.clone()))
                                        .with_value(v.0)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )),
        Err(e) => DescribeClientQuotasResponse::default()
            .with_error_code(error_code(&e))
            .with_error_message(Some(StrBytes::from_string(e.to_string())))
            .with_entries(None),
    }
}

/// Sets or removes quotas; with validate_only, only checks them.
pub(crate) async fn alter_quotas(
    ctx: &RequestContext<'_>,
    request: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    let alterations: Vec<QuotaAlteration> = request
        .entries
        .iter()
        .map(|e| QuotaAlteration {
            entity: e
                .entity
                .iter()
                .map(|d| {
                    (
                        d.entity_type.to_string(),
                        d.entity_name.as_ref().map(|n| n.to_string()),
                    )
                })
                .collect(),
            ops: e
                .ops
                .iter()
                .map(|o| (o.key.to_string(), (!o.remove).then_some(o.value)))
                .collect(),
        })
        .collect();
    let state = ctx.state;
    let (records, results) = alter(state.metadata.image().client_quotas(), &alterations);
    let mut outcomes: Vec<Result<(), (i16, String)>> = results.into_iter().map(outcome).collect();
    if !request.validate_only && !records.is_empty() {
        let committed = state
            .commit(|image| Ok(alter(image.client_quotas(), &alterations)))
            .await;
        outcomes = match committed {
            Ok(results) => results.into_iter().map(outcome).collect(),
            // Nothing was written: every entry reports why.
            Err(e) => alterations
                .iter()
                .map(|_| Err((e.code(), e.to_string())))
                .collect(),
        };
    }
    let entries = request
        .entries
        .into_iter()
        .zip(outcomes)
        .map(|(entry, result)| {
            let (code, message) = match result {
                Ok(()) => (0, None),
                Err((code, message)) => (code, Some(message)),
            };
            alter_client_quotas_response::EntryData::default()
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string))
                .with_entity(
                    entry
                        .entity
                        .into_iter()
                        .map(|d| {
                            alter_client_quotas_response::EntityData::default()
                                .with_entity_type(d.entity_type)
                                .with_entity_name(d.entity_name)
                        })
                        .collect(),
                )
        })
        .collect();
    AlterClientQuotasResponse::default().with_entries(entries)
}

/// The controller mutation quota (KIP-599) of one CreateTopics, CreatePartitions
/// or DeleteTopics request: strict from `strict_since` on.
pub(super) fn mutation_quota<'a>(
    ctx: &RequestContext<'a>,
    version: i16,
    strict_since: i16,
) -> crate::quotas::MutationQuota<'a> {
    let state: &'a crate::state::BrokerState = ctx.state;
    state.quotas.mutation_quota(
        state.metadata.image().client_quotas(),
        ctx.session,
        ctx.client_id.as_deref().unwrap_or(""),
        version,
        strict_since,
    )
}

/// How many partitions a change's records create.
pub(super) fn partitions_in(records: &[kavka_metadata::MetadataRecord]) -> usize {
    records
        .iter()
        .filter(|r| matches!(r, kavka_metadata::MetadataRecord::Partition { .. }))
        .count()
}
