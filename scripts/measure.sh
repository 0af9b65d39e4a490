#!/usr/bin/env bash
# One load measurement on loopback: starts the release server, runs arena-bots
# against it, and prints the bots' report with the server's CPU and peak RSS.
# Usage: scripts/measure.sh BOTS DURATION [extra arena-bots flags…]
# Example: scripts/measure.sh 200 20s
set -euo pipefail
cd "$(dirname "$0")/.."
bots=${1:-200}
duration=${2:-20s}
shift 2 || true
cargo build --release --locked -p arena-server -p arena-bots >/dev/null 2>&1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# --quick-play-bots 0: the arena-bots are the only players, no house bots beside them.
RUST_LOG=warn ./target/release/arena-server --addr "127.0.0.1:$port" --quick-play-bots 0 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
python3 tests/wait_for_http.py "http://127.0.0.1:$port/health"
ticks0=$(awk '{print $14+$15}' /proc/$server/stat)
start=$(date +%s.%N)
status=0
./target/release/arena-bots --url "ws://127.0.0.1:$port/ws" --bots "$bots" --duration "$duration" --json "target/bots-$bots.json" "$@" || status=$?
end=$(date +%s.%N)
ticks1=$(awk '{print $14+$15}' /proc/$server/stat)
hz=$(getconf CLK_TCK)
python3 - "$ticks0" "$ticks1" "$hz" "$start" "$end" "$server" <<'PY'
import sys
t0, t1, hz, start, end, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
status = dict(line.split(':', 1) for line in open(f'/proc/{pid}/status'))
cpu = 100.0 * (t1 - t0) / hz / (end - start)
print(f"server: CPU {cpu:.0f}% of one core over the run, RSS now {status['VmRSS'].strip()}, peak {status['VmHWM'].strip()}")
PY
exit $status
