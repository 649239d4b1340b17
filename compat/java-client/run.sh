#!/usr/bin/env bash
# Runs the Java client scenario tests against a broker.
#
#   compat/java-client/run.sh [--bootstrap H:P] [--groups] [--reference] [-- MAVEN_ARGS...]
#
#   --bootstrap H:P  broker to test (default: $KAVKA_BOOTSTRAP or 127.0.0.1:9092)
#   --groups         also run the tests tagged "groups" and "kip848" (consumer groups;
#                    excluded by default because they need a group coordinator)
#   --reference      start the reference Apache Kafka (compat/kafka-ref.sh) on a free
#                    port with a fresh data dir, run against it, stop it on exit
#   --kavka          start Kavka (target/debug/kavka, built if missing) on a free port
#                    with a fresh data dir, run against it, stop it on exit
#   --cluster N      with --kavka / --reference: N=3 starts a 3-node cluster instead
#                    (`kavka cluster up -n 3` / compat/kafka-ref-cluster.sh; topics get RF 3,
#                    min.insync.replicas=2; the full bootstrap list; see lib/brokers.sh)
#   --exclude-tags T comma-separated JUnit tags to leave out (after --groups)
#   -- ARGS          passed to mvn, e.g. -- -Dtest=ProducerScenarios
#
# Prints "N passed, N failed, N skipped" (from target/surefire-reports) and exits
# non-zero when a test failed or the build broke. Client logs (WARN+) are in
# target/surefire-reports/*-output.txt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"

bootstrap="${KAVKA_BOOTSTRAP:-127.0.0.1:9092}"
groups=0
reference=0
kavka=0
nodes=1
extra_excluded=""
mvn_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) bootstrap="${2:?--bootstrap needs H:P}"; shift 2 ;;
    --bootstrap=*) bootstrap="${1#*=}"; shift ;;
    --groups) groups=1; shift ;;
    --reference) reference=1; shift ;;
    --kavka) kavka=1; shift ;;
    --cluster) nodes="${2:?--cluster needs N}"; shift 2 ;;
    --cluster=*) nodes="${1#*=}"; shift ;;
    --exclude-tags) extra_excluded="${2:?--exclude-tags needs TAGS}"; shift 2 ;;
    --) shift; mvn_args+=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=../lib/brokers.sh
source "$compat/lib/brokers.sh"
# Single nodes on free ports; --cluster 3: see lib/brokers.sh. Each is stopped on exit.
if [[ $reference -eq 1 ]]; then
  brokers_start reference java-client "$nodes"
  bootstrap="$BROKER_BOOTSTRAP"
elif [[ $kavka -eq 1 ]]; then
  brokers_start kavka java-client "$nodes"
  bootstrap="$BROKER_BOOTSTRAP"
fi

if [[ $groups -eq 1 ]]; then
  excluded=""
else
  excluded="groups,kip848"
fi
if [[ -n "$extra_excluded" ]]; then
  excluded="${excluded:+$excluded,}$extra_excluded"
fi

reports="$here/target/surefire-reports"
rm -rf "$reports"
echo "run.sh: bootstrap=$bootstrap nodes=$nodes excluded tags: ${excluded:-none}" >&2
set +e
mvn -q -f "$here/pom.xml" test \
  -DKAVKA_BOOTSTRAP="$bootstrap" \
  -DKAVKA_NODES="$nodes" \
  -DexcludedGroups="$excluded" \
  -Dmaven.test.failure.ignore=true \
  -Dsurefire.failIfNoSpecifiedTests=false \
  ${mvn_args[@]+"${mvn_args[@]}"}
rc=$?
set -e

if ! ls "$reports"/TEST-*.xml >/dev/null 2>&1; then
  echo "run.sh: no test reports (mvn exit $rc)" >&2
  exit $(( rc == 0 ? 1 : rc ))
fi

# Totals and the failing tests with their first message line.
status=0
python3 - "$reports" <<'PY' || status=$?
import glob, sys, xml.etree.ElementTree as ET
tests = failed = skipped = 0
fails = []
for f in sorted(glob.glob(sys.argv[1] + "/TEST-*.xml")):
    root = ET.parse(f).getroot()
    for tc in root.iter("testcase"):
        tests += 1
        cls = tc.get("classname", "").rsplit(".", 1)[-1]
        bad = tc.find("failure") if tc.find("failure") is not None else tc.find("error")
        if tc.find("skipped") is not None:
            skipped += 1
        elif bad is not None:
            failed += 1
            msg = (bad.get("message") or bad.get("type") or "").strip().splitlines()
            fails.append(f"FAILED {cls} > {tc.get('name')}: {msg[0] if msg else bad.get('type')}")
for line in fails:
    print(line)
print(f"{tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
[[ $rc -ne 0 && $status -eq 0 ]] && status=$rc
exit $status
