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
#
# Three nodes (the suites' `--cluster 3`):
#   brokers_start_kavka_cluster NAME [K=V...]      # `kavka cluster up -n 3`, temp dir
#   brokers_start_reference_cluster NAME [K=V...]  # compat/kafka-ref-cluster.sh, fixed ports
#   brokers_start MODE NAME NODES [K=V...]         # MODE kavka|reference, NODES 1|3
# Both clusters get default.replication.factor=3, min.insync.replicas=2 and
# offsets.topic.replication.factor=3; BROKER_BOOTSTRAP is the full list
# (H:P,H:P,H:P), set once every node's Metadata lists all three brokers.
# Kavka's cluster takes 6 contiguous ports from $KAVKA_CLUSTER_BASE_PORT if set,
# else a free block in 20000-31999; it is stopped with `kavka cluster down
# --purge` on its own dir (which signals only the PIDs it recorded). The
# reference cluster always uses 19192-19194 / 19292-19294 and refuses to start
# when any of them is taken (another run's cluster is never touched).
# K=V are extra broker properties for every node.

BROKERS_COMPAT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BROKERS_ROOT="$(dirname "$BROKERS_COMPAT")"
BROKER_BOOTSTRAP=""
BROKER_DIR=""
_brokers_ref_dir=""
_brokers_kavka_pid=""
_brokers_kavka_dir=""
_brokers_cluster_dir=""
_brokers_ref_cluster_dir=""
BROKERS_CLUSTER_SETTINGS=(default.replication.factor=3 min.insync.replicas=2
  offsets.topic.replication.factor=3)

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
  if [[ -n "$_brokers_cluster_dir" ]]; then
    if [[ "${BROKERS_KEEP_DIR:-0}" == 1 ]]; then
      "${KAVKA_BIN:-$BROKERS_ROOT/target/debug/kavka}" cluster --dir "$_brokers_cluster_dir" down >&2 || true
    else
      "${KAVKA_BIN:-$BROKERS_ROOT/target/debug/kavka}" cluster --dir "$_brokers_cluster_dir" down --purge >&2 || true
    fi
    _brokers_cluster_dir=""
  fi
  if [[ -n "$_brokers_ref_cluster_dir" ]]; then
    if "$BROKERS_COMPAT/kafka-ref-cluster.sh" stop --dir "$_brokers_ref_cluster_dir" >&2 \
        && [[ "${BROKERS_KEEP_DIR:-0}" != 1 ]]; then
      rm -rf "$_brokers_ref_cluster_dir"
    fi
    _brokers_ref_cluster_dir=""
  fi
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
  "$bin" broker --override "http.listeners=" --override "listeners=PLAINTEXT://127.0.0.1:$port" \
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

# Waits (at most $2 s, default 60) until every address of the list $1 answers
# Metadata listing as many brokers as the list has: all registered and unfenced.
brokers_wait_cluster() {
  python3 - "$1" "${2:-60}" <<'PY'
import socket, struct, sys, time
addrs = [a.rsplit(":", 1) for a in sys.argv[1].split(",")]
deadline = time.time() + float(sys.argv[2])

def brokers(host, port):
    # Metadata v1 with an empty topic list: just the live brokers.
    msg = struct.pack(">hhih", 3, 1, 1, 5) + b"ready" + struct.pack(">i", 0)
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.sendall(struct.pack(">i", len(msg)) + msg)
        buf = b""
        while len(buf) < 12:
            chunk = s.recv(4096)
            if not chunk:
                raise EOFError
            buf += chunk
    return struct.unpack(">i", buf[8:12])[0]

seen = {}
while True:
    for h, p in addrs:
        try:
            seen[f"{h}:{p}"] = brokers(h, p)
        except (OSError, EOFError, struct.error) as e:
            seen[f"{h}:{p}"] = repr(e)
    if all(v == len(addrs) for v in seen.values()):
        sys.exit(0)
    if time.time() > deadline:
        print(f"brokers.sh: cluster not ready after {sys.argv[2]} s: {seen}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.2)
PY
}

# A base port b with b..b+5 free (a 3-node Kavka cluster's client and controller ports).
_brokers_free_block() {
  local b i ok
  if [[ -n "${KAVKA_CLUSTER_BASE_PORT:-}" ]]; then
    for i in 0 1 2 3 4 5; do
      if _brokers_port_busy "$((KAVKA_CLUSTER_BASE_PORT + i))"; then
        echo "brokers.sh: port $((KAVKA_CLUSTER_BASE_PORT + i)) (KAVKA_CLUSTER_BASE_PORT+$i) is taken" >&2
        return 1
      fi
    done
    echo "$KAVKA_CLUSTER_BASE_PORT"; return 0
  fi
  for _ in $(seq 1 50); do
    b=$(( 20000 + RANDOM % 12000 )); ok=1
    for i in 0 1 2 3 4 5; do _brokers_port_busy "$((b + i))" && { ok=0; break; }; done
    [[ $ok -eq 1 ]] && { echo "$b"; return 0; }
  done
  echo "brokers.sh: no free block of 6 ports found" >&2
  return 1
}

brokers_start_kavka_cluster() {
  local name="${1:-client}" base kv bin="${KAVKA_BIN:-$BROKERS_ROOT/target/debug/kavka}" props=()
  shift || true
  [[ -x "$bin" ]] || cargo build -q --manifest-path "$BROKERS_ROOT/Cargo.toml" -p kavka
  base="$(_brokers_free_block)" || return 1
  for kv in "${BROKERS_CLUSTER_SETTINGS[@]}" "$@"; do props+=(--property "$kv"); done
  # `cluster up` refuses an existing dir that is not a cluster: use a path inside a temp dir.
  _brokers_kavka_dir="$(mktemp -d "${TMPDIR:-/tmp}/kavka-$name-3n-XXXXXX")"
  _brokers_cluster_dir="$_brokers_kavka_dir/cluster"
  trap brokers_stop EXIT
  trap 'exit 130' INT TERM
  echo "brokers.sh: starting a 3-node Kavka on 127.0.0.1:$base-$((base + 2)) (dir $_brokers_cluster_dir)" >&2
  if ! "$bin" cluster --dir "$_brokers_cluster_dir" up -n 3 --base-port "$base" --timeout 60 "${props[@]}" >&2; then
    echo "brokers.sh: kavka cluster up failed" >&2
    return 1
  fi
  BROKER_BOOTSTRAP="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
  BROKER_DIR="$_brokers_cluster_dir"
  brokers_wait_cluster "$BROKER_BOOTSTRAP" 60
}

brokers_start_reference_cluster() {
  local name="${1:-client}" p kv overrides=()
  shift || true
  for p in 19192 19193 19194 19292 19293 19294; do
    if _brokers_port_busy "$p"; then
      echo "brokers.sh: port $p is taken: the 3-node reference cluster (19192-19194/19292-19294) seems in use by another run; not touching it" >&2
      return 1
    fi
  done
  for kv in "${BROKERS_CLUSTER_SETTINGS[@]}" "$@"; do overrides+=(--override "$kv"); done
  _brokers_ref_cluster_dir="${TMPDIR:-/tmp}/kavka-$name-ref3-19192"
  trap brokers_stop EXIT
  trap 'exit 130' INT TERM
  echo "brokers.sh: starting the 3-node reference Kafka on 127.0.0.1:19192-19194 (dir $_brokers_ref_cluster_dir)" >&2
  "$BROKERS_COMPAT/kafka-ref-cluster.sh" start --port 19192 --controller-port 19292 \
    --dir "$_brokers_ref_cluster_dir" --fresh "${overrides[@]}" >&2
  BROKER_BOOTSTRAP="$("$BROKERS_COMPAT/kafka-ref-cluster.sh" bootstrap --dir "$_brokers_ref_cluster_dir")"
  BROKER_DIR="$_brokers_ref_cluster_dir"
  brokers_wait_cluster "$BROKER_BOOTSTRAP" 60
}

# brokers_start MODE NAME NODES [K=V...]: one entry point for the suites' --kavka /
# --reference with --cluster NODES (1 or 3). Single nodes ignore K=V (their
# callers pass settings their own way).
brokers_start() {
  local mode="$1" name="$2" nodes="$3"
  shift 3
  case "$mode:$nodes" in
    kavka:1) brokers_start_kavka "$name" ;;
    reference:1) brokers_start_reference "$name" ;;
    kavka:3) brokers_start_kavka_cluster "$name" "$@" ;;
    reference:3) brokers_start_reference_cluster "$name" "$@" ;;
    *) echo "brokers.sh: --cluster takes 1 or 3 (got $nodes)" >&2; return 2 ;;
  esac
}
