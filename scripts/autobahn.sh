#!/usr/bin/env bash
# Runs Autobahn's WebSocket conformance cases (301 cases; compression cases 12.* and
# 13.* excluded: not negotiated) against the server's WebSocket layer, through the
# echo endpoint that only --autobahn-echo turns on. Uses the PyPI package kosoku in
# a venv under target/ (installed when missing). Report: target/autobahn/index.html.
# Fails unless every case ends OK, NON-STRICT or INFORMATIONAL.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/autobahn-venv
if [ ! -x "$venv/bin/kosoku" ]; then
  echo "installing kosoku (PyPI) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check kosoku==$(cat tests/autobahn/kosoku-version)
fi
cargo build --release --locked -p arena-server
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# A throwaway data folder: the default (arena-data here) would outlive the test run.
data_dir=$(mktemp -d -t arena-autobahn-data.XXXXXX)
RUST_LOG=warn ./target/release/arena-server --addr "127.0.0.1:$port" --autobahn-echo \
  --data-dir "$data_dir" --results-log target/autobahn-results.jsonl &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data_dir"' EXIT
python3 tests/wait_for_http.py "http://127.0.0.1:$port/health"
rm -rf target/autobahn
"$venv/bin/kosoku" -m fuzzingclient "ws://127.0.0.1:$port/autobahn" -x '12.*' -x '13.*' -o target/autobahn >target/autobahn.log 2>&1 || true
python3 tests/autobahn/check.py target/autobahn/index.json
