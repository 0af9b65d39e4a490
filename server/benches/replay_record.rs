//! What recording a replay costs the room's thread: a busy room's tick (step,
//! snapshot frame, publish to a spectator, kill feed) without and with the recorder
//! handing its frame (every third tick) and broadcast bytes to the writer's queue.
//! Both are timed in the room thread's own CPU time: the writer thread compressing
//! beside it (far more often than 10 frames a second here, since ticks run back to
//! back) is its own thread's work, not the tick's. Also prints the replay bytes a
//! minute of such a room makes at 10 and 50 players, and the writer's time a frame;
//! and the same A/B interleaved in batches on two identical rooms, outside criterion.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use arena_protocol::replay::{FORMAT_VERSION, MAGIC, REPLAY_GZIP_LEVEL, ReplayEncoder, ReplayEnd, ReplayHeader};
use arena_protocol::{Input, NetId, PlayerId, RoundStart, ServerMsg, Tick, encode};
use arena_server::identity::Identity;
use arena_server::replay::{ReplayPolicy, RoundRecorder, spawn_writer};
use arena_server::room::ClientOutbox;
use arena_server::room::clients::{Client, Clients};
use arena_server::room::encoder::SentViews;
use arena_server::room::publish::Publisher;
use arena_server::room::world::RoomWorld;
use arena_server::settings::GameSettings;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use glam::Vec2;

/// The server's allocator: whether a frame freed on the writer thread costs the room
/// thread anything depends on it.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A room of `players` who all move and fire, with one spectator, warmed up.
struct Room {
    world: RoomWorld,
    publisher: Publisher,
    clients: Clients,
    _latest: arena_server::room::latest::LatestReceiver,
    players: u32,
    tick: u32,
}

impl Room {
    fn new(players: u32) -> Room {
        let rules = arena_protocol::lobby::MatchRules { score_limit: 100_000, time_limit_s: 3600 };
        let mut world = RoomWorld::new(GameSettings::default(), rules, 30, 1);
        for id in 1..=players {
            world.add_player(PlayerId(id));
        }
        let (latest, receiver) = arena_server::room::latest::slot();
        let identity = Identity { player_id: PlayerId(u32::MAX), name: "watcher".into(), verified: false };
        let mut clients = Clients::default();
        let watcher = Client {
            name: identity.name.clone(),
            identity,
            spectator: true,
            net_id: NetId(0),
            connection: 1,
            outbox: Some(ClientOutbox { latest }),
            held_until: None,
            held_seat: None,
            views: SentViews::default(),
        };
        clients.map.insert(PlayerId(u32::MAX), watcher);
        let mut room = Room { world, publisher: Publisher::new(30, 30), clients, _latest: receiver, players, tick: 0 };
        for _ in 0..60 {
            room.tick(None);
        }
        room
    }

    /// One tick as the room thread runs it; with a recorder, its hand-over too.
    fn tick(&mut self, recorder: Option<&mut RoundRecorder>) {
        self.tick += 1;
        for id in 1..=self.players {
            let angle = (id * 37 + self.tick) as f32 * 0.1;
            self.world.push_input(PlayerId(id), Input::new(self.tick, Vec2::from_angle(angle), angle, true));
        }
        let now = self.world.step();
        // The kill feed is encoded for the broadcast either way; a recording keeps the bytes.
        let kills: Vec<bytes::Bytes> =
            self.world.take_kills().into_iter().map(|k| bytes::Bytes::from(encode(&ServerMsg::Kill(k.kill)))).collect();
        let frame = self.world.take_snapshot().unwrap();
        let grid = self.world.interest_grid();
        let world = &self.world;
        self.publisher.publish(now, frame, &grid, &mut self.clients, |p| world.last_input_seq(p));
        if let Some(recorder) = recorder {
            if !recorder.is_recording() {
                recorder.round_started();
                recorder.begin(header(self.players));
            }
            if recorder.frame_due(now)
                && let Some(frame) = self.publisher.current_frame()
            {
                recorder.frame(now, frame);
            }
            for bytes in kills {
                recorder.event(now, bytes);
            }
        }
        black_box(&self.clients);
    }
}

fn header(players: u32) -> ReplayHeader {
    ReplayHeader {
        magic: MAGIC.into(),
        format_version: FORMAT_VERSION,
        protocol_version: arena_protocol::PROTOCOL_VERSION,
        room_id: "bench".into(),
        room_name: "bench".into(),
        private: false,
        round: RoundStart { round: 1, score_limit: 100_000, time_limit_s: 3600 },
        started_at_ms: 1_795_000_000_000,
        tick_rate_hz: 30,
        recorded_rate_hz: 10,
        arena_size: Vec2::new(2000.0, 2000.0),
        player_radius: 20.0,
        projectile_radius: 5.0,
        player_speed: 300.0,
        max_health: 100,
        players: (1..=players)
            .map(|id| arena_protocol::PlayerInfo {
                player_id: PlayerId(id),
                net_id: NetId(id),
                name: format!("bot-{id}"),
                bot: false,
            })
            .collect(),
    }
}

/// Bytes of one minute of a busy room recorded at 10 Hz, as the writer thread compresses
/// it at gzip `level` (a segment a second, from a fresh compressor), and the writer's time a frame.
fn bytes_per_minute(players: u32, level: u32) -> (usize, u64, Duration) {
    let mut room = Room::new(players);
    let mut encoder = ReplayEncoder::with_level(Vec::new(), &header(players), level).unwrap();
    let mut writing = Duration::ZERO;
    for _ in 0..30 * 60 {
        room.tick(None);
        let frame = room.publisher.current_frame().unwrap();
        if room.tick.is_multiple_of(3) {
            let started = std::time::Instant::now();
            encoder.frame(frame.tick, &frame.entities).unwrap();
            // Ten frames a segment, as the writer compresses each room's batch.
            if room.tick.is_multiple_of(30) {
                encoder.end_segment().unwrap();
            }
            writing += started.elapsed();
        }
    }
    let raw = encoder.raw_bytes();
    let end = ReplayEnd { tick: Tick(room.tick), reason: "time_limit".into(), ended_at_ms: 0 };
    (encoder.finish(&end).unwrap().len(), raw, writing / 600)
}

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own; CLOCK_THREAD_CPUTIME_ID is always supported on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// `iters` ticks timed in this thread's CPU time.
fn timed_ticks(room: &mut Room, mut recorder: Option<&mut RoundRecorder>, iters: u64) -> Duration {
    let started = thread_cpu_time();
    for _ in 0..iters {
        room.tick(recorder.as_deref_mut());
    }
    thread_cpu_time() - started
}

/// Recording's cost to the room thread, A/B interleaved: two identical rooms stepped in
/// lockstep, one without and one with a recorder, in alternating batches (which goes
/// first alternates too), so both see the same world at the same moments and the same
/// machine load. Prints the CPU time a tick of each and the ratio of every batch.
fn interleaved(players: u32, replays: &Arc<arena_server::replay::Replays>) {
    const BATCHES: usize = 200;
    const TICKS: u64 = 150;
    let (mut plain, mut recorded) = (Room::new(players), Room::new(players));
    let mut recorder = RoundRecorder::new(Some(Arc::clone(replays)), 30);
    let (mut without, mut with, mut ratios) = (Duration::ZERO, Duration::ZERO, Vec::new());
    for batch in 0..BATCHES {
        let (a, b) = if batch % 2 == 0 {
            let a = timed_ticks(&mut plain, None, TICKS);
            (a, timed_ticks(&mut recorded, Some(&mut recorder), TICKS))
        } else {
            let b = timed_ticks(&mut recorded, Some(&mut recorder), TICKS);
            (timed_ticks(&mut plain, None, TICKS), b)
        };
        without += a;
        with += b;
        ratios.push(b.as_secs_f64() / a.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let per_tick = |d: Duration| d.as_secs_f64() * 1e6 / (BATCHES as u64 * TICKS) as f64;
    eprintln!(
        "room_record/interleaved/{players}: {:.2} µs a tick without, {:.2} µs with recording ({:+.1} %); batch ratios median {:.3}, quartiles {:.3}-{:.3}",
        per_tick(without),
        per_tick(with),
        (with.as_secs_f64() / without.as_secs_f64() - 1.0) * 100.0,
        ratios[BATCHES / 2],
        ratios[BATCHES / 4],
        ratios[BATCHES * 3 / 4]
    );
}

fn record(c: &mut Criterion) {
    // The level in use beside level 6 (gzip's default, used before), in one window.
    for players in [10, 50] {
        for level in [REPLAY_GZIP_LEVEL, 6] {
            let (file, raw, per_frame) = bytes_per_minute(players, level);
            eprintln!(
                "replay/{players} players, gzip level {level}: {:.0} KB a minute on disk ({:.0} KB before gzip), 10 frames a second; the writer encodes and compresses a frame in {:.0} µs",
                file as f64 / 1000.0,
                raw as f64 / 1000.0,
                per_frame.as_secs_f64() * 1e6
            );
        }
    }
    let dir = std::env::temp_dir().join(format!("arena-bench-replays-{}", std::process::id()));
    let policy = ReplayPolicy { dir: dir.clone(), max_age: Duration::from_secs(3600), max_bytes: 64 << 20 };
    let replays = spawn_writer(policy).expect("a replay folder in the temp dir");
    // Room threads run without jemalloc's per-thread cache in the server (main.rs): that
    // first, then with the cache, as this thread has it by default.
    for cache in [false, true] {
        arena_server::allocator::set_thread_cache(cache).expect("thread.tcache.enabled");
        eprintln!(
            "room_record/interleaved: this thread's allocator cache {}",
            if cache { "on" } else { "off (as the server's room threads)" }
        );
        for players in [50, 200] {
            interleaved(players, &replays);
        }
    }
    let mut group = c.benchmark_group("room_record");
    for players in [50u32, 200] {
        let mut room = Room::new(players);
        group.bench_function(BenchmarkId::new("tick_without_recording", players), |b| {
            b.iter_custom(|iters| timed_ticks(&mut room, None, iters))
        });
        let mut recorder = RoundRecorder::new(Some(Arc::clone(&replays)), 30);
        group.bench_function(BenchmarkId::new("tick_with_recording", players), |b| {
            b.iter_custom(|iters| timed_ticks(&mut room, Some(&mut recorder), iters))
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, record);
criterion_main!(benches);
