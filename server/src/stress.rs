//! `arena-server stress`: K rooms of house bots simulated in this process, with no
//! clients and no sockets, each on its own thread at its tick rate as the server runs
//! rooms; each tick steps the world and encodes a whole snapshot body as if someone
//! watched. Reports what the simulation itself costs, apart from the network:
//! CPU per player-tick, tick p50/p99 and late ticks. (`arena-bots` measures the network.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use arena_protocol::PlayerId;
use clap::Parser;

use crate::room::encoder::SnapshotEncoder;
use crate::room::pacing;
use crate::room::world::RoomWorld;
use crate::settings::{Difficulty, GameSettings};

/// Simulate rooms of house bots in-process and report the simulation's cost.
#[derive(Clone, Debug, Parser)]
#[command(name = "arena-server stress")]
pub struct StressArgs {
    /// Rooms to run at once, each on its own thread. Default: 200.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rooms: u32,
    /// House bots in each room. Default: 50.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub players: u32,
    /// Seconds measured, after the warm-up. Default: 20.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// Seconds run before measuring (rooms start, bots spread out). Default: 2.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_s: f64,
    /// Ticks per second of every room. Default: 30.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=120))]
    pub tick_rate: u16,
    /// How well the bots play: easy, normal or hard. Default: normal.
    #[arg(long, default_value = "normal")]
    pub difficulty: Difficulty,
    /// Game rules file. Default: the compiled-in defaults (the shipped settings.toml).
    #[arg(long)]
    pub settings: Option<std::path::PathBuf>,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// What one room's thread measured.
#[derive(Default)]
struct RoomRun {
    /// Work of each measured tick (step and snapshot body), in microseconds.
    tick_us: Vec<u32>,
    /// Measured ticks that started after their deadline.
    late: u64,
    /// Snapshot body bytes encoded in the measured ticks.
    body_bytes: u64,
}

/// The figures `stress` reports.
#[derive(Debug, serde::Serialize)]
pub struct StressReport {
    pub rooms: u32,
    pub players_per_room: u32,
    pub players: u64,
    pub tick_rate_hz: u16,
    pub difficulty: String,
    pub seconds: f64,
    pub ticks: u64,
    pub tick_p50_us: u32,
    pub tick_p99_us: u32,
    pub tick_max_us: u32,
    pub late_ticks: u64,
    pub late_ticks_percent: f64,
    /// Ticks per second all rooms together held, against `rooms × tick_rate_hz` wanted.
    pub ticks_per_second: f64,
    /// Process CPU (user + system) over the measured time.
    pub cpu_seconds: f64,
    /// `cpu_seconds` over the players × ticks simulated.
    pub cpu_us_per_player_tick: f64,
    /// Tick work alone (no sleeping, no scheduling) over the players × ticks.
    pub tick_us_per_player_tick: f64,
    pub cores: usize,
    pub snapshot_body_bytes_mean: f64,
}

pub fn run(args: StressArgs) -> anyhow::Result<StressReport> {
    let difficulty = args.difficulty;
    if !(args.seconds > 0.0 && args.seconds <= 3600.0 && (0.0..=600.0).contains(&args.warmup_s)) {
        bail!("--seconds must be 0-3600 and --warmup-s 0-600");
    }
    let settings = match &args.settings {
        Some(path) => GameSettings::load(path).context("--settings")?,
        None => GameSettings::default(),
    };
    let period = Duration::from_secs_f64(1.0 / f64::from(args.tick_rate));
    let start = Instant::now() + Duration::from_millis(200);
    let measure_from = start + Duration::from_secs_f64(args.warmup_s);
    let stop_at = measure_from + Duration::from_secs_f64(args.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for room in 0..args.rooms {
        let settings = settings.clone();
        let stop = stop.clone();
        let (players, tick_rate) = (args.players, args.tick_rate);
        let thread = std::thread::Builder::new().name(format!("stress-{room}")).spawn(move || {
            let mut world = RoomWorld::new(settings.clone(), settings.match_rules(), tick_rate, u64::from(room));
            for n in 0..players {
                world.add_bot(PlayerId(0x4000_0000 + room * 1_000 + n), difficulty);
            }
            run_room(world, start, measure_from, stop_at, period, &stop)
        })?;
        threads.push(thread);
    }
    // Measure the process's CPU over the measured window only.
    let hz = clock_ticks_per_second();
    sleep_until(measure_from);
    let cpu_before = hz.and_then(process_cpu_seconds);
    sleep_until(stop_at);
    let cpu = hz.and_then(process_cpu_seconds).zip(cpu_before).map(|(after, before)| after - before);
    stop.store(true, Ordering::Relaxed);
    let runs: Vec<RoomRun> = threads
        .into_iter()
        .map(|t| t.join().map_err(|_| anyhow::anyhow!("a room's thread panicked")))
        .collect::<Result<_, _>>()?;

    let mut tick_us: Vec<u32> = runs.iter().flat_map(|r| r.tick_us.iter().copied()).collect();
    tick_us.sort_unstable();
    let ticks = tick_us.len() as u64;
    let quantile = |q: f64| tick_us.get(((ticks as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
    let late_ticks: u64 = runs.iter().map(|r| r.late).sum();
    let player_ticks = (ticks * u64::from(args.players)).max(1) as f64;
    let work_us: u64 = tick_us.iter().map(|&us| u64::from(us)).sum();
    let cpu_seconds = cpu.unwrap_or(f64::NAN);
    Ok(StressReport {
        rooms: args.rooms,
        players_per_room: args.players,
        players: u64::from(args.rooms) * u64::from(args.players),
        tick_rate_hz: args.tick_rate,
        difficulty: difficulty.name().into(),
        seconds: args.seconds,
        ticks,
        tick_p50_us: quantile(0.5),
        tick_p99_us: quantile(0.99),
        tick_max_us: tick_us.last().copied().unwrap_or(0),
        late_ticks,
        late_ticks_percent: 100.0 * late_ticks as f64 / ticks.max(1) as f64,
        ticks_per_second: ticks as f64 / args.seconds,
        cpu_seconds,
        cpu_us_per_player_tick: cpu_seconds * 1e6 / player_ticks,
        tick_us_per_player_tick: work_us as f64 / player_ticks,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        snapshot_body_bytes_mean: runs.iter().map(|r| r.body_bytes).sum::<u64>() as f64 / ticks.max(1) as f64,
    })
}

/// One room's loop, paced and its late ticks counted as the room task does
/// (`room::pacing`).
fn run_room(
    mut world: RoomWorld,
    start: Instant,
    measure_from: Instant,
    stop_at: Instant,
    period: Duration,
    stop: &AtomicBool,
) -> RoomRun {
    let (mut encoder, mut body) = (SnapshotEncoder::default(), Vec::new());
    let everything = world.interest_grid().everything();
    let expected = ((stop_at - measure_from).as_secs_f64() / period.as_secs_f64()).ceil() as usize + 1;
    let mut run = RoomRun { tick_us: Vec::with_capacity(expected), ..RoomRun::default() };
    let mut next_tick = start + period;
    sleep_until(start);
    while !stop.load(Ordering::Relaxed) {
        let began = Instant::now();
        if began >= stop_at {
            break;
        }
        world.step();
        // What the room thread does with a tick besides stepping: drain its events and
        // encode the snapshot body a watcher of the whole arena would get.
        world.take_kills();
        world.take_match_events();
        if let Some(frame) = world.take_snapshot() {
            encoder.begin(frame);
            body.clear();
            encoder.write_one(everything, None, &mut body);
            if began >= measure_from {
                run.body_bytes += body.len() as u64;
            }
        }
        let took = began.elapsed();
        let late;
        (next_tick, late) = pacing::wait_for_next(next_tick, period);
        if began >= measure_from {
            run.tick_us.push(took.as_micros().min(u128::from(u32::MAX)) as u32);
            run.late += u64::from(late);
        }
    }
    run
}

fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// User plus system CPU of this process so far, from `/proc/self/stat` (Linux; None elsewhere).
fn process_cpu_seconds(clock_ticks_per_s: f64) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (user, system): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    Some((user + system) / clock_ticks_per_s)
}

/// The clock ticks per second `/proc` counts CPU time in (USER_HZ), from
/// `getconf CLK_TCK` as scripts/measure.sh reads it; None without getconf.
fn clock_ticks_per_second() -> Option<f64> {
    let out = std::process::Command::new("getconf").arg("CLK_TCK").output().ok()?;
    let hz: f64 = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    (hz > 0.0).then_some(hz)
}

impl std::fmt::Display for StressReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "stress: {} rooms x {} house bots = {} players, {} Hz, {} bots, {:.0} s measured on {} cores",
            self.rooms,
            self.players_per_room,
            self.players,
            self.tick_rate_hz,
            self.difficulty,
            self.seconds,
            self.cores
        )?;
        writeln!(
            f,
            "ticks: {} ({:.0}/s of {} wanted), work p50 {} us, p99 {} us, max {} us",
            self.ticks,
            self.ticks_per_second,
            u64::from(self.rooms) * u64::from(self.tick_rate_hz),
            self.tick_p50_us,
            self.tick_p99_us,
            self.tick_max_us
        )?;
        writeln!(f, "late ticks: {} ({:.3} %)", self.late_ticks, self.late_ticks_percent)?;
        write!(
            f,
            "cpu: {:.1} s, {:.2} us per player-tick ({:.2} us of tick work); snapshot body {:.0} bytes",
            self.cpu_seconds, self.cpu_us_per_player_tick, self.tick_us_per_player_tick, self.snapshot_body_bytes_mean
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_reports_every_rooms_ticks() {
        let args =
            StressArgs::parse_from(["stress", "--rooms", "2", "--players", "4", "--seconds", "0.5", "--warmup-s", "0"]);
        let report = run(args).unwrap();
        assert_eq!(report.players, 8);
        // 2 rooms at 30 Hz for half a second: about 30 ticks, however busy the machine.
        assert!((10..=40).contains(&report.ticks), "{report}");
        assert!(report.tick_p50_us > 0 && report.tick_p99_us >= report.tick_p50_us, "{report}");
        assert!(report.snapshot_body_bytes_mean > 4.0 * 10.0, "four bots in each body: {report}");
        let refused = StressArgs::try_parse_from(["stress", "--difficulty", "godlike"]).unwrap_err().to_string();
        assert!(refused.contains("\"hard\""), "{refused}");
    }
}
