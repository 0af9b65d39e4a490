#!/usr/bin/env python3
"""Arena beside the transport ceiling, in one window: for each load, wait for an idle
machine, run the ceiling (`../shared/ceiling`: rawsrv + rawload), wait again, run Arena
(release server + arena-bots --decode headers) at the same load, and write one row of
ratios. Rooms of 50 at 30 Hz, as issue 14 measures them.

Usage: scripts/bench_ceiling.py [--loads 1800,2200] [--duration 12] [--ceiling ../shared/ceiling]
                                [--out target/bench-ceiling.md] [--arena-args=--no-replays]
                                [--server before=/path/to/arena-server --server after=target/release/arena-server]
                                [--repeat 2] [--no-ceiling] [--no-build]
                                [--room-size 1000 --frame-bytes 750 --settings scripts/bench/big-arena.toml]

`--room-size` puts both sides' players in rooms of that many (one room of 1,000: issue 14's
big arena, with `--settings scripts/bench/big-arena.toml` for Arena's interest management);
`--frame-bytes` is the ceiling's frame size, to match what an Arena bot receives a snapshot
(1,100 B in rooms of 50; about 750 B in the big arena's room of 1,000).

With `--server LABEL=PATH` (repeatable) several Arena builds run at each load, one after
the other and in alternating order on each repeat (A B, then B A, ...), each after an idle
wait, so a before/after comparison shares one window; every row then names its build.

Server CPU is sampled from /proc over the same `--duration` seconds after each side's ramp
and a 3 s warm-up, for both servers and both load generators; RSS per player is the
server's resident memory at the end of that window minus before the ramp, per connection.
"On time" is each side's own measure of frames within 1.5 intervals of the previous one
(the same rule in rawload and arena-bots). Loopback only; both generators share this
machine with the servers, so their CPU is in the table too.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench_load import BOTS, ROOT, SERVER, cpu_seconds, current_rss_kib, free_port, wait_ready

HZ = 30
ROOM = 50
RAMP_PER_SEC = 1000
WARMUP_S = 3


def machine_busy_fraction(seconds=1.0):
    """Share of all cores busy over `seconds`, from /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def wait_for_idle(limit=0.10, patience_s=120):
    """Wait until two consecutive seconds are under `limit` busy; returns the last reading
    (reported in the table, so a run on a busy machine says so)."""
    deadline, calm, busy = time.time() + patience_s, 0, machine_busy_fraction()
    while time.time() < deadline:
        busy = machine_busy_fraction()
        calm = calm + 1 if busy < limit else 0
        if calm >= 2:
            return busy
    return busy


def run_ceiling(ceiling_bin, load, duration, room=ROOM, frame_bytes=1100):
    port = free_port()
    server = subprocess.Popen([os.path.join(ceiling_bin, "rawsrv"), "--addr", f"127.0.0.1:{port}", "--size",
                               str(frame_bytes), "--hz", str(HZ), "--room", str(room)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = os.path.join(tempfile.gettempdir(), f"ceiling-{load}.json")
    try:
        time.sleep(0.5)
        subprocess.run([os.path.join(ceiling_bin, "rawload"), "--addr", f"127.0.0.1:{port}", "--conns", str(load),
                        "--ramp-per-sec", str(RAMP_PER_SEC), "--input-hz", str(HZ), "--hz", str(HZ),
                        "--warmup", str(WARMUP_S), "--duration", str(duration), "--server-pid", str(server.pid),
                        "--out", out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            r = json.load(f)
    finally:
        server.terminate()
        server.wait(timeout=20)
    cpu_us = r["server_cpu_pct"] / 100 / (r["connected"] * HZ) * 1e6
    return {"on_time": 100 * r["ontime_frac"], "cpu_us": cpu_us, "kib": r["server_rss_kb_per_conn"],
            "server_cpu_pct": r["server_cpu_pct"], "load_cpu_pct": r["client_cpu_pct"], "connected": r["connected"]}


def run_arena(load, duration, extra_args=(), server_bin=SERVER, room=ROOM):
    port = free_port()
    server = subprocess.Popen([server_bin, "--addr", f"127.0.0.1:{port}", "--room-capacity", str(room),
                               "--tick-rate", str(HZ), "--max-rooms", "1000", "--data-dir",
                               tempfile.mkdtemp(prefix="arena-ceiling-bench-"), *extra_args],
                              env={**os.environ, "RUST_LOG": "warn"}, stdout=subprocess.DEVNULL)
    report = os.path.join(tempfile.gettempdir(), f"arena-ceiling-{load}.json")
    try:
        wait_ready(port)
        rss0 = current_rss_kib(server.pid)
        play_s = WARMUP_S + duration + 2
        bots = subprocess.Popen([BOTS, "--url", f"ws://127.0.0.1:{port}/ws", "--bots", str(load),
                                 "--duration", f"{play_s}s", "--rooms", str((load + room - 1) // room),
                                 "--room-capacity", str(room), "--ramp", str(RAMP_PER_SEC), "--decode", "headers",
                                 "--json", report], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(load / RAMP_PER_SEC + WARMUP_S)
        s0, b0, t0 = cpu_seconds(server.pid), cpu_seconds(bots.pid), time.time()
        time.sleep(duration)
        s1, b1, t1 = cpu_seconds(server.pid), cpu_seconds(bots.pid), time.time()
        rss1 = current_rss_kib(server.pid)
        bots.wait(timeout=play_s + 120)
        with open(report) as f:
            r = json.load(f)
    finally:
        server.terminate()
        server.wait(timeout=20)
    wall = t1 - t0
    return {"on_time": r["on_time_pct"], "cpu_us": (s1 - s0) / wall / (load * HZ) * 1e6,
            "kib": (rss1 - rss0) / load, "server_cpu_pct": 100 * (s1 - s0) / wall,
            "load_cpu_pct": 100 * (b1 - b0) / wall, "connected": r["connected"], "errors": r["errors"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", default="1800,2200,2600")
    parser.add_argument("--duration", type=int, default=12)
    parser.add_argument("--ceiling", default=os.path.join(ROOT, "../shared/ceiling"))
    parser.add_argument("--out", default=os.path.join(ROOT, "target/bench-ceiling.md"))
    parser.add_argument("--arena-args", default="", help="extra server flags for A/B runs, e.g. '--no-replays'")
    parser.add_argument("--server", action="append", default=[], metavar="LABEL=PATH",
                        help="an Arena server build to run (repeatable; default: this tree's release build)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each build at each load (order alternates)")
    parser.add_argument("--no-ceiling", action="store_true", help="Arena builds only (their ratio to each other)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries already built")
    parser.add_argument("--room-size", type=int, default=ROOM, help="players a room, both sides")
    parser.add_argument("--frame-bytes", type=int, default=1100, help="the ceiling's frame size")
    parser.add_argument("--settings", help="game settings file for Arena (e.g. scripts/bench/big-arena.toml)")
    parser.add_argument("--patience", type=float, default=120,
                        help="seconds to wait for an idle machine before each run (0: run at once, busy or not)")
    args = parser.parse_args()
    servers = [tuple(s.split("=", 1)) for s in args.server] or [("", SERVER)]
    arena_args = args.arena_args.split() + (["--settings", args.settings] if args.settings else [])
    ceiling_target = os.path.join(ROOT, "target/ceiling")
    if not args.no_build:
        if not args.no_ceiling:
            subprocess.run(["cargo", "build", "--release", "--locked", "--manifest-path",
                            os.path.join(args.ceiling, "Cargo.toml"), "--target-dir", ceiling_target], check=True)
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "arena-server", "-p", "arena-bots"],
                       cwd=ROOT, check=True)
    ceiling_bin = os.path.join(ceiling_target, "release")
    lines = [f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; rooms of {args.room_size} "
             f"at {HZ} Hz; ceiling frames {args.frame_bytes} B; {args.duration} s window after ramp + {WARMUP_S} s; "
             "Arena's bots decode headers" + (f"; Arena settings {args.settings}" if args.settings else "")
             + (f"; Arena started with {args.arena_args}" if args.arena_args else "") + "\n",
             "| players | on time: ceiling / Arena | server CPU per player-tick: ceiling / Arena (ratio) | "
             "server RSS per player: ceiling / Arena (ratio) | server CPU: ceiling / Arena | "
             "load generator CPU: rawload / arena-bots | machine busy before runs | Arena errors |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    nothing = {"on_time": 0.0, "cpu_us": 0.0, "kib": 0.0, "server_cpu_pct": 0.0, "load_cpu_pct": 0.0}
    for load in (int(x) for x in args.loads.split(",")):
        for repeat in range(args.repeat):
            busy_c, c = 0.0, nothing
            if not args.no_ceiling:
                busy_c = wait_for_idle(patience_s=args.patience)
                c = run_ceiling(ceiling_bin, load, args.duration, args.room_size, args.frame_bytes)
            # Alternate the builds' order on each repeat: whichever runs second in a
            # window tends to look a little worse.
            for label, server_bin in (servers if repeat % 2 == 0 else servers[::-1]):
                busy_a = wait_for_idle(patience_s=args.patience)
                a = run_arena(load, args.duration, arena_args, server_bin, args.room_size)
                cpu_ratio = f"{a['cpu_us'] / c['cpu_us']:.2f}×" if c['cpu_us'] > 0 else "–"
                kib_ratio = f"{a['kib'] / c['kib']:.1f}×" if c['kib'] > 0 else "–"
                row = (f"| {load}{', ' + label if label else ''} | {c['on_time']:.1f} % / {a['on_time']:.1f} % | "
                       f"{c['cpu_us']:.1f} / {a['cpu_us']:.1f} µs ({cpu_ratio}) | "
                       f"{c['kib']:.0f} / {a['kib']:.0f} KiB ({kib_ratio}) | "
                       f"{c['server_cpu_pct']:.0f} % / {a['server_cpu_pct']:.0f} % | "
                       f"{c['load_cpu_pct']:.0f} % / {a['load_cpu_pct']:.0f} % | "
                       f"{100 * busy_c:.0f} % / {100 * busy_a:.0f} % | {a['errors']} |")
                lines.append(row)
                print(row, flush=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"table written to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
