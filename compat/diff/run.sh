#!/usr/bin/env bash
# Differential checks: starts the reference Kafka (compat/kafka-ref.sh) and Kavka
# (target/debug/kavka) on free ports with the same settings, runs kavka-diff
# against both, and stops both by PID.
#
#   compat/diff/run.sh [-- KAVKA_DIFF_ARGS...]     e.g. -- --only group --verbose
#
# Prints the difference table; exits non-zero when a difference is not listed
# in compat/diff/allowed-differences.txt. Broker logs are kept on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"
extra=()
if [[ "${1:-}" == -- ]]; then shift; extra=("$@"); fi

# Settings both brokers get. Kafka's defaults otherwise (auto.create.topics.enable=true,
# num.partitions=1, offsets.topic.num.partitions=50, message.max.bytes=1048588).
common=(
  num.partitions=1
  default.replication.factor=1
  auto.create.topics.enable=true
  offsets.topic.num.partitions=50
  group.initial.rebalance.delay.ms=0
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

work="$(mktemp -d "${TMPDIR:-/tmp}/kavka-diff-XXXXXX")"
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
  # Data dirs always go; the broker logs stay when the run failed.
  rm -rf "$work/kavka-data" ${ref_dir:+"$ref_dir/data"}
  if [[ $rc -eq 0 ]]; then
    rm -rf "$work" ${ref_dir:+"$ref_dir"}
  else
    echo "run.sh: broker logs kept: $work/kavka.log ${ref_dir:+$ref_dir/server.log}" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cargo build -q --manifest-path "$root/Cargo.toml" -p kavka -p kavka-compat

kport="$(free_port)"
overrides=()
for kv in "${common[@]}"; do overrides+=(--override "$kv"); done
echo "run.sh: starting Kavka on 127.0.0.1:$kport" >&2
"$root/target/debug/kavka" broker --override "http.listeners=" --override "listeners=PLAINTEXT://127.0.0.1:$kport" \
  --override "log.dirs=$work/kavka-data" "${overrides[@]}" >"$work/kavka.log" 2>&1 &
kavka_pid=$!

rport="$(free_port)"
while [[ "$rport" == "$kport" || "$((rport + 1))" == "$kport" ]]; do rport="$(free_port)"; done
ref_dir="${TMPDIR:-/tmp}/kavka-diff-ref-$rport"
echo "run.sh: starting reference Kafka on 127.0.0.1:$rport" >&2
"$compat/kafka-ref.sh" start --port "$rport" --dir "$ref_dir" --fresh "${overrides[@]}" >&2

for _ in $(seq 1 100); do port_busy "$kport" && break; sleep 0.1; done
port_busy "$kport" || { cat "$work/kavka.log" >&2; echo "run.sh: Kavka did not start" >&2; exit 1; }

set +e
"$root/target/debug/kavka-diff" --a "127.0.0.1:$kport" --b "127.0.0.1:$rport" \
  --allowed "$here/allowed-differences.txt" ${extra[@]+"${extra[@]}"}
rc=$?
set -e
exit $rc
