#!/usr/bin/env bash
# Runs the same kavka-bench workloads against Kavka and against the reference
# Apache Kafka (compat/kafka-ref.sh), one after the other on this machine, and
# prints both result tables and the Kavka/Kafka ratios.
#
#   bench/compare.sh [--quick] [--no-build] [--compaction | --cluster | --txn | --scale | --tls]
#
# --quick       100k records per throughput workload, 5 s latency run, 200 prefill
#               partitions (with --cluster: also 2 failover trials instead of 5)
# --no-build    use the existing target/release binaries
# --compaction  only the log cleaner workload (1 M keyed 100 B records, 10 % unique
#               keys; cleaner MB/s and produce latency on another topic while it
#               runs vs idle), both brokers with log.cleaner.backoff.ms=100
# --cluster     3 nodes each: `kavka cluster up -n 3` (client ports from 30000)
#               against compat/kafka-ref-cluster.sh (fixed ports 19192-19194 and
#               19292-19294; waits while someone else's reference cluster holds
#               them). Both with default.replication.factor=3 and
#               min.insync.replicas=2: the `all` workloads at replication factor
#               3 with CPU and RSS per node, latency also at 5,000/s, then
#               `failover` (kill -9 of the partition leader under an acks=all
#               producer, node restarted between trials, every acknowledged
#               record read back)
# --txn         only the transactional workloads (`kavka-bench txn`: produce in
#               transactions of 100 records of 100 B, acks=all; read_uncommitted
#               and read_committed consume of a transactionally written topic);
#               the default run includes them after `all`. KAFKA_REF_PORT and
#               KAFKA_REF_DIR fix the reference broker's port and directory
# --scale       only `idle-connections` (5,000 connections that asked ApiVersions
#               once and stay silent, beside a producer/consumer pair at 5,000
#               records/s acks=all for 10 s: broker RSS per idle connection and
#               the pair's latency; --quick: 1,000 connections, 5 s),
#               `many-partitions` (1,000 topics x 10 partitions, 2,000 records/s
#               of 100 B acks=all spread over all of them for 10 s; --quick: 100
#               topics) and `consume` of 1 M records of 100 B with librdkafka's
#               defaults (--quick: 100k), `groups` (200 consumer groups x 2
#               members on one 6-partition topic: rebalance time per group and
#               in total, then end-to-end latency of 100 records/s in every
#               group for 10 s; --quick: 50 groups, 5 s). KAFKA_REF_PORT /
#               KAFKA_REF_DIR as for --txn
# --tls         each broker with a PLAINTEXT, an SSL and a SASL_SSL listener
#               (SCRAM-SHA-256, user made with Kafka's kafka-configs; one PKCS12 key
#               store made with openssl for this run): produce (acks 1 and all)
#               and consume of 300k records of 1,000 B (--quick: 50k;
#               TLS_RECORDS=N sets it) over each, after one unreported warm-up
#               round, in TLS_ROUNDS rounds (default 3, --quick 1) with the modes
#               interleaved, each figure the median over the rounds; the
#               TLS/plaintext and SASL_SSL/plaintext ratios per broker, then
#               Kavka/Kafka over each.
#               KAFKA_REF_PORT / KAFKA_REF_DIR as for --txn
#
# Everything listens on 127.0.0.1. Only processes this script started are
# stopped, by PID (Kafka through kafka-ref.sh / kafka-ref-cluster.sh, which
# check their own PID files; Kavka's cluster through `kavka cluster`, which
# signals only the PIDs in its cluster.json).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK=()
PREFILL=1000
BUILD=1
COMPACTION=0
CLUSTER=0
TXN_ONLY=0
SCALE_ONLY=0
TLS=0
TLS_RECORDS="${TLS_RECORDS:-}"
TLS_ROUNDS="${TLS_ROUNDS:-3}"
IDLE_CONNECTIONS=5000
CONSUMER_GROUPS=200
MANY_TOPICS=1000
CONSUME_RECORDS=1000000
TRIALS=5
LATENCY_SECONDS=10
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=(--quick); PREFILL=200; TRIALS=2; LATENCY_SECONDS=5
      IDLE_CONNECTIONS=1000; CONSUMER_GROUPS=50; MANY_TOPICS=100; CONSUME_RECORDS=100000
      TLS_RECORDS="${TLS_RECORDS:-50000}"; TLS_ROUNDS=1 ;;
    --no-build) BUILD=0 ;;
    --compaction) COMPACTION=1 ;;
    --cluster) CLUSTER=1 ;;
    --txn) TXN_ONLY=1 ;;
    --scale) SCALE_ONLY=1 ;;
    --tls) TLS=1 ;;
    -h|--help) sed -n '2,49p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
TLS_RECORDS="${TLS_RECORDS:-300000}"

HOST=127.0.0.1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kavka-compare.XXXXXX")"
# KAVKA_BIN / KAVKA_BENCH_BIN: other release binaries (then nothing is built).
BENCH="${KAVKA_BENCH_BIN:-$ROOT/target/release/kavka-bench}"
KAVKA="${KAVKA_BIN:-$ROOT/target/release/kavka}"
[[ -n "${KAVKA_BIN:-}${KAVKA_BENCH_BIN:-}" ]] && BUILD=0
KAVKA_PID=""
KAFKA_DIRS=()
KAVKA_CLUSTER_DIR=""
KAFKA_CLUSTER_DIR=""

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# A port that is free, and whose successor is free too (Kafka's controller).
# KAVKA_TEST_PORTS=LO-HI (a range reserved for this run) narrows the choice.
PORT_LO=20000
PORT_HI=31999
if [[ "${KAVKA_TEST_PORTS:-}" =~ ^([0-9]+)-([0-9]+)$ ]]; then
  PORT_LO="${BASH_REMATCH[1]}"
  PORT_HI="${BASH_REMATCH[2]}"
fi
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( PORT_LO + RANDOM % (PORT_HI - PORT_LO) ))
    if ! port_open "$p" && ! port_open "$((p + 1))"; then
      echo "$p"
      return 0
    fi
  done
  echo "compare.sh: no free port found" >&2
  return 1
}

stop_kavka() {
  [[ -n "$KAVKA_PID" ]] || return 0
  kill -TERM "$KAVKA_PID" 2>/dev/null || true
  wait "$KAVKA_PID" 2>/dev/null || true
  KAVKA_PID=""
}

cleanup() {
  stop_kavka
  local d
  for d in "${KAFKA_DIRS[@]}"; do
    compat/kafka-ref.sh stop --dir "$d" > /dev/null 2>&1 || true
  done
  if [[ -n "$KAVKA_CLUSTER_DIR" ]]; then
    "$KAVKA" cluster --dir "$KAVKA_CLUSTER_DIR" down --purge > /dev/null 2>&1 || true
  fi
  if [[ -n "$KAFKA_CLUSTER_DIR" ]]; then
    compat/kafka-ref-cluster.sh stop --dir "$KAFKA_CLUSTER_DIR" > /dev/null 2>&1 || true
    rm -rf "$KAFKA_CLUSTER_DIR"/node-*/data
  fi
  rm -rf "$WORK"/kavka-data "$WORK"/kavka-startup "$WORK"/kafka/data "$WORK"/kafka-startup/data
}
trap cleanup EXIT

wait_for_port() {
  local deadline=$(( $(date +%s) + 60 ))
  until port_open "$1"; do
    if (( $(date +%s) > deadline )); then
      echo "compare.sh: nothing listens on $1 after 60 s" >&2
      return 1
    fi
    sleep 0.05
  done
}

if [[ "$BUILD" == 1 ]]; then
  cargo build --release -p kavka -p kavka-bench
fi

echo "# kavka-bench compare, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "results and logs: $WORK"

if [[ "$CLUSTER" == 1 ]]; then
  # --- Kavka, 3 nodes ----------------------------------------------------------
  # Six ports per cluster (3 client, 3 controller), in our range 30000-30099.
  base=""
  for b in $(seq 30000 10 30090); do
    busy=0
    for p in $(seq "$b" $((b + 5))); do port_open "$p" && busy=1; done
    if [[ $busy == 0 ]]; then base=$b; break; fi
  done
  [[ -n "$base" ]] || { echo "compare.sh: no 6 free ports in 30000-30099" >&2; exit 1; }
  KAVKA_CLUSTER_DIR="$WORK/kavka-cluster"
  "$KAVKA" cluster --dir "$KAVKA_CLUSTER_DIR" up -n 3 --base-port "$base" \
    --property default.replication.factor=3 --property min.insync.replicas=2 \
    > "$WORK/kavka-cluster-up.log" 2>&1 \
    || { cat "$WORK/kavka-cluster-up.log" >&2; exit 1; }
  pids="$("$KAVKA" cluster --dir "$KAVKA_CLUSTER_DIR" status | awk 'NR > 1 && $2 != "-" {print $2}' | paste -sd,)"
  bootstrap="$HOST:$base,$HOST:$((base + 1)),$HOST:$((base + 2))"
  echo
  echo "## Kavka, 3 nodes (pids $pids, $bootstrap)"
  "$BENCH" --bootstrap "$bootstrap" --replication-factor 3 --broker-pid "$pids" \
    --out "$WORK/kavka.tsv" all "${QUICK[@]}" > /dev/null 2> "$WORK/kavka-bench.err" || true
  # A rate a 3-JVM Kafka also sustains on a small machine, so both latencies mean something.
  "$BENCH" --bootstrap "$bootstrap" --replication-factor 3 --broker-pid "$pids" \
    --out "$WORK/kavka.tsv" latency --rate 5000 --seconds "$LATENCY_SECONDS" \
    > /dev/null 2>> "$WORK/kavka-bench.err" || true
  "$BENCH" --bootstrap "$bootstrap" --replication-factor 3 --out "$WORK/kavka.tsv" failover \
    --trials "$TRIALS" \
    --kill-cmd "'$KAVKA' cluster --dir '$KAVKA_CLUSTER_DIR' kill {node}" \
    --restart-cmd "'$KAVKA' cluster --dir '$KAVKA_CLUSTER_DIR' start {node}" \
    > /dev/null 2>> "$WORK/kavka-bench.err" || true
  grep -h "failover" "$WORK/kavka-bench.err" || true
  # The nodes' logs stay with the results; the data goes.
  for n in 1 2 3; do
    cp "$KAVKA_CLUSTER_DIR/node-$n/broker.log" "$WORK/kavka-node-$n.log" 2>/dev/null || true
  done
  "$KAVKA" cluster --dir "$KAVKA_CLUSTER_DIR" down --purge > /dev/null
  KAVKA_CLUSTER_DIR=""
  "$BENCH" show "$WORK/kavka.tsv"

  # --- Apache Kafka, 3 nodes -----------------------------------------------------
  # The reference cluster's ports are fixed: if another run holds them, wait
  # for it to finish (bounded) rather than touch it.
  ref_ports=(19192 19193 19194 19292 19293 19294)
  deadline=$(( $(date +%s) + ${KAFKA_REF_WAIT:-1800} ))
  while :; do
    busy=""
    for p in "${ref_ports[@]}"; do port_open "$p" && busy+=" $p"; done
    [[ -z "$busy" ]] && break
    if (( $(date +%s) > deadline )); then
      echo "compare.sh: ports$busy still in use; someone else's reference cluster is running" >&2
      exit 1
    fi
    echo "compare.sh: ports$busy in use (another reference cluster); waiting" >&2
    sleep 30
  done
  KAFKA_CLUSTER_DIR="$WORK/kafka-cluster"
  started="$(compat/kafka-ref-cluster.sh start --dir "$KAFKA_CLUSTER_DIR" --fresh)"
  pids="$(sed -n 's/.*pids=\([0-9,]*\).*/\1/p' <<< "$started")"
  bootstrap="$(sed -n 's/.*bootstrap=\([^ ]*\).*/\1/p' <<< "$started")"
  echo
  echo "## Apache Kafka 4.4.0, 3 nodes (pids $pids, $bootstrap)"
  "$BENCH" --bootstrap "$bootstrap" --replication-factor 3 --broker-pid "$pids" \
    --out "$WORK/kafka.tsv" all "${QUICK[@]}" > /dev/null 2> "$WORK/kafka-bench.err" || true
  "$BENCH" --bootstrap "$bootstrap" --replication-factor 3 --broker-pid "$pids" \
    --out "$WORK/kafka.tsv" latency --rate 5000 --seconds "$LATENCY_SECONDS" \
    > /dev/null 2>> "$WORK/kafka-bench.err" || true
  "$BENCH" --bootstrap "$bootstrap" --replication-factor 3 --out "$WORK/kafka.tsv" failover \
    --trials "$TRIALS" \
    --kill-cmd "'$ROOT/compat/kafka-ref-cluster.sh' kill {node} --dir '$KAFKA_CLUSTER_DIR'" \
    --restart-cmd "'$ROOT/compat/kafka-ref-cluster.sh' start-node {node} --dir '$KAFKA_CLUSTER_DIR'" \
    > /dev/null 2>> "$WORK/kafka-bench.err" || true
  grep -h "failover" "$WORK/kafka-bench.err" || true
  compat/kafka-ref-cluster.sh stop --dir "$KAFKA_CLUSTER_DIR" > /dev/null
  # The nodes' server.log files stay; the data goes.
  rm -rf "$KAFKA_CLUSTER_DIR"/node-*/data
  KAFKA_CLUSTER_DIR=""
  "$BENCH" show "$WORK/kafka.tsv"

  echo
  echo "## Kavka / Kafka, 3 nodes each (same run, same machine; > 1 is better for records/s, < 1 for the rest)"
  "$BENCH" compare --a-name Kavka "$WORK/kavka.tsv" --b-name Kafka "$WORK/kafka.tsv"
  exit 0
fi

if [[ "$COMPACTION" == 1 ]]; then
  # The cleaner must look often, or its idle backoff is timed as cleaning.
  port="$(free_port)"
  "$KAVKA" broker --override "http.listeners=" --override "listeners=PLAINTEXT://$HOST:$port" \
    --override "log.dirs=$WORK/kavka-data" --override log.cleaner.backoff.ms=100 \
    > "$WORK/kavka.log" 2>&1 &
  KAVKA_PID=$!
  wait_for_port "$port"
  echo
  echo "## Kavka (pid $KAVKA_PID, $HOST:$port)"
  "$BENCH" --bootstrap "$HOST:$port" --broker-pid "$KAVKA_PID" --out "$WORK/kavka.tsv" \
    compaction --log-dir "$WORK/kavka-data" > /dev/null 2> "$WORK/kavka-bench.err" || true
  grep "MB of closed" "$WORK/kavka-bench.err" || true
  stop_kavka
  "$BENCH" show "$WORK/kavka.tsv"

  port="$(free_port)"
  KAFKA_DIRS+=("$WORK/kafka")
  started="$(compat/kafka-ref.sh start --port "$port" --dir "$WORK/kafka" --fresh \
    --override log.cleaner.backoff.ms=100)"
  kafka_pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<< "$started")"
  echo
  echo "## Apache Kafka 4.4.0 (pid $kafka_pid, $HOST:$port)"
  "$BENCH" --bootstrap "$HOST:$port" --broker-pid "$kafka_pid" --out "$WORK/kafka.tsv" \
    compaction --log-dir "$WORK/kafka/data" > /dev/null 2> "$WORK/kafka-bench.err" || true
  grep "MB of closed" "$WORK/kafka-bench.err" || true
  compat/kafka-ref.sh stop --dir "$WORK/kafka" > /dev/null
  "$BENCH" show "$WORK/kafka.tsv"
  echo
  echo "## Kavka / Kafka (same run, same machine; > 1 is better for MB/s, < 1 for latency)"
  "$BENCH" compare --a-name Kavka "$WORK/kavka.tsv" --b-name Kafka "$WORK/kafka.tsv"
  exit 0
fi

if [[ "$SCALE_ONLY" == 1 ]]; then
  scale_workloads() { # bootstrap pid out err
    "$BENCH" --bootstrap "$1" --broker-pid "$2" --out "$3" idle-connections \
      --connections "$IDLE_CONNECTIONS" --rate 5000 --seconds "$LATENCY_SECONDS" \
      > /dev/null 2> "$4" || true
    "$BENCH" --bootstrap "$1" --broker-pid "$2" --out "$3" consume \
      --records "$CONSUME_RECORDS" --record-size 100 > /dev/null 2>> "$4" || true
    "$BENCH" --bootstrap "$1" --broker-pid "$2" --out "$3" groups \
      --groups "$CONSUMER_GROUPS" --members 2 --partitions 6 --rate 100 --seconds "$LATENCY_SECONDS" \
      > /dev/null 2>> "$4" || true
    # Last: its 10,000 partitions stay on the broker.
    "$BENCH" --bootstrap "$1" --broker-pid "$2" --out "$3" many-partitions \
      --topics "$MANY_TOPICS" --partitions 10 --rate 2000 --seconds "$LATENCY_SECONDS" \
      > /dev/null 2>> "$4" || true
  }
  port="$(free_port)"
  "$KAVKA" broker --override "http.listeners=" --override "listeners=PLAINTEXT://$HOST:$port" \
    --override "log.dirs=$WORK/kavka-data" > "$WORK/kavka.log" 2>&1 &
  KAVKA_PID=$!
  wait_for_port "$port"
  echo
  echo "## Kavka (pid $KAVKA_PID, $HOST:$port)"
  scale_workloads "$HOST:$port" "$KAVKA_PID" "$WORK/kavka.tsv" "$WORK/kavka-bench.err"
  stop_kavka
  "$BENCH" show "$WORK/kavka.tsv"

  port="${KAFKA_REF_PORT:-$(free_port)}"
  kafka_dir="${KAFKA_REF_DIR:-$WORK/kafka}"
  KAFKA_DIRS+=("$kafka_dir")
  started="$(compat/kafka-ref.sh start --port "$port" --controller-port "$((port + 1))" \
    --dir "$kafka_dir" --fresh)"
  kafka_pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<< "$started")"
  echo
  echo "## Apache Kafka 4.4.0 (pid $kafka_pid, $HOST:$port)"
  scale_workloads "$HOST:$port" "$kafka_pid" "$WORK/kafka.tsv" "$WORK/kafka-bench.err"
  compat/kafka-ref.sh stop --dir "$kafka_dir" > /dev/null
  rm -rf "$kafka_dir/data"
  "$BENCH" show "$WORK/kafka.tsv"
  echo
  echo "## Kavka / Kafka (same run, same machine; > 1 is better for records/s, < 1 for RSS and latency)"
  "$BENCH" compare --a-name Kavka "$WORK/kavka.tsv" --b-name Kafka "$WORK/kafka.tsv"
  exit 0
fi

if [[ "$TLS" == 1 ]]; then
  # Certificates for this run only (openssl CLI), in the run's directory: a CA, and
  # a broker certificate for 127.0.0.1/localhost in a PKCS12 key store that both
  # brokers read; clients trust the CA's PEM.
  tls="$WORK/tls"
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=compare CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2> /dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=broker" \
    -keyout "$tls/broker.key" -out "$tls/broker.csr" 2> /dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tls/san.ext"
  openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 2 -extfile "$tls/san.ext" -out "$tls/broker.pem" 2> /dev/null
  openssl pkcs12 -export -inkey "$tls/broker.key" -in "$tls/broker.pem" -certfile "$tls/ca.pem" \
    -name broker -passout pass:compare -out "$tls/broker.p12"
  ssl_props=(
    "ssl.keystore.type=PKCS12" "ssl.keystore.location=$tls/broker.p12"
    "ssl.keystore.password=compare" "ssl.key.password=compare"
    "ssl.truststore.type=PEM" "ssl.truststore.location=$tls/ca.pem"
  )
  # SASL_SSL: SCRAM-SHA-256 on the same key store.
  ssl_props+=(
    "sasl.enabled.mechanisms=SCRAM-SHA-256"
    "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  )
  client_tls=(--client-config security.protocol=ssl --client-config "ssl.ca.location=$tls/ca.pem")
  client_sasl=(--client-config security.protocol=sasl_ssl --client-config "ssl.ca.location=$tls/ca.pem"
    --client-config sasl.mechanism=SCRAM-SHA-256 --client-config sasl.username=bench
    --client-config sasl.password=bench-secret)
  add_scram_user() { # plain-bootstrap
    compat/kafka-tool.sh kafka-configs --bootstrap-server "$1" --alter --entity-type users \
      --entity-name bench --add-config 'SCRAM-SHA-256=[iterations=4096,password=bench-secret]' > /dev/null
  }
  tls_round() { # name plain-bootstrap ssl-bootstrap pid sasl-ssl-bootstrap records out-suffix
    local name=$1
    for mode in plain tls sasl_ssl; do
      local bootstrap=$2 extra=()
      if [[ $mode == tls ]]; then bootstrap=$3; extra=("${client_tls[@]}"); fi
      if [[ $mode == sasl_ssl ]]; then bootstrap=$5; extra=("${client_sasl[@]}"); fi
      for acks in 1 all; do
        "$BENCH" --bootstrap "$bootstrap" --broker-pid "$4" "${extra[@]}" \
          --out "$WORK/$name-$mode$7.tsv" produce --records "$6" --record-size 1000 --acks "$acks" \
          > /dev/null 2>> "$WORK/$name-bench.err" || true
      done
      "$BENCH" --bootstrap "$bootstrap" --broker-pid "$4" "${extra[@]}" \
        --out "$WORK/$name-$mode$7.tsv" consume --records "$6" --record-size 1000 \
        > /dev/null 2>> "$WORK/$name-bench.err" || true
    done
  }
  # One unreported warm-up round (a JVM's first minute runs partly interpreted, and
  # whichever mode ran first would pay for it), then TLS_ROUNDS rounds with the
  # modes interleaved; the tables take each workload's median over the rounds.
  tls_workloads() { # name plain-bootstrap ssl-bootstrap pid sasl-ssl-bootstrap
    tls_round "$@" "$((TLS_RECORDS / 3))" -warmup
    for ((round = 1; round <= TLS_ROUNDS; round++)); do
      tls_round "$@" "$TLS_RECORDS" ""
    done
  }
  port="$(free_port)"
  ssl_port="$(free_port)"
  sasl_port="$(free_port)"
  overrides=()
  for p in "${ssl_props[@]}"; do overrides+=(--override "$p"); done
  "$KAVKA" broker --override "http.listeners=" \
    --override "listeners=PLAINTEXT://$HOST:$port,SSL://$HOST:$ssl_port,SASL_SSL://$HOST:$sasl_port" \
    --override "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL" "${overrides[@]}" \
    --override "log.dirs=$WORK/kavka-data" > "$WORK/kavka.log" 2>&1 &
  KAVKA_PID=$!
  wait_for_port "$port"
  wait_for_port "$ssl_port"
  wait_for_port "$sasl_port"
  add_scram_user "$HOST:$port"
  echo
  echo "## Kavka (pid $KAVKA_PID, PLAINTEXT $HOST:$port, SSL $HOST:$ssl_port, SASL_SSL $HOST:$sasl_port)"
  tls_workloads kavka "$HOST:$port" "$HOST:$ssl_port" "$KAVKA_PID" "$HOST:$sasl_port"
  stop_kavka
  "$BENCH" compare --a-name TLS "$WORK/kavka-tls.tsv" --b-name plaintext "$WORK/kavka-plain.tsv"
  "$BENCH" compare --a-name SASL_SSL "$WORK/kavka-sasl_ssl.tsv" --b-name plaintext "$WORK/kavka-plain.tsv"

  port="${KAFKA_REF_PORT:-$(free_port)}"
  ssl_port="$(free_port)"
  sasl_port="$(free_port)"
  kafka_dir="${KAFKA_REF_DIR:-$WORK/kafka}"
  KAFKA_DIRS+=("$kafka_dir")
  overrides=()
  for p in "${ssl_props[@]}"; do overrides+=(--override "$p"); done
  started="$(compat/kafka-ref.sh start --port "$port" --controller-port "$((port + 1))" \
    --dir "$kafka_dir" --fresh \
    --override "listeners=PLAINTEXT://$HOST:$port,SSL://$HOST:$ssl_port,SASL_SSL://$HOST:$sasl_port,CONTROLLER://$HOST:$((port + 1))" \
    --override "advertised.listeners=PLAINTEXT://$HOST:$port,SSL://$HOST:$ssl_port,SASL_SSL://$HOST:$sasl_port" \
    --override "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL" \
    "${overrides[@]}")"
  kafka_pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<< "$started")"
  add_scram_user "$HOST:$port"
  echo
  echo "## Apache Kafka 4.4.0 (pid $kafka_pid, PLAINTEXT $HOST:$port, SSL $HOST:$ssl_port, SASL_SSL $HOST:$sasl_port)"
  tls_workloads kafka "$HOST:$port" "$HOST:$ssl_port" "$kafka_pid" "$HOST:$sasl_port"
  compat/kafka-ref.sh stop --dir "$kafka_dir" > /dev/null
  rm -rf "$kafka_dir/data"
  "$BENCH" compare --a-name TLS "$WORK/kafka-tls.tsv" --b-name plaintext "$WORK/kafka-plain.tsv"
  "$BENCH" compare --a-name SASL_SSL "$WORK/kafka-sasl_ssl.tsv" --b-name plaintext "$WORK/kafka-plain.tsv"

  echo
  echo "## Over TLS: Kavka / Kafka (same run, same machine; > 1 is better for records/s, < 1 for CPU and RSS)"
  "$BENCH" compare --a-name Kavka "$WORK/kavka-tls.tsv" --b-name Kafka "$WORK/kafka-tls.tsv"
  echo
  echo "## Over SASL_SSL (SCRAM-SHA-256): Kavka / Kafka"
  "$BENCH" compare --a-name Kavka "$WORK/kavka-sasl_ssl.tsv" --b-name Kafka "$WORK/kafka-sasl_ssl.tsv"
  echo
  echo "## Plaintext: Kavka / Kafka"
  "$BENCH" compare --a-name Kavka "$WORK/kavka-plain.tsv" --b-name Kafka "$WORK/kafka-plain.tsv"
  exit 0
fi

if [[ "$TXN_ONLY" == 1 ]]; then
  port="$(free_port)"
  "$KAVKA" broker --override "http.listeners=" --override "listeners=PLAINTEXT://$HOST:$port" \
    --override "log.dirs=$WORK/kavka-data" > "$WORK/kavka.log" 2>&1 &
  KAVKA_PID=$!
  wait_for_port "$port"
  echo
  echo "## Kavka (pid $KAVKA_PID, $HOST:$port)"
  "$BENCH" --bootstrap "$HOST:$port" --broker-pid "$KAVKA_PID" --out "$WORK/kavka.tsv" \
    txn "${QUICK[@]}" > /dev/null 2> "$WORK/kavka-bench.err" || true
  stop_kavka
  "$BENCH" show "$WORK/kavka.tsv"

  # KAFKA_REF_PORT / KAFKA_REF_DIR: a port (its successor is the controller's)
  # and directory reserved for this run's reference broker.
  port="${KAFKA_REF_PORT:-$(free_port)}"
  kafka_dir="${KAFKA_REF_DIR:-$WORK/kafka}"
  KAFKA_DIRS+=("$kafka_dir")
  started="$(compat/kafka-ref.sh start --port "$port" --controller-port "$((port + 1))" \
    --dir "$kafka_dir" --fresh)"
  kafka_pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<< "$started")"
  echo
  echo "## Apache Kafka 4.4.0 (pid $kafka_pid, $HOST:$port)"
  "$BENCH" --bootstrap "$HOST:$port" --broker-pid "$kafka_pid" --out "$WORK/kafka.tsv" \
    txn "${QUICK[@]}" > /dev/null 2> "$WORK/kafka-bench.err" || true
  compat/kafka-ref.sh stop --dir "$kafka_dir" > /dev/null
  rm -rf "$kafka_dir/data"
  "$BENCH" show "$WORK/kafka.tsv"
  echo
  echo "## Kavka / Kafka (same run, same machine; > 1 is better for records/s, < 1 for CPU and RSS)"
  "$BENCH" compare --a-name Kavka "$WORK/kavka.tsv" --b-name Kafka "$WORK/kafka.tsv"
  exit 0
fi

# --- Kavka -----------------------------------------------------------------
port="$(free_port)"
"$KAVKA" broker --override "http.listeners=" --override "listeners=PLAINTEXT://$HOST:$port" \
  --override "log.dirs=$WORK/kavka-data" > "$WORK/kavka.log" 2>&1 &
KAVKA_PID=$!
wait_for_port "$port"
echo
echo "## Kavka (pid $KAVKA_PID, $HOST:$port)"
"$BENCH" --bootstrap "$HOST:$port" --broker-pid "$KAVKA_PID" --out "$WORK/kavka.tsv" all "${QUICK[@]}" > /dev/null || true
"$BENCH" --bootstrap "$HOST:$port" --broker-pid "$KAVKA_PID" --out "$WORK/kavka.tsv" txn "${QUICK[@]}" > /dev/null || true
stop_kavka

port="$(free_port)"
"$BENCH" --bootstrap "$HOST:$port" --out "$WORK/kavka.tsv" startup --prefill-partitions "$PREFILL" \
  --start-cmd "exec '$KAVKA' broker --override http.listeners= --override listeners=PLAINTEXT://$HOST:$port --override log.dirs='$WORK/kavka-startup' 2>>'$WORK/kavka-startup.log'" \
  > /dev/null || true
"$BENCH" show "$WORK/kavka.tsv"

# --- Apache Kafka ----------------------------------------------------------
port="$(free_port)"
KAFKA_DIRS+=("$WORK/kafka")
started="$(compat/kafka-ref.sh start --port "$port" --dir "$WORK/kafka" --fresh)"
kafka_pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<< "$started")"
echo
echo "## Apache Kafka 4.4.0 (pid $kafka_pid, $HOST:$port)"
"$BENCH" --bootstrap "$HOST:$port" --broker-pid "$kafka_pid" --out "$WORK/kafka.tsv" all "${QUICK[@]}" > /dev/null || true
"$BENCH" --bootstrap "$HOST:$port" --broker-pid "$kafka_pid" --out "$WORK/kafka.tsv" txn "${QUICK[@]}" > /dev/null || true
compat/kafka-ref.sh stop --dir "$WORK/kafka" > /dev/null

# Kafka needs a formatted log dir; kafka-ref.sh formats one (and starts and
# stops the broker once). The timed starts use the same JVM flags, in the foreground.
port="$(free_port)"
KAFKA_DIRS+=("$WORK/kafka-startup")
compat/kafka-ref.sh start --port "$port" --dir "$WORK/kafka-startup" --fresh > /dev/null
compat/kafka-ref.sh stop --dir "$WORK/kafka-startup" > /dev/null
cp="$(compat/kafka-ref.sh classpath)"
java_cmd="exec java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms256m} -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
-Dlog4j2.configurationFile='$ROOT/compat/kafka-ref/log4j2-server.properties' -cp '$cp' \
kafka.Kafka '$WORK/kafka-startup/server.properties' >> '$WORK/kafka-startup/server.log' 2>&1"
"$BENCH" --bootstrap "$HOST:$port" --out "$WORK/kafka.tsv" startup --prefill-partitions "$PREFILL" \
  --start-cmd "$java_cmd" > /dev/null || true
"$BENCH" show "$WORK/kafka.tsv"

# --- Ratios ------------------------------------------------------------------
echo
echo "## Kavka / Kafka (same run, same machine; < 1 is better for CPU, RSS, latency and startup)"
"$BENCH" compare --a-name Kavka "$WORK/kavka.tsv" --b-name Kafka "$WORK/kafka.tsv"
