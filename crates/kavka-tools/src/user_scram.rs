//! `kafka-configs --entity-type users` for SCRAM credentials, as Kafka's
//! ConfigCommand: `--add-config 'SCRAM-SHA-256=[iterations=8192,password=…]'`
//! (the salted password is computed here, as Kafka's admin client does, so the
//! password never travels), `--delete-config SCRAM-SHA-256`, and `--describe`.
//! Quota configs of users are a separate concern and not handled here.

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;
use kavka_sasl::scram::{random_salt, ScramMechanism, MIN_ITERATIONS};

use crate::error::ToolError;
use crate::wire::Connection;

/// Kafka's ConfigCommand default when `iterations` is not given.
const DEFAULT_ITERATIONS: i32 = 4096;

/// `[iterations=N,]password=P`, as Kafka's pattern reads it.
fn iterations_and_password(
    mechanism: ScramMechanism,
    value: &str,
) -> Result<(i32, String), ToolError> {
    let bad = || {
        ToolError::Usage(format!(
            "Invalid credential property {}={value}",
            mechanism.name()
        ))
    };
    let (iterations, password) = match value.strip_prefix("iterations=") {
        Some(rest) => {
            let (n, rest) = rest.split_once(',').ok_or_else(bad)?;
            let password = rest.strip_prefix("password=").ok_or_else(bad)?;
            let n: i32 = if n.is_empty() || n == "-1" {
                DEFAULT_ITERATIONS
            } else {
                n.parse().map_err(|_| bad())?
            };
            (n, password)
        }
        None => (
            DEFAULT_ITERATIONS,
            value.strip_prefix("password=").ok_or_else(bad)?,
        ),
    };
    if iterations < MIN_ITERATIONS {
        return Err(ToolError::Usage(format!(
            "Iterations {iterations} is less than the minimum {MIN_ITERATIONS} required for {}",
            mechanism.name()
        )));
    }
    Ok((iterations, password.to_string()))
}

/// Sets and deletes `user`'s credentials; `add` holds (mechanism, value) pairs.
pub(crate) fn alter(
    conn: &mut Connection,
    user: &str,
    add: &[(String, String)],
    delete: &[String],
) -> Result<(), ToolError> {
    let mut request = AlterUserScramCredentialsRequest::default();
    for name in delete {
        let m = ScramMechanism::from_name(name).ok_or_else(|| unexpected("deleted", name))?;
        request.deletions.push(
            ScramCredentialDeletion::default()
                .with_name(StrBytes::from_string(user.to_string()))
                .with_mechanism(m.type_code()),
        );
    }
    for (name, value) in add {
        let m = ScramMechanism::from_name(name).ok_or_else(|| unexpected("added", name))?;
        let (iterations, password) = iterations_and_password(m, value)?;
        let salt = random_salt().map_err(|e| ToolError::Protocol(e.to_string()))?;
        let salted = m.salted_password(&password, &salt, iterations);
        request.upsertions.push(
            ScramCredentialUpsertion::default()
                .with_name(StrBytes::from_string(user.to_string()))
                .with_mechanism(m.type_code())
                .with_iterations(iterations)
                .with_salt(salt.into())
                .with_salted_password(salted.into()),
        );
    }
    let response = conn.send(request)?;
    for r in response.results {
        if r.error_code != 0 {
            return Err(ToolError::from_code(
                r.error_code,
                r.error_message.as_deref(),
            ));
        }
    }
    println!("Completed updating config for user {user}.");
    Ok(())
}

fn unexpected(verb: &str, name: &str) -> ToolError {
    ToolError::Usage(format!(
        "Only quota and SCRAM credential configs can be {verb} for 'users' using --bootstrap-server. Unexpected config names: Set({name})"
    ))
}

/// Prints the SCRAM credentials of `users` (every user when empty), Kafka's way.
pub(crate) fn describe(conn: &mut Connection, users: &[String]) -> Result<(), ToolError> {
    let request = DescribeUserScramCredentialsRequest::default().with_users(Some(
        users
            .iter()
            .map(|u| UserName::default().with_name(StrBytes::from_string(u.clone())))
            .collect(),
    ));
    let response = conn.send(request)?;
    if response.error_code != 0 {
        return Err(ToolError::from_code(
            response.error_code,
            response.error_message.as_deref(),
        ));
    }
    for r in response.results {
        // Kafka's admin client leaves users without credentials out.
        if r.error_code == kavka_metadata_codes::RESOURCE_NOT_FOUND {
            continue;
        }
        if r.error_code != 0 {
            let e = ToolError::from_code(r.error_code, r.error_message.as_deref());
            println!(
                "Error retrieving SCRAM credential configs for user-principal '{}': {}",
                r.user, e
            );
            continue;
        }
        let text = r
            .credential_infos
            .iter()
            .map(|i| {
                let name = ScramMechanism::from_type_code(i.mechanism)
                    .map(ScramMechanism::name)
                    .unwrap_or("UNKNOWN");
                format!("{name}=iterations={}", i.iterations)
            })
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "SCRAM credential configs for user-principal '{}' are {text}",
            r.user
        );
    }
    Ok(())
}

/// Kafka's error codes this module reads.
mod kavka_metadata_codes {
    pub(super) const RESOURCE_NOT_FOUND: i16 = 91;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_values_parse_as_kafka_reads_them() {
        let m = ScramMechanism::Sha256;
        assert_eq!(
            iterations_and_password(m, "iterations=8192,password=a,b=c").unwrap(),
            (8192, "a,b=c".to_string())
        );
        assert_eq!(
            iterations_and_password(m, "password=x").unwrap(),
            (4096, "x".to_string())
        );
        assert!(iterations_and_password(m, "iterations=100,password=x").is_err());
        assert!(iterations_and_password(m, "pw=x").is_err());
        assert!(iterations_and_password(m, "iterations=abc,password=x").is_err());
    }
}
