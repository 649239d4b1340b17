//! Authorization with Kafka's StandardAuthorizer semantics, through librdkafka:
//! ACLs created with CreateAcls decide what `User:ANONYMOUS` (every PLAINTEXT
//! connection) may do. The helpers take principals as strings, so the same
//! tests can run with a SASL user once one can authenticate.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::acls::*;
use common::*;
use kafka_protocol::messages::{ApiKey, DescribeAclsRequest, DescribeAclsResponse};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureRecord;

const ANONYMOUS: &str = "User:ANONYMOUS";
const SECURITY_DISABLED: i16 = 54;
const INVALID_REQUEST: i16 = 42;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;

/// A broker with the authorizer on where a resource without ACLs is open to all:
/// the cluster has none, so anyone may create topics and ACLs, and the ACLs a
/// test adds close exactly the resources it names.
fn open_by_default_broker() -> TestBroker {
    TestBroker::start_with(&[
        AUTHORIZER,
        "allow.everyone.if.no.acl.found=true",
        "group.initial.rebalance.delay.ms=0",
    ])
}

async fn produce_error(bootstrap: &str, topic: &str) -> Option<RDKafkaErrorCode> {
    let producer = producer(bootstrap, &[("message.timeout.ms", "5000")]);
    let record = FutureRecord::<(), _>::to(topic).payload("v");
    match producer.send(record, Duration::from_secs(10)).await {
        Ok(_) => None,
        Err((KafkaError::MessageProduction(code), _)) => Some(code),
        Err((e, _)) => panic!("unexpected error {e}"),
    }
}

fn listed_topics(bootstrap: &str) -> Vec<String> {
    let consumer: BaseConsumer = client_config(bootstrap).create().expect("client");
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(5))
        .expect("metadata");
    metadata
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .collect()
}

#[test]
fn acl_requests_without_an_authorizer_answer_security_disabled() {
    let broker = TestBroker::start();
    let response = describe_all(broker.port);
    assert_eq!(response.error_code, SECURITY_DISABLED);
    let codes = create_acls(
        broker.port,
        vec![acl(TOPIC, "t", LITERAL, ANONYMOUS, READ, ALLOW)],
    );
    assert_eq!(codes, vec![SECURITY_DISABLED]);
}

#[tokio::test]
async fn a_topic_closed_to_anonymous_is_hidden_and_refused_to_producers() {
    let broker = open_by_default_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "open", 1).await;
    create_topic(&bs, "secret", 1).await;
    // Only bob may use "secret"; a pattern type ANY cannot be created.
    let codes = create_acls(
        broker.port,
        vec![
            acl(TOPIC, "secret", LITERAL, "User:bob", ALL, ALLOW),
            acl(TOPIC, "x", ANY, "User:bob", ALL, ALLOW),
        ],
    );
    assert_eq!(codes, vec![0, INVALID_REQUEST]);
    let described = describe_all(broker.port);
    assert_eq!(described.error_code, 0);
    assert_eq!(described.resources.len(), 1);
    assert_eq!(described.resources[0].resource_name.as_str(), "secret");

    let topics = listed_topics(&bs);
    assert!(topics.contains(&"open".to_string()), "{topics:?}");
    assert!(!topics.contains(&"secret".to_string()), "{topics:?}");

    assert_eq!(produce_error(&bs, "open").await, None);
    assert_eq!(
        produce_error(&bs, "secret").await,
        Some(RDKafkaErrorCode::TopicAuthorizationFailed)
    );
}

#[tokio::test]
async fn a_group_closed_to_anonymous_answers_group_authorization_failed() {
    let broker = open_by_default_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "events", 1).await;
    let codes = create_acls(
        broker.port,
        vec![acl(GROUP, "closed-", PREFIXED, "User:bob", READ, ALLOW)],
    );
    assert_eq!(codes, vec![0]);
    let consumer: BaseConsumer = client_config(&bs)
        .set("group.id", "closed-group")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&["events"]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut error = None;
    while Instant::now() < deadline && error.is_none() {
        if let Some(Err(e)) = consumer.poll(Duration::from_millis(200)) {
            error = e.rdkafka_error_code();
        }
    }
    assert_eq!(error, Some(RDKafkaErrorCode::GroupAuthorizationFailed));
}

#[tokio::test]
async fn acls_survive_a_restart_and_unlisted_topics_are_denied() {
    // First as a super user, to set the ACLs up; then as a plain principal.
    let mut broker = TestBroker::start_with(&[AUTHORIZER, "super.users=User:admin;User:ANONYMOUS"]);
    let bs = broker.bootstrap();
    create_topic(&bs, "mine", 1).await;
    create_topic(&bs, "theirs", 1).await;
    let codes = create_acls(
        broker.port,
        vec![acl(TOPIC, "mine", LITERAL, ANONYMOUS, WRITE, ALLOW)],
    );
    assert_eq!(codes, vec![0]);
    broker.stop();
    broker.restart_with(&[AUTHORIZER]);

    // WRITE implies DESCRIBE: "mine" is listed; "theirs" has no ACL, so denied.
    let topics = listed_topics(&bs);
    assert_eq!(topics, vec!["mine".to_string()]);
    assert_eq!(produce_error(&bs, "mine").await, None);
    assert_eq!(
        produce_error(&bs, "theirs").await,
        Some(RDKafkaErrorCode::TopicAuthorizationFailed)
    );
    // Reading the ACLs needs DESCRIBE on the cluster.
    let mut stream = TcpStream::connect(("127.0.0.1", broker.port)).expect("connect");
    let response: DescribeAclsResponse = raw_call(
        &mut stream,
        ApiKey::DescribeAcls,
        3,
        &DescribeAclsRequest::default()
            .with_resource_type_filter(ANY)
            .with_pattern_type_filter(ANY)
            .with_operation(ANY)
            .with_permission_type(ANY),
    );
    assert_eq!(response.error_code, CLUSTER_AUTHORIZATION_FAILED);
}
