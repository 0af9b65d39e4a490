//! Game rules, tested by stepping a room's world directly: no sockets, no clocks.

use arena_protocol::snapshot::{SnapshotKind, write_snapshot_header};
use arena_protocol::{Input, PlayerId, Snapshot, Tick, decode_server, server_msg::Kill};
use arena_server::room::encoder::SnapshotEncoder;
use arena_server::room::interest::View;
use arena_server::room::snapshot::SnapshotFrame;
use arena_server::room::world::RoomWorld;
use arena_server::settings::GameSettings;
use glam::Vec2;

const TICK_RATE: u16 = 30;

fn world() -> RoomWorld {
    world_with(GameSettings::default())
}

fn world_with(settings: GameSettings) -> RoomWorld {
    RoomWorld::new(settings.clone(), settings.match_rules(), TICK_RATE, 7)
}

/// The whole snapshot a client seeing `view` of `frame` receives, decoded.
fn whole_snapshot(frame: SnapshotFrame, view: View, tick: Tick, last_input_seq: u32) -> Snapshot {
    let mut encoder = SnapshotEncoder::default();
    encoder.begin(frame);
    let key = encoder.want(view, None);
    assert_eq!(key.kind(), SnapshotKind::Full);
    encoder.seal();
    let mut message = Vec::new();
    write_snapshot_header(key.kind(), tick, last_input_seq, &mut message);
    encoder.body(key).write(&mut message);
    let arena_protocol::ServerMsg::Snapshot(s) = decode_server(&message).unwrap() else { panic!("not a snapshot") };
    s
}

fn input(seq: u32, move_dir: Vec2, aim: f32, fire: bool) -> Input {
    Input::new(seq, move_dir, aim, fire)
}

#[test]
fn movement_is_clamped_to_full_speed() {
    let mut world = world();
    let me = PlayerId(1);
    world.add_player(me);
    world.set_player_position(me, Vec2::new(1000.0, 1000.0));
    // Longer than 1 (the session accepts up to 2): the world clamps it.
    world.push_input(me, input(1, Vec2::new(1.5, 1.5), 0.0, false));
    world.step();
    let state = world.player_state(me).unwrap();
    let speed = GameSettings::default().player_speed;
    assert!((state.vel.length() - speed).abs() < 1e-3, "speed {}", state.vel.length());
    let moved = state.pos.distance(Vec2::new(1000.0, 1000.0));
    assert!((moved - speed / f32::from(TICK_RATE)).abs() < 1e-3, "moved {moved}");
}

#[test]
fn players_stay_inside_the_arena() {
    let mut world = world();
    let me = PlayerId(1);
    world.add_player(me);
    world.push_input(me, input(1, Vec2::new(-1.0, -1.0), 0.0, false));
    for _ in 0..300 {
        world.step();
    }
    let r = GameSettings::default().player_radius;
    assert_eq!(world.player_state(me).unwrap().pos, Vec2::splat(r));
}

#[test]
fn older_inputs_do_not_replace_newer_ones() {
    let mut world = world();
    let me = PlayerId(1);
    world.add_player(me);
    world.push_input(me, input(10, Vec2::new(1.0, 0.0), 0.0, false));
    world.push_input(me, input(9, Vec2::new(-1.0, 0.0), 0.0, false));
    world.step();
    world.step();
    assert_eq!(world.last_input_seq(me), 10);
    assert!(world.player_state(me).unwrap().vel.x > 0.0);
}

#[test]
fn inputs_sent_two_at_a_time_are_applied_one_per_tick() {
    let mut world = world();
    let me = PlayerId(1);
    world.add_player(me);
    world.set_player_position(me, Vec2::new(1000.0, 1000.0));
    // Every other tick, one message with this tick's input and the previous one's:
    // right, then down, then right, then down…
    let dirs = |seq: u32| if seq % 2 == 1 { Vec2::X } else { Vec2::Y };
    for pair in 0..10u32 {
        let seq = 2 * pair + 2;
        let earlier = vec![arena_protocol::Controls { move_dir: dirs(seq - 1), aim: 0.0, fire: false }];
        world.push_input(me, Input { earlier, ..input(seq, dirs(seq), 0.0, false) });
        world.step();
        assert_eq!(world.last_input_seq(me), seq - 1);
        world.step();
        assert_eq!(world.last_input_seq(me), seq);
    }
    // Ten ticks right and ten down: no input was lost or applied twice.
    let moved = world.player_state(me).unwrap().pos - Vec2::new(1000.0, 1000.0);
    let ten_ticks = GameSettings::default().player_speed * 10.0 / f32::from(TICK_RATE);
    assert!((moved - Vec2::splat(ten_ticks)).abs().max_element() < 0.01, "moved {moved}");
}

/// Two players facing each other 150 units apart; `shooter` aims at `target`.
fn duel() -> (RoomWorld, PlayerId, PlayerId) {
    duel_with(GameSettings::default())
}

fn duel_with(settings: GameSettings) -> (RoomWorld, PlayerId, PlayerId) {
    let mut world = world_with(settings);
    let (shooter, target) = (PlayerId(1), PlayerId(2));
    world.add_player(shooter);
    world.add_player(target);
    world.set_player_position(shooter, Vec2::new(500.0, 500.0));
    world.set_player_position(target, Vec2::new(650.0, 500.0));
    (world, shooter, target)
}

/// The target stood in the shooter's line of fire, and left it `left_ticks_ago` ticks
/// before the shot is fired. Returns the target's health after the shot's flight.
fn shot_at_where_the_target_was(settings: GameSettings, view_ticks_back: Option<u32>, left_ticks_ago: u32) -> u16 {
    let (mut world, shooter, target) = duel_with(settings);
    let mut tick = Tick(0);
    for _ in 0..20 {
        tick = world.step();
    }
    world.set_player_position(target, Vec2::new(650.0, 900.0));
    for _ in 0..left_ticks_ago {
        tick = world.step();
    }
    let view_tick = view_ticks_back.map_or(Tick(0), |back| Tick(tick.0 - back));
    world.push_input(shooter, Input { view_tick, ..input(1, Vec2::ZERO, 0.0, true) });
    world.step();
    world.push_input(shooter, input(2, Vec2::ZERO, 0.0, false));
    for _ in 0..10 {
        world.step();
    }
    world.player_state(target).unwrap().health
}

#[test]
fn lag_compensation_tests_a_shot_against_the_world_its_shooter_saw() {
    let s = GameSettings::default(); // 200 ms: 6 ticks at 30 Hz
    let hit = s.max_health - s.projectile_damage;
    // The shooter was looking at the world of 5 ticks ago, when the target stood in line.
    assert_eq!(shot_at_where_the_target_was(s.clone(), Some(5), 0), hit);
    // A client 15 ticks behind saw the target in line too, but is rewound only 6 ticks:
    // the target had left by then.
    assert_eq!(shot_at_where_the_target_was(s.clone(), Some(15), 10), s.max_health);
    // Without a view tick, or with compensation off, the shot meets the present: a miss.
    assert_eq!(shot_at_where_the_target_was(s.clone(), None, 0), s.max_health);
    let off = GameSettings { lag_compensation_ms: 0, ..s.clone() };
    assert_eq!(shot_at_where_the_target_was(off, Some(5), 0), s.max_health);
}

#[test]
fn a_hit_takes_health_once_and_the_shooter_is_never_hit() {
    let (mut world, shooter, target) = duel();
    world.push_input(shooter, input(1, Vec2::ZERO, 0.0, true));
    world.step();
    world.push_input(shooter, input(2, Vec2::ZERO, 0.0, false));
    for _ in 0..10 {
        world.step();
    }
    let s = GameSettings::default();
    assert_eq!(world.player_state(target).unwrap().health, s.max_health - s.projectile_damage);
    assert_eq!(world.player_state(shooter).unwrap().health, s.max_health);
}

#[test]
fn death_scores_a_kill_and_the_victim_respawns_later() {
    let (mut world, shooter, target) = duel();
    let s = GameSettings::default();
    let shots_to_kill = s.max_health.div_ceil(s.projectile_damage);
    let cooldown_ticks = (s.fire_cooldown_s * f32::from(TICK_RATE)).round() as usize;
    world.push_input(shooter, input(1, Vec2::ZERO, 0.0, true));
    let mut kills = Vec::new();
    for _ in 0..(usize::from(shots_to_kill) * cooldown_ticks + 10) {
        world.step();
        kills.extend(world.take_kills().into_iter().map(|k| k.kill));
        if world.player_state(target).unwrap().dead {
            break;
        }
    }
    let victim = world.player_state(target).unwrap();
    assert!(victim.dead);
    assert_eq!((victim.health, victim.deaths), (0, 1));
    assert_eq!(world.player_state(shooter).unwrap().kills, 1);
    assert_eq!(kills, vec![Kill { killer: shooter, victim: target }]);

    // Stop firing; after the respawn delay the victim is back at full health.
    world.push_input(shooter, input(2, Vec2::ZERO, 0.0, false));
    let respawn_ticks = (s.respawn_delay_s * f32::from(TICK_RATE)).round() as usize;
    for _ in 0..respawn_ticks + 1 {
        world.step();
    }
    let back = world.player_state(target).unwrap();
    assert!(!back.dead);
    assert_eq!(back.health, s.max_health);
}

#[test]
fn with_a_view_distance_far_players_are_left_out_and_the_own_one_never_is() {
    let settings = GameSettings { view_distance: 400.0, ..GameSettings::default() };
    let mut world = world_with(settings);
    let (near, far) = (PlayerId(1), PlayerId(2));
    world.add_player(near);
    world.add_player(far);
    world.set_player_position(near, Vec2::new(100.0, 100.0));
    world.set_player_position(far, Vec2::new(1900.0, 1900.0));
    let tick = world.step();
    let snapshot = world.take_snapshot().unwrap();
    let grid = world.interest_grid();
    let seen = |player| {
        let view = grid.visible_from(snapshot.player_cells[&player]);
        let s = whole_snapshot(snapshot.clone(), view, tick, 0);
        s.entities.iter().map(|e| e.owner).collect::<Vec<_>>()
    };
    assert_eq!(seen(near), vec![near]);
    assert_eq!(seen(far), vec![far]);
    // Close together, they see each other.
    world.set_player_position(far, Vec2::new(300.0, 200.0));
    world.step();
    let snapshot = world.take_snapshot().unwrap();
    let view = grid.visible_from(snapshot.player_cells[&near]);
    assert!(view.contains(snapshot.player_cells[&far]));
}

#[test]
fn the_snapshot_lists_players_and_projectiles() {
    let (mut world, shooter, _) = duel();
    world.push_input(shooter, input(3, Vec2::ZERO, 0.0, true));
    let tick = world.step();
    let snapshot = world.take_snapshot().expect("a snapshot every tick");
    let everything = world.interest_grid().everything();
    let snapshot = whole_snapshot(snapshot, everything, tick, world.last_input_seq(shooter));
    assert_eq!(snapshot.tick, tick);
    assert_eq!(snapshot.last_input_seq, 3);
    let kinds: Vec<_> = snapshot.entities.iter().map(|e| e.kind).collect();
    use arena_protocol::EntityKind::{Player, Projectile};
    assert_eq!(kinds, vec![Player, Player, Projectile]);
}
