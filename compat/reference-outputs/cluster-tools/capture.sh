#!/usr/bin/env bash
# Captures Apache Kafka 4.4's own output for the cluster-facing tools
# (kafka-topics --describe filters, kafka-metadata-quorum, kafka-leader-election)
# against the 3-node reference cluster started by compat/kafka-ref-cluster.sh.
#
#   compat/kafka-ref-cluster.sh start --dir /tmp/wt-tools-ref3 --fresh
#   compat/reference-outputs/cluster-tools/capture.sh /tmp/wt-tools-ref3 > transcript.txt
#   compat/kafka-ref-cluster.sh stop --dir /tmp/wt-tools-ref3
#
# Unmasked: cluster ids, topic ids, quorum offsets and timestamps vary run to run.
# Replica placement is fixed with --replica-assignment so node ids are stable.
set -uo pipefail
DIR="${1:?cluster dir}"
COMPAT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CL="$COMPAT/kafka-ref-cluster.sh"
B=127.0.0.1:19192
C=127.0.0.1:19292
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

run() {
  echo "\$ $*"
  "$COMPAT/kafka-tool.sh" "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  echo "--- stdout"; cat "$TMP/out"
  echo "--- stderr"; grep -v '^\s*at \|^\s*\.\.\. [0-9]* more' "$TMP/err"
  echo "--- exit $rc"
  echo
}
say() { echo "# $*"; echo; }

wait_isr() { # topic, expected isr count on every partition
  for _ in $(seq 60); do
    if "$COMPAT/kafka-tool.sh" kafka-topics --bootstrap-server $B --describe --topic "$1" 2>/dev/null \
       | grep Partition: | awk -F'\t' '{print $6}' | awk -v n="$2" -F'[ ,]' '{ if (NF-1 != n) bad=1 } END { exit bad }'; then
      return 0
    fi
    sleep 2
  done
  echo "# (timed out waiting for ISR size $2 on $1)"
}

say "1. Healthy: 3 combined nodes (voters 1,2,3), min.insync.replicas=2."
run kafka-metadata-quorum --bootstrap-server $B describe --status
run kafka-metadata-quorum --bootstrap-server $B describe --replication
run kafka-metadata-quorum --bootstrap-server $B describe --replication --human-readable
run kafka-metadata-quorum --bootstrap-controller $C describe --status
run kafka-metadata-quorum --bootstrap-controller $C describe --replication

say "Bad arguments of kafka-metadata-quorum."
run kafka-metadata-quorum
run kafka-metadata-quorum --bootstrap-server $B
run kafka-metadata-quorum --bootstrap-server $B describe
run kafka-metadata-quorum --bootstrap-server $B describe --status --replication
run kafka-metadata-quorum --bootstrap-server $B describe --status --human-readable
run kafka-metadata-quorum --bootstrap-server $B --bootstrap-controller $C describe --status
run kafka-metadata-quorum describe --status
run kafka-metadata-quorum --bootstrap-server $B describe --bogus
run kafka-metadata-quorum --bootstrap-server $B frobnicate

run kafka-topics --bootstrap-server $B --create --topic orders --replica-assignment 1:2:3,2:3:1,3:1:2
run kafka-topics --bootstrap-server $B --create --topic solo --replica-assignment 3
run kafka-topics --bootstrap-server $B --create --topic pair --replica-assignment 3:1,1:3 --config min.insync.replicas=1
run kafka-topics --bootstrap-server $B --describe --topic orders
run kafka-topics --bootstrap-server $B --describe --topic solo
run kafka-topics --bootstrap-server $B --describe --topic orders --under-replicated-partitions
run kafka-topics --bootstrap-server $B --describe --topic orders --under-min-isr-partitions
run kafka-topics --bootstrap-server $B --describe --topic orders --at-min-isr-partitions
run kafka-topics --bootstrap-server $B --describe --topic orders --unavailable-partitions
run kafka-topics --bootstrap-server $B --describe --topic solo --under-min-isr-partitions
run kafka-topics --bootstrap-server $B --describe --exclude-internal
run kafka-topics --bootstrap-server $B --describe --exclude-internal --under-replicated-partitions

say "Bad arguments of the kafka-topics filters."
run kafka-topics --bootstrap-server $B --list --under-replicated-partitions
run kafka-topics --bootstrap-server $B --describe --topics-with-overrides --at-min-isr-partitions
run kafka-topics --bootstrap-server $B --create --topic x --unavailable-partitions
run kafka-topics --bootstrap-server $B --delete --topic x --exclude-internal

say "kafka-leader-election on a healthy cluster."
run kafka-leader-election --bootstrap-server $B --election-type preferred --all-topic-partitions
run kafka-leader-election --bootstrap-server $B --election-type PREFERRED --topic orders --partition 0
run kafka-leader-election --bootstrap-server $B --election-type unclean --topic orders --partition 1
run kafka-leader-election --bootstrap-server $B --election-type preferred --topic nosuch --partition 0
run kafka-leader-election --bootstrap-server $B --election-type preferred --topic orders --partition 7
printf '{"partitions":\n\t[{"topic": "orders", "partition": 1},\n\t {"topic": "orders", "partition": 2}]\n}\n' > "$TMP/two.json"
echo "# two.json: $(tr -d '\n\t' < "$TMP/two.json")"
run kafka-leader-election --bootstrap-server $B --election-type preferred --path-to-json-file "$TMP/two.json"

say "Bad arguments of kafka-leader-election."
run kafka-leader-election
run kafka-leader-election --bootstrap-server $B --all-topic-partitions
run kafka-leader-election --election-type preferred --all-topic-partitions
run kafka-leader-election --bootstrap-server $B --election-type preferred
run kafka-leader-election --bootstrap-server $B --election-type preferred --topic orders
run kafka-leader-election --bootstrap-server $B --election-type preferred --partition 0 --all-topic-partitions
run kafka-leader-election --bootstrap-server $B --election-type preferred --partition 0
run kafka-leader-election --bootstrap-server $B --election-type preferred --topic orders --partition 0 --all-topic-partitions
run kafka-leader-election --bootstrap-server $B --election-type sideways --all-topic-partitions
run kafka-leader-election --bootstrap-server $B --election-type preferred --topic orders --partition x
run kafka-leader-election --bootstrap-server $B --election-type preferred --bogus
printf '{"partitions": [{"topic": "orders", "partition": 1}, {"topic": "orders", "partition": 1}]}\n' > "$TMP/dup.json"
echo "# dup.json: $(cat "$TMP/dup.json")"
run kafka-leader-election --bootstrap-server $B --election-type preferred --path-to-json-file "$TMP/dup.json"
printf '{"topics": []}\n' > "$TMP/nopart.json"
echo "# nopart.json: $(cat "$TMP/nopart.json")"
run kafka-leader-election --bootstrap-server $B --election-type preferred --path-to-json-file "$TMP/nopart.json"
run kafka-leader-election --bootstrap-server $B --election-type preferred --path-to-json-file "$TMP/missing.json"

say "2. Node 3 stopped (stop-node 3: SIGTERM, controlled shutdown)."
"$CL" stop-node 3 --dir "$DIR" >/dev/null 2>&1
wait_isr orders 2
run kafka-topics --bootstrap-server $B --describe --topic orders
run kafka-topics --bootstrap-server $B --describe --topic solo
run kafka-topics --bootstrap-server $B --describe --topic pair
run kafka-topics --bootstrap-server $B --describe --topic orders --under-replicated-partitions
run kafka-topics --bootstrap-server $B --describe --topic orders --under-min-isr-partitions
run kafka-topics --bootstrap-server $B --describe --topic orders --at-min-isr-partitions
run kafka-topics --bootstrap-server $B --describe --topic orders --unavailable-partitions
run kafka-topics --bootstrap-server $B --describe --unavailable-partitions --exclude-internal
run kafka-topics --bootstrap-server $B --describe --under-min-isr-partitions --exclude-internal
run kafka-topics --bootstrap-server $B --describe --at-min-isr-partitions --exclude-internal
run kafka-topics --bootstrap-server $B --describe --under-replicated-partitions --unavailable-partitions --exclude-internal
run kafka-metadata-quorum --bootstrap-server $B describe --status
run kafka-metadata-quorum --bootstrap-server $B describe --replication
run kafka-metadata-quorum --bootstrap-server $B describe --replication --human-readable
run kafka-leader-election --bootstrap-server $B --election-type preferred --topic orders --partition 2
run kafka-leader-election --bootstrap-server $B --election-type unclean --topic solo --partition 0
run kafka-leader-election --bootstrap-server $B --election-type preferred --topic solo --partition 0

say "3. Node 3 started again; ISR full; leadership not back until a preferred election."
"$CL" start-node 3 --dir "$DIR" >/dev/null 2>&1
wait_isr orders 3
run kafka-topics --bootstrap-server $B --describe --topic orders
run kafka-leader-election --bootstrap-server $B --election-type preferred --path-to-json-file "$TMP/two.json"
run kafka-leader-election --bootstrap-server $B --election-type preferred --all-topic-partitions
run kafka-topics --bootstrap-server $B --describe --topic orders
run kafka-topics --bootstrap-server $B --describe --topic solo
