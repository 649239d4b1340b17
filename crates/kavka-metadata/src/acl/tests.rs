use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use AclOperation::*;
use AuthorizationResult::{Allowed, Denied};

const HOST: &str = "10.0.0.1";

fn acl(
    resource_type: ResourceType,
    name: &str,
    pattern: PatternType,
    principal: &str,
    op: AclOperation,
    permission: AclPermission,
) -> Acl {
    Acl {
        resource_type,
        resource_name: name.to_string(),
        pattern_type: pattern,
        principal: principal.to_string(),
        host: WILDCARD.to_string(),
        operation: op,
        permission,
    }
}

fn topic_acl(name: &str, pattern: PatternType, op: AclOperation, permission: AclPermission) -> Acl {
    acl(
        ResourceType::Topic,
        name,
        pattern,
        "User:alice",
        op,
        permission,
    )
}

fn check(
    acls: &[Acl],
    config: &AuthorizerConfig,
    principal: &str,
    op: AclOperation,
    topic: &str,
) -> AuthorizationResult {
    Authorizer::new(config, acls.iter()).authorize(principal, HOST, op, ResourceType::Topic, topic)
}

fn alice(acls: &[Acl], op: AclOperation, topic: &str) -> AuthorizationResult {
    check(acls, &AuthorizerConfig::default(), "User:alice", op, topic)
}

#[test]
fn no_acl_denies_unless_allow_everyone_if_no_acl_found() {
    assert_eq!(alice(&[], Read, "t"), Denied);
    let open = AuthorizerConfig {
        allow_everyone_if_no_acl_found: true,
        ..Default::default()
    };
    assert_eq!(check(&[], &open, "User:alice", Read, "t"), Allowed);
    // An ACL for someone else on the resource takes the default away.
    let bob = [acl(
        ResourceType::Topic,
        "t",
        PatternType::Literal,
        "User:bob",
        Read,
        AclPermission::Allow,
    )];
    assert_eq!(check(&bob, &open, "User:alice", Read, "t"), Denied);
    assert_eq!(check(&bob, &open, "User:alice", Read, "other"), Allowed);
}

#[test]
fn super_users_bypass_even_deny() {
    let config = AuthorizerConfig {
        super_users: AuthorizerConfig::parse_super_users("User:admin; User:broker"),
        ..Default::default()
    };
    let deny = [acl(
        ResourceType::Topic,
        "*",
        PatternType::Literal,
        "User:*",
        All,
        AclPermission::Deny,
    )];
    assert_eq!(check(&deny, &config, "User:broker", Write, "t"), Allowed);
    assert_eq!(check(&deny, &config, "User:alice", Write, "t"), Denied);
}

#[test]
fn literal_wildcard_and_prefix_patterns_cover_names() {
    let acls = [
        topic_acl("orders", PatternType::Literal, Read, AclPermission::Allow),
        topic_acl("logs-", PatternType::Prefixed, Write, AclPermission::Allow),
        topic_acl("*", PatternType::Literal, Describe, AclPermission::Allow),
    ];
    assert_eq!(alice(&acls, Read, "orders"), Allowed);
    assert_eq!(alice(&acls, Read, "orders2"), Denied);
    assert_eq!(alice(&acls, Write, "logs-app"), Allowed);
    assert_eq!(alice(&acls, Write, "logs-"), Allowed);
    assert_eq!(alice(&acls, Write, "logs"), Denied);
    assert_eq!(alice(&acls, Describe, "anything"), Allowed);
}

#[test]
fn deny_on_a_prefix_beats_allow_on_the_literal() {
    let acls = [
        topic_acl(
            "secret-plans",
            PatternType::Literal,
            Read,
            AclPermission::Allow,
        ),
        topic_acl("secret-", PatternType::Prefixed, Read, AclPermission::Deny),
    ];
    assert_eq!(alice(&acls, Read, "secret-plans"), Denied);
    let wildcard_deny = [
        topic_acl("t", PatternType::Literal, All, AclPermission::Allow),
        acl(
            ResourceType::Topic,
            "*",
            PatternType::Literal,
            "User:*",
            Write,
            AclPermission::Deny,
        ),
    ];
    assert_eq!(alice(&wildcard_deny, Write, "t"), Denied);
    assert_eq!(alice(&wildcard_deny, Read, "t"), Allowed);
}

#[test]
fn read_write_delete_alter_imply_describe_but_deny_does_not() {
    for op in [Read, Write, Delete, Alter] {
        let acls = [topic_acl(
            "t",
            PatternType::Literal,
            op,
            AclPermission::Allow,
        )];
        assert_eq!(alice(&acls, Describe, "t"), Allowed, "{op}");
    }
    let create = [topic_acl(
        "t",
        PatternType::Literal,
        Create,
        AclPermission::Allow,
    )];
    assert_eq!(alice(&create, Describe, "t"), Denied);
    let configs = [topic_acl(
        "t",
        PatternType::Literal,
        AlterConfigs,
        AclPermission::Allow,
    )];
    assert_eq!(alice(&configs, DescribeConfigs, "t"), Allowed);
    assert_eq!(alice(&configs, Describe, "t"), Denied);
    // DENY READ does not deny DESCRIBE.
    let acls = [
        topic_acl("t", PatternType::Literal, Describe, AclPermission::Allow),
        topic_acl("t", PatternType::Literal, Read, AclPermission::Deny),
    ];
    assert_eq!(alice(&acls, Describe, "t"), Allowed);
    assert_eq!(alice(&acls, Read, "t"), Denied);
}

#[test]
fn wildcard_principal_and_host_match() {
    let mut everyone = acl(
        ResourceType::Topic,
        "t",
        PatternType::Literal,
        "User:*",
        Read,
        AclPermission::Allow,
    );
    assert_eq!(alice(std::slice::from_ref(&everyone), Read, "t"), Allowed);
    everyone.host = "10.0.0.2".to_string();
    assert_eq!(alice(std::slice::from_ref(&everyone), Read, "t"), Denied);
    everyone.host = HOST.to_string();
    assert_eq!(alice(std::slice::from_ref(&everyone), Read, "t"), Allowed);
}

#[test]
fn resource_types_are_separate() {
    let acls = [acl(
        ResourceType::Group,
        "t",
        PatternType::Literal,
        "User:alice",
        Read,
        AclPermission::Allow,
    )];
    assert_eq!(alice(&acls, Read, "t"), Denied);
    let auth = AuthorizerConfig::default();
    let a = Authorizer::new(&auth, acls.iter());
    assert_eq!(
        a.authorize("User:alice", HOST, Read, ResourceType::Group, "t"),
        Allowed
    );
}

#[test]
fn authorize_any_finds_a_writable_topic_unless_denied_everywhere() {
    let config = AuthorizerConfig::default();
    let any = |acls: &[Acl]| {
        Authorizer::new(&config, acls.iter()).authorize_any(
            "User:alice",
            HOST,
            Write,
            ResourceType::Topic,
        )
    };
    assert_eq!(any(&[]), Denied);
    assert_eq!(
        any(&[topic_acl(
            "t",
            PatternType::Literal,
            Write,
            AclPermission::Allow
        )]),
        Allowed
    );
    assert_eq!(
        any(&[
            topic_acl("t", PatternType::Literal, Write, AclPermission::Allow),
            topic_acl("t", PatternType::Literal, Write, AclPermission::Deny),
        ]),
        Denied
    );
    assert_eq!(
        any(&[
            topic_acl("app-t", PatternType::Literal, Write, AclPermission::Allow),
            topic_acl("app-", PatternType::Prefixed, Write, AclPermission::Deny),
        ]),
        Denied
    );
    assert_eq!(
        any(&[
            topic_acl("t", PatternType::Literal, Write, AclPermission::Allow),
            topic_acl("*", PatternType::Literal, All, AclPermission::Deny),
        ]),
        Denied
    );
}

#[test]
fn authorized_operations_lists_what_is_allowed() {
    let config = AuthorizerConfig::default();
    let acls = [topic_acl(
        "t",
        PatternType::Literal,
        Read,
        AclPermission::Allow,
    )];
    let ops = Authorizer::new(&config, acls.iter()).authorized_operations(
        "User:alice",
        HOST,
        ResourceType::Topic,
        "t",
    );
    assert_eq!(ops, (1 << 3) | (1 << 8));
}

#[test]
fn validation_refuses_what_kafka_refuses() {
    let good = topic_acl("t", PatternType::Literal, Read, AclPermission::Allow);
    assert_eq!(good.validate(), Ok(()));
    let with = |f: &dyn Fn(&mut Acl)| {
        let mut a = good.clone();
        f(&mut a);
        a.validate().is_err()
    };
    assert!(with(&|a| a.pattern_type = PatternType::Any));
    assert!(with(&|a| a.pattern_type = PatternType::Match));
    assert!(with(&|a| a.resource_type = ResourceType::Any));
    assert!(with(&|a| a.operation = AclOperation::Any));
    assert!(with(&|a| a.permission = AclPermission::Any));
    assert!(with(&|a| a.resource_name.clear()));
    assert!(with(&|a| a.principal = "alice".into()));
    assert!(with(&|a| a.resource_type = ResourceType::Cluster));
    assert!(!with(&|a| {
        a.resource_type = ResourceType::Cluster;
        a.resource_name = CLUSTER_NAME.into();
    }));
}

#[test]
fn match_filter_selects_acls_that_apply_to_a_name() {
    let acls = [
        topic_acl("foo", PatternType::Literal, Read, AclPermission::Allow),
        topic_acl("*", PatternType::Literal, Read, AclPermission::Allow),
        topic_acl("fo", PatternType::Prefixed, Read, AclPermission::Allow),
        topic_acl("bar", PatternType::Prefixed, Read, AclPermission::Allow),
    ];
    let mut filter = AclFilter::any();
    filter.resource_name = Some("foo".into());
    filter.pattern_type = PatternType::Match;
    assert_eq!(acls.iter().filter(|a| filter.matches(a)).count(), 3);
    filter.pattern_type = PatternType::Any;
    assert_eq!(acls.iter().filter(|a| filter.matches(a)).count(), 1);
    filter.pattern_type = PatternType::Prefixed;
    filter.resource_name = None;
    assert_eq!(acls.iter().filter(|a| filter.matches(a)).count(), 2);
    assert!(AclFilter::any().validate().is_ok());
    filter.operation = AclOperation::Unknown;
    assert!(filter.validate().is_err());
}

#[test]
fn names_parse_as_kafka_tools_write_them() {
    assert_eq!(
        "DescribeConfigs".parse::<AclOperation>(),
        Ok(DescribeConfigs)
    );
    assert_eq!(
        "describe_configs".parse::<AclOperation>(),
        Ok(DescribeConfigs)
    );
    assert_eq!(
        "TransactionalId".parse::<ResourceType>(),
        Ok(ResourceType::TransactionalId)
    );
    assert_eq!(AclOperation::from_code(12), Ok(IdempotentWrite));
    assert!(AclOperation::from_code(99).is_err());
}

fn op_strategy() -> impl Strategy<Value = AclOperation> {
    prop::sample::select(vec![
        All,
        Read,
        Write,
        Create,
        Delete,
        Alter,
        Describe,
        DescribeConfigs,
        AlterConfigs,
    ])
}

fn acl_strategy() -> impl Strategy<Value = Acl> {
    (
        prop::sample::select(vec!["a", "ab", "abc", "b", "*"]),
        prop::sample::select(vec![PatternType::Literal, PatternType::Prefixed]),
        prop::sample::select(vec!["User:alice", "User:bob", "User:*"]),
        prop::sample::select(vec!["*", HOST, "10.9.9.9"]),
        op_strategy(),
        prop::sample::select(vec![AclPermission::Allow, AclPermission::Deny]),
    )
        .prop_map(|(name, pattern, principal, host, op, perm)| Acl {
            resource_type: ResourceType::Topic,
            resource_name: name.to_string(),
            pattern_type: pattern,
            principal: principal.to_string(),
            host: host.to_string(),
            operation: op,
            permission: perm,
        })
}

proptest! {
    /// Adding a DENY never turns a denial into an allowance; adding an ALLOW
    /// never turns an allowance into a denial unless it is the resource's first ACL.
    #[test]
    fn deny_only_takes_away(acls in prop::collection::vec(acl_strategy(), 0..8), extra in acl_strategy(),
                            name in prop::sample::select(vec!["a", "ab", "abc", "b", "c"]), op in op_strategy()) {
        let config = AuthorizerConfig::default();
        let before = check(&acls, &config, "User:alice", op, name);
        let mut more = acls.clone();
        more.push(extra.clone());
        let after = check(&more, &config, "User:alice", op, name);
        if extra.permission == AclPermission::Deny {
            prop_assert!(!(before == Denied && after == Allowed));
        } else {
            prop_assert!(!(before == Allowed && after == Denied));
        }
    }

    /// A super user is allowed whatever the ACLs say.
    #[test]
    fn super_user_always_allowed(acls in prop::collection::vec(acl_strategy(), 0..8), op in op_strategy()) {
        let config = AuthorizerConfig { super_users: BTreeSet::from(["User:alice".to_string()]), ..Default::default() };
        prop_assert_eq!(check(&acls, &config, "User:alice", op, "ab"), Allowed);
    }

    /// Order does not matter: the decision is a function of the set of ACLs.
    #[test]
    fn order_does_not_matter(mut acls in prop::collection::vec(acl_strategy(), 0..8), op in op_strategy()) {
        let config = AuthorizerConfig::default();
        let before = check(&acls, &config, "User:alice", op, "abc");
        acls.reverse();
        prop_assert_eq!(check(&acls, &config, "User:alice", op, "abc"), before);
    }

    /// A MATCH filter on a name selects exactly the ACLs the authorizer reads for it.
    #[test]
    fn match_filter_agrees_with_the_authorizer(acl in acl_strategy(), name in prop::sample::select(vec!["a", "ab", "abc", "b", "c"])) {
        let mut filter = AclFilter::any();
        filter.resource_type = ResourceType::Topic;
        filter.resource_name = Some(name.to_string());
        filter.pattern_type = PatternType::Match;
        prop_assert_eq!(filter.matches(&acl), acl.matches_name(name));
    }
}
