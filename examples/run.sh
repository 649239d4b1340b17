#!/usr/bin/env bash
# Runs every example's check against a broker and prints each example's numbers.
#
#   examples/run.sh [--bootstrap H:P | --kavka | --reference] [--require-transactions]
#                   [--no-broker-kill] [--only NAME,...]
#
#   --bootstrap H:P  a running broker (default: $KAVKA_BOOTSTRAP or 127.0.0.1:9092)
#   --kavka          start a fresh Kavka ($KAVKA_BIN, else target/debug/kavka, built
#                    if missing) on a free port in a temp dir;
#                    for the broker-kill check also a 3-node `kavka cluster`
#   --reference      the same with Apache Kafka (compat/kafka-ref.sh, and
#                    compat/kafka-ref-cluster.sh for the broker-kill check)
#   --require-transactions
#                    fail the exactly-once checks on a broker without transactions
#                    (by default they are skipped there: ApiVersions lacks EndTxn)
#   --no-broker-kill leave out the broker-kill check (it needs --kavka or --reference)
#   --only NAMES     run only these checks: delivery, eos, eos-unsafe, java-eos, retry,
#                    json, broker-kill
#
# Ports come from KAVKA_TEST_PORTS=LOW-HIGH (default 20000-31999). The Python venv lives
# outside the repo: ${KAVKA_CACHE:-$HOME/.cache/kavka}/examples-venv, re-installed when
# python/requirements.txt changes. Ends with "N passed, N failed, N skipped" and exits
# non-zero when a check failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

bootstrap="${KAVKA_BOOTSTRAP:-127.0.0.1:9092}"
mode=bootstrap
require_txn=0
broker_kill=1
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) bootstrap="${2:?--bootstrap needs H:P}"; shift 2 ;;
    --bootstrap=*) bootstrap="${1#*=}"; shift ;;
    --kavka) mode=kavka; shift ;;
    --reference) mode=reference; shift ;;
    --require-transactions) require_txn=1; shift ;;
    --no-broker-kill) broker_kill=0; shift ;;
    --only) only="${2:?--only needs names}"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

wanted() { [[ -z "$only" || ",$only," == *",$1,"* ]]; }

# --- ports -------------------------------------------------------------------------
range="${KAVKA_TEST_PORTS:-20000-31999}"
port_lo="${range%-*}"
port_hi="${range#*-}"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A base port b with b..b+$1-1 free, inside the range.
free_ports() {
  local need="$1" b i ok
  for _ in $(seq 1 100); do
    b=$(( port_lo + RANDOM % (port_hi - port_lo - need + 2) )); ok=1
    for ((i = 0; i < need; i++)); do port_busy "$((b + i))" && { ok=0; break; }; done
    [[ $ok -eq 1 ]] && { echo "$b"; return 0; }
  done
  echo "run.sh: no $need free ports in $range" >&2
  return 1
}

# --- what we start, and stop on exit --------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/kavka-examples-XXXXXX")"
kavka_pid=""
kavka_cluster=""
ref_dir=""
ref_cluster=""
stop_brokers() {
  if [[ -n "$kavka_pid" ]]; then
    kill -TERM "$kavka_pid" 2>/dev/null || true
    wait "$kavka_pid" 2>/dev/null || true
    kavka_pid=""
  fi
  if [[ -n "$kavka_cluster" ]]; then
    "$kavka_bin" cluster --dir "$kavka_cluster" down --purge >/dev/null 2>&1 || true
    kavka_cluster=""
  fi
  if [[ -n "$ref_dir" ]]; then
    "$root/compat/kafka-ref.sh" stop --dir "$ref_dir" >/dev/null 2>&1 || true
    ref_dir=""
  fi
  if [[ -n "$ref_cluster" ]]; then
    "$root/compat/kafka-ref-cluster.sh" stop --dir "$ref_cluster" >/dev/null 2>&1 || true
    ref_cluster=""
  fi
}
cleanup() {
  stop_brokers
  if [[ "${EXAMPLES_KEEP_DIR:-0}" == 1 ]]; then
    echo "run.sh: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kavka_bin=""
find_kavka() {
  # The debug build, as every compat suite uses: it is what `./test.sh` just
  # built, where a release binary may be left over from an older checkout.
  if [[ -n "${KAVKA_BIN:-}" ]]; then kavka_bin="$KAVKA_BIN"
  else
    kavka_bin="$root/target/debug/kavka"
    [[ -x "$kavka_bin" ]] || cargo build -q --manifest-path "$root/Cargo.toml" -p kavka
  fi
}

# Every start is tried up to three times on fresh ports: a port that nothing listens on
# can still be taken by an outgoing connection (ranges above 32767 overlap Linux's
# ephemeral ports), and the broker then fails to bind.
try3() {
  local i
  for i in 1 2 3; do
    "$@" && return 0
    stop_brokers
    [[ $i -lt 3 ]] && echo "run.sh: $1 failed; trying other ports" >&2
  done
  return 1
}

start_kavka() {
  local port
  port="$(free_ports 1)" || return 1
  echo "run.sh: starting Kavka ($kavka_bin) on 127.0.0.1:$port" >&2
  rm -rf "$work/kavka"
  "$kavka_bin" broker --override "http.listeners=" --override "listeners=PLAINTEXT://127.0.0.1:$port" \
    --override "log.dirs=$work/kavka/data" >"$work/kavka.log" 2>&1 &
  kavka_pid=$!
  for _ in $(seq 1 100); do port_busy "$port" && break; sleep 0.1; done
  if ! kill -0 "$kavka_pid" 2>/dev/null || ! port_busy "$port"; then
    tail -n 20 "$work/kavka.log" >&2
    echo "run.sh: Kavka did not start" >&2
    return 1
  fi
  bootstrap="127.0.0.1:$port"
}

start_reference() {
  local port
  port="$(free_ports 2)" || return 1
  ref_dir="$work/kafka-ref"
  echo "run.sh: starting Apache Kafka on 127.0.0.1:$port" >&2
  "$root/compat/kafka-ref.sh" start --port "$port" --controller-port "$((port + 1))" \
    --dir "$ref_dir" --fresh >&2 || return 1
  bootstrap="127.0.0.1:$port"
}

# Three nodes for the broker-kill check; sets cluster_bootstrap, kill_cmd, restart_cmd.
start_cluster() {
  local base
  base="$(free_ports 6)" || return 1
  if [[ "$mode" == kavka ]]; then
    kavka_cluster="$work/cluster"
    rm -rf "$kavka_cluster"
    echo "run.sh: starting a 3-node Kavka on 127.0.0.1:$base-$((base + 2))" >&2
    "$kavka_bin" cluster --dir "$kavka_cluster" up -n 3 --base-port "$base" --timeout 60 \
      --property default.replication.factor=3 --property min.insync.replicas=2 \
      --property offsets.topic.replication.factor=3 >&2 || return 1
    cluster_bootstrap="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
    kill_cmd="'$kavka_bin' cluster --dir '$kavka_cluster' kill {node}"
    restart_cmd="'$kavka_bin' cluster --dir '$kavka_cluster' start {node}"
  else
    ref_cluster="$work/kafka-ref-cluster"
    echo "run.sh: starting a 3-node Apache Kafka on 127.0.0.1:$base-$((base + 2))" >&2
    if ! "$root/compat/kafka-ref-cluster.sh" start --port "$base" --controller-port "$((base + 3))" \
        --dir "$ref_cluster" --fresh --override min.insync.replicas=2 >&2; then
      grep -h ERROR "$ref_cluster"/node-*/server.log 2>/dev/null | tail -n 5 >&2
      return 1
    fi
    cluster_bootstrap="$("$root/compat/kafka-ref-cluster.sh" bootstrap --dir "$ref_cluster")" || return 1
    kill_cmd="'$root/compat/kafka-ref-cluster.sh' kill {node} --dir '$ref_cluster'"
    restart_cmd="'$root/compat/kafka-ref-cluster.sh' start-node {node} --dir '$ref_cluster'"
  fi
}

# --- the Python venv ----------------------------------------------------------------
venv="${KAVKA_CACHE:-$HOME/.cache/kavka}/examples-venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/python/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "run.sh: creating venv $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/python/requirements.txt" >&2
  echo "$want" > "$stamp"
fi
py="$venv/bin/python"

# --- the checks -----------------------------------------------------------------------
results=()
passed=0
failed=0
skipped=0
started_all=$SECONDS

# check NAME EXPECT CMD...: runs CMD (its numbers go to stdout); EXPECT is "pass", or
# "fail" for a negative control whose verifier must catch the damage.
check() {
  local name="$1" expect="$2" rc t0=$SECONDS
  shift 2
  echo
  echo "=== $name"
  set +e
  timeout -k 10 300 "$@" 2>"$work/$name.stderr"
  rc=$?
  set -e
  if [[ $rc -ne 0 && $rc -ne 1 ]] || [[ -s "$work/$name.stderr" && $rc -ne 0 ]]; then
    tail -n 15 "$work/$name.stderr" | sed 's/^/    stderr: /'
  fi
  if { [[ "$expect" == pass && $rc -eq 0 ]]; } || { [[ "$expect" == fail && $rc -eq 1 ]]; }; then
    passed=$((passed + 1)); results+=("ok       $name ($((SECONDS - t0)) s)")
  else
    failed=$((failed + 1)); results+=("FAILED   $name (exit $rc, $((SECONDS - t0)) s)")
  fi
}

skip() {
  echo
  echo "=== $1: skipped ($2)"
  skipped=$((skipped + 1)); results+=("skipped  $1: $2")
}

[[ "$mode" == kavka ]] && find_kavka
# The single broker serves every check but the broker-kill one.
if [[ -z "$only" || "$only" != broker-kill ]]; then
  case "$mode" in
    kavka) try3 start_kavka || { echo "run.sh: Kavka did not start" >&2; exit 1; } ;;
    reference) try3 start_reference || { echo "run.sh: Apache Kafka did not start" >&2; exit 1; } ;;
  esac
fi
echo "run.sh: bootstrap=$bootstrap" >&2

has_txn=0
if [[ "$only" != broker-kill ]]; then
  set +e
  "$py" "$here/python/common.py" has-transactions "$bootstrap"
  case $? in
    0) has_txn=1 ;;
    1) ;;
    *) echo "run.sh: no broker answers at $bootstrap" >&2; exit 1 ;;
  esac
  set -e
fi
txn_flag=()
[[ $require_txn -eq 1 ]] && txn_flag=(--require-transactions)
no_txn_reason="the broker does not advertise transactions (EndTxn)"

cd "$here/python"
if wanted delivery; then
  check delivery_semantics pass "$py" delivery_semantics.py --bootstrap "$bootstrap" ${txn_flag[@]+"${txn_flag[@]}"}
fi
if wanted eos; then
  if [[ $has_txn -eq 1 ]]; then
    check eos_pipeline pass "$py" eos_pipeline.py --bootstrap "$bootstrap"
  elif [[ $require_txn -eq 1 ]]; then
    check eos_pipeline pass "$py" eos_pipeline.py --bootstrap "$bootstrap" --require-transactions
  else
    skip eos_pipeline "$no_txn_reason"
  fi
fi
if wanted eos-unsafe; then
  # The verifier's negative control: without the transaction it must find duplicates.
  check eos_pipeline-no-transactions fail "$py" eos_pipeline.py --bootstrap "$bootstrap" --no-transactions
fi
if wanted java-eos; then
  if [[ $has_txn -eq 0 && $require_txn -eq 0 ]]; then
    skip java-EosPipeline "$no_txn_reason"
  elif ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
    echo "run.sh: java and mvn are needed for the Java example" >&2
    failed=$((failed + 1)); results+=("FAILED   java-EosPipeline (no java/mvn)")
  elif ! mvn -q -B -f "$here/java/pom.xml" compile dependency:build-classpath \
      -Dmdep.outputFile="$here/java/target/classpath.txt" >&2; then
    failed=$((failed + 1)); results+=("FAILED   java-EosPipeline (the Maven build failed)")
  else
    check java-EosPipeline pass java -cp "$here/java/target/classes:$(cat "$here/java/target/classpath.txt")" \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=error dev.kavka.examples.EosPipeline --bootstrap "$bootstrap"
  fi
fi
if wanted retry; then
  check retry_dlq pass "$py" retry_dlq.py --bootstrap "$bootstrap"
fi
if wanted json; then
  check json_schema pass "$py" json_schema.py --bootstrap "$bootstrap"
fi
if wanted broker-kill; then
  if [[ $broker_kill -eq 0 ]]; then
    skip delivery_semantics-kill-broker "--no-broker-kill"
  elif [[ "$mode" == bootstrap ]]; then
    skip delivery_semantics-kill-broker "needs --kavka or --reference to kill brokers"
  else
    # The single node is not needed any more; three nodes on 2 cores are enough load.
    stop_brokers
    if ! try3 start_cluster; then
      echo "run.sh: the 3-node cluster did not start" >&2
      failed=$((failed + 1)); results+=("FAILED   delivery_semantics-kill-broker (the 3-node cluster did not start)")
    else
      check delivery_semantics-kill-broker pass "$py" delivery_semantics.py --bootstrap "$cluster_bootstrap" \
        --replication-factor 3 --kill-broker "$kill_cmd" --restart-broker "$restart_cmd"
    fi
  fi
fi

echo
echo "=== summary ($mode, $((SECONDS - started_all)) s)"
printf '%s\n' "${results[@]}"
echo "examples: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
