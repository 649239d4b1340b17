#!/usr/bin/env bash
# Re-captures Kafka 4.4's kafka-reassign-partitions against the 3-node reference
# (compat/kafka-ref-cluster.sh start --dir /tmp/kref-reassign --fresh first; ports
# 19192-19194 and 19292-19294 must be free). Each run NAME writes NAME.out,
# NAME.err and NAME.rc here. The in-flight captures need a reassignment that stays
# in flight: bar-0 holds ~3 MB and moves under a 1 KB/s throttle.
set -euo pipefail
cd "$(dirname "$0")"
B=127.0.0.1:19192
T=../../kafka-tool.sh
run() { local name=$1; shift; $T kafka-reassign-partitions "$@" >"$name.out" 2>"$name.err" || true; echo $? >"$name.rc"; }

$T kafka-reassign-partitions --help >help.txt 2>&1 || true
$T kafka-topics --bootstrap-server $B --create --topic foo --replica-assignment 1:2,2:3
$T kafka-topics --bootstrap-server $B --create --topic bar --partitions 1 --replication-factor 1
run generate --bootstrap-server $B --topics-to-move-json-file topics-to-move.json --broker-list 1,2,3 --generate
run list-empty --bootstrap-server $B --list
run execute --bootstrap-server $B --reassignment-json-file reassign-foo.json --execute
sleep 3
run verify --bootstrap-server $B --reassignment-json-file reassign-foo.json --verify
run list-after --bootstrap-server $B --list
run cancel-none --bootstrap-server $B --reassignment-json-file reassign-foo.json --cancel

$T kafka-producer-perf-test --topic bar --num-records 3000 --record-size 1000 --throughput -1 \
  --producer-props bootstrap.servers=$B
run execute-throttle --bootstrap-server $B --reassignment-json-file reassign-bar.json --execute --throttle 1024
run list-inflight --bootstrap-server $B --list
run execute-existing --bootstrap-server $B --reassignment-json-file reassign-foo.json --execute
run execute-additional --bootstrap-server $B --reassignment-json-file reassign-bar.json --execute --additional --throttle 2048
run verify-inflight --bootstrap-server $B --reassignment-json-file reassign-bar.json --verify
run cancel --bootstrap-server $B --reassignment-json-file reassign-bar.json --cancel
run list-cancelled --bootstrap-server $B --list

run no-action --bootstrap-server $B
run execute-missing-file --bootstrap-server $B --execute
run generate-with-throttle --bootstrap-server $B --generate --topics-to-move-json-file topics-to-move.json --broker-list 1,2 --throttle 10
run execute-unknown-topic --bootstrap-server $B --reassignment-json-file reassign-unknown-topic.json --execute
run execute-dup --bootstrap-server $B --reassignment-json-file reassign-dup.json --execute
run execute-disallow-rf --bootstrap-server $B --reassignment-json-file reassign-bar-rf2.json --execute --disallow-replication-factor-change
run list-after-disallow --bootstrap-server $B --list
# execute-unknown-broker: a reassignment to broker 2 while node 2 was stopped
# (compat/kafka-ref-cluster.sh stop-node 2 --dir /tmp/kref-reassign).
# describe-inflight*: kafka-topics --describe (and --under-replicated-partitions)
# while big-0 (3 MB on broker 1) moves to [2,3] under --throttle 1024.
