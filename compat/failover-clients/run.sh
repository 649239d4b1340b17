#!/usr/bin/env bash
# Kill any node mid-stream and lose nothing, with every client library.
#
#   compat/failover-clients/run.sh --kavka|--reference [--clients LIST] [--seed N]
#                                  [--rate R] [--seconds S] [--out DIR]
#
#   --kavka        a 3-node Kavka (`kavka cluster up -n 3`; $KAVKA_BIN or
#                  target/debug/kavka, built if missing)
#   --reference    the 3-node Apache Kafka (compat/kafka-ref-cluster.sh, fixed ports
#                  19192-19194/19292-19294)
#   --clients      comma-separated, default java,confluent,kafka-python,aiokafka,kafkajs
#   --seed N       picks, per client, the node to kill (partition 0's leader or the
#                  active controller) and when; printed, so a run can be replayed
#   --rate/--seconds  producer pace (default 200 records/s for 12 s)
#   --out DIR      client logs (default: a temp dir, printed at the end)
#
# Both clusters: default.replication.factor=3, min.insync.replicas=2. Per client, on
# a topic of its own (3 partitions, RF 3):
#   1. an idempotent acks=all producer of that client sends numbered keyed records
#      at a steady pace; mid-stream the node picked by the seed is killed (-9) and
#      started again a few seconds later;
#   2. a consumer group of that client reads everything back, committing;
#   3. a committing group reads the topic slowly while its coordinator's node is
#      killed and restarted, stops at 60 %, and a second process of the group
#      resumes from the committed offsets and reads the rest;
#   4. check.py: every acknowledged record read back at its offset, in order, no
#      duplicates; every record read by the group; re-reads counted.
# Kavka's ports come from $KAVKA_TEST_PORTS (LO-HI) when set. Exits 1 when a check
# fails; the cluster directory (node logs) is then kept and printed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"
# shellcheck source=../lib/brokers.sh
source "$compat/lib/brokers.sh"
# shellcheck source=../kafka-ref/lib.sh
source "$compat/kafka-ref/lib.sh"

mode=""
clients="java,confluent,kafka-python,aiokafka,kafkajs"
seed="$(( $(date +%s) % 100000 ))"
rate=200
seconds=12
# The group reads slower than the producer wrote, so that its coordinator dies mid-read.
grate=150
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kavka) mode=kavka; shift ;;
    --reference) mode=reference; shift ;;
    --clients) clients="${2:?--clients needs a list}"; shift 2 ;;
    --seed) seed="${2:?--seed needs N}"; shift 2 ;;
    --rate) rate="${2:?}"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -n "$mode" ]] || { echo "run.sh: --kavka or --reference" >&2; exit 2; }
IFS=, read -r -a client_list <<<"$clients"
for c in "${client_list[@]}"; do
  case "$c" in java|confluent|kafka-python|aiokafka|kafkajs) ;;
    *) echo "run.sh: unknown client $c" >&2; exit 2 ;; esac
done
kbin="${KAVKA_BIN:-$root/target/debug/kavka}"
export KAVKA_BIN="$kbin"
[[ -n "$out" ]] || out="$(mktemp -d "${TMPDIR:-/tmp}/kavka-failover-XXXXXX")"
mkdir -p "$out"
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# --- the clients' runtimes -------------------------------------------------------
venv="${KAVKA_CACHE:-$HOME/.cache/kavka}/failover-clients-venv"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  say "creating venv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
  echo "$want" >"$venv/.requirements.sha256"
fi
node_dir="$compat/node-client"
if [[ ",$clients," == *,kafkajs,* ]] && [[ ! -d "$node_dir/node_modules/kafkajs" ||
      "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]]; then
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
# The Java client (and, for the reference, Kafka's tools) from Kafka's own jars.
cp="$(kafka_ref_classpath)"
if [[ ",$clients," == *,java,* ]]; then
  mkdir -p "$out/java-classes"
  javac -nowarn -cp "$cp" -d "$out/java-classes" "$here/FailoverClient.java"
fi

client_cmd() {
  case "$1" in
    java) echo java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_REF_HOME/log4j2-tools.properties" \
            -cp "$out/java-classes:$cp" FailoverClient ;;
    confluent) echo "$venv/bin/python" "$here/confluent_client.py" ;;
    kafka-python) echo "$venv/bin/python" "$here/kafka_python_client.py" ;;
    aiokafka) echo "$venv/bin/python" "$here/aiokafka_client.py" ;;
    kafkajs) echo node "$here/kafkajs_client.js" ;;
  esac
}

# --- the cluster -----------------------------------------------------------------
pick_kavka_block() {
  local lo="${KAVKA_TEST_PORTS%-*}" hi="${KAVKA_TEST_PORTS#*-}" b i ok
  for _ in $(seq 1 50); do
    b=$(( lo + RANDOM % (hi - lo - 5) )); ok=1
    for i in 0 1 2 3 4 5; do _brokers_port_busy "$((b + i))" && { ok=0; break; }; done
    [[ $ok -eq 1 ]] && { echo "$b"; return 0; }
  done
  return 1
}
say "seed=$seed mode=$mode clients=$clients out=$out"
# Groups start at once (Kafka's 3 s initial delay would only add waiting to every step).
settings=(group.initial.rebalance.delay.ms=0)
if [[ $mode == kavka ]]; then
  [[ -x "$kbin" ]] || cargo build -q --manifest-path "$root/Cargo.toml" -p kavka
  # A free-looking port can still be taken by an outgoing connection's local port
  # before the node binds it: try another block then.
  for attempt in 1 2 3; do
    if [[ -n "${KAVKA_TEST_PORTS:-}" ]]; then
      KAVKA_CLUSTER_BASE_PORT="$(pick_kavka_block)" || { say "no free port block in $KAVKA_TEST_PORTS"; exit 1; }
      export KAVKA_CLUSTER_BASE_PORT
    fi
    brokers_start kavka failover 3 "${settings[@]}" && break
    [[ $attempt -eq 3 ]] && exit 1
    brokers_stop
  done
else
  brokers_start reference failover 3 "${settings[@]}"
fi
B="$BROKER_BOOTSTRAP"
say "cluster up: $B ($BROKER_DIR)"

topics() {
  if [[ $mode == kavka ]]; then "$kbin" topics --bootstrap-server "$B" "$@"
  else "$compat/kafka-tool.sh" kafka-topics --bootstrap-server "$B" "$@"; fi
}
quorum_leader() {
  if [[ $mode == kavka ]]; then "$kbin" metadata-quorum --bootstrap-server "$B" describe --status
  else "$compat/kafka-tool.sh" kafka-metadata-quorum --bootstrap-server "$B" describe --status
  fi | awk -F'[: \t]+' '/^LeaderId/ {print $2}'
}
# "PARTITION LEADER" lines of a topic.
leaders() {
  topics --describe --topic "$1" | sed -n 's/.*Partition: \([0-9]*\)[[:space:]]*Leader: \([-0-9]*\).*/\1 \2/p'
}
node_kill() {
  if [[ $mode == kavka ]]; then "$kbin" cluster --dir "$BROKER_DIR" kill "$1" >&2
  else "$compat/kafka-ref-cluster.sh" kill "$1" --dir "$BROKER_DIR" >&2; fi
}
node_start() {
  if [[ $mode == kavka ]]; then "$kbin" cluster --dir "$BROKER_DIR" start "$1" --timeout 60
  else "$compat/kafka-ref-cluster.sh" start-node "$1" --dir "$BROKER_DIR"; fi
}
# Until every partition of every topic has its full ISR again: the next kill must
# find three live replicas, or acks=all would stop for want of min.insync.replicas.
wait_healthy() {
  local deadline=$((SECONDS + 90)) urp
  while :; do
    urp="$(topics --describe --under-replicated-partitions 2>/dev/null || echo error)"
    [[ -z "$urp" ]] && return 0
    if (( SECONDS > deadline )); then
      say "cluster not healthy after 90 s: $urp"; return 1
    fi
    sleep 1
  done
}
# Waits (at most $2 s) until file $1 has a line starting with $3.
wait_line() {
  local deadline=$((SECONDS + $2))
  until grep -q "^$3 " "$1" 2>/dev/null; do
    (( SECONDS > deadline )) && return 1
    sleep 0.1
  done
}
ms() { date +%s%3N; }
java_hash_partition() {
  python3 -c '
import sys
h = 0
for ch in sys.argv[1]:
    h = (31 * h + ord(ch)) & 0xFFFFFFFF
h = h - (1 << 32) if h >= 1 << 31 else h
print(abs(h) % int(sys.argv[2]))' "$1" "$2"
}

# --- one client ------------------------------------------------------------------
failed=()
results="$out/results.jsonl"
: >"$results"

run_client() {
  local c="$1" d="$out/$1" topic="failover-$1-$seed" cmd kind kdelay rdelay gdelay
  local target leads kill_ms pid spid rc=0 total group coord nparts gkill_ms
  read -r -a cmd <<<"$(client_cmd "$c")"
  mkdir -p "$d"
  # Seeded per client, so one client can be replayed alone with the same faults.
  read -r kind kdelay rdelay gdelay < <(python3 -c '
import random, sys
r = random.Random(sys.argv[1])
print(r.choice(["leader", "controller"]), round(r.uniform(2, 6), 1), round(r.uniform(3, 5), 1), round(r.uniform(1, 2.5), 1))' "$seed-$c")
  topics --create --topic "$topic" --partitions 3 --replication-factor 3 >/dev/null
  for _ in $(seq 1 50); do
    leaders "$topic" >"$d/leaders-before.txt"
    [[ $(awk '$2 >= 0' "$d/leaders-before.txt" | wc -l) -eq 3 ]] && break
    sleep 0.2
  done
  say "$c: produce $((rate * seconds)) records to $topic; kill -9 the $kind ${kdelay}s after the first ack, start it ${rdelay}s later"

  timeout -k 5 $((seconds + 150)) "${cmd[@]}" produce "$B" "$topic" $((rate * seconds)) "$rate" "$d/produce.log" 2>"$d/produce.err" &
  pid=$!
  if ! wait_line "$d/produce.log" 60 ack; then
    say "$c: no acknowledged record within 60 s"; tail -5 "$d/produce.err" >&2
  fi
  local t_ack=$SECONDS
  # Looked up now: leaders move back to their preferred replicas after a restart.
  # Kafka's tools take seconds to start, which count towards the delay.
  leaders "$topic" >"$d/leaders-at-kill.txt"
  if [[ $kind == leader ]]; then
    target="$(awk '$1 == 0 {print $2}' "$d/leaders-at-kill.txt")"
  else
    target="$(quorum_leader)"
  fi
  leads="$(awk -v t="$target" '$2 == t {print $1}' "$d/leaders-at-kill.txt" | paste -sd, -)"
  sleep "$(python3 -c 'import sys; print(max(0.0, float(sys.argv[1]) - int(sys.argv[2])))' "$kdelay" $((SECONDS - t_ack)))"
  if ! kill -0 "$pid" 2>/dev/null; then
    say "$c: the producer finished before the kill: nothing was checked"
    rc=1
  fi
  say "$c: kill -9 node $target ($kind; leads partitions ${leads:-none})"
  node_kill "$target"
  # Taken once the node is gone: an ack after it, on a partition the node led,
  # came from a new leader.
  kill_ms="$(ms)"
  sleep "$rdelay"
  node_start "$target" >"$d/restart.log" 2>&1 &
  spid=$!
  wait "$pid" || { rc=$?; say "$c: producer exited $rc (see $d/produce.err)"; }
  wait "$spid" || { say "$c: node $target did not start again (see $d/restart.log)"; return 1; }
  wait_healthy || return 1

  timeout -k 5 120 "${cmd[@]}" consume "$B" "$topic" "$topic-read" 0 0 "$d/read.log" 2>"$d/read.err" ||
    { rc=$?; say "$c: read-back consumer exited $rc (see $d/read.err)"; }

  # The committing group while its coordinator's node dies. Its coordinator leads
  # the group's partition of __consumer_offsets (which the read-back group created);
  # looked up first, because Kafka's tools take seconds to start.
  group="$topic-group"
  nparts="$(topics --describe --topic __consumer_offsets | sed -n 's/.*PartitionCount: \([0-9]*\).*/\1/p' | head -1)"
  coord="$(leaders __consumer_offsets | awk -v p="$(java_hash_partition "$group" "${nparts:-50}")" '$1 == p {print $2}')"
  total="$(grep -c '^ack ' "$d/produce.log" || true)"
  timeout -k 5 180 "${cmd[@]}" consume "$B" "$topic" "$group" $((total * 6 / 10)) "$grate" "$d/group1.log" 2>"$d/group1.err" &
  pid=$!
  if [[ -n "$coord" ]] && wait_line "$d/group1.log" 60 rec; then
    sleep "$gdelay"
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$c: the group finished reading before its coordinator could be killed: nothing was checked"
      rc=1
    fi
    say "$c: group $group: kill -9 its coordinator, node $coord, start it ${rdelay}s later"
    node_kill "$coord"
    gkill_ms="$(ms)"
    sleep "$rdelay"
    node_start "$coord" >"$d/restart-group.log" 2>&1 &
    spid=$!
    wait "$pid" || { rc=$?; say "$c: group consumer exited $rc (see $d/group1.err)"; }
    wait "$spid" || { say "$c: node $coord did not start again"; return 1; }
    wait_healthy || return 1
    timeout -k 5 120 "${cmd[@]}" consume "$B" "$topic" "$group" 0 0 "$d/group2.log" 2>"$d/group2.err" ||
      { rc=$?; say "$c: resuming group consumer exited $rc (see $d/group2.err)"; }
    echo "group kill at $gkill_ms node $coord" >"$d/group-kill.txt"
  else
    say "$c: no coordinator found (${coord:-none}) or the group read nothing within 60 s (see $d/group1.err)"
    wait "$pid" || true
    rc=1
  fi

  python3 "$here/check.py" --client "$c" --dir "$d" --idempotent --group \
    --kill-ms "$kill_ms" --killed-leads "$leads" --json "$results" | tee "$d/check.txt" || rc=1
  return $rc
}

for c in "${client_list[@]}"; do
  if ! run_client "$c"; then
    failed+=("$c")
    wait_healthy || true
  fi
done

echo
printf '%-13s %6s %6s %5s %5s %8s %11s %7s %7s %7s\n' client sent acked lost dup reorder kill-to-ack group-lost re-read result
python3 - "$results" <<'PY'
import json, sys
for ln in open(sys.argv[1]):
    r = json.loads(ln)
    ka = r["kill_to_first_ack_ms"]
    print(f'{r["client"]:<13} {r["sent"]:>6} {r["acked"]:>6} {r["lost"]:>5} {r["duplicated"]:>5} '
          f'{r["reordered"]:>8} {str(ka) + (" ms" if ka != "none" else ""):>11} '
          f'{r.get("group_lost", "-"):>7} {r.get("group_reread", "-"):>7} {r["result"]:>7}')
PY
echo "seed=$seed mode=$mode logs: $out"
if [[ ${#failed[@]} -gt 0 ]]; then
  BROKERS_KEEP_DIR=1
  echo "FAILED: ${failed[*]} (cluster dir kept: $BROKER_DIR)"
  exit 1
fi
echo "all clients: nothing acknowledged was lost"
