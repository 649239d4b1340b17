#!/usr/bin/env bash
# The lecture's command-line flow, verbatim, with Apache Kafka's OWN tools
# (compat/kafka-tool.sh: the real Kafka 4.4 CLIs from Maven jars), against a
# broker: Kavka, the reference Kafka, or any bootstrap address.
#
#   compat/cli/lecture.sh --kavka     [--check] [--out FILE]
#   compat/cli/lecture.sh --reference [--check] [--out FILE] [--record]
#   compat/cli/lecture.sh --bootstrap H:P [--check] [--out FILE]
#
#   --kavka      start target/debug/kavka (built with `cargo build -p kavka` if
#                missing) on a free port with a fresh data dir; stop it by PID
#   --reference  start the reference Kafka (compat/kafka-ref.sh --fresh) on a
#                free port; stop it after
#   --bootstrap  use a broker that is already running (it must not have an
#                order-placed topic or inventory-group group yet)
#   --check      compare the masked transcript with compat/cli/expected-lecture.txt
#                and exit 1 (printing the diff) when they differ
#   --record     (reference only) write the transcript to expected-lecture.txt
#   --out FILE   also write the masked transcript to FILE
#   --cluster N  with --kavka / --reference: N=3 runs against a 3-node cluster
#                (`kavka cluster up -n 3` / compat/kafka-ref-cluster.sh, see
#                compat/lib/brokers.sh), creates order-placed with
#                --replication-factor 3, names brokers A/B/C in --describe's
#                Leader/Replicas/Isr (per line, in replica order) and compares
#                with compat/cli/expected-lecture-3node.txt
#
# Per command the transcript holds the command line, stdout, stderr and the
# exit code, after masking what differs from run to run (see mask() below and
# compat/cli/DIFFERENCES.md). Records from different partitions reach a
# console consumer in no fixed order, so the consumers' stdout lines are
# sorted (LC_ALL=C) before masking; so are the group list and the
# reset-offsets table, whose row order comes from hash maps.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"
TOOL="$compat/kafka-tool.sh"
EXPECTED="$here/expected-lecture.txt"

mode=""
bootstrap=""
check=0
record=0
out=""
nodes=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kavka) mode=kavka; shift ;;
    --reference) mode=reference; shift ;;
    --bootstrap) mode=bootstrap; bootstrap="${2:?--bootstrap needs H:P}"; shift 2 ;;
    --check) check=1; shift ;;
    --record) record=1; shift ;;
    --out) out="${2:?--out needs a file}"; shift 2 ;;
    --cluster) nodes="${2:?--cluster needs N}"; shift 2 ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "lecture.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -n "$mode" ]] || { sed -n '2,33p' "$0" >&2; exit 2; }
case "$nodes" in
  1) rf=1 ;;
  3) rf=3; EXPECTED="$here/expected-lecture-3node.txt" ;;
  *) echo "lecture.sh: --cluster takes 1 or 3" >&2; exit 2 ;;
esac
if [[ $nodes -eq 3 && "$mode" == bootstrap ]]; then
  echo "lecture.sh: --cluster 3 with --kavka or --reference (a --bootstrap list works as is)" >&2; exit 2
fi
if [[ $record -eq 1 && "$mode" != reference ]]; then
  echo "lecture.sh: --record only with --reference" >&2; exit 2
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 12000 ))
    if ! port_busy "$p" && ! port_busy "$((p + 1))"; then echo "$p"; return; fi
  done
  echo "lecture.sh: no free port found" >&2; exit 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/kavka-lecture-XXXXXX")"
kavka_pid=""
ref_dir=""
cleanup() {
  if [[ -n "$kavka_pid" ]]; then
    kill -TERM "$kavka_pid" 2>/dev/null || true
    wait "$kavka_pid" 2>/dev/null || true
  fi
  if [[ -n "$ref_dir" ]]; then
    "$compat/kafka-ref.sh" stop --dir "$ref_dir" >/dev/null 2>&1 || true
    rm -rf "$ref_dir"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $nodes -eq 3 ]]; then
  # shellcheck source=../lib/brokers.sh
  source "$compat/lib/brokers.sh"
  brokers_start "$mode" lecture 3
  # brokers.sh set its own EXIT trap; stop the cluster and clean up ours.
  trap 'brokers_stop; cleanup' EXIT
  bootstrap="$BROKER_BOOTSTRAP"
else
  case "$mode" in
    kavka)
      bin="$root/target/debug/kavka"
      [[ -x "$bin" ]] || cargo build -q --manifest-path "$root/Cargo.toml" -p kavka
      port="$(free_port)"
      echo "lecture.sh: starting Kavka on 127.0.0.1:$port" >&2
      "$bin" broker --override "http.listeners=" --override "listeners=PLAINTEXT://127.0.0.1:$port" \
        --override "log.dirs=$work/data" >"$work/broker.log" 2>&1 &
      kavka_pid=$!
      for _ in $(seq 1 100); do port_busy "$port" && break; sleep 0.1; done
      port_busy "$port" || { cat "$work/broker.log" >&2; echo "lecture.sh: Kavka did not start" >&2; exit 1; }
      bootstrap="127.0.0.1:$port"
      ;;
    reference)
      port="$(free_port)"
      ref_dir="${TMPDIR:-/tmp}/kavka-lecture-ref-$port"
      echo "lecture.sh: starting reference Kafka on 127.0.0.1:$port" >&2
      "$compat/kafka-ref.sh" start --port "$port" --dir "$ref_dir" --fresh >&2
      bootstrap="127.0.0.1:$port"
      ;;
  esac
fi
BS="$bootstrap"

# Masks what legitimately differs between runs and brokers. Every rule is
# listed, with its reason, in compat/cli/DIFFERENCES.md.
mask() {
  sed -E \
    -e "s#${BS//./\\.}#<bootstrap>#g" \
    -e 's#TopicId: [A-Za-z0-9_-]{22}#TopicId: <topic-id>#g' \
    -e 's#console-consumer-[0-9]+#console-consumer-<n>#g' \
    -e 's#(console-consumer|consumer-inventory-group-[0-9]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}#\1-<member-uuid>#g' \
    -e 's#/127\.0\.0\.1#/<host>#g' \
    -e 's#^\[?[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:,.]+\]?#<timestamp>#' | relabel
}

# With 3 nodes, which broker leads or holds a replica depends on the run's
# placement: --describe's broker ids become letters in the order of that line's
# Replicas (A is the preferred leader), so "Leader: A Replicas: A,B,C Isr: A,B,C"
# means led by the preferred replica with the full ISR, on either broker.
relabel() {
  if [[ $nodes -eq 1 ]]; then cat; return; fi
  python3 -c '
import re, sys
def line(m):
    names = {}
    for r in m.group(2).split(","):
        names.setdefault(r, "ABCDEFGHI"[len(names)])
    name = lambda i: names.get(i, "?" + i)
    return "Leader: %s\tReplicas: %s\tIsr: %s" % (name(m.group(1)),
        ",".join(name(r) for r in m.group(2).split(",")),
        ",".join(name(r) for r in m.group(3).split(",")))
for l in sys.stdin:
    sys.stdout.write(re.sub(r"Leader: (-?\d+)\tReplicas: ([\d,]+)\tIsr: ([\d,]*)", line, l))
'
}

transcript="$work/transcript.txt"
: > "$transcript"

# step SORT SHOWN CMD...: runs CMD, records the command line as SHOWN (with
# the bootstrap address masked), its stdout (sorted when SORT=sort), stderr
# and exit code.
step() {
  local sort="$1" shown="$2"; shift 2
  local rc=0
  "$@" >"$work/so" 2>"$work/se" </dev/null || rc=$?
  if [[ "$sort" == sort ]]; then
    LC_ALL=C sort "$work/so" > "$work/so.sorted"
    mv "$work/so.sorted" "$work/so"
  fi
  {
    echo "\$ $shown"
    echo "--- stdout"
    mask < "$work/so"
    echo "--- stderr"
    mask < "$work/se"
    echo "--- exit $rc"
    echo
  } >> "$transcript"
  echo "lecture.sh: exit $rc: $shown" >&2
}

# step with stdin from a string.
step_stdin() {
  local input="$1"; shift
  printf '%s\n' "$input" > "$work/stdin"
  local sort="$1" shown="$2"; shift 2
  local rc=0
  "$@" >"$work/so" 2>"$work/se" <"$work/stdin" || rc=$?
  {
    echo "\$ $shown"
    echo "--- stdout"
    mask < "$work/so"
    echo "--- stderr"
    mask < "$work/se"
    echo "--- exit $rc"
    echo
  } >> "$transcript"
  echo "lecture.sh: exit $rc: $shown" >&2
}

B='<bootstrap>'
T=(kafka-topics --bootstrap-server "$BS")
G=(kafka-consumer-groups --bootstrap-server "$BS")
C=(kafka-configs --bootstrap-server "$BS" --entity-type topics --entity-name order-placed)

step keep "kafka-topics --bootstrap-server $B --create --topic order-placed --partitions 3 --replication-factor $rf" \
  "$TOOL" "${T[@]}" --create --topic order-placed --partitions 3 --replication-factor "$rf"
step keep "kafka-topics --bootstrap-server $B --list" \
  "$TOOL" "${T[@]}" --list
step keep "kafka-topics --bootstrap-server $B --describe --topic order-placed" \
  "$TOOL" "${T[@]}" --describe --topic order-placed

LINES='1001:{"orderId":1001,"userId":42}
1002:{"orderId":1002,"userId":7}
1003:{"orderId":1003,"userId":42}'
step_stdin "$LINES" keep "printf '%s\\n' '1001:{\"orderId\":1001,\"userId\":42}' '1002:{\"orderId\":1002,\"userId\":7}' '1003:{\"orderId\":1003,\"userId\":42}' | kafka-console-producer --bootstrap-server $B --topic order-placed --property parse.key=true --property key.separator=:" \
  "$TOOL" kafka-console-producer --bootstrap-server "$BS" --topic order-placed \
  --property parse.key=true --property key.separator=:

step sort "kafka-console-consumer --bootstrap-server $B --topic order-placed --from-beginning --max-messages 3   # stdout sorted" \
  "$TOOL" kafka-console-consumer --bootstrap-server "$BS" --topic order-placed --from-beginning --max-messages 3
step sort "kafka-console-consumer --bootstrap-server $B --topic order-placed --from-beginning --max-messages 3 --property print.key=true --property print.partition=true --property print.offset=true   # stdout sorted" \
  "$TOOL" kafka-console-consumer --bootstrap-server "$BS" --topic order-placed --from-beginning --max-messages 3 \
  --property print.key=true --property print.partition=true --property print.offset=true
step sort "kafka-console-consumer --bootstrap-server $B --topic order-placed --group inventory-group --from-beginning --max-messages 3   # stdout sorted" \
  "$TOOL" kafka-console-consumer --bootstrap-server "$BS" --topic order-placed --group inventory-group --from-beginning --max-messages 3

step sort "kafka-consumer-groups --bootstrap-server $B --list   # stdout sorted" \
  "$TOOL" "${G[@]}" --list
step keep "kafka-consumer-groups --bootstrap-server $B --describe --group inventory-group" \
  "$TOOL" "${G[@]}" --describe --group inventory-group
step sort "kafka-consumer-groups --bootstrap-server $B --group inventory-group --reset-offsets --to-earliest --topic order-placed --execute   # stdout sorted" \
  "$TOOL" "${G[@]}" --group inventory-group --reset-offsets --to-earliest --topic order-placed --execute
step keep "kafka-consumer-groups --bootstrap-server $B --describe --group inventory-group" \
  "$TOOL" "${G[@]}" --describe --group inventory-group

step keep "kafka-configs --bootstrap-server $B --entity-type topics --entity-name order-placed --describe" \
  "$TOOL" "${C[@]}" --describe
step keep "kafka-configs --bootstrap-server $B --entity-type topics --entity-name order-placed --alter --add-config retention.ms=86400000" \
  "$TOOL" "${C[@]}" --alter --add-config retention.ms=86400000
step keep "kafka-configs --bootstrap-server $B --entity-type topics --entity-name order-placed --describe" \
  "$TOOL" "${C[@]}" --describe
step keep "kafka-configs --bootstrap-server $B --entity-type topics --entity-name order-placed --alter --delete-config retention.ms" \
  "$TOOL" "${C[@]}" --alter --delete-config retention.ms
step keep "kafka-configs --bootstrap-server $B --entity-type topics --entity-name order-placed --describe" \
  "$TOOL" "${C[@]}" --describe

step keep "kafka-topics --bootstrap-server $B --delete --topic order-placed" \
  "$TOOL" "${T[@]}" --delete --topic order-placed
step keep "kafka-topics --bootstrap-server $B --list" \
  "$TOOL" "${T[@]}" --list

{
  echo "# Apache Kafka's own CLI tools (Kafka 4.4.0 via compat/kafka-tool.sh), the lecture flow."
  echo "# Generated by compat/cli/lecture.sh; masked (see compat/cli/DIFFERENCES.md)."
  echo
  cat "$transcript"
} > "$work/final.txt"

[[ -n "$out" ]] && cp "$work/final.txt" "$out"
if [[ $record -eq 1 ]]; then
  cp "$work/final.txt" "$EXPECTED"
  echo "lecture.sh: recorded $EXPECTED" >&2
fi
if [[ $check -eq 1 ]]; then
  if diff -u --label expected-lecture.txt --label "$mode" "$EXPECTED" "$work/final.txt"; then
    echo "lecture.sh: transcript matches expected-lecture.txt" >&2
  else
    echo "lecture.sh: transcript differs from expected-lecture.txt (diff above)" >&2
    exit 1
  fi
elif [[ -z "$out" && $record -eq 0 ]]; then
  cat "$work/final.txt"
fi
