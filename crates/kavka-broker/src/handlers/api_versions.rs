//! ApiVersions: the version ranges Kavka speaks.

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_wire::features::{FEATURES, FINALIZED_EPOCH};
use kavka_wire::supported_versions;

fn api_keys() -> Vec<ApiVersion> {
    supported_versions()
        .into_iter()
        .map(|(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect()
}

/// The supported ranges, and from v3 the feature levels.
pub(crate) fn handle(_request: &ApiVersionsRequest, version: i16) -> ApiVersionsResponse {
    with_features(
        ApiVersionsResponse::default().with_api_keys(api_keys()),
        version,
    )
}

/// Kavka's feature table. As Kafka does (KAFKA-17492), a feature whose lowest
/// supported level is 0 is left out below v4, where older clients fail to read it;
/// a level of 0 is "disabled" and is never listed as finalized.
fn with_features(response: ApiVersionsResponse, version: i16) -> ApiVersionsResponse {
    let supported = FEATURES
        .iter()
        .filter(|f| version >= 4 || f.min > 0)
        .map(|f| {
            SupportedFeatureKey::default()
                .with_name(StrBytes::from_static_str(f.name))
                .with_min_version(f.min)
                .with_max_version(f.max)
        })
        .collect();
    let finalized = FEATURES
        .iter()
        .filter(|f| f.finalized > 0)
        .map(|f| {
            FinalizedFeatureKey::default()
                .with_name(StrBytes::from_static_str(f.name))
                .with_min_version_level(f.finalized)
                .with_max_version_level(f.finalized)
        })
        .collect();
    response
        .with_supported_features(supported)
        .with_finalized_features_epoch(FINALIZED_EPOCH)
        .with_finalized_features(finalized)
}

/// The answer to an ApiVersions request newer than we know: error plus the full
/// table, so the client retries with a version we share.
pub(crate) fn unsupported() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(api_keys())
}
