//! Kafka's rules for topic names.

const MAX_NAME_LENGTH: usize = 249;

/// Checks a topic name the way Apache Kafka does, with Kafka's messages.
pub fn validate(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, topic name: {name}"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
    {
        return Err(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Names that differ only in '.' versus '_' collide in Kafka's metric names.
pub fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}

/// Internal topics are listed with `is_internal = true`.
pub fn is_internal(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_and_illegal_names() {
        assert!(validate("order-placed").is_ok());
        assert!(validate("a.b_c-1").is_ok());
        assert!(validate("").is_err());
        assert!(validate(".").is_err());
        assert!(validate("..").is_err());
        assert!(validate("has space").is_err());
        assert!(validate(&"x".repeat(249)).is_ok());
        assert!(validate(&"x".repeat(250)).is_err());
    }

    #[test]
    fn dot_and_underscore_collide() {
        assert_eq!(collision_key("a.b"), collision_key("a_b"));
    }
}
