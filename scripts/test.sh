#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit, property, world-stepping and
# real-socket tests. Installs what the tests need when it is missing.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
# Socket-heavy tests share two cores; two test threads keep them from starving each other.
cargo test --workspace --locked -- --test-threads=2
