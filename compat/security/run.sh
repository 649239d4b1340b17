#!/usr/bin/env bash
# Secure clients against Kavka and the reference Apache Kafka, configured the
# same way with the same certificates (made here with openssl, for this run
# only), the same SCRAM user and the same ACLs:
#   - listeners: PLAINTEXT (administration, User:ANONYMOUS is a super user),
#     SASL_SSL (SCRAM-SHA-256) and SSL with ssl.client.auth=required;
#   - the StandardAuthorizer; User:alice (SCRAM, made with kafka-configs) and
#     User:carol (the client certificate's CN) may write, read and describe
#     secure-topic and read every group; nobody may touch forbidden-topic.
# Then kafka-python, confluent-kafka (librdkafka), KafkaJS and the Java client
# (Kafka's console producer and consumer, kafka-topics), each over
# SASL_SSL/SCRAM and over mutual TLS: produce and consume secure-topic, produce
# to forbidden-topic (denied), and over SASL_SSL log in with a wrong password.
# Every step prints one line per broker; the two columns are printed side by
# side and the script exits non-zero if any line differs.
#
#   compat/security/run.sh [--no-build]   (KAVKA_BIN=path: that kavka binary, no build)
#
# The Python clients live in a venv outside the repository,
# ${KAVKA_CACHE:-$HOME/.cache/kavka}/security-clients-venv (from requirements.txt);
# KafkaJS comes from compat/node-client (npm ci there when node_modules is missing).
# Ports come from KAVKA_TEST_PORTS=LO-HI when set (default 20000-31999).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
BUILD=1
[[ "${1:-}" == "--no-build" ]] && BUILD=0
HOST=127.0.0.1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kavka-security-compat.XXXXXX")"
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

# --- Clients -------------------------------------------------------------------
venv="${KAVKA_CACHE:-$HOME/.cache/kavka}/security-clients-venv"
want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  echo "run.sh: creating venv $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt" >&2
  echo "$want" > "$venv/.requirements.sha256"
fi
if [[ ! -d "$ROOT/compat/node-client/node_modules/kafkajs" ]]; then
  (cd "$ROOT/compat/node-client" && npm ci --no-audit --no-fund >&2)
fi

# --- Certificates --------------------------------------------------------------
t="$WORK/certs"; mkdir -p "$t"
ossl() { openssl "$@" 2> /dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=security compat CA" -keyout "$t/ca.key" -out "$t/ca.pem"
issue() { # name subject
  ossl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$t/$1.key" -out "$t/$1.csr"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$t/$1.ext"
  ossl x509 -req -in "$t/$1.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 2 \
    -extfile "$t/$1.ext" -out "$t/$1.pem"
}
issue broker "/CN=broker"
issue carol "/CN=carol"
openssl pkcs12 -export -inkey "$t/broker.key" -in "$t/broker.pem" -certfile "$t/ca.pem" -name broker \
  -passout pass:changeit -out "$t/broker.p12"

# --- The same settings for both brokers -----------------------------------------
props=(
  "sasl.enabled.mechanisms=SCRAM-SHA-256"
  "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  "ssl.keystore.type=PKCS12" "ssl.keystore.location=$t/broker.p12"
  "ssl.keystore.password=changeit" "ssl.key.password=changeit"
  "ssl.truststore.type=PEM" "ssl.truststore.location=$t/ca.pem"
  "listener.name.ssl.ssl.client.auth=required"
  "ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT"
  "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
  "super.users=User:ANONYMOUS"
  "num.partitions=1" "group.initial.rebalance.delay.ms=0"
)
overrides=()
for p in "${props[@]}"; do overrides+=(--override "$p"); done

tool() { compat/kafka-tool.sh "$@" > "$WORK/tool.log" 2>&1 || { cat "$WORK/tool.log" >&2; return 1; }; }
setup() { # plaintext-bootstrap
  tool kafka-configs --bootstrap-server "$1" --alter --entity-type users --entity-name alice \
    --add-config 'SCRAM-SHA-256=[iterations=4096,password=alice-secret]'
  tool kafka-topics --bootstrap-server "$1" --create --topic secure-topic --partitions 1
  tool kafka-topics --bootstrap-server "$1" --create --topic forbidden-topic --partitions 1
  tool kafka-acls --bootstrap-server "$1" --add --allow-principal User:alice --allow-principal User:carol \
    --operation Write --operation Read --operation Describe --topic secure-topic
  tool kafka-acls --bootstrap-server "$1" --add --allow-principal User:alice --allow-principal User:carol \
    --operation Read --group '*'
}
# The Java client, through Kafka's console tools (the same client library).
cat "$t/carol.key" "$t/carol.pem" > "$t/carol-keystore.pem"
java_props() { # file transport [password]
  if [[ $2 == sasl_ssl ]]; then
    cat > "$1" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${3:-alice-secret}";
ssl.truststore.type=PEM
ssl.truststore.location=$t/ca.pem
PROPS
  else
    cat > "$1" <<PROPS
security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location=$t/ca.pem
ssl.keystore.type=PEM
ssl.keystore.location=$t/carol-keystore.pem
PROPS
  fi
}
# The first line naming a Kafka exception, without timestamps or addresses.
java_error() { grep -o -m1 'org\.apache\.kafka\.common\.errors\.[A-Za-z]*Exception[^(]*' "$1" | sed 's/ *$//'; }
java_clients() { # name sasl-bootstrap ssl-bootstrap
  local transport bootstrap props err="$WORK/$1-java.err"
  for transport in sasl_ssl mtls; do
    bootstrap=$2; [[ $transport == mtls ]] && bootstrap=$3
    props="$WORK/java-$transport.properties"
    java_props "$props" "$transport"
    if printf 'java-%s-0\njava-%s-1\n' "$transport" "$transport" | compat/kafka-tool.sh kafka-console-producer \
        --bootstrap-server "$bootstrap" --topic secure-topic --command-config "$props" 2> "$err" \
        && [[ -z "$(java_error "$err")" ]]; then
      echo "java $transport produce: ok"
    else
      echo "java $transport produce: $(java_error "$err")"
    fi
    echo x | compat/kafka-tool.sh kafka-console-producer --bootstrap-server "$bootstrap" \
      --topic forbidden-topic --command-config "$props" 2> "$err" || true
    echo "java $transport produce denied topic: $(java_error "$err")"
    local got
    got="$(compat/kafka-tool.sh kafka-console-consumer --bootstrap-server "$bootstrap" --topic secure-topic \
      --from-beginning --group "$transport-java" --command-config "$props" --timeout-ms 20000 2> "$err" \
      | grep -c "^java-$transport-" || true)"
    if [[ "$got" == 2 ]]; then echo "java $transport consume: ok"; else echo "java $transport consume: $got of 2 records $(java_error "$err")"; fi
    if [[ $transport == sasl_ssl ]]; then
      java_props "$WORK/java-wrong.properties" sasl_ssl guess
      compat/kafka-tool.sh kafka-topics --bootstrap-server "$bootstrap" --list \
        --command-config "$WORK/java-wrong.properties" > /dev/null 2> "$err" || true
      echo "java $transport wrong password: $(java_error "$err")"
    fi
  done
}
clients() { # name sasl-bootstrap ssl-bootstrap out
  { "$venv/bin/python" "$HERE/clients.py" "$1" "$2" "$3" "$t" 2>> "$WORK/$1-clients.err"
    node "$HERE/clients.js" "$1" "$2" "$3" "$t" 2>> "$WORK/$1-clients.err"
    java_clients "$1" "$2" "$3"
  } > "$4" || true
}

# --- Apache Kafka ----------------------------------------------------------------
port="$(free_port)"; sasl_port="$(free_port)"; ssl_port="$(free_port)"
compat/kafka-ref.sh start --port "$port" --controller-port "$((port + 1))" --dir "$KAFKA_DIR" --fresh \
  --override "listeners=PLAINTEXT://$HOST:$port,SASL_SSL://$HOST:$sasl_port,SSL://$HOST:$ssl_port,CONTROLLER://$HOST:$((port + 1))" \
  --override "advertised.listeners=PLAINTEXT://$HOST:$port,SASL_SSL://$HOST:$sasl_port,SSL://$HOST:$ssl_port" \
  --override "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL" \
  "${overrides[@]}" > /dev/null
setup "$HOST:$port"
echo "Apache Kafka: PLAINTEXT $port, SASL_SSL $sasl_port, SSL $ssl_port" >&2
clients kafka "$HOST:$sasl_port" "$HOST:$ssl_port" "$WORK/kafka.txt"
compat/kafka-ref.sh stop --dir "$KAFKA_DIR" > /dev/null

# --- Kavka ---------------------------------------------------------------------
port="$(free_port)"; sasl_port="$(free_port)"; ssl_port="$(free_port)"
"$KAVKA" broker --override "http.listeners=" \
  --override "listeners=PLAINTEXT://$HOST:$port,SASL_SSL://$HOST:$sasl_port,SSL://$HOST:$ssl_port" \
  --override "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL" \
  --override "log.dirs=$WORK/kavka-data" "${overrides[@]}" > "$WORK/kavka.log" 2>&1 &
KAVKA_PID=$!
wait_for_port "$port"; wait_for_port "$sasl_port"; wait_for_port "$ssl_port"
setup "$HOST:$port"
echo "Kavka: PLAINTEXT $port, SASL_SSL $sasl_port, SSL $ssl_port" >&2
clients kavka "$HOST:$sasl_port" "$HOST:$ssl_port" "$WORK/kavka.txt"

# --- Side by side ----------------------------------------------------------------
echo "# Apache Kafka 4.4.0 and Kavka (logs: $WORK)"
paste -d'\t' "$WORK/kafka.txt" "$WORK/kavka.txt" | while IFS=$'\t' read -r a b; do
  if [[ "$a" == "$b" ]]; then echo "both:  $a"; else echo "Kafka: $a"; echo "Kavka: $b"; fi
done
if diff -q "$WORK/kafka.txt" "$WORK/kavka.txt" > /dev/null; then
  echo "same on both: $(wc -l < "$WORK/kafka.txt") steps"
else
  echo "DIFFERENT:"; diff "$WORK/kafka.txt" "$WORK/kavka.txt" || true
  exit 1
fi
