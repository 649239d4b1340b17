//! The `authorized_operations` bit sets clients may ask for. Kavka has no
//! authorizer yet, so like Apache Kafka without one, every operation a resource
//! supports is allowed.

/// Kafka's answer when the client did not ask.
pub(crate) const NOT_REQUESTED: i32 = i32::MIN;

// AclOperation codes: the bit positions in the set.
const READ: i32 = 3;
const WRITE: i32 = 4;
const CREATE: i32 = 5;
const DELETE: i32 = 6;
const ALTER: i32 = 7;
const DESCRIBE: i32 = 8;
const CLUSTER_ACTION: i32 = 9;
const DESCRIBE_CONFIGS: i32 = 10;
const ALTER_CONFIGS: i32 = 11;
const IDEMPOTENT_WRITE: i32 = 12;

const fn bits(ops: &[i32]) -> i32 {
    let mut set = 0;
    let mut i = 0;
    while i < ops.len() {
        set |= 1 << ops[i];
        i += 1;
    }
    set
}

const TOPIC: i32 = bits(&[
    READ,
    WRITE,
    CREATE,
    DELETE,
    ALTER,
    DESCRIBE,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
]);
const GROUP: i32 = bits(&[READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS]);
const CLUSTER: i32 = bits(&[
    CREATE,
    ALTER,
    DESCRIBE,
    CLUSTER_ACTION,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
    IDEMPOTENT_WRITE,
]);

/// Operations allowed on a topic, if the client asked.
pub(crate) fn topic(requested: bool) -> i32 {
    if requested {
        TOPIC
    } else {
        NOT_REQUESTED
    }
}

/// Operations allowed on a group, if the client asked.
pub(crate) fn group(requested: bool) -> i32 {
    if requested {
        GROUP
    } else {
        NOT_REQUESTED
    }
}

/// Operations allowed on the cluster, if the client asked.
pub(crate) fn cluster(requested: bool) -> i32 {
    if requested {
        CLUSTER
    } else {
        NOT_REQUESTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_kafkas_supported_operations() {
        // READ..ALTER_CONFIGS except CLUSTER_ACTION, as Kafka lists for topics.
        assert_eq!(topic(true), 0b1101_1111_1000);
        assert_eq!(group(true), 0b1101_0100_1000);
        assert_eq!(cluster(false), i32::MIN);
    }
}
