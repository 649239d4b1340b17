#!/usr/bin/env bash
# The web console in headless Chromium: starts Kavka (target/debug/kavka, built
# if missing) with its HTTP listener on free ports, runs test/ with node --test
# through playwright-core driving Debian's chromium (no browser download), and
# leaves the screenshots in compat/console/screenshots/ (or $SCREENSHOTS).
#
#   compat/console/run.sh [-- NODE_TEST_ARGS...]
#
# Ports come from KAVKA_TEST_PORTS (LO-HI, default 20000-31999). Needs node, npm
# and /usr/bin/chromium (`apt-get install -y chromium`; .ci/run installs it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
node_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --) shift; node_args+=("$@"); break ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  echo "run.sh: $chromium is missing: apt-get install -y chromium" >&2
  exit 1
fi
if [[ ! -d "$here/node_modules/playwright-core" || "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

bin="${KAVKA_BIN:-$root/target/debug/kavka}"
[[ -x "$bin" ]] || cargo build -q --manifest-path "$root/Cargo.toml" -p kavka

range="${KAVKA_TEST_PORTS:-20000-31999}"
lo="${range%-*}"; hi="${range#*-}"
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick() {
  local p
  for _ in $(seq 1 100); do
    p=$(( lo + RANDOM % (hi - lo + 1) ))
    busy "$p" || { echo "$p"; return 0; }
  done
  echo "run.sh: no free port in $range" >&2; return 1
}
kafka_port="$(pick)"
http_port="$(pick)"
[[ "$http_port" != "$kafka_port" ]] || http_port="$(pick)"

dir="$(mktemp -d "${TMPDIR:-/tmp}/kavka-console-XXXXXX")"
pid=""
stop() {
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

"$bin" broker --override "listeners=PLAINTEXT://127.0.0.1:$kafka_port" \
  --override "http.listeners=http://127.0.0.1:$http_port" \
  --override "group.initial.rebalance.delay.ms=0" \
  --override "log.dirs=$dir/data" >"$dir/broker.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$http_port"
# GET /ready with bash alone: true once it answers 200.
ready() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$http_port" || exit 1
    printf 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    read -r line <&3 || exit 1
    [[ "$line" == *" 200 "* ]]
  ) 2>/dev/null
}
for _ in $(seq 1 300); do
  if ready; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 20 "$dir/broker.log" >&2; echo "run.sh: Kavka exited during startup" >&2; exit 1
  fi
  sleep 0.2
done
ready || { tail -n 20 "$dir/broker.log" >&2; echo "run.sh: not ready" >&2; exit 1; }
echo "run.sh: console at $url/console/ (Kafka on 127.0.0.1:$kafka_port)" >&2

shots="${SCREENSHOTS:-$here/screenshots}"
rm -rf "$shots"
set +e
(cd "$here" && CONSOLE_URL="$url" SCREENSHOTS="$shots" CHROMIUM="$chromium" \
  node --test --test-concurrency=1 --test-timeout=180000 ${node_args[@]+"${node_args[@]}"} test/)
rc=$?
set -e
if [[ $rc -ne 0 ]]; then tail -n 30 "$dir/broker.log" >&2; fi
echo "run.sh: screenshots in $shots: $(ls "$shots" 2>/dev/null | tr '\n' ' ')" >&2
exit $rc
