#!/usr/bin/env bash
# A 3-node cluster seen through Apache Kafka's OWN tools (compat/kafka-tool.sh):
# topic describe and its health filters before/after a kill -9 and a restart,
# the metadata quorum, preferred leader election, partition reassignment,
# acks=all produce with one and two nodes down, NOT_ENOUGH_REPLICAS, and a
# consumer group whose coordinator dies. Recorded against the 3-node reference
# (compat/kafka-ref-cluster.sh) so Kavka's cluster can be diffed against it.
#
#   compat/cli/three-node.sh --reference [--record] [--check] [--out FILE]
#   compat/cli/three-node.sh --kavka     [--check] [--out FILE]
#   compat/cli/three-node.sh --reference|--kavka --measure-failover [RUNS]
#
#   --reference  start compat/kafka-ref-cluster.sh --fresh on free ports; stop it after
#   --kavka      start three target/debug/kavka nodes with the same properties and
#                go through the same steps (the same tools, the same waits).
#   --record     (reference) write compat/reference-outputs/three-node/transcript.txt
#   --check      diff the masked transcript against that file; exit 1 on a difference
#   --out FILE   also write the masked transcript to FILE
#   --skip-group-failover  leave out section 5 (kill -9 of a group coordinator's
#                node), e.g. while group coordinators do not yet follow
#                __consumer_offsets leadership; the transcript says it was skipped
#   --measure-failover [RUNS]  instead of the transcript: RUNS times (default 3)
#                kill -9 the leader of a 1-partition RF 3 topic under a 200 msg/s
#                acks=all kafka-verifiable-producer and report the gap between
#                the kill and the first acknowledged record after it
#
# Ports: brokers on P..P+2 and controllers on P+100..P+102, P picked at random
# in 20000-31999 unless THREE_NODE_BASE_PORT=P pins it (shared machines).
#
# Node ids are renamed in the transcript: Kafka places replicas with a random
# start, so the run's placement of `orders` names the nodes. A is the first
# replica (the leader) of orders-0, B and C follow in order of first
# appearance in orders' Replicas lists. Masks and waits: see
# compat/reference-outputs/three-node/NOTES.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"
TOOL="$compat/kafka-tool.sh"
CLUSTER="$compat/kafka-ref-cluster.sh"
OUTDIR="$compat/reference-outputs/three-node"
EXPECTED="$OUTDIR/transcript.txt"

mode=""
check=0
record=0
out=""
failover_runs=0
skip_groups=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kavka) mode=kavka; shift ;;
    --reference) mode=reference; shift ;;
    --check) check=1; shift ;;
    --record) record=1; shift ;;
    --out) out="${2:?--out needs a file}"; shift 2 ;;
    --skip-group-failover) skip_groups=1; shift ;;
    --measure-failover)
      failover_runs=3; shift
      if [[ "${1:-}" =~ ^[0-9]+$ ]]; then failover_runs="$1"; shift; fi ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "three-node.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -n "$mode" ]] || { sed -n '2,30p' "$0" >&2; exit 2; }
if [[ $record -eq 1 && "$mode" != reference ]]; then
  echo "three-node.sh: --record only with --reference" >&2; exit 2
fi

log() { echo "three-node.sh: $*" >&2; }
fail() { log "$*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A base port P with P..P+2 and P+100..P+102 free (brokers, controllers).
free_base_port() {
  local p i ok
  if [[ -n "${THREE_NODE_BASE_PORT:-}" ]]; then
    p="$THREE_NODE_BASE_PORT"
    for i in 0 1 2 100 101 102; do port_busy $((p + i)) && fail "port $((p + i)) (THREE_NODE_BASE_PORT=$p) is in use"; done
    echo "$p"; return
  fi
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 12000 ))
    ok=1
    for i in 0 1 2 100 101 102; do port_busy $((p + i)) && ok=0; done
    if [[ $ok == 1 ]]; then echo "$p"; return; fi
  done
  fail "no free ports found"
}

work="$(mktemp -d "${TMPDIR:-/tmp}/kavka-three-node-XXXXXX")"
ref_dir=""
declare -A kavka_pid=()
cleanup() {
  local n
  for n in "${!kavka_pid[@]}"; do
    kill -KILL "${kavka_pid[$n]}" 2>/dev/null || true
    wait "${kavka_pid[$n]}" 2>/dev/null || true
  done
  if [[ -s "${transcript:-}" && ! -s "$work/final.txt" ]]; then
    cp "$transcript" "${TMPDIR:-/tmp}/three-node-partial.txt"
    log "partial transcript: ${TMPDIR:-/tmp}/three-node-partial.txt"
  fi
  if [[ -n "$ref_dir" ]]; then
    "$CLUSTER" stop --dir "$ref_dir" >&2 || true
    rm -rf "$ref_dir"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

BASE="$(free_base_port)"
CBASE=$((BASE + 100))
bport() { echo $((BASE + $1 - 1)); }
cport() { echo $((CBASE + $1 - 1)); }
BS="127.0.0.1:$(bport 1),127.0.0.1:$(bport 2),127.0.0.1:$(bport 3)"
CS="127.0.0.1:$(cport 1),127.0.0.1:$(cport 2),127.0.0.1:$(cport 3)"

# ---------------------------------------------------------------- Kavka
# Same properties as kafka-ref-cluster.sh writes; a node that exits at start
# ends the run with its log.
start_kavka() {
  local bin="$root/target/debug/kavka" n d voters t0
  [[ -x "$bin" ]] || cargo build -q --manifest-path "$root/Cargo.toml" -p kavka
  voters="1@127.0.0.1:$(cport 1),2@127.0.0.1:$(cport 2),3@127.0.0.1:$(cport 3)"
  for n in 1 2 3; do
    d="$work/kavka-node-$n"
    mkdir -p "$d"
    cat > "$d/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(bport "$n"),CONTROLLER://127.0.0.1:$(cport "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(bport "$n")
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$d/data
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
http.listeners=
PROPS
    "$bin" broker --config "$d/server.properties" > "$d/broker.log" 2>&1 &
    kavka_pid[$n]=$!
  done
  t0="$(now_ms)"
  while (( $(now_ms) - t0 < 30000 )); do
    for n in 1 2 3; do
      if ! kill -0 "${kavka_pid[$n]}" 2>/dev/null; then
        wait "${kavka_pid[$n]}" 2>/dev/null || true
        unset "kavka_pid[$n]"
        log "Kavka node $n exited at startup; its log:"
        sed -n -e '/Stack backtrace:/q' -e 's/^/    /p' "$work/kavka-node-$n/broker.log" >&2
        fail "Kavka node $n exited at startup (see above). Nothing was compared."
      fi
    done
    if port_busy "$(bport 1)" && port_busy "$(bport 2)" && port_busy "$(bport 3)"; then return 0; fi
    sleep 0.2
  done
  fail "Kavka's three nodes did not all listen within 30 s (logs: $work/kavka-node-*/broker.log)"
}

node_alive() {
  if [[ $mode == reference ]]; then
    # status exits 4 while some node is down; only its text matters here.
    { "$CLUSTER" status --dir "$ref_dir" || true; } | grep -q "^node $1: running"
  else
    [[ -n "${kavka_pid[$1]:-}" ]] && kill -0 "${kavka_pid[$1]}" 2>/dev/null
  fi
}
node_kill() {
  if [[ $mode == reference ]]; then
    "$CLUSTER" kill "$1" --dir "$ref_dir" >&2
  else
    kill -KILL "${kavka_pid[$1]}"; wait "${kavka_pid[$1]}" 2>/dev/null || true
    unset "kavka_pid[$1]"
  fi
}
node_start() {
  if [[ $mode == reference ]]; then
    "$CLUSTER" start-node "$1" --dir "$ref_dir" >&2
  else
    "$root/target/debug/kavka" broker --config "$work/kavka-node-$1/server.properties" \
      >> "$work/kavka-node-$1/broker.log" 2>&1 &
    kavka_pid[$1]=$!
    local i
    for i in $(seq 1 300); do port_busy "$(bport "$1")" && return 0; sleep 0.1; done
    fail "Kavka node $1 did not listen again within 30 s"
  fi
}
# Bootstrap list of the nodes that are up: the tools then never wait on a
# dead address first (the transcript shows it as <bootstrap> either way).
live_bs() {
  local n out=""
  for n in 1 2 3; do node_alive "$n" && out+="${out:+,}127.0.0.1:$(bport "$n")"; done
  echo "${out:-$BS}"
}

if [[ $mode == reference ]]; then
  ref_dir="${TMPDIR:-/tmp}/kavka-three-node-ref-$BASE"
  log "starting the 3-node reference Kafka on 127.0.0.1:$BASE-$((BASE + 2)) (controllers $CBASE-$((CBASE + 2)))"
  "$CLUSTER" start --port "$BASE" --controller-port "$CBASE" --dir "$ref_dir" --fresh >&2
else
  log "starting three Kavka nodes on 127.0.0.1:$BASE-$((BASE + 2))"
  start_kavka
fi

# ---------------------------------------------------------------- failover
# Kill -9 the leader of a 1-partition RF 3 topic under a steady acks=all
# producer; the gap between the kill and the first record acknowledged
# after it is what a client sees of failover.
measure_failover() {
  local run topic leader qleader vp t_kill before after gap fenced t0 line errors
  for run in $(seq 1 "$failover_runs"); do
    topic="failover-$run"
    "$TOOL" kafka-topics --bootstrap-server "$(live_bs)" --create --topic "$topic" \
      --partitions 1 --replication-factor 3 >/dev/null
    leader="$(describe_field "$topic" 0 Leader)"
    qleader="$("$TOOL" kafka-metadata-quorum --bootstrap-server "$(live_bs)" describe --status 2>/dev/null \
      | sed -n 's/^LeaderId: *//p')"
    "$TOOL" kafka-verifiable-producer --bootstrap-server "$BS" --topic "$topic" \
      --throughput 200 --max-messages 40000 --acks -1 \
      > "$work/vp-$run.out" 2> "$work/vp-$run.err" &
    vp=$!
    # Warm up: wait (bounded) for 2 s of acknowledged records.
    t0="$(now_ms)"
    while (( $(grep -c producer_send_success "$work/vp-$run.out" || true) < 400 )); do
      (( $(now_ms) - t0 < 60000 )) || { kill "$vp" 2>/dev/null || true; fail "failover run $run: producer never got going"; }
      sleep 0.2
    done
    t_kill="$(now_ms)"
    node_kill "$leader"
    # Wait (bounded) until acks resume well after the kill, then stop the producer.
    t0="$(now_ms)"
    while true; do
      after="$(grep producer_send_success "$work/vp-$run.out" | sed -n 's/.*"timestamp":\([0-9]*\).*/\1/p' \
        | awk -v k="$t_kill" '$1 > k + 1000 {print; exit}' || true)"
      [[ -n "$after" ]] && break
      (( $(now_ms) - t0 < 90000 )) || break
      sleep 0.2
    done
    sleep 3
    kill -TERM "$vp" 2>/dev/null || true
    wait "$vp" 2>/dev/null || true
    fenced="$(describe_field "$topic" 0 Leader)"
    # Acks the old leader sent just before it died can still be processed
    # a little after the kill, so the outage is the largest gap between
    # consecutive acks from 2 s before the kill on: it starts at the last ack
    # of the old leader and ends at the first ack of its successor.
    read -r before after gap < <(grep producer_send_success "$work/vp-$run.out" \
      | sed -n 's/.*"timestamp":\([0-9]*\).*/\1/p' | sort -n \
      | awk -v k="$t_kill" '$1 >= k - 2000 { if (p != "" && $1 - p > g) { g = $1 - p; b = p; a = $1 } p = $1 }
                            END { if (g == "") print "0 0 0"; else print b - k, a - k, g }')
    errors="$(grep -c producer_send_error "$work/vp-$run.out" || true)"
    line="run $run: kill -9 node $leader (leader of $topic-0; quorum leader: node $qleader) -> new leader node $fenced; acks stopped at ${before} ms, resumed at +${after} ms after the kill (gap ${gap} ms); $errors records failed"
    echo "$line"
    log "$line"
    grep -v producer_send_success "$work/vp-$run.out" | grep -v '"name":"startup_complete"' | head -n 5 >&2 || true
    node_start "$leader"
    wait_isr_full "$topic" 1 60
  done
}

# ---------------------------------------------------------------- transcript helpers
# Canonical node names, set from the first describe of `orders`.
declare -A NAME=()   # raw id -> A/B/C
declare -A RAW=()    # A/B/C -> raw id
MAP=""               # "2=A,3=B,1=C" for the awk renamer

# describe_field TOPIC PARTITION FIELD: that partition's value (raw ids).
describe_field() {
  timeout 60 "$TOOL" kafka-topics --bootstrap-server "$(live_bs)" --describe --topic "$1" 2>/dev/null \
    | awk -F'\t' -v p="$2" -v f="$3" '
        $0 ~ "Partition: " p "\t" { for (i = 1; i <= NF; i++) if (index($i, f ": ") == 1) { print substr($i, length(f) + 3); exit } }' || true
}

# wait_isr_full TOPIC PARTITIONS SECONDS: until every partition has 3 ISR members.
wait_isr_full() {
  local t0 n
  t0="$(now_ms)"
  while true; do
    n="$(timeout 60 "$TOOL" kafka-topics --bootstrap-server "$(live_bs)" --describe --topic "$1" 2>/dev/null \
      | grep -cE $'\tIsr: [0-9]+,[0-9]+,[0-9]+\t' || true)"
    [[ "$n" == "$2" ]] && return 0
    (( $(now_ms) - t0 < $3 * 1000 )) || fail "$1: ISR not back to 3 replicas on all $2 partitions after $3 s"
    sleep 1
  done
}

# wait_leader_moved TOPIC PARTITION RAW SECONDS: until the leader is neither
# RAW nor none; prints the milliseconds it took.
wait_leader_moved() {
  local t0 l
  t0="$(now_ms)"
  while true; do
    l="$(describe_field "$1" "$2" Leader)"
    if [[ -n "$l" && "$l" != "$3" && "$l" != none && "$l" != -1 ]]; then
      echo $(( $(now_ms) - t0 )); return 0
    fi
    (( $(now_ms) - t0 < $4 * 1000 )) || fail "$1-$2: leader still '$l' $4 s after node $3 went down"
    sleep 0.5
  done
}

# The raw id of the group's coordinator, from `--describe --state`.
coordinator_of() {
  timeout 60 "$TOOL" kafka-consumer-groups --bootstrap-server "$(live_bs)" --describe --group "$1" --state 2>/dev/null \
    | sed -n 's/.*127\.0\.0\.1:[0-9]* *(\([0-9]*\)).*/\1/p' | head -n 1 || true
}

# Masks what differs from run to run (every rule is explained in NOTES.md):
# addresses, ids, offsets of the metadata log, timestamps, data dirs,
# retry counters; and renames node ids in orders' describe lines.
mask() {
  local dirs=""
  [[ -n "$ref_dir" ]] && dirs="$ref_dir"
  awk -F'\t' -v OFS='\t' -v map="$MAP" '
    BEGIN { n = split(map, kv, ","); for (i = 1; i <= n; i++) { split(kv[i], p, "="); m[p[1]] = p[2] } }
    # Rename ids; sort=1 also sorts the names (ISR and ELR are sets: Kafka
    # prints their members in an order that varies from run to run).
    function ren(list, sorted,   a, k, i, j, t, r) {
      if (list == "" || list == "none") return list
      k = split(list, a, ","); r = ""
      for (i = 1; i <= k; i++) if (a[i] in m) a[i] = m[a[i]]
      if (sorted) for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      for (i = 1; i <= k; i++) r = r (i > 1 ? "," : "") a[i]
      return r
    }
    /^\tTopic: orders\tPartition: / && map != "" {
      for (i = 1; i <= NF; i++) {
        if (match($i, /^(Leader|Replicas|Isr|Elr|LastKnownElr): /)) {
          f = substr($i, 1, RLENGTH); $i = f ren(substr($i, RLENGTH + 1), f !~ /^(Leader|Replicas)/)
        }
      }
    }
    { print }' \
  | { grep -vE 'WARN .*(Connection to node -?[0-9]+ .* could not be established|Bootstrap broker .* disconnected)' || true; } \
  | awk '
    # The partitions a preferred election moved: orders-N in full, the
    # __consumer_offsets ones (placed at random) as a count.
    /^Successfully completed leader election \(PREFERRED\) for partitions / {
      pre = "Successfully completed leader election (PREFERRED) for partitions "
      k = split(substr($0, length(pre) + 1), a, ", "); co = 0; n = 0
      for (i = 1; i <= k; i++) { if (a[i] ~ /^__consumer_offsets-/) co++; else b[++n] = a[i] }
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
      out = ""; for (i = 1; i <= n; i++) out = out (i > 1 ? ", " : "") b[i]
      print pre out " (+ <k> __consumer_offsets partitions: " (co > 0 ? "some" : "none") ")"; next
    }
    # --generate proposes replicas in a random order: sort each list.
    /"log_dirs":\["any"/ {
      line = $0; res = ""
      while (match(line, /"replicas":\[[0-9,]*\]/)) {
        k = split(substr(line, RSTART + 12, RLENGTH - 13), r, ",")
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (r[j] + 0 < r[i] + 0) { t = r[i]; r[i] = r[j]; r[j] = t }
        l = ""; for (i = 1; i <= k; i++) l = l (i > 1 ? "," : "") r[i]
        res = res substr(line, 1, RSTART - 1) "\"replicas\":[" l "]"; line = substr(line, RSTART + RLENGTH)
      }
      print res line; next
    }
    { print }' \
  | sed -E \
    -e "s#127\\.0\\.0\\.1:$(cport 1)#<controller-1>#g" \
    -e "s#127\\.0\\.0\\.1:$(cport 2)#<controller-2>#g" \
    -e "s#127\\.0\\.0\\.1:$(cport 3)#<controller-3>#g" \
    -e "s#127\\.0\\.0\\.1:($(bport 1)|$(bport 2)|$(bport 3)) +\\([0-9]+\\)#<coordinator>#g" \
    -e "s#127\\.0\\.0\\.1:($(bport 1)|$(bport 2)|$(bport 3))#<broker>#g" \
    ${dirs:+-e "s#${dirs//./\\.}/node-([0-9])/data#<log-dir-\\1>#g"} \
    -e "s#${work//./\\.}/kavka-node-([0-9])/data#<log-dir-\\1>#g" \
    -e 's#TopicId: [A-Za-z0-9_-]{22}#TopicId: <topic-id>#g' \
    -e 's#^(ClusterId: +)[A-Za-z0-9_-]{22}$#\1<cluster-id>#' \
    -e 's#^(LeaderId|LeaderEpoch|HighWatermark|MaxFollowerLag|MaxFollowerLagTimeMs):( +)-?[0-9]+$#\1:\2<n>#' \
    -e 's#console-consumer-[0-9]+#console-consumer-<n>#g' \
    -e 's#(console-consumer|consumer-orders-readers-[0-9]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}#\1-<member-uuid>#g' \
    -e 's#/127\.0\.0\.1#/<host>#g' \
    -e 's#correlation id [0-9]+#correlation id <n>#g' \
    -e 's#(deadlineMs|nextAllowedTryMs)=[0-9]+#\1=<n>#g' \
    -e 's#timed out at [0-9]+ after#timed out at <n> after#g' \
    -e 's#due to node -?[0-9]+ being#due to node <id> being#g' \
    -e 's#\([0-9]+ attempts left\)#(<n> attempts left)#g' \
    -e 's#(Expiring [0-9]+ record\(s\) for [a-z0-9-]+):[0-9]+ ms#\1:<n> ms#g' \
    -e 's#[0-9]+ ms has passed since (batch creation|last append)#<n> ms has passed since \1#g' \
    -e 's#^\[?[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:,.]+\]?#<timestamp>#'
}

# kafka-metadata-quorum describe --replication: one row per voter/observer.
# Which node leads the quorum is an election result, so the NodeId and the
# numbers (offsets, lag, timestamps) are masked and rows sorted by Status.
mask_replication() {
  awk -F'\t' -v OFS='\t' '
    # Column padding follows the widest value, so it is trimmed too.
    NR == 1 && /^NodeId/ { for (i = 1; i <= NF; i++) sub(/ +$/, "", $i); print; next }
    NF >= 7 { for (i = 1; i <= NF; i++) { sub(/ +$/, "", $i); if (i <= 6) $i = "<n>" } ; print; next }
    { print }' | { IFS= read -r hdr || true; echo "$hdr"; LC_ALL=C sort -t$'\t' -k7,7; }
}

transcript="$work/transcript.txt"
: > "$transcript"
: > "$work/racy.txt"
step_timeout=150

# step HOW SHOWN CMD...: runs CMD (stdin from $work/stdin if HOW has "stdin"),
# records SHOWN, stdout (sorted if HOW has "sort", through mask_replication if
# HOW has "repl"), stderr (repeated lines collapsed if HOW has "uniq") and the
# exit code, all masked. Every command runs under a timeout.
step() {
  local how="$1" shown="$2"; shift 2
  local rc=0 in=/dev/null
  [[ "$how" == *stdin* ]] && in="$work/stdin"
  # -k: a JVM whose shutdown hook blocks (ConsoleProducer's close) ignores
  # SIGTERM; the step then ends with SIGKILL and exit 137.
  timeout -k 10 "$step_timeout" "$@" >"$work/so" 2>"$work/se" <"$in" || rc=$?
  if [[ "$how" == *sort* ]]; then
    LC_ALL=C sort "$work/so" > "$work/so.x"; mv "$work/so.x" "$work/so"
  fi
  if [[ "$how" == *racy* ]]; then
    # The outcome depends on timing (which node the client happens to ask):
    # shown in the transcript as a command only; the output goes to
    # racy.txt (kept as racy-last-run.txt by --record), see NOTES.md.
    {
      echo "\$ $shown"
      echo "--- stdout"; mask < "$work/so"
      echo "--- stderr"; mask < "$work/se"
      echo "--- exit $rc"
      echo
    } >> "$work/racy.txt"
    {
      echo "\$ $shown"
      echo "--- outcome varies from run to run (see NOTES.md); not compared"
      echo
    } >> "$transcript"
    log "exit $rc (not compared): $shown"
    return 0
  fi
  {
    echo "\$ $shown"
    echo "--- stdout"
    if [[ "$how" == *repl* ]]; then mask < "$work/so" | mask_replication; else mask < "$work/so"; fi
    echo "--- stderr"
    if [[ "$how" == *uniq* ]]; then mask < "$work/se" | uniq; else mask < "$work/se"; fi
    echo "--- exit $rc"
    echo
  } >> "$transcript"
  log "exit $rc: $shown"
}
note() { printf '# %s\n\n' "$*" >> "$transcript"; log "$*"; }

B='<bootstrap>'
T=(kafka-topics)
describe_all() {
  step keep "kafka-topics --bootstrap-server $B --describe --topic orders" \
    "$TOOL" "${T[@]}" --bootstrap-server "$(live_bs)" --describe --topic orders
  local f
  for f in under-replicated-partitions under-min-isr-partitions at-min-isr-partitions unavailable-partitions; do
    step keep "kafka-topics --bootstrap-server $B --describe --topic orders --$f" \
      "$TOOL" "${T[@]}" --bootstrap-server "$(live_bs)" --describe --topic orders "--$f"
  done
}
quorum() {
  step keep "kafka-metadata-quorum --bootstrap-server $B describe --status" \
    "$TOOL" kafka-metadata-quorum --bootstrap-server "$(live_bs)" describe --status
  step repl "kafka-metadata-quorum --bootstrap-server $B describe --replication   # NodeId and numbers masked, padding trimmed, rows sorted by Status" \
    "$TOOL" kafka-metadata-quorum --bootstrap-server "$(live_bs)" describe --replication
}
produce() { # produce WHAT LINES [extra producer properties...]
  local what="$1" lines="$2"; shift 2
  printf '%s\n' "$lines" > "$work/stdin"
  local props=(--command-property acks=all) p shown_props="--command-property acks=all"
  for p in "$@"; do props+=(--command-property "$p"); shown_props+=" --command-property $p"; done
  step "stdin uniq" "$what | kafka-console-producer --bootstrap-server $B --topic orders --reader-property parse.key=true --reader-property key.separator=: $shown_props   # repeated stderr lines collapsed" \
    "$TOOL" kafka-console-producer --bootstrap-server "$(live_bs)" --topic orders \
    --reader-property parse.key=true --reader-property key.separator=: "${props[@]}"
}

run_transcript() {
  local a b c raw i moved coord newcoord lines ids letters=(A B C)

  note "1. Healthy cluster: 3 combined broker+controller nodes (voters 1,2,3), RF 3, min.insync.replicas=2."
  quorum
  step keep "kafka-metadata-quorum --bootstrap-controller <controllers> describe --status" \
    "$TOOL" kafka-metadata-quorum --bootstrap-controller "$CS" describe --status
  step "repl" "kafka-metadata-quorum --bootstrap-controller <controllers> describe --replication   # NodeId and numbers masked, padding trimmed, rows sorted by Status" \
    "$TOOL" kafka-metadata-quorum --bootstrap-controller "$CS" describe --replication

  step keep "kafka-topics --bootstrap-server $B --create --topic orders --partitions 3 --replication-factor 3" \
    "$TOOL" "${T[@]}" --bootstrap-server "$BS" --create --topic orders --partitions 3 --replication-factor 3
  # Name the nodes after this run's placement (see the header).
  for i in 0 1 2; do
    raw="$(describe_field orders "$i" Replicas)"
    [[ -n "$raw" ]] || fail "could not read the replicas of orders-$i"
    IFS=, read -r -a ids <<<"$raw"
    for a in "${ids[@]}"; do
      if [[ -z "${NAME[$a]:-}" ]]; then
        b="${letters[${#NAME[@]}]}"
        NAME[$a]="$b"; RAW[$b]="$a"
      fi
    done
  done
  for a in "${!NAME[@]}"; do MAP+="${MAP:+,}$a=${NAME[$a]}"; done
  log "node names this run: $MAP"
  a="${RAW[A]}"; b="${RAW[B]}"; c="${RAW[C]}"
  echo "node names (raw=name): $MAP" > "$work/names.txt"
  describe_all

  lines=$'k1:order-1\nk2:order-2\nk3:order-3\nk4:order-4\nk5:order-5\nk6:order-6'
  produce "printf 'k1:order-1 ... k6:order-6' (6 lines)" "$lines"
  step sort "kafka-console-consumer --bootstrap-server $B --topic orders --group orders-readers --from-beginning --max-messages 6   # stdout sorted" \
    "$TOOL" kafka-console-consumer --bootstrap-server "$(live_bs)" --topic orders --group orders-readers --from-beginning --max-messages 6

  note "2. kill -9 node A (leader of orders-0); transcript resumes once orders-0 has a new leader (the controller fenced A after broker.session.timeout.ms)."
  node_kill "$a"
  moved="$(wait_leader_moved orders 0 "$a" 60)"
  log "orders-0 leader moved off node $a ${moved} ms after kill -9 returned"
  echo "leader of orders-0 moved ${moved} ms after kill -9 of its leader (polled every ~1.5 s)" >> "$work/names.txt"
  describe_all
  quorum

  lines=$'k7:order-7\nk8:order-8\nk9:order-9'
  produce "printf 'k7:order-7 k8:order-8 k9:order-9' (3 lines)" "$lines"
  step sort "kafka-console-consumer --bootstrap-server $B --topic orders --from-beginning --max-messages 9 --formatter-property print.partition=true   # stdout sorted" \
    "$TOOL" kafka-console-consumer --bootstrap-server "$(live_bs)" --topic orders --from-beginning --max-messages 9 \
    --formatter-property print.partition=true

  note "3. NOT_ENOUGH_REPLICAS with node A down: raise orders' min.insync.replicas to 3 (ISR is 2)."
  step keep "kafka-configs --bootstrap-server $B --entity-type topics --entity-name orders --alter --add-config min.insync.replicas=3" \
    "$TOOL" kafka-configs --bootstrap-server "$(live_bs)" --entity-type topics --entity-name orders --alter --add-config min.insync.replicas=3
  step keep "kafka-topics --bootstrap-server $B --describe --topic orders --under-min-isr-partitions" \
    "$TOOL" "${T[@]}" --bootstrap-server "$(live_bs)" --describe --topic orders --under-min-isr-partitions
  produce "echo k1:order-10" "k1:order-10" retries=0
  produce "echo k1:order-11" "k1:order-11" request.timeout.ms=5000 delivery.timeout.ms=12000
  step keep "kafka-configs --bootstrap-server $B --entity-type topics --entity-name orders --alter --delete-config min.insync.replicas" \
    "$TOOL" kafka-configs --bootstrap-server "$(live_bs)" --entity-type topics --entity-name orders --alter --delete-config min.insync.replicas

  note "4. Restart node A; transcript resumes once all orders partitions have 3 replicas in the ISR again."
  node_start "$a"
  wait_isr_full orders 3 90
  describe_all
  quorum
  step sort "kafka-leader-election --bootstrap-server $B --election-type preferred --all-topic-partitions   # stdout sorted" \
    "$TOOL" kafka-leader-election --bootstrap-server "$(live_bs)" --election-type preferred --all-topic-partitions
  # The election is asynchronous on the controller; give it a bounded moment.
  for i in $(seq 1 20); do [[ "$(describe_field orders 0 Leader)" == "$a" ]] && break; sleep 0.5; done
  step keep "kafka-topics --bootstrap-server $B --describe --topic orders" \
    "$TOOL" "${T[@]}" --bootstrap-server "$(live_bs)" --describe --topic orders

  if [[ $skip_groups -eq 1 ]]; then
    note "5. Consumer group coordinator failover: skipped (--skip-group-failover)."
  else
    group_failover
  fi

  section_6_and_7 "$a" "$b" "$c"
}

# Section 5: the group's coordinator node dies; its groups move.
group_failover() {
  local coord newcoord i
  note "5. Consumer group orders-readers: kill -9 the node of its coordinator (COORDINATOR masked; whether it moved is stated below)."
  step keep "kafka-consumer-groups --bootstrap-server $B --describe --group orders-readers --state" \
    "$TOOL" kafka-consumer-groups --bootstrap-server "$(live_bs)" --describe --group orders-readers --state
  coord="$(coordinator_of orders-readers)"
  [[ -n "$coord" ]] || fail "could not find the coordinator of orders-readers"
  log "coordinator of orders-readers: node $coord (${NAME[$coord]})"
  node_kill "$coord"
  step uniq "kafka-consumer-groups --bootstrap-server $B --describe --group orders-readers   # right after kill -9 of the coordinator's node; repeated stderr lines collapsed" \
    "$TOOL" kafka-consumer-groups --bootstrap-server "$(live_bs)" --describe --group orders-readers
  # Bounded wait for a coordinator elsewhere (the controller fences the node first).
  newcoord=""
  for i in $(seq 1 40); do
    newcoord="$(coordinator_of orders-readers)"
    [[ -n "$newcoord" && "$newcoord" != "$coord" ]] && break
    sleep 1
  done
  [[ -n "$newcoord" && "$newcoord" != "$coord" ]] || fail "the coordinator of orders-readers did not move off node $coord"
  note "coordinator moved: yes (from the killed node to another)"
  echo "coordinator of orders-readers: node ${NAME[$coord]} -> node ${NAME[$newcoord]}" >> "$work/names.txt"
  step keep "kafka-consumer-groups --bootstrap-server $B --describe --group orders-readers --state" \
    "$TOOL" kafka-consumer-groups --bootstrap-server "$(live_bs)" --describe --group orders-readers --state
  step keep "kafka-consumer-groups --bootstrap-server $B --describe --group orders-readers" \
    "$TOOL" kafka-consumer-groups --bootstrap-server "$(live_bs)" --describe --group orders-readers
  node_start "$coord"
  wait_isr_full orders 3 90
}

section_6_and_7() {
  local a="$1" b="$2" c="$3" i
  note "6. Two of three nodes down (kill -9 B and C): no controller quorum is left, so nothing can shrink the ISR or elect leaders; acks=all produce with a bounded delivery.timeout.ms."
  node_kill "$b"
  node_kill "$c"
  step racy "kafka-topics --bootstrap-server $B --describe --topic orders   # only node A is up" \
    "$TOOL" "${T[@]}" --bootstrap-server "$(live_bs)" --describe --topic orders
  printf 'default.api.timeout.ms=10000\nrequest.timeout.ms=5000\n' > "$work/admin.properties"
  step racy "kafka-metadata-quorum --bootstrap-server $B --command-config admin.properties describe --status   # admin.properties: default.api.timeout.ms=10000, request.timeout.ms=5000" \
    "$TOOL" kafka-metadata-quorum --bootstrap-server "$(live_bs)" --command-config "$work/admin.properties" describe --status
  step_timeout=45
  note "The console producer below gets SIGTERM after 45 s and SIGKILL 10 s later if it has not exited (timeout -k 10 45)."
  produce "echo k1:order-12" "k1:order-12" request.timeout.ms=5000 delivery.timeout.ms=12000 max.block.ms=12000
  step_timeout=150
  node_start "$b"
  node_start "$c"
  wait_isr_full orders 3 120

  note "7. Partition reassignment: payments (1 partition, replicas 1,2; raw node ids) moved to nodes 2,3."
  step keep "kafka-topics --bootstrap-server $B --create --topic payments --replica-assignment 1:2" \
    "$TOOL" "${T[@]}" --bootstrap-server "$(live_bs)" --create --topic payments --replica-assignment 1:2
  echo '{"topics":[{"topic":"payments"}],"version":1}' > "$work/move.json"
  echo '{"version":1,"partitions":[{"topic":"payments","partition":0,"replicas":[2,3]}]}' > "$work/plan.json"
  step keep "kafka-reassign-partitions --bootstrap-server $B --topics-to-move-json-file move.json --broker-list 2,3 --generate   # proposed replica lists sorted; move.json: {\"topics\":[{\"topic\":\"payments\"}],\"version\":1}" \
    "$TOOL" kafka-reassign-partitions --bootstrap-server "$(live_bs)" --topics-to-move-json-file "$work/move.json" --broker-list 2,3 --generate
  step keep "kafka-reassign-partitions --bootstrap-server $B --reassignment-json-file plan.json --execute   # plan.json: {\"version\":1,\"partitions\":[{\"topic\":\"payments\",\"partition\":0,\"replicas\":[2,3]}]}" \
    "$TOOL" kafka-reassign-partitions --bootstrap-server "$(live_bs)" --reassignment-json-file "$work/plan.json" --execute
  for i in $(seq 1 30); do
    timeout 60 "$TOOL" kafka-reassign-partitions --bootstrap-server "$(live_bs)" --reassignment-json-file "$work/plan.json" --verify 2>/dev/null \
      | grep -q "is completed" && break
    sleep 1
  done
  step keep "kafka-reassign-partitions --bootstrap-server $B --reassignment-json-file plan.json --verify   # after it completed" \
    "$TOOL" kafka-reassign-partitions --bootstrap-server "$(live_bs)" --reassignment-json-file "$work/plan.json" --verify
  step keep "kafka-topics --bootstrap-server $B --describe --topic payments" \
    "$TOOL" "${T[@]}" --bootstrap-server "$(live_bs)" --describe --topic payments
}

if [[ $failover_runs -gt 0 ]]; then
  measure_failover
  exit 0
fi

run_transcript

{
  echo "# Apache Kafka's own CLI tools (Kafka 4.4.0 via compat/kafka-tool.sh) against a 3-node cluster."
  echo "# Generated by compat/cli/three-node.sh; masked, node ids renamed A/B/C (see NOTES.md)."
  echo
  cat "$transcript"
} > "$work/final.txt"
log "$(tr '\n' ';' < "$work/names.txt")"

[[ -n "$out" ]] && cp "$work/final.txt" "$out"
if [[ $record -eq 1 ]]; then
  mkdir -p "$OUTDIR"
  cp "$work/final.txt" "$EXPECTED"
  cp "$work/names.txt" "$OUTDIR/last-run.txt"
  cp "$work/racy.txt" "$OUTDIR/racy-last-run.txt"
  log "recorded $EXPECTED"
fi
if [[ $check -eq 1 ]]; then
  if diff -u --label transcript.txt --label "$mode" "$EXPECTED" "$work/final.txt"; then
    log "transcript matches $EXPECTED"
  else
    fail "transcript differs from $EXPECTED (diff above)"
  fi
elif [[ -z "$out" && $record -eq 0 ]]; then
  cat "$work/final.txt"
fi
