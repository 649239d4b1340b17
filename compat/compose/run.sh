#!/usr/bin/env bash
# Checks the container files without a container engine:
#   1. `docker-compose config` validates compose.yaml and compose.cluster.yaml;
#   2. each service's environment, given to the kavka binary with the image's own
#      entrypoint and command (from the Dockerfile), starts that node in a network
#      namespace of its own, reachable by its compose hostname from the others
#      (a bridge with no address on the host, /etc/netns/<ns>/hosts for names);
#   3. the lecture's steps run against it: the single node takes a topic, records
#      and a consumer; the three nodes form one quorum and replicate a topic.
#
#   compat/compose/run.sh [path/to/kavka]     (root: it creates network namespaces)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KAVKA=${1:-$ROOT/target/debug/kavka}
[[ -x $KAVKA ]] || { echo "no kavka binary at $KAVKA (cargo build -p kavka)" >&2; exit 1; }
KAVKA=$(readlink -f "$KAVKA")
if [[ $(id -u) != 0 ]] || ! command -v ip >/dev/null; then
  echo "compat/compose/run.sh needs root and iproute2 (it creates network namespaces)" >&2
  exit 1
fi
command -v docker-compose >/dev/null || { echo "docker-compose is missing (apt-get install docker-compose)" >&2; exit 1; }

TAG="kc$$"                 # names of namespaces, links and the bridge
WORK=$(mktemp -d /tmp/kavka-compose.XXXXXX)
PIDS=()
NSS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null || true; rm -rf "/etc/netns/$ns"; done
  ip link del "${TAG}br" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }

# The image's program and arguments, as `docker run IMAGE` would run them.
mapfile -t IMAGE_ARGS < <(python3 - "$ROOT/Dockerfile" <<'PY'
import json, sys
entry, cmd = [], []
for line in open(sys.argv[1]):
    word, _, rest = line.strip().partition(" ")
    if word == "ENTRYPOINT":
        entry = json.loads(rest)
    elif word == "CMD":
        cmd = json.loads(rest)
print("\n".join(entry[1:] + cmd))  # entry[0] is the binary itself
PY
)

ip link add "${TAG}br" type bridge
ip link set "${TAG}br" up

# start_services FILE: one namespace and one node per service; sets HOSTS_OF.
start_services() {
  local file=$1 n=0 line
  local -a lines
  mapfile -t lines < <(python3 "$ROOT/compat/compose/services.py" "$ROOT/$file")
  local hosts="127.0.0.1 localhost"$'\n'
  for line in "${lines[@]}"; do
    eval "set -- $line"
    n=$((n + 1))
    hosts+="10.213.$BASE.$n $2"$'\n'
  done
  n=0
  for line in "${lines[@]}"; do
    eval "set -- $line"
    local service=$1 volume=$3
    shift 3
    n=$((n + 1))
    local ns="${TAG}${BASE}n$n"
    NSS+=("$ns")
    ip netns add "$ns"
    ip link add "${ns}a" type veth peer name "${ns}b"
    ip link set "${ns}b" netns "$ns"
    ip link set "${ns}a" master "${TAG}br" up
    ip -n "$ns" addr add "10.213.$BASE.$n/24" dev "${ns}b"
    ip -n "$ns" link set "${ns}b" up
    ip -n "$ns" link set lo up
    mkdir -p "/etc/netns/$ns"
    printf '%s' "$hosts" > "/etc/netns/$ns/hosts"
    # The volume: the image's data path, here a directory per service.
    local data="$WORK/$service-data"
    mkdir -p "$data"
    local -a args=()
    for a in "${IMAGE_ARGS[@]}"; do args+=("${a//$volume/$data}"); done
    local -a env=()
    for kv in "$@"; do env+=("${kv//$volume/$data}"); done
    ip netns exec "$ns" env -i PATH="$PATH" HOME="$WORK" "${env[@]}" \
      "$KAVKA" "${args[@]}" > "$WORK/$service.log" 2>&1 &
    PIDS+=($!)
    eval "NS_$(echo "$service" | tr -- '-' '_')=$ns"
  done
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

wait_for() {  # wait_for NS BOOTSTRAP: until the topics tool lists
  for _ in $(seq 150); do
    in_ns "$1" "$KAVKA" topics --bootstrap-server "$2" --list >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "no broker answered at $2 in $1"
}

echo "== docker-compose config"
docker-compose -f "$ROOT/compose.yaml" config -q
docker-compose -f "$ROOT/compose.cluster.yaml" config -q

echo "== compose.yaml: the lecture's single node"
BASE=1
start_services compose.yaml
wait_for "$NS_kafka" localhost:9092
in_ns "$NS_kafka" "$KAVKA" topics --bootstrap-server localhost:9092 --create --topic order-placed >/dev/null
describe=$(in_ns "$NS_kafka" "$KAVKA" topics --bootstrap-server localhost:9092 --describe --topic order-placed)
grep -q "PartitionCount: 3" <<<"$describe" || fail "KAFKA_NUM_PARTITIONS=3 not applied: $describe"
printf '1001:{"orderId":1001}\n1002:{"orderId":1002}\n1003:{"orderId":1003}\n' |
  in_ns "$NS_kafka" "$KAVKA" console-producer --bootstrap-server localhost:9092 --topic order-placed \
    --property parse.key=true --property key.separator=: >/dev/null
got=$(in_ns "$NS_kafka" "$KAVKA" console-consumer --bootstrap-server localhost:9092 --topic order-placed \
  --from-beginning --max-messages 3 --timeout-ms 20000 2>/dev/null | sort)
[[ $got == $'{"orderId":1001}\n{"orderId":1002}\n{"orderId":1003}' ]] || fail "consumed: $got"
[[ -f $WORK/kafka-data/meta.properties ]] || fail "no data on the volume"
echo "ok: topic with 3 partitions, 3 records produced and consumed, data on the volume"

echo "== compose.cluster.yaml: three nodes"
BASE=2
start_services compose.cluster.yaml
wait_for "$NS_kafka_1" kafka-1:19092
status=""
for _ in $(seq 100); do
  status=$(in_ns "$NS_kafka_1" "$KAVKA" metadata-quorum --bootstrap-server kafka-1:19092 describe --status 2>/dev/null || true)
  grep -q "CurrentVoters:.*1.*2.*3" <<<"$status" && break
  sleep 0.3
done
grep -q "CurrentVoters:.*1.*2.*3" <<<"$status" || fail "no 3-voter quorum: $status"
grep -q "ClusterId: *4L6g3nShT-eMCtK--X86sw" <<<"$status" || fail "CLUSTER_ID not used: $status"
for _ in $(seq 100); do
  in_ns "$NS_kafka_1" "$KAVKA" topics --bootstrap-server kafka-1:19092 --create --topic orders >/dev/null 2>&1 && break
  sleep 0.3
done
describe=""
for _ in $(seq 100); do
  describe=$(in_ns "$NS_kafka_2" "$KAVKA" topics --bootstrap-server kafka-2:19092 --describe --topic orders 2>/dev/null || true)
  grep -q "ReplicationFactor: 3" <<<"$describe" && break
  sleep 0.3
done
grep -q "ReplicationFactor: 3" <<<"$describe" || fail "KAFKA_DEFAULT_REPLICATION_FACTOR=3 not applied: $describe"
printf 'a\nb\nc\n' | in_ns "$NS_kafka_2" "$KAVKA" console-producer --bootstrap-server kafka-2:19092 \
  --topic orders --producer-property acks=all >/dev/null
got=$(in_ns "$NS_kafka_3" "$KAVKA" console-consumer --bootstrap-server kafka-3:19092 --topic orders \
  --from-beginning --max-messages 3 --timeout-ms 20000 2>/dev/null | sort)
[[ $got == $'a\nb\nc' ]] || fail "consumed on kafka-3: $got"
# The host-side listener each node publishes (PLAINTEXT_HOST on port 9092; it
# advertises the host's published port, which only Docker's port mapping serves).
for ns in "$NS_kafka_1" "$NS_kafka_2" "$NS_kafka_3"; do
  in_ns "$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9092' 2>/dev/null || fail "no PLAINTEXT_HOST listener in $ns"
done
echo "ok: 3 voters, cluster id from CLUSTER_ID, a topic with 3 replicas written on kafka-2 and read on kafka-3"
echo "compose checks passed"
