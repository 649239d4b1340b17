#!/usr/bin/env bash
# Run one of Apache Kafka's own CLI tools by its bin/ script name, e.g.
#   compat/kafka-tool.sh kafka-topics --bootstrap-server 127.0.0.1:19092 --list
# against the jars pinned in compat/kafka-ref/pom.xml. We have no Kafka
# tarball here (only Maven Central), so this stands in for bin/*.sh +
# kafka-run-class.sh. The tool's exit code is passed through unchanged.
set -euo pipefail

# shellcheck source=kafka-ref/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka-ref/lib.sh"

usage() {
  cat >&2 <<'USAGE'
usage: compat/kafka-tool.sh NAME [args...]
       compat/kafka-tool.sh kafka-run-class CLASS [args...]
NAME is a Kafka bin/ script name, with or without .sh:
  kafka-topics kafka-console-producer kafka-console-consumer
  kafka-consumer-groups kafka-share-groups kafka-groups kafka-configs
  kafka-producer-perf-test kafka-consumer-perf-test kafka-share-consumer-perf-test
  kafka-e2e-latency kafka-get-offsets kafka-delete-records
  kafka-metadata-quorum kafka-storage kafka-cluster kafka-features
  kafka-broker-api-versions kafka-transactions kafka-acls
  kafka-leader-election kafka-reassign-partitions kafka-log-dirs
  kafka-dump-log kafka-delegation-tokens kafka-client-metrics
  kafka-verifiable-producer kafka-verifiable-consumer kafka-streams-groups
Env: KAFKA_HEAP_OPTS, KAFKA_OPTS (extra JVM flags), KAFKA_LOG4J_CONFIG.
USAGE
  exit 2
}

[[ $# -ge 1 ]] || usage
name="${1%.sh}"
shift

# Script name -> main class, as Kafka's bin/*.sh scripts hand them to
# kafka-run-class.sh (checked against the 4.4.0 jars).
case "$name" in
  kafka-topics)                   class=org.apache.kafka.tools.TopicCommand ;;
  kafka-console-producer)         class=org.apache.kafka.tools.ConsoleProducer ;;
  kafka-console-consumer)         class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  kafka-consumer-groups)          class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  kafka-share-groups)             class=org.apache.kafka.tools.consumer.group.ShareGroupCommand ;;
  kafka-streams-groups)           class=org.apache.kafka.tools.streams.StreamsGroupCommand ;;
  kafka-groups)                   class=org.apache.kafka.tools.GroupsCommand ;;
  kafka-configs)                  class=org.apache.kafka.tools.ConfigCommand ;;
  kafka-producer-perf-test)       class=org.apache.kafka.tools.ProducerPerformance ;;
  kafka-consumer-perf-test)       class=org.apache.kafka.tools.ConsumerPerformance ;;
  kafka-share-consumer-perf-test) class=org.apache.kafka.tools.ShareConsumerPerformance ;;
  kafka-e2e-latency)              class=org.apache.kafka.tools.EndToEndLatency ;;
  kafka-get-offsets)              class=org.apache.kafka.tools.GetOffsetShell ;;
  kafka-delete-records)           class=org.apache.kafka.tools.DeleteRecordsCommand ;;
  kafka-metadata-quorum)          class=org.apache.kafka.tools.MetadataQuorumCommand ;;
  kafka-storage)                  class=kafka.tools.StorageTool ;;
  kafka-cluster)                  class=org.apache.kafka.tools.ClusterTool ;;
  kafka-features)                 class=org.apache.kafka.tools.FeatureCommand ;;
  kafka-broker-api-versions)      class=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  kafka-transactions)             class=org.apache.kafka.tools.TransactionsCommand ;;
  kafka-acls)                     class=org.apache.kafka.tools.AclCommand ;;
  kafka-leader-election)          class=org.apache.kafka.tools.LeaderElectionCommand ;;
  kafka-reassign-partitions)      class=org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
  kafka-log-dirs)                 class=org.apache.kafka.tools.LogDirsCommand ;;
  kafka-dump-log)                 class=org.apache.kafka.tools.DumpLogSegments ;;
  kafka-delegation-tokens)        class=org.apache.kafka.tools.DelegationTokenCommand ;;
  kafka-client-metrics)           class=org.apache.kafka.tools.ClientMetricsCommand ;;
  kafka-verifiable-producer)      class=org.apache.kafka.tools.VerifiableProducer ;;
  kafka-verifiable-consumer)      class=org.apache.kafka.tools.VerifiableConsumer ;;
  kafka-run-class)
    [[ $# -ge 1 ]] || usage
    class="$1"; shift ;;
  -h|--help|help) usage ;;
  *) echo "kafka-tool: unknown tool '$name'" >&2; usage ;;
esac

# Default heaps follow Kafka's scripts: the perf tools get 512M (they buffer
# records), everything else kafka-run-class.sh's 256M.
case "$name" in
  *perf-test|kafka-e2e-latency) default_heap="-Xmx512M" ;;
  *) default_heap="-Xmx256M" ;;
esac

cp="$(kafka_ref_classpath)"
log4j="${KAFKA_LOG4J_CONFIG:-$KAFKA_REF_HOME/log4j2-tools.properties}"

# exec so the tool's exit status (and signals such as Ctrl-C on a console
# consumer) reach the caller directly.
# shellcheck disable=SC2086  # heap/opts are deliberately word-split flag lists
exec java ${KAFKA_HEAP_OPTS:-$default_heap} ${KAFKA_OPTS:-} \
  -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$log4j" \
  -cp "$cp" "$class" "$@"
