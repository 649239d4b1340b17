#!/usr/bin/env bash
# Compaction against Apache Kafka: the same keyed history (updates, tombstones,
# a resurrected key, several segments, two cleaning passes with the delete
# horizon passing in between) is produced to the reference Kafka
# (compat/kafka-ref.sh) and to Kavka (target/debug/kavka); after both cleaners
# ran, a consumer from the beginning must read the same (offset, key, value)
# records from both. The same client (Kavka's rdkafka console tools) talks to both.
#
#   compat/compaction/run.sh
#
# Exits non-zero on a difference (printed as a diff) or when a cleaner does not
# finish in time. Broker logs are kept on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"
kavka="$root/target/debug/kavka"
topic=compaction-diff

# Broker settings both get: a cleaner that looks often.
common=(
  num.partitions=1
  offsets.topic.num.partitions=1
  log.cleaner.backoff.ms=200
  group.initial.rebalance.delay.ms=0
)
# Topic settings: roll after a second, clean at any dirtiness, tombstones live 6 s
# after their first cleaning. Kavka also rolls a segment by segment.ms on a timer,
# while Kafka rolls only on append, so Kavka may run one pass more at the end;
# 6 s keeps the last phase's tombstone inside its horizon through that pass.
topic_configs=(
  cleanup.policy=compact
  segment.ms=1000
  min.cleanable.dirty.ratio=0.01
  delete.retention.ms=6000
  min.compaction.lag.ms=0
)

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 12000 ))
    if ! port_busy "$p" && ! port_busy "$((p + 1))"; then echo "$p"; return; fi
  done
  echo "run.sh: no free port found" >&2; exit 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/kavka-compaction-XXXXXX")"
kavka_pid=""
ref_dir=""
rc=1
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ -n "$kavka_pid" ]]; then
    kill -TERM "$kavka_pid" 2>/dev/null || true
    wait "$kavka_pid" 2>/dev/null || true
  fi
  if [[ -n "$ref_dir" ]]; then
    "$compat/kafka-ref.sh" stop --dir "$ref_dir" >/dev/null 2>&1 || true
  fi
  rm -rf "$work/kavka-data" ${ref_dir:+"$ref_dir/data"}
  if [[ $rc -eq 0 ]]; then
    rm -rf "$work" ${ref_dir:+"$ref_dir"}
  else
    echo "run.sh: broker logs kept: $work/kavka.log ${ref_dir:+$ref_dir/server.log}" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cargo build -q --manifest-path "$root/Cargo.toml" -p kavka

overrides=()
for kv in "${common[@]}"; do overrides+=(--override "$kv"); done
kport="$(free_port)"
echo "run.sh: starting Kavka on 127.0.0.1:$kport" >&2
"$kavka" broker --override "http.listeners=" --override "listeners=PLAINTEXT://127.0.0.1:$kport" \
  --override "log.dirs=$work/kavka-data" "${overrides[@]}" >"$work/kavka.log" 2>&1 &
kavka_pid=$!

rport="$(free_port)"
while [[ "$rport" == "$kport" || "$((rport + 1))" == "$kport" ]]; do rport="$(free_port)"; done
ref_dir="${TMPDIR:-/tmp}/kavka-compaction-ref-$rport"
echo "run.sh: starting reference Kafka on 127.0.0.1:$rport" >&2
"$compat/kafka-ref.sh" start --port "$rport" --dir "$ref_dir" --fresh "${overrides[@]}" >&2
for _ in $(seq 1 100); do port_busy "$kport" && break; sleep 0.1; done
port_busy "$kport" || { cat "$work/kavka.log" >&2; echo "run.sh: Kavka did not start" >&2; exit 1; }

brokers=("127.0.0.1:$kport" "127.0.0.1:$rport")
checkpoints=("$work/kavka-data/cleaner-offset-checkpoint" "$ref_dir/data/cleaner-offset-checkpoint")

topic_args=()
for kv in "${topic_configs[@]}"; do topic_args+=(--config "$kv"); done
for bs in "${brokers[@]}"; do
  "$kavka" topics --bootstrap-server "$bs" --create --topic "$topic" \
    --partitions 1 --replication-factor 1 "${topic_args[@]}" >/dev/null
done

# Sends key:value lines (NULL = tombstone) to both brokers, in order.
produce() {
  for bs in "${brokers[@]}"; do
    printf '%s\n' "$@" | "$kavka" console-producer --bootstrap-server "$bs" --topic "$topic" \
      --reader-property parse.key=true --reader-property key.separator=: \
      --reader-property null.marker=NULL
  done
}

# Offset the next record gets on $1 (the log end), via a consumer's view.
log_end() {
  "$kavka" console-consumer --bootstrap-server "$1" --topic "$topic" --from-beginning \
    --formatter-property print.offset=true --formatter-property print.value=false --timeout-ms 3000 2>/dev/null \
    | sed -n 's/^Offset:\([0-9]*\).*/\1/p' | tail -1
}

# Waits until both cleaners' checkpoints for the topic reach offset $1.
wait_cleaned() {
  local target=$1 deadline=$((SECONDS + 60)) i c
  for i in 0 1; do
    while :; do
      c="$(sed -n "s/^$topic 0 \([0-9]*\)$/\1/p" "${checkpoints[$i]}" 2>/dev/null || true)"
      [[ -n "$c" && "$c" -ge "$target" ]] && break
      if (( SECONDS > deadline )); then
        echo "run.sh: cleaner of ${brokers[$i]} did not reach offset $target (at '${c}')" >&2
        exit 1
      fi
      sleep 0.2
    done
  done
}

# Phase A: first values, updates, two tombstones.
produce k0:a0 k1:a1 k2:a2 k3:a3 k4:a4 k5:a5 k6:a6 k7:a7 k8:a8 k9:a9 k1:b1 k3:NULL k5:b5 k7:NULL
sleep 1.6
# Phase B, in a new segment: more updates, new tombstones, k7 comes back.
produce k0:c0 k2:NULL k4:c4 k7:c7 k8:NULL k1:c1 k10:c10
sleep 1.6
# A record in a fresh segment closes phase B's; the first pass cleans A and B and
# starts the tombstones' delete horizon.
produce roll1:x
wait_cleaned "$(( $(log_end "${brokers[0]}") ))"
# Past delete.retention.ms: the next pass drops those tombstones.
sleep 6.5
produce k0:d0 k9:d9 k11:d11 k4:NULL
sleep 1.6
produce roll2:y
wait_cleaned "$(( $(log_end "${brokers[0]}") ))"

for i in 0 1; do
  "$kavka" console-consumer --bootstrap-server "${brokers[$i]}" --topic "$topic" --from-beginning \
    --formatter-property print.offset=true --formatter-property print.key=true \
    --formatter-property null.literal=NULL \
    --timeout-ms 10000 2>/dev/null | sort -t: -k2 -n >"$work/read-$i.txt"
done
echo "run.sh: Kavka read $(wc -l <"$work/read-0.txt") records, Kafka $(wc -l <"$work/read-1.txt")" >&2
if diff -u --label kavka "$work/read-0.txt" --label kafka "$work/read-1.txt"; then
  echo "run.sh: same (offset, key, value) records on both after compaction" >&2
  cat "$work/read-0.txt"
  rc=0
fi
exit $rc
