//! One room's tick: simulation plus building the snapshot frame; encoding a whole
//! and a delta snapshot body; a writer's message from a body several clients
//! share; and what timing a tick costs. Prints whole vs delta body sizes. Then the
//! one room of 1,000 in a big arena with interest management: a tick with a body
//! for every client, the room thread's part and the writers' part. And the
//! per-message hand-over from a room to its 50 writers: the room's latest-wins
//! slots beside tokio's watch they replaced.

use std::hint::black_box;

use arena_protocol::{Input, NetId, PlayerId, SnapshotKind, Tick};
use arena_server::identity::Identity;
use arena_server::room::clients::{Client, Clients};
use arena_server::room::encoder::{Baseline, SentViews, SnapshotEncoder};
use arena_server::room::interest::View;
use arena_server::room::latest::LatestReceiver;
use arena_server::room::publish::Publisher;
use arena_server::room::snapshot::SnapshotFrame;
use arena_server::room::tick_encoding::SplicedBody;
use arena_server::room::world::RoomWorld;
use arena_server::room::{ClientOutbox, Latest, OutgoingSnapshot};
use arena_server::settings::GameSettings;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use glam::Vec2;

/// A room of `players` who all move and fire, warmed up until projectiles fill the air.
fn busy_room(players: u32) -> RoomWorld {
    busy_room_with(players, GameSettings::default())
}

fn busy_room_with(players: u32, settings: GameSettings) -> RoomWorld {
    // Rounds that never end in a benchmark: every measured tick is a tick of combat.
    let rules = arena_protocol::lobby::MatchRules { score_limit: 1000, time_limit_s: 3600 };
    let mut world = RoomWorld::new(settings, rules, 30, 1);
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

/// One body on its own, written.
fn body_of(encoder: &mut SnapshotEncoder, view: View, baseline: Option<Baseline>) -> (SnapshotKind, Vec<u8>) {
    let mut out = Vec::new();
    let kind = encoder.write_one(view, baseline, &mut out);
    (kind, out)
}

/// The body `clients` clients with the same view and baseline take: made by the
/// first writer, copied by the others.
fn shared_body(encoder: &mut SnapshotEncoder, view: View, baseline: Option<Baseline>, clients: usize) -> SplicedBody {
    let key = (0..clients).map(|_| encoder.want(view, baseline)).last().expect("a client");
    encoder.seal();
    encoder.body(key)
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
        let everything = world.interest_grid().everything();
        let (_, whole) = body_of(&mut encoder_with(&[&now]), everything, None);
        let (kind, delta) = body_of(&mut encoder_with(&[&base, &now]), everything, Some((base.tick, everything)));
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
            b.iter_batched(
                || encoder_with(&[&now]),
                |mut e| black_box(body_of(&mut e, everything, None)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(BenchmarkId::new("encode_delta", players), |b| {
            b.iter_batched(
                || encoder_with(&[&base, &now]),
                |mut e| black_box(body_of(&mut e, everything, Some((base.tick, everything)))),
                BatchSize::SmallInput,
            )
        });
        // Every client of the room sees everything and acknowledged the same tick.
        let mut encoder = encoder_with(&[&base, &now]);
        let body = shared_body(&mut encoder, everything, Some((base.tick, everything)), players as usize);
        let outgoing = OutgoingSnapshot { kind, tick, last_input_seq: 12345, body };
        let mut out = Vec::new();
        group.bench_function(BenchmarkId::new("per_client_message", players), |b| {
            b.iter(|| outgoing.write_message(black_box(&mut out)))
        });
    }
    group.finish();
}

/// One room of 1,000 in the load benchmark's big arena (`scripts/bench/big-arena.toml`):
/// a tick, then the room's own publishing code (`room::publish::Publisher`) hands a
/// body to every client — the client's view, and a baseline among the ticks it
/// acknowledged (here each client acknowledges with a delay of one to three ticks,
/// as bots on a busy machine do).
struct BigRoom {
    world: RoomWorld,
    publisher: Publisher,
    clients: Clients,
    /// The sessions' ends of each client's channels, kept open as live sessions would.
    receivers: Vec<LatestReceiver>,
    /// A writer's buffer.
    message: Vec<u8>,
    tick: u32,
}

/// What the published ticks added up to.
#[derive(Default)]
struct Tally {
    ticks: usize,
    bodies: usize,
    baselines: usize,
    bytes: usize,
    sent: usize,
    visible: usize,
    stepping: std::time::Duration,
    publishing: std::time::Duration,
    writing: std::time::Duration,
}

impl BigRoom {
    const PLAYERS: u32 = 1000;

    fn new() -> BigRoom {
        // The same arena and view as the load benchmark's one-room-of-1,000 step.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench/big-arena.toml");
        let settings = GameSettings::load(&path).expect("scripts/bench/big-arena.toml");
        let mut clients = Clients::default();
        let mut receivers = Vec::new();
        for id in 1..=Self::PLAYERS {
            let (latest, receiver) = arena_server::room::latest::slot();
            receivers.push(receiver);
            let identity = Identity { player_id: PlayerId(id), name: format!("bot-{id}"), verified: false };
            let client = Client {
                name: identity.name.clone(),
                identity,
                spectator: false,
                net_id: NetId(id),
                connection: u64::from(id),
                outbox: Some(ClientOutbox { latest }),
                held_until: None,
                held_seat: None,
                views: SentViews::default(),
            };
            clients.map.insert(PlayerId(id), client);
        }
        BigRoom {
            world: busy_room_with(Self::PLAYERS, settings),
            publisher: Publisher::new(30, 30),
            clients,
            receivers,
            message: Vec::new(),
            tick: 60,
        }
    }

    fn publish_tick(&mut self, tally: &mut Tally) {
        self.tick += 1;
        let started = std::time::Instant::now();
        feed_inputs(&mut self.world, Self::PLAYERS, self.tick);
        let now = self.world.step();
        let grid = self.world.interest_grid();
        let frame = self.world.take_snapshot().unwrap();
        let stepped = std::time::Instant::now();
        tally.stepping += stepped - started;
        let world = &self.world;
        let bodies = self.publisher.publish(now, frame, &grid, &mut self.clients, |p| world.last_input_seq(p));
        let published = std::time::Instant::now();
        tally.publishing += published - stepped;
        // The writers' part, here in one thread: each client's message from its slot.
        for receiver in &mut self.receivers {
            if let Some(Latest::Snapshot(snapshot)) = receiver.take_changed() {
                snapshot.write_message(&mut self.message);
                receiver.put_back(Latest::Snapshot(snapshot));
                tally.bytes += self.message.len();
                tally.sent += 1;
            }
        }
        tally.writing += published.elapsed();
        for (&player, client) in &mut self.clients.map {
            client.views.acknowledge(Tick(now.0.saturating_sub(player.0 % 3)));
        }
        tally.ticks += 1;
        tally.bodies += bodies;
        tally.baselines += self.publisher.baselines_in_use();
    }
}

fn big_room_publish(c: &mut Criterion) {
    let mut room = BigRoom::new();
    // Acknowledgements warm up before counting.
    for _ in 0..40 {
        room.publish_tick(&mut Tally::default());
    }
    let mut tally = Tally::default();
    for _ in 0..60 {
        room.publish_tick(&mut tally);
    }
    let grid = room.world.interest_grid();
    room.world.step();
    let frame = room.world.take_snapshot().unwrap();
    for cell in frame.player_cells.values() {
        tally.visible += frame.visible(grid.visible_from(*cell)).count();
    }
    eprintln!(
        "room_publish/1000 ({}² arena, view {}, {}×{} cells): {:.0} distinct bodies and {:.1} baselines a tick, {:.0} B a client message a tick, {:.0} entities in a view; a tick: {:.2} ms stepping, {:.2} ms publishing (the room thread), {:.2} ms writing every client's message (the writers)",
        room.world.settings().arena_width,
        room.world.settings().view_distance,
        grid.cols,
        grid.rows,
        tally.bodies as f64 / tally.ticks as f64,
        tally.baselines as f64 / tally.ticks as f64,
        tally.bytes as f64 / tally.sent as f64,
        tally.visible as f64 / f64::from(BigRoom::PLAYERS),
        tally.stepping.as_secs_f64() * 1000.0 / tally.ticks as f64,
        tally.publishing.as_secs_f64() * 1000.0 / tally.ticks as f64,
        tally.writing.as_secs_f64() * 1000.0 / tally.ticks as f64,
    );
    let mut group = c.benchmark_group("room_publish");
    group.bench_function("1000", |b| b.iter(|| room.publish_tick(&mut Tally::default())));
    // The same ticks, timing one part each: the room thread's (stepping and picking
    // views and baselines), and the writers' (splicing every client's body; on the
    // I/O workers in the server, so not in the tick's time but in its CPU).
    let mut part = |name: &str, of: fn(&Tally) -> std::time::Duration| {
        group.bench_function(name, |b| {
            b.iter_custom(|ticks| {
                let mut tally = Tally::default();
                (0..ticks).for_each(|_| room.publish_tick(&mut tally));
                of(&tally)
            })
        });
    };
    part("1000/room_thread", |t| t.stepping + t.publishing);
    part("1000/writers", |t| t.writing);
    group.finish();
}

/// What timing one tick costs the tick: the clock read, the Prometheus summary
/// record and the monitor's bucket, as the room thread does them.
fn tick_timing_overhead(c: &mut Criterion) {
    arena_server::ops::metrics::init();
    let handles = arena_server::ops::metrics::handles();
    c.bench_function("tick_timing_overhead", |b| {
        b.iter(|| {
            let started = std::time::Instant::now();
            let took = black_box(started.elapsed());
            handles.tick_seconds.record(took.as_secs_f64());
            arena_server::ops::telemetry::telemetry().record_tick(took);
        })
    });
}

/// A room's snapshot to each of 50 clients and each writer taking it into its
/// buffer (in one thread: the lock, version and copy work, not the wake-ups).
fn per_message_handoff(c: &mut Criterion) {
    // A room of 50's delta body, made once and copied by each writer.
    let mut world = busy_room(50);
    let mut encoder = SnapshotEncoder::default();
    world.step();
    let base = world.take_snapshot().unwrap();
    encoder.begin(base.clone());
    world.step();
    encoder.begin(world.take_snapshot().unwrap());
    let everything = world.interest_grid().everything();
    let body = shared_body(&mut encoder, everything, Some((base.tick, everything)), 50);
    let snapshot = |tick: u32| {
        Latest::Snapshot(OutgoingSnapshot {
            kind: SnapshotKind::Delta,
            tick: Tick(tick),
            last_input_seq: tick,
            body: body.clone(),
        })
    };
    let mut group = c.benchmark_group("per_message_handoff");
    let mut slots: Vec<_> = (0..50).map(|_| arena_server::room::latest::slot()).collect();
    let (mut tick, mut out) = (0, Vec::new());
    group.bench_function("latest_slot/50", |b| {
        b.iter(|| {
            tick += 1;
            for (sender, _) in &slots {
                sender.send_replace(snapshot(tick));
            }
            for (_, receiver) in &mut slots {
                if let Some(Latest::Snapshot(s)) = receiver.take_changed() {
                    s.write_message(&mut out);
                    receiver.put_back(Latest::Snapshot(s));
                }
            }
        })
    });
    let mut watches: Vec<_> = (0..50).map(|_| tokio::sync::watch::channel(Latest::Waiting)).collect();
    group.bench_function("tokio_watch/50", |b| {
        b.iter(|| {
            tick += 1;
            for (sender, _) in &watches {
                sender.send_replace(snapshot(tick));
            }
            for (_, receiver) in &mut watches {
                if receiver.has_changed().unwrap_or(false)
                    && let Latest::Snapshot(s) = receiver.borrow_and_update().clone()
                {
                    s.write_message(&mut out);
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, tick, big_room_publish, tick_timing_overhead, per_message_handoff);
criterion_main!(benches);
