#!/usr/bin/env bash
# Everyday operations tools (kafka-get-offsets, kafka-delete-records,
# kafka-log-dirs) run by either tool set against a running broker, as a
# transcript to compare: Kafka's own tools (compat/kafka-tool.sh) or Kavka's
# (target/debug/kavka under Kafka's names), against Kavka or the reference Kafka.
#
#   compat/cli/everyday.sh --bootstrap H:P [--tools kafka|kavka] [--check] [--record]
#
#   --tools kafka  Apache Kafka 4.4's tools (default); kavka: Kavka's binary
#   --check        compare with compat/cli/expected-everyday.txt, exit 1 on a diff
#   --record       write the transcript to expected-everyday.txt (do this only
#                  with Kafka's tools against the reference Kafka)
#
# The broker must not have a topic named everyday yet. Masked: the log
# directory's path and the partition sizes in kafka-log-dirs' JSON (batches
# differ between producers), and Java's log lines and stack traces, with the
# empty line after a trace (Kavka's tools print neither).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"
EXPECTED="$here/expected-everyday.txt"

bootstrap=""
tools=kafka
check=0
record=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) bootstrap="${2:?--bootstrap needs H:P}"; shift 2 ;;
    --tools) tools="${2:?--tools needs kafka or kavka}"; shift 2 ;;
    --check) check=1; shift ;;
    --record) record=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "everyday.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -n "$bootstrap" ]] || { sed -n '2,16p' "$0" >&2; exit 2; }

tool() {
  local name="$1"; shift
  case "$tools" in
    kafka) "$compat/kafka-tool.sh" "$name" "$@" ;;
    kavka) "$root/target/debug/kavka" "${name#kafka-}" "$@" ;;
    *) echo "everyday.sh: --tools kafka or kavka" >&2; exit 2 ;;
  esac
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Java's log lines and stack traces are not part of what the tools print.
mask() {
  sed -E \
    -e '/^$/d' -e '/^\s+at /d' -e '/^\s+\.\.\. [0-9]+ more$/d' -e '/^Caused by: /d' \
    -e '/^(java|joptsimple|org\.apache)\.[A-Za-z.]+(Exception|Error)/d' \
    -e '/^\[[0-9-]+ [0-9:,]+\] (WARN|ERROR|INFO)/d' \
    -e 's/"size":[0-9]+/"size":N/g' -e 's/"logDir":"[^"]*"/"logDir":"DIR"/g'
}

step() {
  local rc=0
  echo "\$ $*"
  tool "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  # kafka-delete-records prints its partitions in an order that changes from run
  # to run (an immutable Java map with a per-JVM salt): sorted here.
  { grep -v '^partition: ' "$work/out" || true; grep '^partition: ' "$work/out" | LC_ALL=C sort || true; } | mask
  echo "[stderr]"
  mask <"$work/err"
  echo "[exit $rc]"
}

transcript() {
  B="$bootstrap"
  # Five records on partition 0, then two empty partitions.
  tool kafka-topics --bootstrap-server "$B" --create --topic everyday --partitions 1 >/dev/null
  printf 'a\nb\nc\nd\ne\n' | tool kafka-console-producer --bootstrap-server "$B" --topic everyday
  tool kafka-topics --bootstrap-server "$B" --alter --topic everyday --partitions 3 >/dev/null
  echo '{"partitions": [{"topic": "everyday", "partition": 0, "offset": 2}, {"topic": "everyday", "partition": 1, "offset": 0}], "version": 1}' >"$work/delete.json"
  echo '{"partitions": [{"topic": "everyday", "partition": 0, "offset": 99}]}' >"$work/beyond.json"
  echo '{"partitions": [{"topic": "everyday", "partition": 0, "offset": 1}, {"topic": "everyday", "partition": 0, "offset": 2}]}' >"$work/dup.json"
  echo 'nonsense' >"$work/bad.json"

  step kafka-get-offsets --bootstrap-server "$B" --topic everyday
  step kafka-get-offsets --bootstrap-server "$B" --topic-partitions 'every.*:1-' --time -2
  step kafka-get-offsets --bootstrap-server "$B" --topic everyday --time 99999999999999
  step kafka-get-offsets --bootstrap-server "$B" --topic nosuch
  step kafka-get-offsets --bootstrap-server "$B" --time x
  step kafka-get-offsets --bootstrap-server "$B" --foo
  step kafka-get-offsets --bootstrap-server "$B" --topic-partitions a --topic b
  step kafka-get-offsets --bootstrap-server "$B" --partitions x
  step kafka-delete-records --bootstrap-server "$B" --offset-json-file "$work/delete.json"
  step kafka-get-offsets --bootstrap-server "$B" --topic everyday --time earliest
  step kafka-delete-records --bootstrap-server "$B" --offset-json-file "$work/beyond.json"
  step kafka-delete-records --bootstrap-server "$B" --offset-json-file "$work/dup.json"
  step kafka-delete-records --bootstrap-server "$B" --offset-json-file "$work/bad.json"
  step kafka-log-dirs --bootstrap-server "$B" --describe --topic-list everyday
  step kafka-log-dirs --bootstrap-server "$B" --describe --broker-list 1,7
}

transcript 2>&1 | sed -e "s#$work#WORK#g" -e "s#$bootstrap#BOOTSTRAP#g" >"$work/transcript"
cat "$work/transcript"
if [[ $record -eq 1 ]]; then
  cp "$work/transcript" "$EXPECTED"
fi
if [[ $check -eq 1 ]]; then
  diff -u "$EXPECTED" "$work/transcript"
fi
