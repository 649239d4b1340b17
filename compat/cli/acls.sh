#!/usr/bin/env bash
# kafka-acls run by either tool set against a running broker with an
# authorizer, as a transcript to compare: Kafka's own tool
# (compat/kafka-tool.sh) or Kavka's (target/debug/kavka acls), against Kavka or
# the reference Kafka.
#
#   compat/cli/acls.sh --bootstrap H:P [--tools kafka|kavka] [--check] [--record]
#   compat/cli/acls.sh --kavka
#
#   --kavka        start target/debug/kavka as a broker (the authorizer on,
#                  User:ANONYMOUS a super user) and check both Kafka's tool and
#                  `kavka acls` against it; exit 1 on a diff
#   --tools kafka  Apache Kafka 4.4's tool (default); kavka: Kavka's binary
#   --check        compare with compat/cli/expected-acls.txt, exit 1 on a diff
#   --record       write the transcript to expected-acls.txt (do this only
#                  with Kafka's tool against the reference Kafka)
#
# The broker needs the StandardAuthorizer, no ACLs yet, and User:ANONYMOUS as a
# super user, e.g. the reference Kafka:
#   compat/kafka-ref.sh start --port P --fresh \
#     --override authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer \
#     --override super.users=User:ANONYMOUS
# or Kavka:
#   target/debug/kavka broker --override listeners=PLAINTEXT://127.0.0.1:P ... (same two overrides)
#
# Masked or reordered, and why:
# - Kafka's tool keeps ACLs and resources in Java hash sets whose order changes
#   from one run to the next (enum hash codes are identity hashes). Each
#   output block (lines up to an empty line) keeps its layout, but its lines
#   (the non-ACL lines, then the tab-indented ACL lines) and the blocks
#   themselves are sorted; so is the operation list in "only supports
#   operations [...]".
# - The option table after a usage error (joptsimple's layout in Kafka's tool,
#   clap's in Kavka's): only the message line of a usage error is kept.
# - The stack frames after "Error while executing ACL command" (Kavka's tool
#   prints the exception lines without them).
# The --remove question is not asked here: Kafka's tool reads the answer from
# the console only and fails without one (see DIFFERENCES.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(dirname "$here")"
root="$(dirname "$compat")"
EXPECTED="$here/expected-acls.txt"

bootstrap=""
tools=kafka
check=0
record=0
kavka=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) bootstrap="${2:?--bootstrap needs H:P}"; shift 2 ;;
    --tools) tools="${2:?--tools needs kafka or kavka}"; shift 2 ;;
    --check) check=1; shift ;;
    --record) record=1; shift ;;
    --kavka) kavka=1; shift ;;
    -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
    *) echo "acls.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [[ $kavka -eq 1 ]]; then
  # Both tool sets against one Kavka broker; each transcript ends with no ACLs.
  bin="$root/target/debug/kavka"
  [[ -x "$bin" ]] || cargo build -q --manifest-path "$root/Cargo.toml" -p kavka
  port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
  # Ports from KAVKA_TEST_PORTS (LO-HI) as the tests take theirs, else 20000-31999.
  range="${KAVKA_TEST_PORTS:-20000-31999}"
  lo="${range%-*}"; hi="${range#*-}"
  port=""
  for _ in $(seq 1 50); do
    p=$(( lo + RANDOM % (hi - lo) ))
    if ! port_busy "$p" && ! port_busy "$((p + 1))"; then port="$p"; break; fi
  done
  [[ -n "$port" ]] || { echo "acls.sh: no free port found" >&2; exit 1; }
  data="$(mktemp -d)"
  "$bin" broker --override "http.listeners=" --override "listeners=PLAINTEXT://127.0.0.1:$port" \
    --override "log.dirs=$data/logs" \
    --override "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" \
    --override "super.users=User:ANONYMOUS" >"$data/broker.log" 2>&1 &
  broker=$!
  trap 'kill -TERM "$broker" 2>/dev/null; wait "$broker" 2>/dev/null; rm -rf "$data"' EXIT
  for _ in $(seq 1 100); do port_busy "$port" && break; sleep 0.1; done
  port_busy "$port" || { cat "$data/broker.log" >&2; echo "acls.sh: Kavka did not start" >&2; exit 1; }
  rc=0
  for t in kafka kavka; do
    echo "acls.sh: $t's tool against Kavka" >&2
    "$0" --bootstrap "127.0.0.1:$port" --tools "$t" --check >"$data/$t.out" || rc=1
    [[ $rc -eq 0 ]] || { sed -n '/^---/,$p' "$data/$t.out"; break; }
  done
  [[ $rc -eq 0 ]] && echo "acls.sh: both tool sets match Kafka's transcript" >&2
  exit "$rc"
fi
[[ -n "$bootstrap" ]] || { sed -n '2,38p' "$0" >&2; exit 2; }

acls() {
  case "$tools" in
    kafka) "$compat/kafka-tool.sh" kafka-acls "$@" ;;
    kavka) "$root/target/debug/kavka" acls "$@" ;;
    *) echo "acls.sh: --tools kafka or kavka" >&2; exit 2 ;;
  esac
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The operations of "ResourceType X only supports operations [...]", sorted.
sort_operations() {
  python3 -c '
import re, sys
for line in sys.stdin.read().splitlines():
    m = re.match(r"^(.* only supports operations \[)(.*)(\])$", line)
    print(m.group(1) + ", ".join(sorted(m.group(2).split(", "))) + m.group(3) if m else line)
'
}

# Sorts within and between output blocks (see above); drops stack frames.
normalize() {
  python3 -c '
import re, sys
text = sys.stdin.read()
lines = [l for l in text.split("\n")
         if not re.match(r"^\tat |^\t\.\.\. [0-9]+ more$", l)]
blocks, block = [], []
for line in lines:
    # "ACLs for principal" heads the blocks after it: a block of its own.
    if line == "" or line.startswith("ACLs for principal "):
        if block:
            blocks.append(block)
        if line:
            blocks.append([line])
        block = []
    else:
        block.append(line)
if block:
    blocks.append(block)
def tidy(block):
    head = sorted(l for l in block if not l.startswith(("\t", " \t")))
    acls = [l for l in block if l.startswith(("\t", " \t"))]
    first = acls[:1] and acls[0].startswith(" \t")
    acls = sorted(l.lstrip(" ") for l in acls)
    if first:
        acls[0] = " " + acls[0]
    return head + acls
for b in sorted(tidy(b) for b in blocks):
    print("\n".join(b))
    print()
'
}

step() {
  local rc=0
  echo "\$ kafka-acls $*"
  acls "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  normalize <"$work/out"
  echo "[stderr]"
  # A usage error: the message, without the option table.
  head -n 1 "$work/err" | sort_operations
  echo "[exit $rc]"
}

transcript() {
  B="$bootstrap"
  step --bootstrap-server "$B" --add --allow-principal User:alice --operation Read --topic t
  step --bootstrap-server "$B" --add --allow-principal User:alice --operation Read --topic t
  step --bootstrap-server "$B" --list --topic t
  step --bootstrap-server "$B" --add --allow-principal User:bob --producer --topic p --idempotent
  step --bootstrap-server "$B" --add --allow-principal User:bob --consumer --topic p --group g
  step --bootstrap-server "$B" --add --deny-principal User:mallory --deny-host 10.0.0.1 --deny-host 10.0.0.2 --operation Write --operation Describe --topic pre- --resource-pattern-type prefixed
  step --bootstrap-server "$B" --add --allow-principal User:ops --cluster --operation ClusterAction --operation=ALTERCONFIGS
  step --bootstrap-server "$B" --add --allow-principal User:ops --transactional-id tx --delegation-token tok --operation Describe
  step --bootstrap-server "$B" --add --allow-principal User:ops --user-principal User:u --operation DescribeTokens
  step --bootstrap-server "$B" --list
  step --bootstrap-server "$B" --list --principal User:bob
  step --bootstrap-server "$B" --list --topic pre-x --resource-pattern-type match
  step --bootstrap-server "$B" --list --topic pre- --resource-pattern-type any
  step --bootstrap-server "$B" --list --topic pre-x
  step --bootstrap-server "$B" --remove --force --topic t --allow-principal User:alice --operation Read
  step --bootstrap-server "$B" --remove --force --topic p --allow-principal User:bob --producer
  step --bootstrap-server "$B" --list --topic p --group g
  step --bootstrap-server "$B" --remove --force --topic p --group g
  step --bootstrap-server "$B" --remove --force --topic pre- --resource-pattern-type prefixed --deny-principal User:mallory --deny-host 10.0.0.1 --operation Write
  step --bootstrap-server "$B" --list --resource-pattern-type prefixed --topic pre-
  # Flag combinations Kafka's tool refuses.
  step --bootstrap-server "$B" --add --topic t
  step --bootstrap-server "$B" --add --allow-principal User:a --resource-pattern-type any --topic t
  step --bootstrap-server "$B" --add --allow-principal User:a --resource-pattern-type foo --topic t
  step --bootstrap-server "$B" --list --resource-pattern-type unknown --topic t
  step --bootstrap-server "$B" --add --allow-principal User:a
  step --bootstrap-server "$B" --add --list --topic t
  step --bootstrap-server "$B" --topic t
  step --add --topic t
  step --bootstrap-server "$B" --bootstrap-controller "$B" --list
  step --bootstrap-server "$B" --list --producer --topic t
  step --bootstrap-server "$B" --add --producer --operation Read --allow-principal User:a --topic t
  step --bootstrap-server "$B" --add --consumer --deny-principal User:a --topic t --group g
  step --bootstrap-server "$B" --add --principal User:a --topic t
  step --bootstrap-server "$B" --add --idempotent --allow-principal User:a --topic t
  step --bootstrap-server "$B" --add --consumer --allow-principal User:a --topic t
  step --bootstrap-server "$B" --add --producer --allow-principal User:a --group g
  step --bootstrap-server "$B" --add --allow-principal User:a --operation Foo --topic t
  step --bootstrap-server "$B" --add --allow-principal User:a --operation Alter --group g
  step --bootstrap-server "$B" --add --allow-principal alice --topic t
  step --bootstrap-server "$B" --list --principal alice
  step --bootstrap-server "$B" --add --allow-principal User:a --bogus
  # Clean up, then nothing is left.
  step --bootstrap-server "$B" --remove --force --cluster --transactional-id tx --delegation-token tok --user-principal User:u
  step --bootstrap-server "$B" --remove --force --topic pre- --resource-pattern-type any
  step --bootstrap-server "$B" --list
}

transcript 2>&1 | sed -e "s#$bootstrap#BOOTSTRAP#g" >"$work/transcript"
cat "$work/transcript"
if [[ $record -eq 1 ]]; then
  cp "$work/transcript" "$EXPECTED"
fi
if [[ $check -eq 1 ]]; then
  diff -u "$EXPECTED" "$work/transcript"
fi
