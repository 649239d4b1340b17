#!/usr/bin/env bash
# Section 4 of the transcript: the order in which kafka-leader-election lists
# many partitions (a Java HashSet of TopicPartition). Run after capture.sh on
# the same cluster:
#   compat/reference-outputs/cluster-tools/capture-order.sh /tmp/wt-tools-ref3 >> transcript.txt
set -uo pipefail
DIR="${1:?cluster dir}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Reuse run/say/wait_isr from capture.sh without running its body.
eval "$(sed -n '/^COMPAT=/,/^wait_isr() {/p' "$HERE/capture.sh" | sed '$d')"
eval "$(sed -n '/^wait_isr() {/,/^}/p' "$HERE/capture.sh")"
CL="$COMPAT/kafka-ref-cluster.sh"

say "4. Many partitions moved at once: wide (8 partitions, node 3 preferred), node 3 stopped and started."
[[ "${SKIP_CREATE:-}" ]] || run kafka-topics --bootstrap-server $B --create --topic wide --replica-assignment 3:1,3:2,3:1,3:2,3:1,3:2,3:1,3:2
"$CL" stop-node 3 --dir "$DIR" >/dev/null 2>&1
wait_isr wide 1
"$CL" start-node 3 --dir "$DIR" >/dev/null 2>&1
wait_isr wide 2
wait_isr orders 3
run kafka-topics --bootstrap-server $B --describe --topic 'wide|orders|pair'
run kafka-leader-election --bootstrap-server $B --election-type preferred --all-topic-partitions
run kafka-leader-election --bootstrap-server $B --election-type preferred --all-topic-partitions
