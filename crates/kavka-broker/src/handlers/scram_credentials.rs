//! AlterUserScramCredentials and DescribeUserScramCredentials. Changes are
//! decided on the metadata image and committed through the active controller
//! like every admin change; the records carry only salt, stored key, server key
//! and iterations, derived here from the client's salted password.

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kavka_metadata::scram::{alter_scram_credentials, describe_scram_credentials, ScramUpsertion};
use kavka_sasl::scram::{ScramCredential, ScramMechanism};

use super::RequestContext;

/// Sets and deletes SCRAM credentials, one result per user.
pub(crate) async fn alter(
    ctx: &RequestContext<'_>,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let deletions: Vec<(String, i8)> = request
        .deletions
        .iter()
        .map(|d| (d.name.to_string(), d.mechanism))
        .collect();
    let upsertions: Vec<ScramUpsertion> = request
        .upsertions
        .iter()
        .map(|u| {
            // An unknown mechanism keeps empty keys; the decision refuses it.
            let credential = ScramMechanism::from_type_code(u.mechanism).map(|m| {
                ScramCredential::from_salted_password(
                    m,
                    u.salt.to_vec(),
                    &u.salted_password,
                    u.iterations,
                )
            });
            ScramUpsertion {
                name: u.name.to_string(),
                mechanism: u.mechanism,
                iterations: u.iterations,
                salt: u.salt.to_vec(),
                stored_key: credential
                    .as_ref()
                    .map(|c| c.stored_key.clone())
                    .unwrap_or_default(),
                server_key: credential.map(|c| c.server_key).unwrap_or_default(),
            }
        })
        .collect();
    let outcome = ctx
        .state
        .commit(|image| Ok(alter_scram_credentials(image, &deletions, &upsertions)))
        .await;
    let results = match outcome {
        Ok(results) => results
            .into_iter()
            .map(|(user, error)| {
                let mut r = AlterUserScramCredentialsResult::default()
                    .with_user(StrBytes::from_string(user.clone()));
                match error {
                    Some((code, message)) => {
                        r.error_code = code;
                        r.error_message = Some(StrBytes::from_string(message));
                    }
                    None => tracing::info!(%user, principal = %ctx.session.principal, "altered SCRAM credentials"),
                }
                r
            })
            .collect(),
        // The change could not be committed: every user gets the same error.
        Err(e) => {
            let mut users: Vec<String> = deletions.iter().map(|d| d.0.clone()).collect();
            users.extend(upsertions.iter().map(|u| u.name.clone()));
            users.sort();
            users.dedup();
            users
                .into_iter()
                .map(|user| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(StrBytes::from_string(user))
                        .with_error_code(e.code())
                        .with_error_message(Some(StrBytes::from_string(e.to_string())))
                })
                .collect()
        }
    };
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// Describes the mechanisms and iterations of users' credentials (never keys).
pub(crate) fn describe(
    ctx: &RequestContext<'_>,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let image = ctx.state.metadata.image();
    let users: Option<Vec<String>> = request
        .users
        .map(|users| users.iter().map(|u| u.name.to_string()).collect());
    let results = describe_scram_credentials(&image, users.as_deref())
        .into_iter()
        .map(|(user, answer)| {
            let r = DescribeUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(user));
            match answer {
                Ok(infos) => r.with_credential_infos(
                    infos
                        .into_iter()
                        .map(|(mechanism, iterations)| {
                            CredentialInfo::default()
                                .with_mechanism(mechanism)
                                .with_iterations(iterations)
                        })
                        .collect(),
                ),
                Err((code, message)) => r
                    .with_error_code(code)
                    .with_error_message(Some(StrBytes::from_string(message))),
            }
        })
        .collect();
    DescribeUserScramCredentialsResponse::default().with_results(results)
}
