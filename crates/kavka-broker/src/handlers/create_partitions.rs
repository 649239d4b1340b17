//! CreatePartitions: grow a topic.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;
use kavka_metadata::controller::create_partitions;

use super::RequestContext;
use kavka_metadata::acl::{AclOperation, ResourceType};

/// Grows each topic to the requested partition count.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: CreatePartitionsRequest,
    version: i16,
) -> CreatePartitionsResponse {
    let state = ctx.state;
    let brokers = state.live_brokers();
    let quota = super::client_quotas::mutation_quota(ctx, version, 3);
    let mut results = Vec::new();
    for t in request.topics {
        results.push({
            let name = t.name.0.to_string();
            let assignments: Option<Vec<Vec<i32>>> = t.assignments.map(|a| {
                a.into_iter()
                    .map(|x| x.broker_ids.into_iter().map(|b| b.0).collect())
                    .collect()
            });
            let decide = |image: &kavka_metadata::MetadataImage| {
                let records =
                    create_partitions(image, &name, t.count, assignments.clone(), &brokers)?;
                quota.admit(super::client_quotas::partitions_in(&records))?;
                Ok((records, ()))
            };
            let allowed = ctx.authorize(AclOperation::Alter, ResourceType::Topic, &name);
            let outcome = if !allowed {
                Ok(())
            } else if request.validate_only {
                decide(&state.metadata.image()).map(|_| ())
            } else {
                state.commit(decide).await
            };
            let mut result = CreatePartitionsTopicResult::default().with_name(t.name);
            if !allowed {
                result.error_code = kafka_protocol::ResponseError::TopicAuthorizationFailed.code();
                result.error_message = Some(StrBytes::from_static_str("Authorization failed."));
            } else if let Err(e) = outcome {
                result.error_code = e.code();
                result.error_message = Some(StrBytes::from_string(e.to_string()));
            }
            result
        });
    }
    CreatePartitionsResponse::default()
        .with_results(results)
        .with_throttle_time_ms(quota.throttle_time_ms())
}
