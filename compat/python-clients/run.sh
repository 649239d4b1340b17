#!/usr/bin/env bash
# Runs the kafka-python and aiokafka scenario tests against a broker.
#
#   compat/python-clients/run.sh [--kavka | --reference | --bootstrap H:P] [-- PYTEST_ARGS...]
#
#   --bootstrap H:P  broker to test (default: $KAVKA_BOOTSTRAP or 127.0.0.1:9092)
#   --reference      start the reference Apache Kafka (compat/kafka-ref.sh) on a free
#                    port with a fresh data dir, run against it, stop it on exit
#   --kavka          start Kavka (target/debug/kavka, built if missing) on a free port
#                    with a temp data dir, run against it, stop it on exit
#   --cluster N      with --kavka / --reference: N=3 starts a 3-node cluster instead
#                    (`kavka cluster up -n 3` / compat/kafka-ref-cluster.sh; RF 3 topics,
#                    min.insync.replicas=2; the full bootstrap list; see lib/brokers.sh)
#   -- ARGS          passed to pytest, e.g. -- -k aiokafka -x
#
# The venv lives outside the repo: ${KAVKA_CACHE:-$HOME/.cache/kavka}/py-clients-venv,
# re-installed when requirements.txt changes. Prints pytest's summary and exits
# non-zero when a test failed or none ran (pytest exit 5).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
# shellcheck source=../lib/brokers.sh
source "$compat/lib/brokers.sh"

bootstrap="${KAVKA_BOOTSTRAP:-127.0.0.1:9092}"
mode=bootstrap
nodes=1
pytest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) bootstrap="${2:?--bootstrap needs H:P}"; shift 2 ;;
    --bootstrap=*) bootstrap="${1#*=}"; shift ;;
    --reference) mode=reference; shift ;;
    --kavka) mode=kavka; shift ;;
    --cluster) nodes="${2:?--cluster needs N}"; shift 2 ;;
    --cluster=*) nodes="${1#*=}"; shift ;;
    --) shift; pytest_args+=("$@"); break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

venv="${KAVKA_CACHE:-$HOME/.cache/kavka}/py-clients-venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "run.sh: creating venv $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
  echo "$want" > "$stamp"
fi

case "$mode" in
  reference) brokers_start reference py-clients "$nodes"; bootstrap="$BROKER_BOOTSTRAP" ;;
  kavka) brokers_start kavka py-clients "$nodes"; bootstrap="$BROKER_BOOTSTRAP"; export KAVKA_BROKER=kavka ;;
esac

# The scenarios read KAVKA_NODES to expect RF 3 where they check replicas.
export KAVKA_NODES="$nodes"
echo "run.sh: bootstrap=$bootstrap" >&2
set +e
KAVKA_BOOTSTRAP="$bootstrap" "$venv/bin/python" -m pytest -c "$here/pytest.ini" \
  --rootdir "$here" -p no:cacheprovider "$here" ${pytest_args[@]+"${pytest_args[@]}"}
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "run.sh: pytest collected no tests" >&2
  exit 1
fi
exit $rc
