#!/usr/bin/env bash
# Runs every test: unit, property and the integration tests that start the real
# `kavka` binary and drive it with librdkafka. Formatting and lints first, since
# a commit must pass them too.
set -euo pipefail
cd "$(dirname "$0")"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
