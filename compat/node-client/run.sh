#!/usr/bin/env bash
# Runs the KafkaJS scenario tests against a broker.
#
#   compat/node-client/run.sh [--kavka | --reference | --bootstrap H:P] [-- NODE_TEST_ARGS...]
#
#   --bootstrap H:P  broker to test (default: $KAVKA_BOOTSTRAP or 127.0.0.1:9092)
#   --reference      start the reference Apache Kafka (compat/kafka-ref.sh) on a free
#                    port with a fresh data dir, run against it, stop it on exit
#   --kavka          start Kavka (target/debug/kavka, built if missing) on a free port
#                    with a temp data dir, run against it, stop it on exit
#   --cluster N      with --kavka / --reference: N=3 starts a 3-node cluster instead
#                    (`kavka cluster up -n 3` / compat/kafka-ref-cluster.sh; RF 3 topics,
#                    min.insync.replicas=2; the full bootstrap list; see lib/brokers.sh)
#   -- ARGS          passed to node --test, e.g. -- --test-name-pattern=group
#
# Installs kafkajs from package-lock.json (npm ci, when node_modules is missing or
# older than the lock file), runs `node --test` on test/, prints node's summary
# and exits non-zero when a test failed or none ran.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
# shellcheck source=../lib/brokers.sh
source "$compat/lib/brokers.sh"

bootstrap="${KAVKA_BOOTSTRAP:-127.0.0.1:9092}"
mode=bootstrap
nodes=1
node_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) bootstrap="${2:?--bootstrap needs H:P}"; shift 2 ;;
    --bootstrap=*) bootstrap="${1#*=}"; shift ;;
    --reference) mode=reference; shift ;;
    --kavka) mode=kavka; shift ;;
    --cluster) nodes="${2:?--cluster needs N}"; shift 2 ;;
    --cluster=*) nodes="${1#*=}"; shift ;;
    --) shift; node_args+=("$@"); break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [[ ! -d "$here/node_modules/kafkajs" || "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

case "$mode" in
  reference) brokers_start reference node-client "$nodes"; bootstrap="$BROKER_BOOTSTRAP" ;;
  kavka) brokers_start kavka node-client "$nodes"; bootstrap="$BROKER_BOOTSTRAP"; export KAVKA_BROKER=kavka ;;
esac

# The scenarios read KAVKA_NODES to expect RF 3 where they check replicas.
export KAVKA_NODES="$nodes"
echo "run.sh: bootstrap=$bootstrap" >&2
out="$(mktemp "${TMPDIR:-/tmp}/kavka-node-client-XXXXXX.tap")"
set +e
(cd "$here" && KAVKA_BOOTSTRAP="$bootstrap" node --test --test-concurrency=1 \
  --test-timeout=300000 ${node_args[@]+"${node_args[@]}"} test/) | tee "$out"
rc=${PIPESTATUS[0]}
set -e
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out")
# "not ok" lines that are not todo/skip: failed tests and failed test files.
fail=$(grep '^not ok' "$out" | grep -vc '# \(TODO\|SKIP\)' || true)
skip=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$out")
todo=$(sed -n 's/^# todo \([0-9]*\)$/\1/p' "$out")
grep '^not ok' "$out" | grep -v '# \(TODO\|SKIP\)' || true
rm -f "$out"
echo "${pass:-0} passed, ${fail:-0} failed, $(( ${skip:-0} + ${todo:-0} )) skipped"
if [[ "${pass:-0}" -eq 0 ]]; then
  echo "run.sh: no test passed" >&2
  exit 1
fi
exit $rc
