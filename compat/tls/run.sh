#!/usr/bin/env bash
# TLS against Kavka and the reference Apache Kafka, configured the same way with
# the same certificates (made here with openssl and keytool, for this run only):
# a PLAINTEXT and an SSL listener, ssl.client.auth=required, PKCS12 stores.
# Kafka's own tools (Java clients) then, on each broker's SSL port:
#   1. kafka-topics --command-config (mutual TLS, PKCS12 trust and key stores):
#      --create and --list;
#   2. kafka-console-producer / kafka-console-consumer over mutual TLS;
#   3. a client whose certificate another CA signed: must fail on both;
#   4. a client without ssl.* settings (plaintext) on the SSL port: must fail on both.
# Prints each step's outcome for both brokers; exits non-zero if they differ.
#
#   compat/tls/run.sh [--no-build]      (KAVKA_BIN=path: that kavka binary, no build)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD=1
[[ "${1:-}" == "--no-build" ]] && BUILD=0
HOST=127.0.0.1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kavka-tls-compat.XXXXXX")"
KAVKA="${KAVKA_BIN:-$ROOT/target/release/kavka}"
[[ -n "${KAVKA_BIN:-}" ]] && BUILD=0
KAVKA_PID=""
KAFKA_DIR="$WORK/kafka"
PORT_LO=20000
PORT_HI=31999
if [[ "${KAVKA_TEST_PORTS:-}" =~ ^([0-9]+)-([0-9]+)$ ]]; then
  PORT_LO="${BASH_REMATCH[1]}"; PORT_HI="${BASH_REMATCH[2]}"
fi
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( PORT_LO + RANDOM % (PORT_HI - PORT_LO) ))
    if ! port_open "$p" && ! port_open "$((p + 1))"; then echo "$p"; return 0; fi
  done
  return 1
}
wait_for_port() {
  local deadline=$(( $(date +%s) + 60 ))
  until port_open "$1"; do
    (( $(date +%s) > deadline )) && { echo "nothing listens on $1" >&2; return 1; }
    sleep 0.1
  done
}
cleanup() {
  if [[ -n "$KAVKA_PID" ]]; then kill -TERM "$KAVKA_PID" 2>/dev/null || true; wait "$KAVKA_PID" 2>/dev/null || true; fi
  compat/kafka-ref.sh stop --dir "$KAFKA_DIR" > /dev/null 2>&1 || true
  rm -rf "$WORK/kavka-data" "$KAFKA_DIR/data"
}
trap cleanup EXIT

[[ "$BUILD" == 1 ]] && cargo build --release -p kavka

# --- Certificates ------------------------------------------------------------
t="$WORK/tls"; mkdir -p "$t"
ossl() { openssl "$@" 2> /dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=compat CA" -keyout "$t/ca.key" -out "$t/ca.pem"
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=stranger CA" -keyout "$t/other-ca.key" -out "$t/other-ca.pem"
issue() { # name subject ca
  ossl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$t/$1.key" -out "$t/$1.csr"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$t/$1.ext"
  ossl x509 -req -in "$t/$1.csr" -CA "$t/$3.pem" -CAkey "$t/$3.key" -CAcreateserial -days 2 \
    -extfile "$t/$1.ext" -out "$t/$1.pem"
  openssl pkcs12 -export -inkey "$t/$1.key" -in "$t/$1.pem" -certfile "$t/$3.pem" -name "$1" \
    -passout pass:changeit -out "$t/$1.p12"
}
issue broker "/CN=broker" ca
issue alice "/C=DE/O=Kavka/OU=Eng/CN=alice" ca
issue mallory "/CN=mallory" other-ca
keytool -importcert -noprompt -alias ca -file "$t/ca.pem" -storetype PKCS12 \
  -keystore "$t/truststore.p12" -storepass changeit > /dev/null 2>&1
client_props() { # file keystore
  cat > "$1" <<PROPS
security.protocol=SSL
ssl.truststore.type=PKCS12
ssl.truststore.location=$t/truststore.p12
ssl.truststore.password=changeit
ssl.keystore.type=PKCS12
ssl.keystore.location=$t/$2.p12
ssl.keystore.password=changeit
ssl.key.password=changeit
PROPS
}
client_props "$t/alice.properties" alice
client_props "$t/mallory.properties" mallory
broker_ssl=(
  "ssl.keystore.type=PKCS12" "ssl.keystore.location=$t/broker.p12"
  "ssl.keystore.password=changeit" "ssl.key.password=changeit"
  "ssl.truststore.type=PKCS12" "ssl.truststore.location=$t/truststore.p12"
  "ssl.truststore.password=changeit" "ssl.client.auth=required"
)
overrides=()
for p in "${broker_ssl[@]}"; do overrides+=(--override "$p"); done

# --- The steps, against one broker's SSL port ------------------------------------
tool() { timeout 60 compat/kafka-tool.sh "$@"; }
steps() { # name ssl-bootstrap
  local out="$WORK/$1.out" b=$2
  : > "$out"
  { tool kafka-topics --bootstrap-server "$b" --command-config "$t/alice.properties" \
      --create --topic tls-compat --partitions 2 --replication-factor 1 > /dev/null 2>&1 \
      && echo "create over mutual TLS: ok" || echo "create over mutual TLS: FAILED"; } >> "$out"
  { echo "list over mutual TLS:"; tool kafka-topics --bootstrap-server "$b" \
      --command-config "$t/alice.properties" --list 2> /dev/null | grep -v '^__' || true; } >> "$out"
  printf 'one\ntwo\n' | tool kafka-console-producer --bootstrap-server "$b" --topic tls-compat \
    --producer.config "$t/alice.properties" > /dev/null 2>&1 || true
  { echo "consumed over mutual TLS:"; tool kafka-console-consumer --bootstrap-server "$b" \
      --topic tls-compat --from-beginning --max-messages 2 --timeout-ms 20000 \
      --consumer.config "$t/alice.properties" 2> /dev/null | sort || true; } >> "$out"
  { timeout 30 compat/kafka-tool.sh kafka-topics --bootstrap-server "$b" \
      --command-config "$t/mallory.properties" --list > /dev/null 2>&1 \
      && echo "untrusted client certificate: ACCEPTED" || echo "untrusted client certificate: refused"; } >> "$out"
  { timeout 30 compat/kafka-tool.sh kafka-topics --bootstrap-server "$b" --list \
      > /dev/null 2>&1 \
      && echo "plaintext client on the SSL port: ACCEPTED" || echo "plaintext client on the SSL port: refused"; } >> "$out"
}

# --- Kavka -----------------------------------------------------------------------
port="$(free_port)"; ssl_port="$(free_port)"
"$KAVKA" broker --override "listeners=PLAINTEXT://$HOST:$port,SSL://$HOST:$ssl_port" \
  --override "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL" "${overrides[@]}" \
  --override "log.dirs=$WORK/kavka-data" > "$WORK/kavka.log" 2>&1 &
KAVKA_PID=$!
wait_for_port "$port"; wait_for_port "$ssl_port"
steps kavka "$HOST:$ssl_port"
kill -TERM "$KAVKA_PID"; wait "$KAVKA_PID" 2>/dev/null || true; KAVKA_PID=""

# --- Apache Kafka ----------------------------------------------------------------
port="$(free_port)"; ssl_port="$(free_port)"
compat/kafka-ref.sh start --port "$port" --controller-port "$((port + 1))" --dir "$KAFKA_DIR" --fresh \
  --override "listeners=PLAINTEXT://$HOST:$port,SSL://$HOST:$ssl_port,CONTROLLER://$HOST:$((port + 1))" \
  --override "advertised.listeners=PLAINTEXT://$HOST:$port,SSL://$HOST:$ssl_port" \
  --override "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL" \
  "${overrides[@]}" > /dev/null
steps kafka "$HOST:$ssl_port"

echo "## Kavka";        cat "$WORK/kavka.out"
echo "## Apache Kafka"; cat "$WORK/kafka.out"
grep -h "TLS client authenticated\|Failed authentication" "$WORK/kavka.log" | sed 's/^/kavka log: /' | head -5
if diff -u "$WORK/kafka.out" "$WORK/kavka.out"; then
  echo "same outcome on both brokers"
else
  echo "the brokers differ (above: - Kafka, + Kavka)"; exit 1
fi
