//! One room's tick: simulation plus building the snapshot frame; encoding a whole
//! and a delta snapshot body; the per-client part of the message; and what
//! timing a tick costs. Prints whole vs delta body sizes.

use std::hint::black_box;

use arena_protocol::{Input, PlayerId, SnapshotKind};
use arena_server::room::encoder::SnapshotEncoder;
use arena_server::room::snapshot::SnapshotFrame;
use arena_server::room::world::RoomWorld;
use arena_server::settings::GameSettings;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use glam::Vec2;

/// A room of `players` who all move and fire, warmed up until projectiles fill the air.
fn busy_room(players: u32) -> RoomWorld {
    // Rounds that never end in a benchmark: every measured tick is a tick of combat.
    let rules = arena_protocol::lobby::MatchRules { score_limit: 1000, time_limit_s: 3600 };
    let mut world = RoomWorld::new(GameSettings::default(), rules, 30, 1);
    for id in 1..=players {
        world.add_player(PlayerId(id));
    }
    for tick in 0..60 {
        feed_inputs(&mut world, players, tick);
        world.step();
    }
    world
}

fn feed_inputs(world: &mut RoomWorld, players: u32, tick: u32) {
    for id in 1..=players {
        let angle = (id * 37 + tick) as f32 * 0.1;
        world.push_input(PlayerId(id), Input::new(tick + 1, Vec2::from_angle(angle), angle, true));
    }
}

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("room_tick");
    for players in [50u32, 200, 1000] {
        let mut world = busy_room(players);
        let mut tick = 60;
        group.bench_with_input(BenchmarkId::new("step+snapshot", players), &players, |b, &players| {
            b.iter(|| {
                tick += 1;
                feed_inputs(&mut world, players, tick);
                world.step();
                black_box(world.take_snapshot())
            })
        });
        // Two consecutive frames: the client acknowledged the first.
        world.step();
        let base = world.take_snapshot().unwrap();
        let tick = world.step();
        let now = world.take_snapshot().unwrap();
        let encoder_with = |frames: &[&SnapshotFrame]| {
            let mut encoder = SnapshotEncoder::default();
            frames.iter().for_each(|f| encoder.begin((*f).clone()));
            encoder
        };
        let everything = u64::MAX;
        let (_, whole) = encoder_with(&[&now]).body(everything, None);
        let (kind, delta) = encoder_with(&[&base, &now]).body(everything, Some((base.tick, everything)));
        assert_eq!(kind, SnapshotKind::Delta);
        eprintln!(
            "room_tick/{players}: {} entities ({} projectiles); whole body {} B, delta body {} B ({:.0} %)",
            now.entities.len(),
            world.projectile_count(),
            whole.len(),
            delta.len(),
            100.0 * delta.len() as f64 / whole.len() as f64
        );
        group.bench_function(BenchmarkId::new("encode_whole", players), |b| {
            b.iter_batched(|| encoder_with(&[&now]), |mut e| black_box(e.body(everything, None)), BatchSize::SmallInput)
        });
        group.bench_function(BenchmarkId::new("encode_delta", players), |b| {
            b.iter_batched(
                || encoder_with(&[&base, &now]),
                |mut e| black_box(e.body(everything, Some((base.tick, everything)))),
                BatchSize::SmallInput,
            )
        });
        let outgoing = arena_server::room::OutgoingSnapshot { kind, tick, last_input_seq: 12345, body: delta };
        let mut out = Vec::new();
        group.bench_function(BenchmarkId::new("per_client_message", players), |b| {
            b.iter(|| outgoing.write_message(black_box(&mut out)))
        });
    }
    group.finish();
}

/// What timing one tick costs the tick: the clock read, the Prometheus summary
/// record and the monitor's bucket, as the room thread does them.
fn tick_timing_overhead(c: &mut Criterion) {
    arena_server::metrics::init();
    let handles = arena_server::metrics::handles();
    c.bench_function("tick_timing_overhead", |b| {
        b.iter(|| {
            let started = std::time::Instant::now();
            let took = black_box(started.elapsed());
            handles.tick_seconds.record(took.as_secs_f64());
            arena_server::monitor::telemetry().record_tick(took);
        })
    });
}

criterion_group!(benches, tick, tick_timing_overhead);
criterion_main!(benches);
