#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit, property, world-stepping and
# real-socket tests (several server processes share a real Redis in some), then the
# browser client in Debian's Chromium against the release server, Autobahn's
# WebSocket conformance cases and bounded fuzzing. Installs what the tests need when
# it is missing (Debian's chromium and redis-server, npm and PyPI packages, cargo-fuzz).
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test dependencies"
scripts/deps.sh test

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
# Socket-heavy tests share two cores; two test threads keep them from starving each other.
cargo test --workspace --locked -- --test-threads=2

echo "== browser tests (Chromium + playwright-core)"
cargo build --release --locked -p arena-server
# Install the binary the way a user does (`cargo install --path server`), reusing the
# release build above (about a second); installed.test.js starts it from `/`.
cargo install --path server --locked --target-dir target --root target/install
(cd tests/browser && node --test --test-concurrency=1)

echo "== Autobahn WebSocket conformance (kosoku)"
scripts/autobahn.sh

echo "== fuzzing (cargo fuzz, bounded)"
scripts/fuzz.sh 20

# Every step above stops the script on failure; reaching here means all six passed.
echo "suites: 6 passed, 0 failed"
