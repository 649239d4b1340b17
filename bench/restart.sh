#!/usr/bin/env bash
# Restart time and memory with many partitions, Kavka beside Apache Kafka in one run
# (issue 11: 10,000 and 100,000 partitions).
#
#   bench/restart.sh [--partitions N] [--no-kafka] [--no-kavka] [--no-build]
#
# For each broker: start on an empty directory, create N partitions (topics of 10,
# 5 records of 100 B each), stop cleanly (SIGTERM), then time the start until a
# Metadata response names a broker ("startup (N partitions)"). For Kavka also a
# restart after kill -9 of that restarted broker (logs recovered, not trusted). The
# broker's peak RSS is read from /proc. Then one more start of each broker on its
# directory, left idle: its CPU over IDLE_SECONDS (default 30, after 15 s to settle),
# as a share of one core ("idle CPU with N partitions"; target: at most 1 %).
# Open-file and memory-map limits are raised for the brokers' processes only
# (prlimit), as an operator would for that many partitions.
#
# The brokers' directories go under TMPDIR (default /tmp): TMPDIR=/dev/shm measures
# the broker's own work without the disk's, and keeps the run's file-system syncs
# off a disk other processes share.
#
# Everything listens on 127.0.0.1; only processes this script started are stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PARTITIONS=10000
KAFKA=1
KAVKA_RUN=1
BUILD=1
while (($#)); do
  case "$1" in
    --partitions) PARTITIONS="$2"; shift ;;
    --no-kafka) KAFKA=0 ;;
    --no-kavka) KAVKA_RUN=0 ;;
    --no-build) BUILD=0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

if ((BUILD)); then
  cargo build --release -p kavka -p kavka-bench
fi
KAVKA="${KAVKA_BIN:-$ROOT/target/release/kavka}"
BENCH="$ROOT/target/release/kavka-bench"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kavka-restart-XXXX")"
HOST=127.0.0.1
FILES=$((PARTITIONS * 4 + 10000))
# Raise the brokers' open-file limit when this machine lets us (root with
# CAP_SYS_RESOURCE); otherwise they run at the hard limit (Kavka raises its soft
# limit to it by itself).
LIMIT=""
if prlimit --nofile="$FILES:$FILES" true 2>/dev/null; then
  LIMIT="prlimit --nofile=$FILES:$FILES "
fi
cleanup() {
  compat/kafka-ref.sh stop --dir "$WORK/kafka" > /dev/null 2>&1 || true
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT

# Ports from KAVKA_TEST_PORTS (LO-HI), default 20000-31999: never the ephemeral range.
RANGE="${KAVKA_TEST_PORTS:-20000-31999}"
PORT_LO="${RANGE%-*}"; PORT_HI="${RANGE#*-}"
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( PORT_LO + RANDOM % (PORT_HI - PORT_LO) ))
    if ! port_open "$p" && ! port_open "$((p + 1))"; then
      echo "$p"
      return 0
    fi
  done
  echo "restart.sh: no free port found" >&2
  return 1
}
TIMEOUT=$((600 + PARTITIONS / 50))
IDLE_SECONDS="${IDLE_SECONDS:-30}"

# CPU ticks (user + system) of a process, from /proc/PID/stat.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Starts `cmd` (which execs the broker) on its filled directory, waits for its port,
# lets it settle, then prints its CPU over IDLE_SECONDS as % of one core; stops it
# (SIGTERM, then SIGKILL after 60 s: only this process, by its PID).
idle_cpu() { # name port cmd
  bash -c "$3" &
  local pid=$! waited=0
  until port_open "$2"; do
    sleep 0.5; waited=$((waited + 1))
    if ((waited > TIMEOUT * 2)) || ! kill -0 "$pid" 2> /dev/null; then
      echo "## $1: idle CPU not measured (the broker did not start)"
      kill -9 "$pid" 2> /dev/null || true
      return 0
    fi
  done
  sleep 15
  local hz before after
  hz="$(getconf CLK_TCK)"
  before="$(cpu_ticks "$pid")"
  sleep "$IDLE_SECONDS"
  after="$(cpu_ticks "$pid")"
  echo "## $1: idle CPU with $PARTITIONS partitions, no clients, over ${IDLE_SECONDS} s"
  awk -v t=$((after - before)) -v hz="$hz" -v s="$IDLE_SECONDS" \
    'BEGIN { printf "%.2f %% of one core (%.2f s of CPU)\n", 100 * t / hz / s, t / hz }'
  kill -TERM "$pid" 2> /dev/null || true
  for _ in $(seq 1 120); do kill -0 "$pid" 2> /dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
}

echo "# restart with $PARTITIONS partitions ($(nproc) cores, $(date -u +%Y-%m-%d), open files: ${LIMIT:-hard limit $(ulimit -Hn)})"
if ((KAVKA_RUN)); then
port="$(free_port)"
kavka_cmd="exec $LIMIT'$KAVKA' broker --override http.listeners= \
--override listeners=PLAINTEXT://$HOST:$port --override log.dirs='$WORK/kavka' 2>>'$WORK/kavka.log'"
# prefill, clean stop, timed restart (stopped cleanly again)
"$BENCH" --bootstrap "$HOST:$port" --out "$WORK/kavka.tsv" startup --prefill-partitions "$PARTITIONS" \
  --timeout "$TIMEOUT" --start-cmd "$kavka_cmd" > /dev/null
grep -E "after SIGTERM|clean stop" "$WORK/kavka.log" | tail -2 || true
# a restart after that clean stop, this time ended by kill -9; then the restart after it
"$BENCH" --bootstrap "$HOST:$port" --out "$WORK/kavka-clean.tsv" startup \
  --timeout "$TIMEOUT" --stop-signal KILL --start-cmd "$kavka_cmd" > /dev/null
"$BENCH" --bootstrap "$HOST:$port" --out "$WORK/kavka-after-kill.tsv" startup \
  --timeout "$TIMEOUT" --start-cmd "$kavka_cmd" > /dev/null
echo "## Kavka: empty start, restart after a clean stop of $PARTITIONS partitions"
"$BENCH" show "$WORK/kavka.tsv"
echo "## Kavka: another restart after a clean stop (its 'startup (empty)' row)"
"$BENCH" show "$WORK/kavka-clean.tsv"
echo "## Kavka: restart after kill -9 (its 'startup (empty)' row: the directory holds $PARTITIONS partitions)"
"$BENCH" show "$WORK/kavka-after-kill.tsv"
idle_cpu Kavka "$port" "$kavka_cmd"

fi

if ((KAFKA)); then
  port="$(free_port)"
  compat/kafka-ref.sh start --port "$port" --dir "$WORK/kafka" --fresh > /dev/null
  compat/kafka-ref.sh stop --dir "$WORK/kafka" > /dev/null
  cp="$(compat/kafka-ref.sh classpath)"
  # Kafka memory-maps two index files per segment: raise the map count for it as
  # Kafka's documentation tells operators to (vm.max_map_count is system-wide, so
  # only if we may and it is lower).
  maps="$(cat /proc/sys/vm/max_map_count)"
  if ((maps < PARTITIONS * 3)) && [[ -w /proc/sys/vm/max_map_count ]]; then
    echo $((PARTITIONS * 3)) > /proc/sys/vm/max_map_count
    echo "(vm.max_map_count raised from $maps to $((PARTITIONS * 3)) for Kafka)"
  fi
  java_cmd="exec ${LIMIT}java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms256m} -server -XX:+UseG1GC \
-XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
-Djava.awt.headless=true -Dlog4j2.configurationFile='$ROOT/compat/kafka-ref/log4j2-server.properties' \
-cp '$cp' kafka.Kafka '$WORK/kafka/server.properties' >> '$WORK/kafka/server.log' 2>&1"
  "$BENCH" --bootstrap "$HOST:$port" --out "$WORK/kafka.tsv" startup --prefill-partitions "$PARTITIONS" \
    --timeout "$TIMEOUT" --start-cmd "$java_cmd" > /dev/null || true
  # Kafka's own stop of that many partitions may outlast the bench's 30 s (it is
  # then killed, and the row says so): time one more start on the same directory.
  "$BENCH" --bootstrap "$HOST:$port" --out "$WORK/kafka-again.tsv" startup \
    --timeout "$TIMEOUT" --start-cmd "$java_cmd" > /dev/null || true
  echo "## Apache Kafka 4.4.0: empty start, restart after a clean stop of $PARTITIONS partitions"
  "$BENCH" show "$WORK/kafka.tsv"
  echo "## Apache Kafka 4.4.0: one more start on that directory (its 'startup (empty)' row)"
  "$BENCH" show "$WORK/kafka-again.tsv"
  idle_cpu "Apache Kafka 4.4.0" "$port" "$java_cmd"
  if ((maps < PARTITIONS * 3)) && [[ -w /proc/sys/vm/max_map_count ]]; then
    echo "$maps" > /proc/sys/vm/max_map_count
  fi
fi
