#!/usr/bin/env bash
# Runs the server with embedded defaults (one node, no Redis) and prints the URL to open.
# Extra arguments go to arena-server, e.g. scripts/run.sh --addr 0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --locked -p arena-server -- "$@"
