//! `authorizer.class.name`, `super.users` and `allow.everyone.if.no.acl.found`:
//! authorization is on exactly when Kafka's StandardAuthorizer is named, as in a
//! KRaft Kafka's `server.properties`; any other class is refused at start rather
//! than silently serving without the checks it would have made.

use std::collections::BTreeMap;

use kavka_metadata::acl::AuthorizerConfig;

use super::ConfigError;

/// The authorizer Kafka's KRaft brokers use, which Kavka implements.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/// The keys read here.
pub(crate) const AUTHORIZER_KEYS: &[&str] = &[
    "authorizer.class.name",
    "super.users",
    "allow.everyone.if.no.acl.found",
];

/// The authorizer's settings, or None when no authorizer is configured (every
/// request is allowed, as in Kafka).
pub(crate) fn parse(
    raw: &BTreeMap<String, String>,
) -> Result<Option<AuthorizerConfig>, ConfigError> {
    let class = raw
        .get("authorizer.class.name")
        .map(|v| v.trim())
        .unwrap_or("");
    if class.is_empty() {
        return Ok(None);
    }
    if class != STANDARD_AUTHORIZER {
        return Err(ConfigError::Invalid {
            key: "authorizer.class.name".into(),
            value: class.into(),
            reason: format!("Kavka implements only {STANDARD_AUTHORIZER}"),
        });
    }
    let allow = match raw
        .get("allow.everyone.if.no.acl.found")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                key: "allow.everyone.if.no.acl.found".into(),
                value: other.into(),
                reason: "expected true or false".into(),
            })
        }
    };
    let super_users = raw
        .get("super.users")
        .map(|v| AuthorizerConfig::parse_super_users(v))
        .unwrap_or_default();
    if let Some(bad) = super_users.iter().find(|p| !p.contains(':')) {
        return Err(ConfigError::Invalid {
            key: "super.users".into(),
            value: bad.clone(),
            reason: "a principal is written Type:name, e.g. User:admin".into(),
        });
    }
    Ok(Some(AuthorizerConfig {
        super_users,
        allow_everyone_if_no_acl_found: allow,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn unset_means_no_authorizer() {
        assert_eq!(parse(&props(&[("super.users", "User:a")])).ok(), Some(None));
    }

    #[test]
    fn standard_authorizer_reads_super_users_and_default() {
        let config = parse(&props(&[
            ("authorizer.class.name", STANDARD_AUTHORIZER),
            ("super.users", "User:admin;User:broker"),
            ("allow.everyone.if.no.acl.found", "true"),
        ]))
        .expect("valid")
        .expect("on");
        assert!(config.super_users.contains("User:broker"));
        assert!(config.allow_everyone_if_no_acl_found);
    }

    #[test]
    fn other_authorizers_and_bad_principals_are_refused() {
        let err = parse(&props(&[(
            "authorizer.class.name",
            "kafka.security.authorizer.AclAuthorizer",
        )]))
        .expect_err("refused");
        assert!(err.to_string().contains(STANDARD_AUTHORIZER), "{err}");
        assert!(parse(&props(&[
            ("authorizer.class.name", STANDARD_AUTHORIZER),
            ("super.users", "admin")
        ]))
        .is_err());
    }
}
