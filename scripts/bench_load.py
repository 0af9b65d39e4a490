#!/usr/bin/env python3
"""Load benchmark: for each step, start the release server on a free loopback port, run
arena-bots against it, and write one markdown table row: bots, rooms, server tick
p50/p99 and late ticks (from /metrics), snapshot rate held by the bots, RTT p99, bytes
per bot per second, server CPU (total and per player per tick) and peak RSS. Steps
long enough also get a row for their steady window (after the ramp, until the first bot
leaves): tick p50/p99, the share of ticks over 8 ms (exact: a bucket bound), and the room
threads' CPU and run-queue wait a tick from `/proc/<pid>/task/*/schedstat`.

Usage: scripts/bench_load.py [--duration 20] [--steps 500x50,1000x50,...,idle19000] [--out FILE]
       [--decode full|headers] [--input-every N] [--no-deltas] [--settings FILE]
A step is BOTSxROOM_SIZE (rooms of that many players), idleN: N idle WebSocket
connections (lobby watchers) held for the duration, reported as server memory per
connection, or soakN: N bots seated as Quick play seats them (full rooms of 50) that
drop and reconnect with their token `--churn` times a second each, reporting
reconnects granted and refused, players on the server over time and at the end, and
server RSS over time. Bots and server share this machine, so the figures include the load
generator's cost. Loopback only.
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
DEFAULT_STEPS = "500x50,1000x50,1500x50,1800x50,2000x50,2500x50,200x200,500x500,1000x1000,idle19000"
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


def room_thread_times(pid):
    """Seconds the server's room threads ran and waited in the run queue for a core,
    summed over them (`/proc/<pid>/task/*/schedstat`); threads that ended are missed,
    so take both readings while the rooms live."""
    ran = waited = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith("room-"):
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                on_cpu_ns, run_queue_ns, _ = f.read().split()
        except OSError:
            continue
        ran += int(on_cpu_ns)
        waited += int(run_queue_ns)
    return ran / 1e9, waited / 1e9


def over_share(m, name, bound, before):
    """The share of histogram `name`'s observations above the bucket bound `bound`
    (exact: `bound` is one of its buckets), counting only those after `before`."""
    total = m.get(name + "_count", 0) - before.get(name + "_count", 0)
    series = f'{name}_bucket{{le="{bound}"}}'
    within = m.get(series, 0) - before.get(series, 0)
    return (total - within) / total if total > 0 else 0.0


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values


def histogram_quantile(q, m, name, before=None):
    """The q-quantile of histogram `name` from /metrics samples `m` (minus the `before`
    scrape's counts when given), interpolating linearly within the bucket as
    Prometheus' histogram_quantile does; 0 with no observations."""
    prefix = name + '_bucket{le="'
    buckets = []
    for series, count in m.items():
        if series.startswith(prefix):
            le = series[len(prefix):series.index('"', len(prefix))]
            base = (before or {}).get(series, 0)
            buckets.append((float(le), count - base))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return 0.0
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if upper == float("inf"):
                return lower  # past the top bucket: its lower bound, as Prometheus answers
            if cumulative == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (cumulative - below)
        lower, below = upper, cumulative
    return lower


def wait_ready(port):
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def current_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_server(port, opts, room_size=50):
    args = [opts.server, "--addr", f"127.0.0.1:{port}", "--room-capacity", str(min(room_size, 1000)),
            "--tick-rate", str(opts.tick_rate), "--max-rooms", "1000",
            # Network load only: Quick play rooms get no house bots to simulate besides.
            "--quick-play-bots", "0",
            "--results-log", os.path.join(tempfile.gettempdir(), "arena-bench-results.jsonl")]
    if opts.snapshot_rate:
        args += ["--snapshot-rate", str(opts.snapshot_rate)]
    if opts.settings:
        args += ["--settings", opts.settings]
    return subprocess.Popen(args, env={**os.environ, "RUST_LOG": "warn"}, stdout=subprocess.DEVNULL)


def run_idle_step(connections, opts):
    """Hold `connections` lobby watchers; server memory per connection while they idle."""
    port = free_port()
    server = start_server(port, opts)
    try:
        wait_ready(port)
        time.sleep(1)
        before = current_rss_kib(server.pid)
        cpu0 = cpu_seconds(server.pid)
        report_path = os.path.join(tempfile.gettempdir(), f"arena-bench-idle-{connections}.json")
        ramp = 3000
        hold = opts.duration + connections / ramp
        bots = subprocess.Popen([BOTS, "--url", f"ws://127.0.0.1:{port}/ws", "--idle", str(connections),
                                 "--ramp", str(ramp), "--duration", f"{hold:.0f}s", "--json", report_path],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Measure once everyone is connected and the ramp's garbage has settled.
        time.sleep(connections / ramp + opts.duration / 2)
        during = current_rss_kib(server.pid)
        held_fds = len(os.listdir(f"/proc/{server.pid}/fd"))
        t0, cpu_idle0 = time.time(), cpu_seconds(server.pid)
        time.sleep(min(5, opts.duration / 4))
        idle_cpu_pct = 100 * (cpu_seconds(server.pid) - cpu_idle0) / (time.time() - t0)
        bots.wait()
        with open(report_path) as f:
            r = json.load(f)
        return {
            "connections": connections, "connected": r["connected"], "failed": r["failed"], "dropped": r["dropped"],
            "fds": held_fds, "rss_before_mib": before / 1024, "rss_during_mib": during / 1024,
            "per_conn_kib": (during - before) / max(1, r["connected"]), "idle_cpu_pct": idle_cpu_pct,
            "ramp_cpu_s": cpu_seconds(server.pid) - cpu0,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def health_players(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        return json.load(r)["players"]


def run_soak_step(bots, opts):
    """Full rooms with churn: every reconnect should be granted and nobody lost."""
    port = free_port()
    server = start_server(port, opts)
    try:
        wait_ready(port)
        report_path = os.path.join(tempfile.gettempdir(), f"arena-bench-soak-{bots}.json")
        ramp = 500
        cmd = [BOTS, "--url", f"ws://127.0.0.1:{port}/ws", "--bots", str(bots), "--ramp", str(ramp),
               "--duration", f"{opts.duration}s", "--decode", "headers", "--churn", str(opts.churn),
               "--reconnect-retries", "0", "--json", report_path]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples = []  # (seconds, players, rss MiB)
        t0 = time.time()
        while proc.poll() is None:
            time.sleep(5)
            if proc.poll() is not None:
                break
            try:
                samples.append((time.time() - t0, health_players(port), current_rss_kib(server.pid) / 1024))
            except OSError:
                pass
        with open(report_path) as f:
            r = json.load(f)
        churn = r.get("churn") or {}
        # The last sample taken while every bot was still playing (bots leave at the end).
        playing = [s for s in samples if s[0] <= bots / ramp + opts.duration - 2]
        return {
            "bots": bots, "churn": opts.churn, "duration": opts.duration,
            "attempted": churn.get("attempted", 0), "granted": churn.get("reconnects", 0),
            "refused": churn.get("refused", 0), "lost": churn.get("failed", 0),
            "refused_by_code": churn.get("refused_by_code", {}),
            "players_end": playing[-1][1] if playing else 0,
            "players_min": min((s[1] for s in playing if s[0] > bots / ramp + 2), default=0),
            "rss": [f"{s[2]:.0f}" for s in samples[:: max(1, len(samples) // 8)]],
            "errors": r["errors"],
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def steady_window(start, end):
    """Ticks between two readings (metrics, room threads' run and wait times, clock):
    their p50/p99 and the share over 8 ms (a bucket bound, so exact), and per room tick
    the room threads' CPU and time waiting for a core (a tick's wall time is its CPU
    plus its waits: p99 beyond the CPU is the machine's other threads)."""
    (m0, (ran0, waited0), t0), (m1, (ran1, waited1), t1) = start, end
    ticks = m1.get("arena_tick_seconds_count", 0) - m0.get("arena_tick_seconds_count", 0)
    per_tick = (lambda seconds: seconds / ticks * 1000) if ticks else (lambda seconds: 0.0)
    return {
        "seconds": t1 - t0,
        "tick_p50_ms": histogram_quantile(0.5, m1, "arena_tick_seconds", m0) * 1000,
        "tick_p99_ms": histogram_quantile(0.99, m1, "arena_tick_seconds", m0) * 1000,
        "over_8ms": over_share(m1, "arena_tick_seconds", "0.008", m0),
        "cpu_ms": per_tick(ran1 - ran0), "wait_ms": per_tick(waited1 - waited0),
    }


def run_step(bots, room_size, opts):
    duration, tick_rate = opts.duration, opts.tick_rate
    port = free_port()
    server = start_server(port, opts, room_size)
    try:
        wait_ready(port)
        rooms = max(1, (bots + room_size - 1) // room_size)
        report_path = os.path.join(tempfile.gettempdir(), f"arena-bench-{bots}.json")
        m0 = metrics(port)
        cpu0, t0 = cpu_seconds(server.pid), time.time()
        bot_cmd = [BOTS, "--url", f"ws://127.0.0.1:{port}/ws", "--bots", str(bots), "--duration", f"{duration}s",
                   "--rooms", str(rooms), "--room-capacity", str(min(room_size, 1000)), "--ramp", "400",
                   "--decode", opts.decode, "--input-every", str(opts.input_every), "--json", report_path]
        if opts.no_deltas:
            bot_cmd.append("--no-deltas")
        bots_proc = subprocess.Popen(bot_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The steady window: everyone joined (the ramp is 400 a second) plus 3 s to
        # settle, until 1 s before the first bot leaves; joins make ticks the ramp's.
        ramp_s = bots / 400
        steady = None
        if duration - 1 > ramp_s + 3 + 5:
            time.sleep(max(0.0, t0 + ramp_s + 3 - time.time()))
            s0 = (metrics(port), room_thread_times(server.pid), time.time())
            time.sleep(max(0.0, t0 + duration - 1 - time.time()))
            s1 = (metrics(port), room_thread_times(server.pid), time.time())
            steady = steady_window(s0, s1)
        bots_proc.wait()
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
            # Over the step's whole run (ramp included), from the histogram's buckets.
            "tick_p50_ms": histogram_quantile(0.5, m, "arena_tick_seconds", m0) * 1000,
            "tick_p99_ms": histogram_quantile(0.99, m, "arena_tick_seconds", m0) * 1000,
            "late_ticks": int(m.get("arena_ticks_late_total", 0)),
            "rate_mean": r["snapshot_rate_hz"]["mean"], "rate_min": r["snapshot_rate_hz"]["min"],
            "announced": r["tick_rate_hz"], "on_time": r["on_time_pct"], "rtt_p99": r["rtt_ms"]["p99"],
            "in": r["bytes_in_per_bot_s"], "out": r["bytes_out_per_bot_s"], "connected": r["connected"],
            "errors": r["errors"], "cpu_pct": 100 * cpu_s / wall, "cpu_us": per_player_tick_us,
            "rss_mib": peak_rss_mib(server.pid), "steady": steady,
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
    parser.add_argument("--decode", default="full", choices=["full", "headers"])
    parser.add_argument("--input-every", type=int, default=1)
    parser.add_argument("--no-deltas", action="store_true")
    parser.add_argument("--churn", type=float, default=0.05, help="drops per bot per second in soakN steps")
    parser.add_argument("--settings", help="game settings file for the server (e.g. a big arena with view_distance)")
    parser.add_argument("--out", default=os.path.join(ROOT, "target/bench-load.md"))
    parser.add_argument("--server", default=SERVER,
                        help="server binary (default: this tree's release build); for A/B runs of another build")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "arena-server", "-p", "arena-bots"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    header = ("| bots | rooms × size | tick p50 / p99 | late ticks | snapshots mean / min (announced) | on time | "
              "RTT p99 | bytes in / out per bot/s | server CPU | CPU per player-tick | server RSS peak | errors |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    mode = (f"bots decode {args.decode}, one input per {args.input_every} snapshot(s), "
            f"deltas {'off' if args.no_deltas else 'on'}" + (f", settings {args.settings}" if args.settings else ""))
    lines = [f"Machine: {os.cpu_count()} cores; {args.duration} s per step; tick {args.tick_rate} Hz"
             + (f", snapshots {args.snapshot_rate} Hz" if args.snapshot_rate else "") + f"; {mode}\n", header]
    print("\n".join(lines), flush=True)
    idle_rows, soak_rows, steady_rows = [], [], []
    for step in args.steps.split(","):
        if step.startswith("soak"):
            k = run_soak_step(int(step[4:]), args)
            soak_rows.append(
                f"| {k['bots']} | {k['churn']}/s × {k['duration']} s | {k['attempted']} | {k['granted']} | "
                f"{k['refused']} {json.dumps(k['refused_by_code']) if k['refused'] else ''} | {k['lost']} | "
                f"{k['players_min']} / {k['players_end']} | {' → '.join(k['rss'])} MiB | {k['errors']} |")
            print(soak_rows[-1], flush=True)
            continue
        if step.startswith("idle"):
            i = run_idle_step(int(step[4:]), args)
            idle_rows.append(
                f"| {i['connections']} ({i['connected']} connected, {i['failed']} failed, {i['dropped']} dropped) | "
                f"{i['fds']} | {i['rss_before_mib']:.1f} → {i['rss_during_mib']:.1f} MiB | "
                f"{i['per_conn_kib']:.2f} KiB | {i['idle_cpu_pct']:.1f}% | {i['ramp_cpu_s']:.1f} s |")
            print(idle_rows[-1], flush=True)
            continue
        bots, size = (int(x) for x in step.lower().split("x"))
        s = run_step(bots, size, args)
        row = (f"| {s['bots']} ({s['connected']} connected) | {s['rooms']} × {s['room_size']} | "
               f"{s['tick_p50_ms']:.2f} / {s['tick_p99_ms']:.2f} ms | {s['late_ticks']} | "
               f"{s['rate_mean']:.1f} / {s['rate_min']:.1f} ({s['announced']}) Hz | {s['on_time']:.2f}% | "
               f"{s['rtt_p99']:.1f} ms | {s['in']:,.0f} / {s['out']:,.0f} B | {s['cpu_pct']:.0f}% | "
               f"{s['cpu_us']:.1f} µs | {s['rss_mib']:.0f} MiB | {s['errors']} |")
        lines.append(row)
        print(row, flush=True)
        if s["steady"]:
            w = s["steady"]
            steady_rows.append(
                f"| {s['bots']} | {s['rooms']} × {s['room_size']} | {w['seconds']:.0f} s | "
                f"{w['tick_p50_ms']:.2f} / {w['tick_p99_ms']:.2f} ms | {100 * w['over_8ms']:.2f}% | "
                f"{w['cpu_ms']:.2f} ms | {w['wait_ms']:.2f} ms |")
            print(steady_rows[-1], flush=True)
    if steady_rows:
        lines += ["", "| steady window: bots | rooms × size | window | tick p50 / p99 | ticks over 8 ms | "
                  "room thread CPU a tick | room thread waiting for a core a tick |",
                  "|---:|---:|---:|---:|---:|---:|---:|"] + steady_rows
    if idle_rows:
        lines += ["", "| idle connections (lobby watchers) | server fds | server RSS before → holding | "
                  "per connection | server CPU while idle | server CPU over the run |",
                  "|---:|---:|---:|---:|---:|---:|"] + idle_rows
    if soak_rows:
        lines += ["", "| soak: bots (full rooms of 50) | churn | reconnects attempted | granted | refused | "
                  "bots lost | server players min / end | server RSS over time | errors |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"] + soak_rows
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"table written to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
