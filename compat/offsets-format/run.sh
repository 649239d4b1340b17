#!/usr/bin/env bash
# __consumer_offsets read by Apache Kafka's own tools: the same group flow runs
# against Kavka and against the reference Kafka 4.4 (compat/kafka-ref.sh), then
# each broker's __consumer_offsets is decoded with Kafka's tools:
#   - kafka-console-consumer --formatter org.apache.kafka.tools.consumer.OffsetsMessageFormatter
#   - kafka-console-consumer --formatter org.apache.kafka.tools.consumer.GroupMetadataMessageFormatter
#   - kafka-dump-log --offsets-decoder on the partitions' segment files in the data dirs
# and the masked outputs are compared (mask rules and the reason for each: README.md).
#
#   compat/offsets-format/run.sh [--keep]     --keep: keep the work dir (transcripts, logs)
#
# Flow: topic `orders` (2 partitions), 4 keyed records; a classic consumer group
# `classic-g` reads and commits them; a `group.protocol=consumer` group `kip848-g`
# does the same; then both groups are deleted. Exits 1 when a masked transcript differs (the diff is printed) or
# when a Kafka tool fails to decode a record.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"
TOOL="$compat/kafka-tool.sh"
keep=0
[[ "${1:-}" == --keep ]] && keep=1

# Both brokers alike; 50 offsets partitions puts classic-g on 36 and kip848-g on 2.
common=(
  num.partitions=1
  offsets.topic.num.partitions=50
  group.initial.rebalance.delay.ms=0
)
PARTITIONS=(36 2)

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Ports from KAVKA_TEST_PORTS (LO-HI) when set, as the Rust tests take theirs.
port_lo=20000 port_span=12000
if [[ "${KAVKA_TEST_PORTS:-}" =~ ^([0-9]+)-([0-9]+)$ ]]; then
  port_lo=${BASH_REMATCH[1]} port_span=$(( BASH_REMATCH[2] - BASH_REMATCH[1] ))
fi
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( port_lo + RANDOM % port_span ))
    if ! port_busy "$p" && ! port_busy "$((p + 1))"; then echo "$p"; return; fi
  done
  echo "run.sh: no free port found" >&2; exit 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/kavka-offsets-format-XXXXXX")"
kavka_pid=""
ref_dir=""
rc=1
stop_kavka() {
  if [[ -n "$kavka_pid" ]]; then
    kill -TERM "$kavka_pid" 2>/dev/null || true
    wait "$kavka_pid" 2>/dev/null || true
    kavka_pid=""
  fi
}
stop_ref() {
  if [[ -n "$ref_dir" ]]; then
    "$compat/kafka-ref.sh" stop --dir "$ref_dir" >/dev/null 2>&1 || true
  fi
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_kavka
  stop_ref
  if [[ $rc -eq 0 && $keep -eq 0 ]]; then
    rm -rf "$work" ${ref_dir:+"$ref_dir"}
  else
    echo "run.sh: work dir kept: $work ${ref_dir:+(reference: $ref_dir)}" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin="$root/target/debug/kavka"
[[ -x "$bin" ]] || cargo build -q --manifest-path "$root/Cargo.toml" -p kavka

overrides=()
for kv in "${common[@]}"; do overrides+=(--override "$kv"); done

kport="$(free_port)"
echo "run.sh: starting Kavka on 127.0.0.1:$kport" >&2
"$bin" broker --override "http.listeners=" --override "listeners=PLAINTEXT://127.0.0.1:$kport" \
  --override "log.dirs=$work/kavka-data" "${overrides[@]}" >"$work/kavka.log" 2>&1 &
kavka_pid=$!
for _ in $(seq 1 100); do port_busy "$kport" && break; sleep 0.1; done
port_busy "$kport" || { cat "$work/kavka.log" >&2; echo "run.sh: Kavka did not start" >&2; exit 1; }

rport="$(free_port)"
while [[ "$rport" == "$kport" || "$((rport + 1))" == "$kport" ]]; do rport="$(free_port)"; done
ref_dir="${TMPDIR:-/tmp}/kavka-offsets-format-ref-$rport"
echo "run.sh: starting reference Kafka on 127.0.0.1:$rport" >&2
"$compat/kafka-ref.sh" start --port "$rport" --dir "$ref_dir" --fresh "${overrides[@]}" >&2

# What differs between runs and brokers without being part of the format; each rule
# is explained in README.md.
mask() {
  sed -E \
    -e 's#console-consumer-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}#<classic-member>#g' \
    -e 's#"(memberId|leader)":"[A-Za-z0-9_-]{22}"#"\1":"<member>"#g' \
    -e 's#"(groupId|group)":"(classic-g|kip848-g)","memberId":"[A-Za-z0-9_-]{22}"#"\1":"\2","memberId":"<member>"#g' \
    -e 's#"topicId":"[A-Za-z0-9_-]{22}"#"topicId":"<topic-id>"#g' \
    -e 's#"(commitTimestamp|currentStateTimestamp|assignmentTimestamp|expireTimestamp)":[0-9]+#"\1":<ts>#g' \
    -e 's#"metadataHash":-?[0-9]+#"metadataHash":<hash>#g' \
    -e 's#CreateTime: [0-9]+#CreateTime: <ts>#g' \
    -e 's#crc: [0-9]+#crc: <crc>#g' \
    -e 's#^Dumping .*/(__consumer_offsets-[0-9]+)/#Dumping \1/#' \
    -e 's#("type":"?1"?,[^}]*}},"value":\{"version":"?4"?,"data":\{[^}]*),"topicId":"<topic-id>"#\1#g' \
    -e '/"type":"1",/{s#valueSize: [0-9]+#valueSize: <n>#;s#,"topicId":"<topic-id>"##;}' \
    -e 's#(position|size): [0-9]+ (CreateTime|magic)#\1: <n> \2#g' \
    -e 's#\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+\] #[<time>] #g' \
    -e 's#\}\}\}(\{"key"|\[<time>\])#}}}\n\1#g'
}

# flow BOOTSTRAP OUT: the group flow, then the formatters' view of the topic.
flow() {
  local bs="$1" out="$2"
  "$TOOL" kafka-topics --bootstrap-server "$bs" --create --topic orders --partitions 2 >/dev/null
  printf 'k1:a\nk2:b\nk3:c\nk4:d\n' | "$TOOL" kafka-console-producer --bootstrap-server "$bs" \
    --topic orders --property parse.key=true --property key.separator=: >/dev/null
  # One commit per consumer, at close: a periodic auto-commit inside a slow run would
  # add records the other broker's run does not have.
  timeout 60 "$TOOL" kafka-console-consumer --bootstrap-server "$bs" --topic orders \
    --group classic-g --consumer-property auto.commit.interval.ms=600000 \
    --from-beginning --max-messages 4 >/dev/null 2>"$out.classic.err"
  timeout 60 "$TOOL" kafka-console-consumer --bootstrap-server "$bs" --topic orders \
    --group kip848-g --consumer-property group.protocol=consumer \
    --consumer-property auto.commit.interval.ms=600000 \
    --from-beginning --max-messages 4 >/dev/null 2>"$out.kip848.err"
  "$TOOL" kafka-consumer-groups --bootstrap-server "$bs" --delete \
    --group classic-g --group kip848-g >/dev/null 2>"$out.delete.err"
  : > "$out"
  local p f
  for p in "${PARTITIONS[@]}"; do
    for f in OffsetsMessageFormatter GroupMetadataMessageFormatter; do
      echo "## $f, __consumer_offsets-$p" >> "$out"
      "$TOOL" kafka-console-consumer --bootstrap-server "$bs" --topic __consumer_offsets \
        --partition "$p" --offset earliest --timeout-ms 3000 \
        --formatter "org.apache.kafka.tools.consumer.$f" >>"$out" 2>"$out.err" || true
      # A record a formatter cannot parse makes it throw; that must not happen.
      if grep -q "Exception\|Unknown" "$out.err"; then
        cat "$out.err" >> "$out"
      fi
    done
  done
  # A committed transaction, for __transaction_state (compared tool to tool below).
  "$TOOL" kafka-producer-perf-test --topic orders --num-records 3 --record-size 8 \
    --throughput -1 --producer-props "bootstrap.servers=$bs" \
    --transactional-id dump-tx --transaction-duration-ms 60000 >/dev/null 2>"$out.txn.err"
}

echo "run.sh: group flow against Kavka" >&2
flow "127.0.0.1:$kport" "$work/kavka.txt"
echo "run.sh: group flow against Kafka" >&2
flow "127.0.0.1:$rport" "$work/kafka.txt"

# Segment files are read once the brokers have stopped (clean shutdown, all written).
stop_kavka
stop_ref
dump() {
  local dir="$1" out="$2" p seg
  for p in "${PARTITIONS[@]}"; do
    for seg in "$dir/__consumer_offsets-$p"/*.log; do
      "$TOOL" kafka-dump-log --offsets-decoder --files "$seg" >>"$out" 2>&1 || echo "kafka-dump-log failed on $seg" >>"$out"
    done
  done
}
dump "$work/kavka-data" "$work/kavka.txt"
dump "$ref_dir/data" "$work/kafka.txt"

mask < "$work/kavka.txt" > "$work/kavka.masked"
mask < "$work/kafka.txt" > "$work/kafka.masked"
rc=0
if diff -u --label kafka --label kavka "$work/kafka.masked" "$work/kavka.masked"; then
  echo "run.sh: Kafka's tools read Kavka's __consumer_offsets as Kafka's (masked transcripts equal)"
else
  echo "run.sh: transcripts differ (above: - Kafka, + Kavka)" >&2
  rc=1
fi

# `kavka dump-log` with each decoder must print exactly what Kafka's kafka-dump-log
# prints, on the files of either broker (nothing masked: the same files).
same_dump() {
  local name="$1" decoder="$2" files
  shift 2
  files="$(IFS=,; echo "$*")"
  [[ -n "$files" ]] || { echo "run.sh: no segment files for $name" >&2; rc=1; return; }
  "$TOOL" kafka-dump-log "$decoder" --files "$files" >"$work/$name.kafka-tool" 2>&1 || true
  "$bin" dump-log "$decoder" --files "$files" >"$work/$name.kavka-tool" 2>&1 || true
  if diff -u --label kafka-dump-log --label "kavka dump-log" \
      "$work/$name.kafka-tool" "$work/$name.kavka-tool"; then
    echo "run.sh: kavka dump-log $decoder prints what kafka-dump-log prints ($name)"
  else
    echo "run.sh: kavka dump-log $decoder differs from kafka-dump-log ($name)" >&2
    rc=1
  fi
}
# Non-empty segments only: one tool run each, all files in one --files list.
segments() { find "$@" -name '*.log' -size +0 2>/dev/null | sort; }
for side in kavka kafka; do
  if [[ $side == kavka ]]; then data="$work/kavka-data"; else data="$ref_dir/data"; fi
  mapfile -t offsets_files < <(segments "$data"/__consumer_offsets-*)
  mapfile -t txn_files < <(segments "$data"/__transaction_state-*)
  same_dump "$side-offsets" --offsets-decoder "${offsets_files[@]}"
  same_dump "$side-transactions" --transaction-log-decoder "${txn_files[@]}"
done
exit $rc
