"""kafka-python and confluent-kafka (librdkafka) over SASL_SSL with SCRAM-SHA-256
and over mutual TLS, against the broker named on the command line.

    python clients.py BROKER_NAME SASL_SSL_BOOTSTRAP SSL_BOOTSTRAP CERT_DIR

Each step prints one line, `<client> <transport> <step>: <outcome>`, so the
lines of two brokers can be diffed. Outcomes hold only what a user sees
(values read, error names and messages), never timings or ports.
"""

import re
import sys
import time

import confluent_kafka
import kafka
from kafka.errors import KafkaError

broker, sasl_bootstrap, ssl_bootstrap, certs = sys.argv[1:5]
ALLOWED = "secure-topic"
FORBIDDEN = "forbidden-topic"


def say(client, transport, step, outcome):
    # Ports differ between the two brokers' runs; messages that name one do not.
    outcome = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", str(outcome))
    print(f"{client} {transport} {step}: {outcome}", flush=True)


# --- kafka-python ---------------------------------------------------------

def kp_config(transport, password="alice-secret"):
    common = dict(ssl_cafile=f"{certs}/ca.pem", ssl_check_hostname=True,
                  request_timeout_ms=15000)
    if transport == "sasl_ssl":
        return dict(bootstrap_servers=sasl_bootstrap, security_protocol="SASL_SSL",
                    sasl_mechanism="SCRAM-SHA-256", sasl_plain_username="alice",
                    sasl_plain_password=password, **common)
    return dict(bootstrap_servers=ssl_bootstrap, security_protocol="SSL",
                ssl_certfile=f"{certs}/carol.pem", ssl_keyfile=f"{certs}/carol.key", **common)


def kafka_python(transport):
    name = "kafka-python"
    values = [f"{name}-{transport}-{i}".encode() for i in range(3)]
    try:
        p = kafka.KafkaProducer(**kp_config(transport), max_block_ms=15000)
        for v in values:
            p.send(ALLOWED, v).get(timeout=15)
        say(name, transport, "produce", "ok")
        try:
            p.send(FORBIDDEN, b"x").get(timeout=15)
            say(name, transport, "produce denied topic", "accepted (!)")
        except KafkaError as e:
            say(name, transport, "produce denied topic", type(e).__name__)
        p.close()
    except Exception as e:  # noqa: BLE001 -- the outcome is what we print
        say(name, transport, "produce", f"{type(e).__name__}: {e}")
    try:
        c = kafka.KafkaConsumer(ALLOWED, group_id=f"{transport}-group",
                                auto_offset_reset="earliest", consumer_timeout_ms=15000,
                                **kp_config(transport))
        got = set()
        for m in c:  # ends after consumer_timeout_ms without records
            got.add(m.value)
            if set(values) <= got:
                break
        c.close()
        say(name, transport, "consume", "ok" if set(values) <= set(got) else f"missing: {got}")
    except Exception as e:  # noqa: BLE001
        say(name, transport, "consume", f"{type(e).__name__}: {e}")
    if transport == "sasl_ssl":
        try:
            p = kafka.KafkaProducer(**kp_config(transport, password="guess"), max_block_ms=10000)
            p.close()
            say(name, transport, "wrong password", "connected (!)")
        except Exception as e:  # noqa: BLE001
            say(name, transport, "wrong password", f"{type(e).__name__}: {e}")


# --- confluent-kafka (librdkafka) ----------------------------------------

def without_address(reason):
    """librdkafka's reason without the broker address and timing, which differ per run."""
    reason = re.sub(r"^\S+://\S+/\S+: ", "", reason)
    return reason.split(" (after")[0]


def ck_config(transport, password="alice-secret"):
    common = {"ssl.ca.location": f"{certs}/ca.pem"}
    if transport == "sasl_ssl":
        return {"bootstrap.servers": sasl_bootstrap, "security.protocol": "SASL_SSL",
                "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "alice",
                "sasl.password": password, **common}
    return {"bootstrap.servers": ssl_bootstrap, "security.protocol": "SSL",
            "ssl.certificate.location": f"{certs}/carol.pem",
            "ssl.key.location": f"{certs}/carol.key", **common}


def confluent(transport):
    name = "confluent-kafka"
    values = [f"{name}-{transport}-{i}".encode() for i in range(3)]
    results = []
    p = confluent_kafka.Producer({**ck_config(transport), "message.timeout.ms": 15000})
    for v in values:
        p.produce(ALLOWED, v, on_delivery=lambda err, msg: results.append(err))
    p.produce(FORBIDDEN, b"x", on_delivery=lambda err, msg: results.append(("denied", err)))
    p.flush(20)
    allowed = [r for r in results if not isinstance(r, tuple)]
    denied = [r[1] for r in results if isinstance(r, tuple)]
    say(name, transport, "produce",
        "ok" if len(allowed) == 3 and all(e is None for e in allowed) else f"{allowed}")
    say(name, transport, "produce denied topic",
        denied[0].name() if denied and denied[0] is not None else f"{denied}")
    c = confluent_kafka.Consumer({**ck_config(transport), "group.id": f"{transport}-ck",
                                  "auto.offset.reset": "earliest"})
    c.subscribe([ALLOWED])
    got, deadline = set(), time.time() + 20
    while not set(values) <= got and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.add(m.value())
    say(name, transport, "consume", "ok" if set(values) <= got else "missing records")
    c.close()
    if transport == "sasl_ssl":
        errors = []
        bad = confluent_kafka.Producer({**ck_config(transport, password="guess"),
                                        "error_cb": lambda e: errors.append(e)})
        deadline = time.time() + 10
        while not errors and time.time() < deadline:
            bad.poll(0.2)
        say(name, transport, "wrong password",
            f"{errors[0].name()}: {without_address(errors[0].str())}" if errors else "no error (!)")


for transport in ("sasl_ssl", "mtls"):
    kafka_python(transport)
    confluent(transport)
