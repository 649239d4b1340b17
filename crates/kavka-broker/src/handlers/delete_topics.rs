//! DeleteTopics by name (v1-v5) or by name or id (v6).

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_metadata::controller::delete_topic;
use kavka_metadata::topic_name::is_internal;

use super::RequestContext;
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Deletes each named topic and its logs.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let state = ctx.state;
    let image = state.metadata.image();
    let targets: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
            .collect()
    };
    let quota = super::client_quotas::mutation_quota(ctx, version, 5);
    let mut responses = Vec::new();
    for (name, id) in targets {
        responses.push(
            async {
                let name = name.or_else(|| image.topic_by_id(&id).map(|t| t.name.clone()));
                let mut result = DeletableTopicResult::default()
                    .with_name(name.clone().map(|n| TopicName(StrBytes::from_string(n))))
                    .with_topic_id(id);
                let Some(name) = name else {
                    result.error_code = ResponseError::UnknownTopicId.code();
                    return result;
                };
                if !ctx.authorize(AclOperation::Delete, ResourceType::Topic, &name) {
                    result.error_code = ResponseError::TopicAuthorizationFailed.code();
                    return result;
                }
                if !state.config.delete_topic_enable {
                    result.error_code = ResponseError::TopicDeletionDisabled.code();
                    return result;
                }
                if is_internal(&name) {
                    result.error_code = ResponseError::InvalidTopicException.code();
                    result.error_message = Some(StrBytes::from_string(format!(
                        "Topic {name} is an internal topic and cannot be deleted."
                    )));
                    return result;
                }
                match state
                    .commit(|image| {
                        let topic_id = image.topic(&name).map(|t| t.topic_id);
                        if let Some(t) = image.topic(&name) {
                            quota.admit(t.partitions.len())?;
                        }
                        Ok((delete_topic(image, &name)?, topic_id))
                    })
                    .await
                {
                    Ok(topic_id) => {
                        result.topic_id = topic_id.unwrap_or(id);
                        tracing::info!(topic = %name, "deleted topic");
                    }
                    Err(e) => {
                        result.error_code = e.code();
                        result.error_message = Some(StrBytes::from_string(e.to_string()));
                    }
                }
                result
            }
            .await,
        );
    }
    DeleteTopicsResponse::default()
        .with_responses(responses)
        .with_throttle_time_ms(quota.throttle_time_ms())
}
