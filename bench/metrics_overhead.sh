#!/usr/bin/env bash
# What scraping /metrics every second costs a producer: one Kavka broker with its
# HTTP listener on, and `kavka-bench produce` run ROUNDS times without and with
# `--scrape-url`, alternating, so both see the same machine noise.
#   bench/metrics_overhead.sh [ROUNDS] [RECORDS]
# Builds release binaries first (PROFILE=debug: the debug ones; SKIP_BUILD=1: none). Ports from KAVKA_TEST_PORTS=LO-HI (default
# 20000-31999). Prints one row per run; the TSV stays in the printed directory.
set -euo pipefail
ROUNDS=${1:-4}
RECORDS=${2:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PROFILE=${PROFILE:-release}
if [[ -n ${SKIP_BUILD:-} ]]; then
  :
elif [[ $PROFILE == release ]]; then
  cargo build --release -q -p kavka -p kavka-bench
else
  cargo build -q -p kavka-bench && cargo build -q -p kavka
fi
KAVKA="$ROOT/target/$PROFILE/kavka"
BENCH="$ROOT/target/$PROFILE/kavka-bench"
PORT_LO=20000
PORT_HI=31999
if [[ "${KAVKA_TEST_PORTS:-}" =~ ^([0-9]+)-([0-9]+)$ ]]; then
  PORT_LO="${BASH_REMATCH[1]}"
  PORT_HI="${BASH_REMATCH[2]}"
fi
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( PORT_LO + RANDOM % (PORT_HI - PORT_LO) ))
    if ! port_open "$p"; then echo "$p"; return 0; fi
  done
  echo "metrics_overhead.sh: no free port" >&2
  return 1
}
WORK=$(mktemp -d /tmp/kavka-metrics-bench.XXXXXX)
PORT=$(free_port)
HTTP=$(free_port)
"$KAVKA" broker --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
  --override "http.listeners=http://127.0.0.1:$HTTP" \
  --override "log.dirs=$WORK/data" >"$WORK/broker.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK/data"' EXIT
for _ in $(seq 1 150); do
  curl -sf "http://127.0.0.1:$HTTP/ready" >/dev/null && break
  sleep 0.2
done
echo "broker pid $PID on 127.0.0.1:$PORT, metrics on http://127.0.0.1:$HTTP/metrics; results in $WORK"
run() {
  "$BENCH" --bootstrap "127.0.0.1:$PORT" --broker-pid "$PID" --out "$WORK/results.tsv" \
    produce --records "$RECORDS" --record-size 100 --acks 1 "$@"
}
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  if (( round % 2 )); then
    run; run --scrape-url "http://127.0.0.1:$HTTP/metrics" --scrape-interval-ms 1000
  else
    run --scrape-url "http://127.0.0.1:$HTTP/metrics" --scrape-interval-ms 1000; run
  fi
done
"$BENCH" show "$WORK/results.tsv"
