//! One room's tick: simulation plus building and encoding the shared snapshot,
//! and the per-client part of the snapshot message.

use std::hint::black_box;

use arena_protocol::{Input, PlayerId, snapshot::write_snapshot_chunks};
use arena_server::room::world::RoomWorld;
use arena_server::settings::GameSettings;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
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
        world.push_input(
            PlayerId(id),
            Input { seq: tick + 1, move_dir: Vec2::from_angle(angle), aim: angle, fire: true },
        );
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
        let tick = world.step();
        let snapshot = world.take_snapshot().unwrap();
        let bytes: usize = snapshot.chunks.iter().map(|c| c.bytes.len()).sum();
        eprintln!(
            "room_tick/{players}: shared snapshot {bytes} bytes, {} projectiles in flight",
            world.projectile_count()
        );
        let mut out = Vec::new();
        group.bench_with_input(BenchmarkId::new("per_client_message", players), &snapshot, |b, snapshot| {
            b.iter(|| write_snapshot_chunks(tick, 12345, black_box(snapshot.chunks.iter()), &mut out))
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
