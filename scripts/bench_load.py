#!/usr/bin/env python3
"""Load benchmark: for each step, start the release server on a free loopback port, run
arena-bots against it, and write one markdown table row: bots, rooms, server tick
p50/p99 and late ticks (from /metrics), snapshot rate held by the bots, RTT p99, bytes
per bot per second, server CPU (total and per player per tick) and peak RSS.

Usage: scripts/bench_load.py [--duration 20] [--steps 500x50,1000x50,...] [--out FILE]
A step is BOTSxROOM_SIZE (rooms of that many players). Bots and server share this
machine, so the figures include the load generator's cost. Loopback only.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "target/release/arena-server")
BOTS = os.path.join(ROOT, "target/release/arena-bots")
DEFAULT_STEPS = "500x50,1000x50,1500x50,1800x50,2000x50,2500x50,200x200,500x500,1000x1000"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values


def wait_ready(port):
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def run_step(bots, room_size, duration, tick_rate, snapshot_rate):
    port = free_port()
    args = [SERVER, "--addr", f"127.0.0.1:{port}", "--room-capacity", str(min(room_size, 1000)),
            "--tick-rate", str(tick_rate), "--max-rooms", "1000",
            "--results-log", os.path.join(tempfile.gettempdir(), "arena-bench-results.jsonl")]
    if snapshot_rate:
        args += ["--snapshot-rate", str(snapshot_rate)]
    server = subprocess.Popen(args, env={**os.environ, "RUST_LOG": "warn"}, stdout=subprocess.DEVNULL)
    try:
        wait_ready(port)
        rooms = max(1, (bots + room_size - 1) // room_size)
        report_path = os.path.join(tempfile.gettempdir(), f"arena-bench-{bots}.json")
        cpu0, t0 = cpu_seconds(server.pid), time.time()
        bot_cmd = [BOTS, "--url", f"ws://127.0.0.1:{port}/ws", "--bots", str(bots), "--duration", f"{duration}s",
                   "--rooms", str(rooms), "--room-capacity", str(min(room_size, 1000)), "--ramp", "400",
                   "--json", report_path]
        subprocess.run(bot_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu1, t1 = cpu_seconds(server.pid), time.time()
        m = metrics(port)
        with open(report_path) as f:
            r = json.load(f)
        cpu_s = cpu1 - cpu0
        wall = t1 - t0
        # CPU per player per tick, over the whole run (ramp included: a slight overestimate).
        per_player_tick_us = cpu_s / max(1, bots) / (tick_rate * wall) * 1e6
        return {
            "bots": bots, "rooms": rooms, "room_size": room_size,
            "tick_p50_ms": m.get('arena_tick_seconds{quantile="0.5"}', 0) * 1000,
            "tick_p99_ms": m.get('arena_tick_seconds{quantile="0.99"}', 0) * 1000,
            "late_ticks": int(m.get("arena_ticks_late_total", 0)),
            "rate_mean": r["snapshot_rate_hz"]["mean"], "rate_min": r["snapshot_rate_hz"]["min"],
            "announced": r["tick_rate_hz"], "on_time": r["on_time_pct"], "rtt_p99": r["rtt_ms"]["p99"],
            "in": r["bytes_in_per_bot_s"], "out": r["bytes_out_per_bot_s"], "connected": r["connected"],
            "errors": r["errors"], "cpu_pct": 100 * cpu_s / wall, "cpu_us": per_player_tick_us,
            "rss_mib": peak_rss_mib(server.pid),
        }
    finally:
        server.terminate()
        server.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--steps", default=DEFAULT_STEPS)
    parser.add_argument("--tick-rate", type=int, default=30)
    parser.add_argument("--snapshot-rate", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(ROOT, "target/bench-load.md"))
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "arena-server", "-p", "arena-bots"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    header = ("| bots | rooms × size | tick p50 / p99 | late ticks | snapshots mean / min (announced) | on time | "
              "RTT p99 | bytes in / out per bot/s | server CPU | CPU per player-tick | server RSS peak | errors |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [f"Machine: {os.cpu_count()} cores; {args.duration} s per step; tick {args.tick_rate} Hz"
             + (f", snapshots {args.snapshot_rate} Hz" if args.snapshot_rate else "") + "\n", header]
    print("\n".join(lines), flush=True)
    for step in args.steps.split(","):
        bots, size = (int(x) for x in step.lower().split("x"))
        s = run_step(bots, size, args.duration, args.tick_rate, args.snapshot_rate)
        row = (f"| {s['bots']} ({s['connected']} connected) | {s['rooms']} × {s['room_size']} | "
               f"{s['tick_p50_ms']:.2f} / {s['tick_p99_ms']:.2f} ms | {s['late_ticks']} | "
               f"{s['rate_mean']:.1f} / {s['rate_min']:.1f} ({s['announced']}) Hz | {s['on_time']:.2f}% | "
               f"{s['rtt_p99']:.1f} ms | {s['in']:,.0f} / {s['out']:,.0f} B | {s['cpu_pct']:.0f}% | "
               f"{s['cpu_us']:.1f} µs | {s['rss_mib']:.0f} MiB | {s['errors']} |")
        lines.append(row)
        print(row, flush=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"table written to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
