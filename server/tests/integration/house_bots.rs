//! House bots' behaviour, by stepping a room's world with fixed seeds: no sockets,
//! no clocks. The figures they print are in BENCHMARKS.md (`-- --nocapture`).

use arena_protocol::lobby::MatchRules;
use arena_protocol::{Input, PlayerId};
use arena_server::room::house_bots::Difficulty;
use arena_server::room::world::RoomWorld;
use arena_server::settings::GameSettings;
use glam::Vec2;

const TICK_RATE: u16 = 30;
/// Rounds that never end by themselves during a test.
const ENDLESS: MatchRules = MatchRules { score_limit: 1000, time_limit_s: 3600 };

fn world(settings: GameSettings, seed: u64) -> RoomWorld {
    RoomWorld::new(settings, ENDLESS, TICK_RATE, seed)
}

fn bot(n: u32) -> PlayerId {
    PlayerId(0x4000_0000 + n)
}

/// Kills of each side over `seconds` of a one-on-one, summed over `seeds`.
fn duel(a: Difficulty, b: Difficulty, seeds: std::ops::Range<u64>, seconds: u32) -> (u32, u32) {
    let (mut kills_a, mut kills_b) = (0, 0);
    for seed in seeds {
        let mut world = world(GameSettings::default(), seed);
        world.add_bot(bot(1), a);
        world.add_bot(bot(2), b);
        for _ in 0..seconds * u32::from(TICK_RATE) {
            world.step();
        }
        kills_a += world.player_state(bot(1)).unwrap().kills;
        kills_b += world.player_state(bot(2)).unwrap().kills;
        assert_eq!(world.bot_inputs_refused(), 0);
    }
    (kills_a, kills_b)
}

#[test]
fn hard_bots_beat_easy_ones_by_a_clear_margin() {
    let (hard, easy) = duel(Difficulty::Hard, Difficulty::Easy, 0..8, 30);
    eprintln!("duels, 8 x 30 s: hard {hard} kills, easy {easy}");
    assert!(hard >= 10, "hard bots fight at all: {hard}");
    assert!(hard >= 2 * easy.max(1), "hard {hard} vs easy {easy}");
}

#[test]
fn normal_bots_beat_easy_ones_and_hard_beat_normal() {
    let (normal, easy) = duel(Difficulty::Normal, Difficulty::Easy, 0..8, 30);
    let (hard, normal_vs_hard) = duel(Difficulty::Hard, Difficulty::Normal, 0..8, 30);
    eprintln!("duels, 8 x 30 s: normal {normal} vs easy {easy}; hard {hard} vs normal {normal_vs_hard}");
    assert!(normal > easy, "normal {normal} vs easy {easy}");
    assert!(hard > normal_vs_hard, "hard {hard} vs normal {normal_vs_hard}");
}

/// Shots a normal bot lands on a person walking a straight line about 400 units away.
#[test]
fn bots_hit_a_target_moving_in_a_straight_line_at_medium_range() {
    // Health enough to never die, one point a hit: health lost counts the hits.
    let settings = GameSettings { max_health: 10_000, projectile_damage: 1, ..GameSettings::default() };
    let (mut shots, mut hits) = (0, 0);
    for seed in 0..4 {
        let mut world = world(settings.clone(), seed);
        let target = PlayerId(1);
        world.add_player(target);
        world.set_player_position(target, Vec2::new(700.0, 400.0));
        world.add_bot(bot(1), Difficulty::Normal);
        world.set_player_position(bot(1), Vec2::new(1100.0, 700.0));
        let mut fired = std::collections::HashSet::new();
        for seq in 1..=100 {
            world.push_input(target, Input::new(seq, Vec2::Y, 0.0, false));
            world.step();
            fired.extend(world.projectiles().into_iter().filter(|&(_, owner)| owner == bot(1)).map(|(id, _)| id));
        }
        // Let the last shots land or miss.
        world.remove_player(bot(1));
        for seq in 101..=140 {
            world.push_input(target, Input::new(seq, Vec2::Y, 0.0, false));
            world.step();
        }
        shots += fired.len() as u32;
        hits += u32::from(settings.max_health - world.player_state(target).unwrap().health);
    }
    eprintln!("straight-line target at ~400 units: {hits} hits of {shots} shots");
    assert!(shots >= 20, "the bot fired: {shots}");
    assert!(hits * 10 >= shots * 6, "{hits} hits of {shots} shots");
}

/// Eight bots for a minute: they cover most of the arena, none stays pinned at a
/// wall, and every move, turn and shot is one a person could make.
#[test]
fn bots_roam_the_arena_never_stick_to_walls_and_keep_to_the_input_limits() {
    let settings = GameSettings::default();
    let mut world = world(settings.clone(), 42);
    let bots: Vec<PlayerId> = (1..=8).map(bot).collect();
    for (i, &id) in bots.iter().enumerate() {
        world.add_bot(id, Difficulty::ALL[i % 3]);
    }
    const CELLS: usize = 8;
    let cell = settings.arena_width / CELLS as f32;
    let mut visited = [[false; CELLS]; CELLS];
    let mut at_wall = vec![0u32; bots.len()];
    let mut longest_at_wall = vec![0u32; bots.len()];
    let mut last = vec![None::<Vec2>; bots.len()];
    let mut shots = std::collections::HashMap::<PlayerId, std::collections::HashSet<_>>::new();
    let step_limit = settings.player_speed / f32::from(TICK_RATE) + 0.01;
    let ticks = 60 * u32::from(TICK_RATE);
    for _ in 0..ticks {
        world.step();
        for (net_id, owner) in world.projectiles() {
            shots.entry(owner).or_default().insert(net_id);
        }
        for (i, &id) in bots.iter().enumerate() {
            let state = world.player_state(id).unwrap();
            if state.dead {
                (at_wall[i], last[i]) = (0, None);
                continue;
            }
            if let Some(before) = last[i] {
                // Respawns jump; anything else moves at most full speed for one tick.
                assert!(state.pos.distance(before) <= step_limit, "bot {i} moved too far in a tick");
            }
            last[i] = Some(state.pos);
            visited[(state.pos.y / cell) as usize % CELLS][(state.pos.x / cell) as usize % CELLS] = true;
            let to_wall = state.pos.min_element().min((Vec2::splat(settings.arena_width) - state.pos).min_element());
            at_wall[i] = if to_wall < settings.player_radius * 2.0 { at_wall[i] + 1 } else { 0 };
            longest_at_wall[i] = longest_at_wall[i].max(at_wall[i]);
        }
    }
    let covered = visited.iter().flatten().filter(|&&v| v).count();
    eprintln!(
        "8 bots, 60 s: {covered} of {} cells visited, longest at a wall {:?} ticks",
        CELLS * CELLS,
        longest_at_wall
    );
    assert!(covered * 4 >= CELLS * CELLS * 3, "{covered} of {} cells", CELLS * CELLS);
    for (i, &longest) in longest_at_wall.iter().enumerate() {
        assert!(longest < 2 * u32::from(TICK_RATE), "bot {i} stayed at a wall for {longest} ticks");
    }
    // One shot per cooldown at most, like anyone.
    let most_shots = ticks / (settings.fire_cooldown_s * f32::from(TICK_RATE)).round() as u32 + 1;
    for id in &bots {
        let fired = shots.get(id).map_or(0, |s| s.len() as u32);
        assert!(fired <= most_shots, "{id} fired {fired} times");
    }
    assert!(shots.len() >= 6, "most bots fired");
    assert_eq!(world.bot_inputs_refused(), 0);
    // Their inputs arrive through the input buffer, numbered like a client's.
    assert!(bots.iter().all(|&id| world.last_input_seq(id) > ticks / 4));
}

#[test]
fn the_same_seed_plays_the_same_game() {
    let run = |seed| {
        let mut world = world(GameSettings::default(), seed);
        for n in 1..=6 {
            world.add_bot(bot(n), Difficulty::ALL[n as usize % 3]);
        }
        for _ in 0..300 {
            world.step();
        }
        (1..=6).map(|n| world.player_state(bot(n)).unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}
