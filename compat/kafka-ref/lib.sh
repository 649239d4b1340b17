# shellcheck shell=bash
# Shared by compat/kafka-ref.sh and compat/kafka-tool.sh: locating and caching
# the classpath of the Apache Kafka jars resolved through kafka-ref/pom.xml.
# Sourced, not executed.

KAFKA_REF_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_REF_POM="$KAFKA_REF_HOME/pom.xml"
# Downloads and generated files live outside the source tree so nothing
# resolved can end up committed; jars themselves stay in ~/.m2 where Maven
# already dedupes them.
KAFKA_REF_CACHE="${KAVKA_CACHE:-$HOME/.cache/kavka}/kafka-ref"

die() { echo "kafka-ref: $*" >&2; exit 1; }

# Print the Kafka classpath, resolving it with Maven on first use.
# The cache file is keyed on the pom's hash, so bumping kafka.version (or any
# dependency) re-resolves instead of silently running the old jars.
kafka_ref_classpath() {
  local key cp_file tmp
  command -v java >/dev/null || die "java not found on PATH (Kafka needs Java 17+)"
  key="$(sha256sum "$KAFKA_REF_POM" | cut -c1-16)"
  cp_file="$KAFKA_REF_CACHE/classpath-$key.txt"
  if [[ -s "$cp_file" ]] && kafka_ref_jars_present "$cp_file"; then
    cat "$cp_file"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found on PATH (needed once to resolve Kafka's jars)"
  mkdir -p "$KAFKA_REF_CACHE"
  echo "kafka-ref: resolving Kafka jars with Maven (first run only)..." >&2
  # Write to a temp file and rename, so an interrupted resolve never leaves a
  # truncated classpath that later runs would trust.
  tmp="$(mktemp "$KAFKA_REF_CACHE/classpath.XXXXXX")"
  # Maven's chatter goes to a log and is shown only on failure, so callers
  # such as `kafka-ref.sh classpath` keep a clean stdout/stderr.
  if ! mvn -q -B -f "$KAFKA_REF_POM" dependency:build-classpath \
        -Dmdep.outputFile="$tmp" -Dmdep.includeScope=runtime \
        > "$KAFKA_REF_CACHE/mvn-resolve.log" 2>&1; then
    rm -f "$tmp"
    cat "$KAFKA_REF_CACHE/mvn-resolve.log" >&2
    die "Maven could not resolve Kafka's jars (log: $KAFKA_REF_CACHE/mvn-resolve.log)"
  fi
  mv "$tmp" "$cp_file"
  cat "$cp_file"
}

# A cached classpath is only good while every jar it names still exists
# (someone may have wiped ~/.m2).
kafka_ref_jars_present() {
  local jar jars
  IFS=':' read -r -a jars < "$1"
  for jar in "${jars[@]}"; do
    [[ -f "$jar" ]] || return 1
  done
  return 0
}

# Readiness probes shared by kafka-ref.sh and kafka-ref-cluster.sh; both
# set HOST before calling them.

# True if something accepts TCP connections on HOST:$1. Uses bash's
# /dev/tcp so we need neither nc nor ss; `timeout` guards against a
# filtered port hanging the connect.
port_open() {
  timeout 1 bash -c "exec 3<>/dev/tcp/${HOST:-127.0.0.1}/$1" 2>/dev/null
}

# True once HOST:$1 answers a Kafka ApiVersions v0 request with error code 0.
# Hand-encoded: size=14, api_key=18, version=0, correlation_id=1,
# client_id="kref". The response starts size(4) correlation_id(4)
# error_code(2), so we expect ........ 00000001 0000.
api_versions_ok() {
  local resp
  resp="$(timeout 2 bash -c "
    exec 3<>/dev/tcp/${HOST:-127.0.0.1}/$1 || exit 1
    printf '\\x00\\x00\\x00\\x0e\\x00\\x12\\x00\\x00\\x00\\x00\\x00\\x01\\x00\\x04kref' >&3
    head -c 10 <&3 | od -An -tx1 | tr -d ' \\n'" 2>/dev/null)" || return 1
  [[ "${resp:8:12}" == "000000010000" ]]
}
