# Kavka's container image: one binary, the broker by default, Kafka's tool names
# in /opt/kafka/bin as in Apache's image. Configuration is Apache's image's:
# KAFKA_* environment variables become properties (KAFKA_LOG_DIRS -> log.dirs),
# CLUSTER_ID formats a fresh data directory. Build: docker build -t kavka .

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake pkg-config zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p kavka \
 && strip target/release/kavka \
 && install -D target/release/kavka /out/usr/local/bin/kavka

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 1000 appuser \
 && useradd --system --uid 1000 --gid appuser --home-dir /var/lib/kafka --no-create-home appuser \
 && mkdir -p /var/lib/kafka/data \
 && chown -R appuser:appuser /var/lib/kafka
COPY --from=build /out/ /
RUN kavka link-tools /opt/kafka/bin >/dev/null
ENV PATH=/opt/kafka/bin:$PATH
USER appuser
WORKDIR /var/lib/kafka
VOLUME ["/var/lib/kafka/data"]
# 9092: clients; 9093: the controller quorum; 9644: metrics and the console.
EXPOSE 9092 9093 9644
ENTRYPOINT ["kavka"]
# Defaults a KAFKA_* variable overrides (the environment wins over --override):
# clients from outside the container reach port 9092, metrics and the console
# port 9644 (loopback inside a container would be out of reach; the console has no
# login, so publish 9644 only where that is fine), data lives on the volume.
CMD ["broker", "--override", "listeners=PLAINTEXT://:9092", "--override", "http.listeners=http://0.0.0.0:9644", "--override", "log.dirs=/var/lib/kafka/data"]
