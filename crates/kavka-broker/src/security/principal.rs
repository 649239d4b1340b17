use std::fmt;

/// A principal as Kafka writes it: `Type:name`, e.g. `User:alice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaPrincipal {
    pub principal_type: String,
    pub name: String,
}

impl KafkaPrincipal {
    pub const USER_TYPE: &'static str = "User";

    pub fn user(name: impl Into<String>) -> Self {
        Self {
            principal_type: Self::USER_TYPE.to_string(),
            name: name.into(),
        }
    }

    /// Kafka's principal for a connection that did not authenticate.
    pub fn anonymous() -> Self {
        Self::user("ANONYMOUS")
    }

    /// Parses `Type:name`; the name may itself contain ':' (as in a certificate DN).
    pub fn parse(s: &str) -> Option<Self> {
        let (principal_type, name) = s.split_once(':')?;
        if principal_type.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            principal_type: principal_type.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_kafka_form() {
        let p = KafkaPrincipal::parse("User:CN=a,O=b:c").expect("valid");
        assert_eq!(p.principal_type, "User");
        assert_eq!(p.name, "CN=a,O=b:c");
        assert_eq!(p.to_string(), "User:CN=a,O=b:c");
        assert_eq!(KafkaPrincipal::anonymous().to_string(), "User:ANONYMOUS");
        assert_eq!(KafkaPrincipal::parse("User:"), None);
        assert_eq!(KafkaPrincipal::parse("alice"), None);
    }
}
