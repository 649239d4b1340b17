#!/usr/bin/env bash
# Runs librdkafka's own integration test suite (tests/0nnn-*.c/.cpp from the
# librdkafka vendored in the rdkafka-sys crate) against a broker.
#
#   compat/librdkafka/run.sh [--bootstrap H:P | --kavka | --reference]
#                            [--tests LIST | --all] [--jobs N] [--timeout S]
#                            [--scenario S] [--broker-override K=V] [--metadata-proxy]
#                            [--local] [--out DIR] [--build-only]
#
#   --bootstrap H:P  broker to test (default: $KAVKA_BOOTSTRAP or 127.0.0.1:9092)
#   --kavka          start Kavka (target/debug/kavka, built/updated with cargo, or $KAVKA_BIN) on a
#                    free port with a fresh data dir and num.partitions=4, stop it on exit
#   --reference      start the reference Apache Kafka (compat/kafka-ref.sh) the same way,
#                    plus an authorizer that allows all until a test adds ACLs
#   --cluster N      with --kavka / --reference: N=3 starts a 3-node cluster instead
#                    (`kavka cluster up -n 3` / compat/kafka-ref-cluster.sh on its fixed
#                    ports; default.replication.factor=3, min.insync.replicas=2, the same
#                    num.partitions and rebalance delay, no authorizer; see
#                    compat/lib/brokers.sh); the default test set is then
#                    compat/librdkafka/passing-cluster.txt
#   --tests LIST     test numbers, comma or space separated (e.g. 0001,0012,0081); N:SUB runs
#                    only N's sub-tests whose name contains SUB (SUBTESTS), e.g. 0081:DescribeConfigs
#   --all            every test number that has a broker test (see tests/test.c)
#                    (default: the numbers in compat/librdkafka/passing.txt, the CI set)
#   --jobs N         test numbers run at once (default 2)
#   --timeout S      hard limit per test number, seconds (default 300); the runner's own
#                    per-test timeouts (30 s x multiplier unless the test sets its own) apply too
#   --scenario S     librdkafka test scenario: default, or noautocreate (the broker gets
#                    auto.create.topics.enable=false; runs 0045's topic_remove and
#                    non_exist_and_partchange, 0107 and 0111), or sasl (the tests use a
#                    SASL_PLAINTEXT listener beside PLAINTEXT, PLAIN, user admin/admin-secret,
#                    connections.max.reauth.ms=10000, the StandardAuthorizer with
#                    super.users=User:admin; the clients log in as admin and Kafka's tools
#                    get a --command-config; default tests: compat/librdkafka/passing-sasl.txt).
#                    The cached runner is built without OpenSSL, so SCRAM and SASL_SSL,
#                    which librdkafka only offers with OpenSSL, are not exercised here.
#                    Or acl: plaintext, the StandardAuthorizer with
#                    allow.everyone.if.no.acl.found=true on both brokers (default tests:
#                    compat/librdkafka/passing-acl.txt)
#   --broker-override K=V  extra broker setting for --kavka / --reference (repeatable)
#   --metadata-proxy with --kavka: put compat/librdkafka/metadata-proxy.py in front of
#                    Kavka (diagnostic only; it drops the 3 surplus bytes librdkafka
#                    leaves in an all-topics Metadata v9+ request, which Kafka ignores
#                    and Kavka refuses; see RESULTS.md)
#   --local          run the broker-less tests (-l: unit tests, mock cluster) instead
#   --out DIR        keep per-test logs there (default: a temp dir, printed at the end)
#   --build-only     build the test runner (cached) and exit
#
# Each test number runs in its own test-runner process:
#   TESTS=<n> test-runner -L -E -Q -p1   (-L no local tests, -E no socket emulator,
#                                          -Q quick mode, its tests one at a time)
# with TEST_KAFKA_VERSION (default 4.0.0), a test.conf naming bootstrap.servers, and
# KAFKA_PATH pointing at a shim whose bin/kafka-topics.sh etc. call compat/kafka-tool.sh.
#
# The librdkafka source is copied out of the cargo registry and built once in
# ${KAVKA_CACHE:-$HOME/.cache/kavka}/librdkafka-tests/<version>/ (configure
# --disable-ssl --disable-gssapi --disable-curl; zlib, zstd, lz4, snappy on; RapidJSON
# (rapidjson-dev) for the tests that parse statistics JSON: 0053, 0098, 0101, 0110).
#
# Prints one line per test number (PASSED / FAILED / SKIPPED), then
# "N passed, N failed, N skipped" and exits non-zero when a test failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"

bootstrap="${KAVKA_BOOTSTRAP:-127.0.0.1:9092}"
mode=""
tests_arg=""
all=0
jobs=2
per_test_timeout=300
local_only=0
out_dir=""
build_only=0
kafka_version="${TEST_KAFKA_VERSION:-4.0.0}"
scenario=default
extra_overrides=()
metadata_proxy=0
nodes=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) bootstrap="${2:?--bootstrap needs H:P}"; shift 2 ;;
    --bootstrap=*) bootstrap="${1#*=}"; shift ;;
    --kavka) mode=kavka; shift ;;
    --reference) mode=reference; shift ;;
    --tests) tests_arg="${2:?--tests needs a list}"; shift 2 ;;
    --tests=*) tests_arg="${1#*=}"; shift ;;
    --all) all=1; shift ;;
    --cluster) nodes="${2:?--cluster needs N}"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs N}"; shift 2 ;;
    --timeout) per_test_timeout="${2:?--timeout needs seconds}"; shift 2 ;;
    --local) local_only=1; shift ;;
    --metadata-proxy) metadata_proxy=1; shift ;;
    --broker-override) extra_overrides+=(--override "${2:?--broker-override needs K=V}"); shift 2 ;;
    --scenario) scenario="${2:?--scenario needs a name}"; shift 2 ;;
    --out) out_dir="${2:?--out needs DIR}"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { echo "run.sh: $*" >&2; }

# ---------------------------------------------------------------- build ---

ensure_build_deps() {
  local missing=()
  for tool in make gcc g++ python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  local pkg
  for pkg in zlib1g-dev libzstd-dev rapidjson-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    local pkgs=()
    for pkg in "${missing[@]}"; do
      case "$pkg" in
        make|gcc|g++) pkgs+=(build-essential) ;;
        *) pkgs+=("$pkg") ;;
      esac
    done
    apt-get update -qq
    apt-get install -y -qq "${pkgs[@]}" >/dev/null
  fi
}

# The rdkafka-sys version the workspace locks (e.g. 4.10.0+2.12.1).
rdkafka_sys_version() {
  awk '/^name = "rdkafka-sys"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock"
}

find_librdkafka_src() {
  local ver="$1" d
  for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/rdkafka-sys-"$ver"/librdkafka; do
    [[ -f "$d/tests/test.c" ]] && { echo "$d"; return 0; }
  done
  return 1
}

sys_ver="$(rdkafka_sys_version)"
[[ -n "$sys_ver" ]] || { log "rdkafka-sys not found in Cargo.lock"; exit 1; }
build_root="${KAVKA_CACHE:-$HOME/.cache/kavka}/librdkafka-tests/$sys_ver"
src="$build_root/src"
tests_dir="$src/tests"
stamp="$build_root/.built"
configure_args="--no-download --disable-ssl --disable-gssapi --disable-curl --disable-lz4-ext --enable-zstd --enable-zlib"

build_runner() {
  mkdir -p "$build_root"
  # One builder at a time per cache (other engineers share it).
  exec 9>"$build_root/.lock"
  flock 9
  local build_id="librdkafka $sys_ver; $configure_args"
  if [[ -x "$tests_dir/test-runner" && "$(cat "$stamp" 2>/dev/null)" == "$build_id" ]]; then
    flock -u 9; return 0
  fi
  ensure_build_deps
  local reg
  if ! reg="$(find_librdkafka_src "$sys_ver")"; then
    log "rdkafka-sys $sys_ver is not in the cargo registry; running cargo fetch"
    cargo fetch -q --manifest-path "$root/Cargo.toml"
    reg="$(find_librdkafka_src "$sys_ver")" || { log "librdkafka source not found"; exit 1; }
  fi
  log "building librdkafka $sys_ver and its test runner in $build_root (takes several minutes)"
  local t0=$SECONDS
  rm -rf "$src"
  cp -a "$reg" "$src"
  chmod -R u+w "$src"
  (
    cd "$src"
    # shellcheck disable=SC2086
    ./configure $configure_args
    make -j2 libs
    make -C tests -j2 build
  ) >"$build_root/build.log" 2>&1 || {
    log "build failed; tail of $build_root/build.log:"; tail -30 "$build_root/build.log" >&2; exit 1; }
  echo "$build_id" >"$stamp"
  log "built in $((SECONDS - t0)) s"
  flock -u 9
}

build_runner
[[ $build_only -eq 1 ]] && { echo "$tests_dir/test-runner"; exit 0; }

# ------------------------------------------------------------ test list ---

# Test numbers and whether each has broker (non-local, non-manual) tests.
list_tests() {  # $1 = broker|local
  python3 - "$tests_dir/test.c" "$1" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
body = re.search(r'struct test tests\[\] = \{(.*?)\{NULL\}\};', src, re.S).group(1)
want = sys.argv[2]
seen = []
for name, flags in re.findall(r'_TEST\((\w+),(.*?)\)\s*,\s*(?=_TEST|#|/\*|$)', body, re.S):
    num = name.split('_')[0]
    if 'TEST_F_MANUAL' in flags:
        continue
    is_local = 'TEST_F_LOCAL' in flags
    if (want == 'local') == is_local and num not in seen:
        seen.append(num)
print('\n'.join(seen))
PY
}

if [[ -n "$tests_arg" ]]; then
  read -r -a numbers <<<"${tests_arg//,/ }"
elif [[ $all -eq 1 || $local_only -eq 1 ]]; then
  mapfile -t numbers < <(list_tests "$([[ $local_only -eq 1 ]] && echo local || echo broker)")
else
  set_file="$here/passing.txt"
  [[ $nodes -eq 3 ]] && set_file="$here/passing-cluster.txt"
  [[ $scenario == sasl ]] && set_file="$here/passing-sasl.txt"
  [[ $scenario == acl ]] && set_file="$here/passing-acl.txt"
  mapfile -t numbers < <(grep -oE '^[0-9]{4}(:[A-Za-z0-9_]+)?' "$set_file")
fi
((${#numbers[@]})) || { log "no tests selected"; exit 2; }

# ---------------------------------------------------------------- broker ---

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# KAVKA_TEST_PORTS=LO-HI (a range reserved for this run) narrows the choice.
port_lo=20000 port_hi=31999
if [[ "${KAVKA_TEST_PORTS:-}" =~ ^([0-9]+)-([0-9]+)$ ]]; then
  port_lo="${BASH_REMATCH[1]}" port_hi="${BASH_REMATCH[2]}"
fi
free_port() {  # a port p with p and p+1 free, below the ephemeral range (32768-)
  local p
  for _ in $(seq 1 50); do
    p=$(( port_lo + RANDOM % (port_hi - port_lo) ))
    if ! port_busy "$p" && ! port_busy "$((p + 1))"; then echo "$p"; return 0; fi
  done
  return 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/kavka-librdkafka-XXXXXX")"
ref_dir=""
kavka_pid=""
proxy_pid=""
cleanup() {
  if [[ -n "$proxy_pid" ]]; then
    kill -TERM "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=""
  fi
  if [[ -n "$kavka_pid" ]]; then
    kill -TERM "$kavka_pid" 2>/dev/null || true
    wait "$kavka_pid" 2>/dev/null || true
    kavka_pid=""
  fi
  if [[ -n "$ref_dir" ]]; then
    # The broker's log was copied to the --out dir; the data dir is per-run.
    if "$compat/kafka-ref.sh" stop --dir "$ref_dir" >&2; then rm -rf "$ref_dir"; fi
    ref_dir=""
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

broker_overrides=(--override num.partitions=4 --override group.initial.rebalance.delay.ms=0)
case "$scenario" in
  default) ;;
  noautocreate) broker_overrides+=(--override auto.create.topics.enable=false) ;;
  sasl)
    # The same settings on both brokers.
    sasl_jaas='org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";'
    broker_overrides+=(
      --override sasl.enabled.mechanisms=PLAIN
      --override "listener.name.sasl_plaintext.plain.sasl.jaas.config=$sasl_jaas"
      --override connections.max.reauth.ms=10000
      --override authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
      --override allow.everyone.if.no.acl.found=true
      --override super.users=User:admin
    )
    [[ $nodes -eq 1 ]] || { log "--scenario sasl runs on one node only"; exit 2; }
    # The SASL_PLAINTEXT listener is added beside PLAINTEXT (kafka-ref.sh's
    # readiness check speaks plaintext) once the ports are chosen, below.
    ;;
  acl)
    # Plaintext clients (librdkafka's ACL tests skip when authentication is
    # configured: they call kafka-acls.sh without credentials), the authorizer on.
    broker_overrides+=(
      --override authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
      --override allow.everyone.if.no.acl.found=true
    ) ;;
  *) log "unknown scenario $scenario (default, noautocreate, sasl, acl)"; exit 2 ;;
esac
# librdkafka's own scenario names: sasl changes the broker and test.conf, not the tests.
runner_scenario="$scenario"
[[ $scenario == sasl || $scenario == acl ]] && runner_scenario=default
broker_overrides+=(${extra_overrides[@]+"${extra_overrides[@]}"})

broker_log=""
if [[ $nodes -ne 1 && ( $local_only -eq 1 || -z "$mode" || $metadata_proxy -eq 1 ) ]]; then
  log "--cluster needs --kavka or --reference (and no --local / --metadata-proxy)"; exit 2
fi
if [[ $nodes -ne 1 ]]; then
  # shellcheck source=../lib/brokers.sh
  source "$compat/lib/brokers.sh"
  [[ "$mode" == kavka && -z "${KAVKA_BIN:-}" ]] && cargo build -q --manifest-path "$root/Cargo.toml" -p kavka
  cluster_props=()
  for ((i = 1; i < ${#broker_overrides[@]}; i += 2)); do cluster_props+=("${broker_overrides[$i]}"); done
  # No authorizer on the reference cluster: in a multi-node quorum the
  # StandardAuthorizer refuses the controllers' own Vote/Fetch until it has
  # loaded (AuthorizerNotReadyException) unless their principal is a super user,
  # and User:ANONYMOUS as super user would defeat the ACL tests. So the ACL tests
  # (0081 Acls, 0109, 0115, 0119) run against the single-node reference only.
  brokers_start "$mode" librdkafka "$nodes" "${cluster_props[@]}"
  # brokers.sh set its own EXIT trap: stop the cluster, then clean up ours.
  trap 'brokers_stop; cleanup' EXIT
  bootstrap="$BROKER_BOOTSTRAP"
  broker_log="$BROKER_DIR"
elif [[ $local_only -eq 0 && "$mode" == reference ]]; then
  port="$(free_port)" || { log "no free port found"; exit 1; }
  ref_dir="${TMPDIR:-/tmp}/kavka-librdkafka-ref-$port"
  log "starting reference Kafka on 127.0.0.1:$port (dir $ref_dir)"
  # kafka-ref.sh records the broker's PID in $ref_dir/kafka.pid; `stop --dir` signals only that PID.
  # An authorizer that allows everything until a test adds ACLs, so the ACL tests
  # (0081 CreateAcls..., 0109, 0115, 0119) can run.
  listener_overrides=()
  bootstrap="127.0.0.1:$port"
  if [[ $scenario == sasl ]]; then
    sasl_port="$(free_port)" || { log "no free port found"; exit 1; }
    listener_overrides=(
      --override "listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sasl_port,CONTROLLER://127.0.0.1:$((port + 1))"
      --override "advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
      --override "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    bootstrap="127.0.0.1:$sasl_port"
  fi
  "$compat/kafka-ref.sh" start --port "$port" --dir "$ref_dir" --fresh \
    --override authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer \
    --override allow.everyone.if.no.acl.found=true "${broker_overrides[@]}" \
    ${listener_overrides[@]+"${listener_overrides[@]}"} >&2
  broker_log="$ref_dir/server.log"
elif [[ $local_only -eq 0 && "$mode" == kavka ]]; then
  if [[ -n "${KAVKA_BIN:-}" ]]; then
    bin="$KAVKA_BIN"
  else
    # Up to date with the source (a no-op when it already is).
    bin="$root/target/debug/kavka"
    cargo build -q --manifest-path "$root/Cargo.toml" -p kavka
  fi
  port="$(free_port)" || { log "no free port found"; exit 1; }
  log "starting Kavka ($bin) on 127.0.0.1:$port (dir $work/kavka)"
  mkdir -p "$work/kavka"
  client_port=$port
  if [[ $metadata_proxy -eq 1 ]]; then
    # Kavka listens on port+1 and advertises the proxy's port.
    client_port=$port; port=$((port + 1))
    broker_overrides+=(--override "advertised.listeners=PLAINTEXT://127.0.0.1:$client_port")
  fi
  listener_overrides=(--override "listeners=PLAINTEXT://127.0.0.1:$port")
  if [[ $scenario == sasl ]]; then
    sasl_port="$(free_port)" || { log "no free port found"; exit 1; }
    listener_overrides=(
      --override "listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
      --override "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT"
    )
  fi
  "$bin" broker --override "http.listeners=" "${listener_overrides[@]}" \
    --override "log.dirs=$work/kavka/data" "${broker_overrides[@]}" \
    >"$work/kavka/broker.log" 2>&1 &
  kavka_pid=$!
  for _ in $(seq 1 100); do port_busy "$port" && break; sleep 0.1; done
  port_busy "$port" || { log "Kavka did not start:"; tail -20 "$work/kavka/broker.log" >&2; exit 1; }
  if [[ $metadata_proxy -eq 1 ]]; then
    log "metadata proxy on 127.0.0.1:$client_port -> 127.0.0.1:$port"
    python3 "$here/metadata-proxy.py" "$client_port" "127.0.0.1:$port" &
    proxy_pid=$!
    for _ in $(seq 1 50); do port_busy "$client_port" && break; sleep 0.1; done
  fi
  bootstrap="127.0.0.1:$client_port"
  [[ $scenario == sasl ]] && bootstrap="127.0.0.1:$sasl_port"
  broker_log="$work/kavka/broker.log"
fi

# --------------------------------------------------------------- config ---

conf="$work/test.conf"
cat >"$conf" <<EOF
bootstrap.servers=$bootstrap
broker.address.family=v4
test.timeout.multiplier=${TEST_TIMEOUT_MULTIPLIER:-2}
EOF
tool_config=()
if [[ $scenario == sasl ]]; then
  cat >>"$conf" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.username=admin
sasl.password=admin-secret
EOF
  # Kafka's tools (Java clients) log in with the same identity.
  cat >"$work/tools.properties" <<'EOF'
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";
EOF
  tool_config=(--command-config "$work/tools.properties")
else
  echo "security.protocol=PLAINTEXT" >>"$conf"
fi

# KAFKA_PATH shim: the tests call \$KAFKA_PATH/bin/kafka-topics.sh etc. (with
# --bootstrap-server \$BROKERS for Kafka >= 3.0); compat/kafka-tool.sh runs the real tools.
mkdir -p "$work/kafka/bin"
for t in kafka-topics kafka-configs kafka-acls kafka-consumer-groups; do
  printf '#!/usr/bin/env bash\nexec %q %s "$@" %s\n' "$compat/kafka-tool.sh" "$t" \
    "$(printf '%q ' ${tool_config[@]+"${tool_config[@]}"})" >"$work/kafka/bin/$t.sh"
  chmod +x "$work/kafka/bin/$t.sh"
done

if [[ -n "$out_dir" ]]; then
  mkdir -p "$out_dir"
  rm -f "$out_dir"/*.log "$out_dir"/results.txt
else
  out_dir="$(mktemp -d "${TMPDIR:-/tmp}/kavka-librdkafka-logs-XXXXXX")"
fi

if [[ $local_only -eq 1 ]]; then
  filter=(-l -E -Q -p1)
  log "running ${#numbers[@]} local test numbers (no broker), $jobs at a time; logs in $out_dir"
else
  filter=(-L -E -Q -p1)
  log "running ${#numbers[@]} test numbers against $bootstrap as Kafka $kafka_version, $jobs at a time; logs in $out_dir"
fi

# ------------------------------------------------------------------ run ---

# run_one ID: runs test number N (ID = N, or N:SUB for only the sub-tests whose name
# contains SUB, via SUBTESTS), writes $out_dir/ID.log and "ID STATE secs detail" to $out_dir/ID.res
run_one() {
  local id="$1" n="${1%%:*}" sub="" t0=$SECONDS rc=0
  [[ "$id" == *:* ]] && sub="${id#*:}"
  # (the braces catch bash's "Aborted" job report when the runner aborts on a failure)
  { (
    cd "$tests_dir"
    export LD_LIBRARY_PATH="$src/src:$src/src-cpp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    [[ -n "$sub" ]] && export SUBTESTS="$sub"
    TESTS="$n" TEST_KAFKA_VERSION="$kafka_version" TEST_SCENARIO="$runner_scenario" \
      RDKAFKA_TEST_CONF="$conf" KAFKA_PATH="$work/kafka" BROKERS="$bootstrap" \
      RDKAFKA_GITVER="$sys_ver" TEST_REPORT=/dev/null \
      exec timeout -k 10 "$per_test_timeout" ./test-runner "${filter[@]}"
  ) >"$out_dir/$id.log" 2>&1; } 2>/dev/null || rc=$?
  local dt=$((SECONDS - t0))
  # Summary rows: "| 0012_produce_consume | PASSED | 1.234s | reason"
  python3 - "$out_dir/$id.log" "$id" "$rc" "$dt" >"$out_dir/$id.res" <<'PY'
import re, sys
path, ident, rc, dt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
num = ident.split(':')[0]
text = re.sub(r'\x1b\[[0-9;]*m', '', open(path, errors='replace').read())
rows = re.findall(r'^\|\s*(%s_\w+)\s*\|\s*(\w+)\s*\|[^|\n]*\|[ \t]*(.*)$' % num, text, re.M)
states = {}
for name, state, extra in rows:
    states[name] = (state, extra.strip())
# First failure report of each test: '### Test "0081_admin (sub)" failed at f.c:1:fn() at DATE: ###' + message line
failures = []
for m in re.finditer(r'^### Test "([^"]+)" failed at (\S+) at [^\n]*###\n([^\n]*)', text, re.M):
    if not m.group(1).startswith('<MAIN>'):
        failures.append(f"{m.group(1)} at {m.group(2)}: {m.group(3).strip()}")
fails = [f"{n}: {e}" for n, (s, e) in states.items() if s in ('FAILED', 'RUNNING')]
passed = [n for n, (s, e) in states.items() if s == 'PASSED']
if rc == 124 or rc == 137:
    state, detail = 'FAILED', 'killed by run.sh after the per-test timeout' + (f'; {failures[0]}' if failures else '')
elif failures or fails:
    state, detail = 'FAILED', failures[0] if failures else '; '.join(fails)
elif rc != 0:
    state, detail = 'FAILED', f'test-runner exit {rc}'
elif passed:
    state, detail = 'PASSED', ', '.join(passed)
else:
    skips = [f"{n}: {e}" for n, (s, e) in states.items() if s == 'SKIPPED' and e]
    state, detail = 'SKIPPED', '; '.join(skips) or 'no test of this number in this scenario (see --scenario)'
detail = ' '.join(detail.split())[:400]
print(f"{ident} {state} {dt}s {detail}")
PY
  cat "$out_dir/$id.res"
}

# Tests listed in racy.txt (races inside the test itself, see there) get a second try.
mapfile -t racy < <(grep -oE '^[0-9]{4}' "$here/racy.txt" 2>/dev/null || true)
run_with_retry() {
  local id="$1" r
  run_one "$id" >/dev/null
  if grep -q ' FAILED ' "$out_dir/$id.res"; then
    for r in ${racy[@]+"${racy[@]}"}; do
      if [[ "${id%%:*}" == "$r" ]]; then
        local first
        first="$(cut -d' ' -f4- "$out_dir/$id.res")"
        mv "$out_dir/$id.log" "$out_dir/$id.first-try.log"
        run_one "$id" >/dev/null
        if grep -q ' PASSED ' "$out_dir/$id.res"; then
          sed -i "s|\$| (second try; the first, a race in the test itself, failed: ${first//|/ })|" "$out_dir/$id.res"
        fi
        break
      fi
    done
  fi
  cat "$out_dir/$id.res"
}

t_all=$SECONDS
# Wait only for the test jobs (the Kavka broker is a background child too).
pids=()
for n in "${numbers[@]}"; do
  while :; do
    live=()
    for p in ${pids[@]+"${pids[@]}"}; do kill -0 "$p" 2>/dev/null && live+=("$p"); done
    pids=(${live[@]+"${live[@]}"})
    ((${#pids[@]} < jobs)) && break
    sleep 0.2
  done
  run_with_retry "$n" &
  pids+=($!)
done
for p in ${pids[@]+"${pids[@]}"}; do wait "$p" 2>/dev/null || true; done

if [[ -n "$kavka_pid" ]] && ! kill -0 "$kavka_pid" 2>/dev/null; then
  log "Kavka exited during the run; tail of its log:"
  tail -30 "$broker_log" >&2 || true
fi
if [[ -n "$broker_log" && -f "$broker_log" ]]; then
  cp "$broker_log" "$out_dir/broker.log" 2>/dev/null || true
elif [[ -n "$broker_log" && -d "$broker_log" ]]; then
  # A cluster: each node's log (Kavka: node-N/broker.log, Kafka: node-N/server.log).
  for f in "$broker_log"/node-*/*.log; do
    [[ -f "$f" ]] && cp "$f" "$out_dir/$(basename "$(dirname "$f")")-$(basename "$f")" 2>/dev/null
  done
  true
fi

cat "$out_dir"/*.res | sort >"$out_dir/results.txt"
passed=$(grep -c ' PASSED ' "$out_dir/results.txt" || true)
failed=$(grep -c ' FAILED ' "$out_dir/results.txt" || true)
skipped=$(grep -c ' SKIPPED ' "$out_dir/results.txt" || true)
echo
grep ' FAILED ' "$out_dir/results.txt" | sed 's/^/FAILED /; s/ FAILED / /' || true
echo "logs: $out_dir (results.txt, <test>.log, broker.log)"
echo "$passed passed, $failed failed, $skipped skipped ($((SECONDS - t_all)) s)"
[[ $failed -eq 0 ]]
