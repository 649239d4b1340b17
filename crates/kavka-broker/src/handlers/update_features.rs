//! UpdateFeatures: `kafka-features upgrade|downgrade|disable`. Kavka's feature
//! levels are fixed ([`kavka_wire::features`]), so this answers what Kafka's
//! controller would for Kavka's supported ranges: an update to the level in force
//! succeeds and changes nothing, any other level is refused, and one refusal fails
//! the whole request, with Kafka's wording.

use kafka_protocol::messages::update_features_response::UpdatableFeatureResult;
use kafka_protocol::messages::{UpdateFeaturesRequest, UpdateFeaturesResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::acl::AclOperation;
use kavka_wire::features::{check_update, UpgradeType};

use super::RequestContext;

/// Checks every update; nothing is ever written.
pub(crate) fn handle(
    ctx: &RequestContext<'_>,
    request: &UpdateFeaturesRequest,
    version: i16,
) -> UpdateFeaturesResponse {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        return UpdateFeaturesResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let node = ctx.state.config.node_id;
    for update in &request.feature_updates {
        let upgrade = if version == 0 {
            if update.allow_downgrade {
                UpgradeType::SafeDowngrade
            } else {
                UpgradeType::Upgrade
            }
        } else {
            UpgradeType::from_code(update.upgrade_type)
        };
        if let Err(refused) = check_update(
            update.feature.as_str(),
            update.max_version_level,
            upgrade,
            node,
        ) {
            return UpdateFeaturesResponse::default()
                .with_error_code(ResponseError::InvalidUpdateVersion.code())
                .with_error_message(Some(StrBytes::from_string(format!(
                    "The update failed for all features since the following feature had an error: {}",
                    refused.0
                ))));
        }
    }
    // Per-feature results only up to v1, as Kafka answers.
    let results = if version <= 1 {
        request
            .feature_updates
            .iter()
            .map(|u| UpdatableFeatureResult::default().with_feature(u.feature.clone()))
            .collect()
    } else {
        Vec::new()
    };
    UpdateFeaturesResponse::default().with_results(results)
}
