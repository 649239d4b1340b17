#!/usr/bin/env bash
# Section 5: node 3 stopped again; --all-topic-partitions while preferred
# leaders are down, and the filters over all topics. Run after capture-order.sh:
#   compat/reference-outputs/cluster-tools/capture-down.sh /tmp/wt-tools-ref3 >> transcript.txt
set -uo pipefail
DIR="${1:?cluster dir}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
eval "$(sed -n '/^COMPAT=/,/^wait_isr() {/p' "$HERE/capture.sh" | sed '$d')"
eval "$(sed -n '/^wait_isr() {/,/^}/p' "$HERE/capture.sh")"
CL="$COMPAT/kafka-ref-cluster.sh"

say "5. Node 3 stopped again: elections while preferred leaders are down."
"$CL" stop-node 3 --dir "$DIR" >/dev/null 2>&1
wait_isr orders 2
run kafka-topics --bootstrap-server $B --describe --under-replicated-partitions --exclude-internal
run kafka-topics --bootstrap-server $B --describe --unavailable-partitions
run kafka-leader-election --bootstrap-server $B --election-type preferred --all-topic-partitions
run kafka-leader-election --bootstrap-server $B --election-type unclean --all-topic-partitions
run kafka-metadata-quorum --bootstrap-server $B describe --status
"$CL" start-node 3 --dir "$DIR" >/dev/null 2>&1
wait_isr orders 3
