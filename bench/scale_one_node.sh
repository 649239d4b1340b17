#!/usr/bin/env bash
# Runs bench/scale_one_node.py's two experiments against one Kavka broker started
# here on 127.0.0.1:$PORT with a fresh log dir on disk (not tmpfs: fsync must cost).
#   bench/scale_one_node.sh path/to/kavka [port]
set -euo pipefail
KAVKA=${1:?usage: $0 path/to/kavka [port]}
PORT=${2:-21900}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d "${SCALE_BENCH_DIR:-$HOME}/kavka-scale.XXXXXX")
"$KAVKA" broker --override "http.listeners=" --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
  --override "log.dirs=$DIR/logs" >"$DIR/broker.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do
  "$KAVKA" topics --bootstrap-server "127.0.0.1:$PORT" --list >/dev/null 2>&1 && break
  sleep 0.2
done
topic() { "$KAVKA" topics --bootstrap-server "127.0.0.1:$PORT" --create --replication-factor 1 "$@" >/dev/null; }
topic --topic idle --partitions 100
topic --topic busy --partitions 1
topic --topic slow --partitions 4 --config flush.messages=1
sleep 1
python3 "$HERE/scale_one_node.py" idle-fetch --bootstrap "127.0.0.1:$PORT" --broker-pid $PID \
  --connections 0 --partitions 100 --seconds ${SECONDS_PER_RUN:-10}
python3 "$HERE/scale_one_node.py" idle-fetch --bootstrap "127.0.0.1:$PORT" --broker-pid $PID \
  --connections 50 --partitions 100 --seconds ${SECONDS_PER_RUN:-10}
python3 "$HERE/scale_one_node.py" slow-disk --bootstrap "127.0.0.1:$PORT" \
  --connections 8 --partitions 4 --seconds ${SECONDS_PER_RUN:-10}
