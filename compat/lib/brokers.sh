# Shared broker start/stop for the compat client suites (sourced, not run).
#
#   source compat/lib/brokers.sh
#   brokers_start_reference NAME   # reference Apache Kafka (compat/kafka-ref.sh), fresh dir
#   brokers_start_kavka NAME       # target/debug/kavka (built if missing), temp dir
#
# Each picks a free port on 127.0.0.1, sets BROKER_BOOTSTRAP (H:P) and
# BROKER_DIR (data, logs: Kavka's is BROKER_DIR/broker.log, Kafka's
# BROKER_DIR/server.log), and installs an EXIT trap that stops only the
# broker it started (Kafka through `kafka-ref.sh stop --dir`, which checks the
# PID's command line; Kavka by the PID of the child it launched).
# Set BROKERS_KEEP_DIR=1 to keep Kavka's temp dir after the run.
# Same pattern as compat/java-client/run.sh.

BROKERS_COMPAT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BROKERS_ROOT="$(dirname "$BROKERS_COMPAT")"
BROKER_BOOTSTRAP=""
BROKER_DIR=""
_brokers_ref_dir=""
_brokers_kavka_pid=""
_brokers_kavka_dir=""

_brokers_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port p (and p+1 when $1 is 2) on which nothing listens.
_brokers_free_port() {
  local need="${1:-1}" p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 12000 ))
    _brokers_port_busy "$p" && continue
    if [[ "$need" -eq 2 ]] && _brokers_port_busy "$((p + 1))"; then continue; fi
    echo "$p"; return 0
  done
  echo "brokers.sh: no free port found" >&2
  return 1
}

brokers_stop() {
  if [[ -n "$_brokers_ref_dir" ]]; then
    "$BROKERS_COMPAT/kafka-ref.sh" stop --dir "$_brokers_ref_dir" >&2 || true
    _brokers_ref_dir=""
  fi
  if [[ -n "$_brokers_kavka_pid" ]]; then
    kill -TERM "$_brokers_kavka_pid" 2>/dev/null || true
    wait "$_brokers_kavka_pid" 2>/dev/null || true
    _brokers_kavka_pid=""
  fi
  if [[ -n "$_brokers_kavka_dir" && "${BROKERS_KEEP_DIR:-0}" != 1 ]]; then
    rm -rf "$_brokers_kavka_dir"
    _brokers_kavka_dir=""
  fi
}

brokers_start_reference() {
  local name="${1:-client}" port
  port="$(_brokers_free_port 2)" || return 1
  _brokers_ref_dir="${TMPDIR:-/tmp}/kavka-$name-ref-$port"
  trap brokers_stop EXIT
  trap 'exit 130' INT TERM
  echo "brokers.sh: starting reference Kafka on 127.0.0.1:$port (dir $_brokers_ref_dir)" >&2
  "$BROKERS_COMPAT/kafka-ref.sh" start --port "$port" --dir "$_brokers_ref_dir" --fresh >&2
  BROKER_BOOTSTRAP="127.0.0.1:$port"
  BROKER_DIR="$_brokers_ref_dir"
}

brokers_start_kavka() {
  local name="${1:-client}" port bin="$BROKERS_ROOT/target/debug/kavka"
  [[ -x "$bin" ]] || cargo build -q --manifest-path "$BROKERS_ROOT/Cargo.toml" -p kavka
  port="$(_brokers_free_port 1)" || return 1
  _brokers_kavka_dir="$(mktemp -d "${TMPDIR:-/tmp}/kavka-$name-XXXXXX")"
  trap brokers_stop EXIT
  trap 'exit 130' INT TERM
  echo "brokers.sh: starting Kavka on 127.0.0.1:$port (dir $_brokers_kavka_dir)" >&2
  "$bin" broker --override "listeners=PLAINTEXT://127.0.0.1:$port" \
    --override "log.dirs=$_brokers_kavka_dir/data" >"$_brokers_kavka_dir/broker.log" 2>&1 &
  _brokers_kavka_pid=$!
  for _ in $(seq 1 100); do _brokers_port_busy "$port" && break; sleep 0.1; done
  if ! kill -0 "$_brokers_kavka_pid" 2>/dev/null; then
    tail -n 20 "$_brokers_kavka_dir/broker.log" >&2
    echo "brokers.sh: Kavka exited during startup" >&2
    return 1
  fi
  BROKER_BOOTSTRAP="127.0.0.1:$port"
  BROKER_DIR="$_brokers_kavka_dir"
}
