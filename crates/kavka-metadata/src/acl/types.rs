//! The enumerations of Kafka's ACL model, with their wire codes and the upper-case
//! names Kafka prints (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`, `ALLOW`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A wire code or name that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value}")]
pub struct UnknownCode {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! kafka_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL_VALUES: &'static [$name] = &[$($name::$variant,)*];

            /// The code on the wire.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The value a wire code stands for.
            pub fn from_code(code: i8) -> Result<Self, UnknownCode> {
                match code {
                    $($code => Ok($name::$variant),)*
                    _ => Err(UnknownCode { kind: $kind, value: code.to_string() }),
                }
            }

            /// Kafka's upper-case name.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;

            /// Parses a name as Kafka's tools do: case-insensitively, `_` optional.
            fn from_str(s: &str) -> Result<Self, UnknownCode> {
                let wanted: String = s.chars().filter(|c| *c != '_').collect::<String>().to_ascii_uppercase();
                $name::ALL_VALUES
                    .iter()
                    .copied()
                    .find(|v| v.name().replace('_', "") == wanted)
                    .ok_or_else(|| UnknownCode { kind: $kind, value: s.to_string() })
            }
        }
    };
}

kafka_enum!(
    /// What kind of thing an ACL protects.
    ResourceType, "resource type" {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        User = 7, "USER";
    }
);

kafka_enum!(
    /// How an ACL's resource name is read.
    PatternType, "pattern type" {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Match = 2, "MATCH";
        Literal = 3, "LITERAL";
        Prefixed = 4, "PREFIXED";
    }
);

kafka_enum!(
    /// What an ACL allows or denies.
    AclOperation, "operation" {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        All = 2, "ALL";
        Read = 3, "READ";
        Write = 4, "WRITE";
        Create = 5, "CREATE";
        Delete = 6, "DELETE";
        Alter = 7, "ALTER";
        Describe = 8, "DESCRIBE";
        ClusterAction = 9, "CLUSTER_ACTION";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "ALTER_CONFIGS";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        CreateTokens = 13, "CREATE_TOKENS";
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
);

kafka_enum!(
    /// Whether an ACL allows or denies.
    AclPermission, "permission type" {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
);

impl ResourceType {
    /// A real resource type, not a filter's ANY or an unknown code.
    pub fn is_concrete(self) -> bool {
        !matches!(self, Self::Unknown | Self::Any)
    }

    /// The operations a resource of this type supports, as Kafka lists them for
    /// `authorized_operations` and kafka-acls.
    pub fn supported_operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            Self::Topic => &[
                Read,
                Write,
                Create,
                Describe,
                Delete,
                Alter,
                DescribeConfigs,
                AlterConfigs,
            ],
            Self::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
            Self::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            Self::TransactionalId => &[Describe, Write, TwoPhaseCommit],
            Self::DelegationToken => &[Describe],
            Self::User => &[CreateTokens, DescribeTokens],
            Self::Unknown | Self::Any => &[],
        }
    }
}

impl AclOperation {
    /// A real operation (ALL included), not a filter's ANY or an unknown code.
    pub fn is_concrete(self) -> bool {
        !matches!(self, Self::Unknown | Self::Any)
    }

    /// Whether an ALLOW for `self` also allows `wanted`: ALL allows everything,
    /// READ/WRITE/DELETE/ALTER allow DESCRIBE, ALTER_CONFIGS allows
    /// DESCRIBE_CONFIGS. A DENY never implies anything beyond ALL.
    pub fn allow_implies(self, wanted: AclOperation) -> bool {
        use AclOperation::*;
        self == All
            || self == wanted
            || (wanted == Describe && matches!(self, Read | Write | Delete | Alter))
            || (wanted == DescribeConfigs && self == AlterConfigs)
    }
}
