use super::*;

fn flags() -> AclFlags {
    AclFlags {
        pattern_type: PatternType::Literal,
        operations: vec!["All".into()],
        ..AclFlags::default()
    }
}

fn lines(acls: &PatternAcls) -> Vec<String> {
    acls.iter()
        .flat_map(|(p, entries)| entries.iter().map(move |e| format!("{p} {e}")))
        .collect()
}

#[test]
fn prints_patterns_and_entries_as_kafka_does() {
    let pattern = Pattern::new(ResourceType::Topic, "t", PatternType::Literal);
    let entry = Entry {
        principal: "User:alice".into(),
        host: "*".into(),
        operation: AclOperation::Read,
        permission: AclPermission::Allow,
    };
    assert_eq!(
        pattern.to_string(),
        "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)"
    );
    assert_eq!(
        binding_text(&pattern, &entry),
        "(pattern=ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL), \
         entry=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))"
    );
}

#[test]
fn producer_and_idempotent_give_topic_and_cluster_acls() {
    let f = AclFlags {
        producer: true,
        idempotent: true,
        topics: vec!["p".into()],
        allow_principals: vec!["User:bob".into()],
        ..flags()
    };
    let acls = f.acls_to_add().expect("acls");
    let ops: Vec<(ResourceType, AclOperation)> = acls
        .iter()
        .flat_map(|(p, es)| es.iter().map(move |e| (p.resource_type, e.operation)))
        .collect();
    assert_eq!(
        ops,
        vec![
            (ResourceType::Topic, AclOperation::Write),
            (ResourceType::Topic, AclOperation::Create),
            (ResourceType::Topic, AclOperation::Describe),
            (ResourceType::Cluster, AclOperation::IdempotentWrite),
        ]
    );
}

#[test]
fn consumer_adds_read_describe_on_topics_and_read_on_groups() {
    let f = AclFlags {
        consumer: true,
        topics: vec!["c".into()],
        groups: vec!["g".into()],
        allow_principals: vec!["User:bob".into()],
        allow_hosts: vec!["10.0.0.1".into()],
        ..flags()
    };
    assert_eq!(
        lines(&f.acls_to_add().expect("acls")),
        vec![
            "ResourcePattern(resourceType=TOPIC, name=c, patternType=LITERAL) \
             (principal=User:bob, host=10.0.0.1, operation=READ, permissionType=ALLOW)",
            "ResourcePattern(resourceType=TOPIC, name=c, patternType=LITERAL) \
             (principal=User:bob, host=10.0.0.1, operation=DESCRIBE, permissionType=ALLOW)",
            "ResourcePattern(resourceType=GROUP, name=g, patternType=LITERAL) \
             (principal=User:bob, host=10.0.0.1, operation=READ, permissionType=ALLOW)",
        ]
    );
}

#[test]
fn adding_needs_a_principal_a_resource_and_a_specific_pattern_type() {
    let no_principal = AclFlags {
        topics: vec!["t".into()],
        ..flags()
    };
    assert!(matches!(
        no_principal.acls_to_add(),
        Err(CommandError::Usage(m)) if m.starts_with("You must specify one of: --allow-principal")
    ));
    let no_resource = AclFlags {
        allow_principals: vec!["User:a".into()],
        ..flags()
    };
    assert!(matches!(
        no_resource.acls_to_add(),
        Err(CommandError::Usage(m)) if m.starts_with("You must provide at least one resource")
    ));
    let match_type = AclFlags {
        pattern_type: PatternType::Match,
        ..no_principal
    };
    assert_eq!(
        match_type.acls_to_add(),
        Err(CommandError::Usage(
            "A '--resource-pattern-type' value of 'MATCH' is not valid when adding acls.".into()
        ))
    );
}

#[test]
fn an_operation_the_resource_type_lacks_is_refused() {
    let f = AclFlags {
        groups: vec!["g".into()],
        operations: vec!["Write".into()],
        allow_principals: vec!["User:a".into()],
        ..flags()
    };
    assert_eq!(
        f.acls_to_add(),
        Err(CommandError::Usage(
            "ResourceType GROUP only supports operations [READ, DESCRIBE, DELETE, DESCRIBE_CONFIGS, ALTER_CONFIGS, ALL]"
                .into()
        ))
    );
}

#[test]
fn names_are_read_as_kafkas_tool_reads_them() {
    assert_eq!(parse_operation("Read"), AclOperation::Read);
    assert_eq!(parse_operation("READ"), AclOperation::Read);
    assert_eq!(
        parse_operation("DescribeConfigs"),
        AclOperation::DescribeConfigs
    );
    assert_eq!(
        parse_operation("CLUSTERACTION"),
        AclOperation::ClusterAction
    );
    assert_eq!(parse_operation("Foo"), AclOperation::Unknown);
    assert_eq!(parse_principal(" User:a "), Ok("User:a".into()));
    assert!(matches!(
        parse_principal("alice"),
        Err(CommandError::Argument(_))
    ));
    assert_eq!(parse_pattern_type("prefixed"), Ok(PatternType::Prefixed));
    assert_eq!(
        parse_pattern_type("unknown"),
        Err(CommandError::PatternType("unknown".into()))
    );
    assert!(parse_pattern_type("foo").is_err());
}

#[test]
fn the_cluster_is_named_only_with_a_literal_pattern_type() {
    let f = AclFlags {
        cluster: true,
        pattern_type: PatternType::Prefixed,
        ..flags()
    };
    assert!(f.resource_filters().is_empty());
    let f = AclFlags {
        cluster: true,
        ..flags()
    };
    assert_eq!(
        f.resource_filters().into_iter().collect::<Vec<_>>(),
        vec![Pattern::new(
            ResourceType::Cluster,
            "kafka-cluster",
            PatternType::Literal
        )]
    );
}
