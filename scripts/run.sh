#!/usr/bin/env bash
# Runs the server with embedded defaults (one node, no Redis) and prints the URL to open.
# Installs the browser client's npm packages first when they are missing.
# Extra arguments go to arena-server, e.g. scripts/run.sh --addr 0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh client
exec cargo run --release --locked -p arena-server -- "$@"
