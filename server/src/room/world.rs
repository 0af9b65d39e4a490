//! A room's simulation: the ECS world, its schedule, and the calls the room task makes on it.

use arena_protocol::{Input, NetId, PlayerId, Tick};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{ScheduleLabel, SingleThreadedExecutor};
use glam::Vec2;

use super::components::{Body, Controls, Dead, Health, Net, Player, Score, Weapon};
use super::house_bots::{self, BotRng, Difficulty, HouseBot};
use super::kill_feed::KillAt;
use super::resources::{Clock, HitLog, KillFeed, LatestSnapshot, NetIds, PendingInputs, PlayerIndex, RoomRng, Rules};
use super::rounds::{self, Match, MatchEvent, MatchEvents};
use super::{combat, input, movement, snapshot};
use crate::settings::GameSettings;
use arena_protocol::lobby::MatchRules;

/// The per-tick schedule of a room.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomTick;

/// Phases of a tick, run in this order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum SimSet {
    Input,
    Simulate,
    Snapshot,
}

/// One room's world and schedule. No sockets, no channels: tests step it directly.
pub struct RoomWorld {
    world: World,
    schedule: Schedule,
}

impl RoomWorld {
    pub fn new(settings: GameSettings, rules: MatchRules, tick_rate_hz: u16, seed: u64) -> RoomWorld {
        let mut world = World::new();
        world.insert_resource(Match::new(rules, tick_rate_hz));
        world.init_resource::<MatchEvents>();
        world.insert_resource(Rules::new(settings.clone(), tick_rate_hz));
        world.insert_resource(Clock { tick: Tick(0), dt: 1.0 / f32::from(tick_rate_hz) });
        world.init_resource::<PendingInputs>();
        world.init_resource::<PlayerIndex>();
        world.init_resource::<NetIds>();
        world.init_resource::<KillFeed>();
        world.init_resource::<LatestSnapshot>();
        world.insert_resource(super::interest::InterestGrid::new(&settings));
        world.insert_resource(RoomRng::seeded(seed));
        world.insert_resource(BotRng::seeded(seed));
        world.init_resource::<HitLog>();

        let mut schedule = Schedule::new(RoomTick);
        // Rooms run in parallel with each other; inside one room a single thread
        // is cheaper than handing a few microseconds of work to a pool.
        schedule.set_executor(SingleThreadedExecutor::new());
        schedule.configure_sets((SimSet::Input, SimSet::Simulate, SimSet::Snapshot).chain());
        // Bots decide first; their inputs then go through the same buffer as everyone's.
        schedule.add_systems((house_bots::brain::think, input::apply_inputs).chain().in_set(SimSet::Input));
        schedule.add_systems(
            (
                combat::fire_weapons,
                movement::move_players,
                movement::move_projectiles,
                combat::resolve_hits,
                combat::respawn,
                rounds::end_round,
                rounds::start_round,
            )
                .chain()
                .in_set(SimSet::Simulate),
        );
        schedule.add_systems(super::fault::panic_if_injected.in_set(SimSet::Simulate));
        schedule.add_systems(snapshot::build_snapshot.in_set(SimSet::Snapshot));
        RoomWorld { world, schedule }
    }

    /// Spawn a player at a free spot; returns its entity's network id.
    pub fn add_player(&mut self, id: PlayerId) -> NetId {
        let occupied: Vec<Vec2> = self.world.query::<&Body>().iter(&self.world).map(|b| b.pos).collect();
        let pos = self.world.resource_scope(|world, mut rng: Mut<RoomRng>| {
            combat::free_spot(world.resource::<Rules>(), &mut rng, occupied.iter().copied())
        });
        let net_id = self.world.resource_mut::<NetIds>().allocate();
        let max_health = self.world.resource::<Rules>().settings.max_health;
        let entity = self
            .world
            .spawn((
                Player { id },
                Net(net_id),
                Body { pos, vel: Vec2::ZERO },
                Controls::default(),
                input::InputBuffer::default(),
                Health(max_health),
                Score::default(),
                Weapon::default(),
            ))
            .id();
        self.world.resource_mut::<PlayerIndex>().0.insert(id, entity);
        net_id
    }

    /// Spawn a house bot: a player like any other, whose inputs the room makes.
    pub fn add_bot(&mut self, id: PlayerId, difficulty: Difficulty) -> NetId {
        let net_id = self.add_player(id);
        if let Some(&entity) = self.world.resource::<PlayerIndex>().0.get(&id) {
            self.world.entity_mut(entity).insert(HouseBot::new(difficulty));
        }
        net_id
    }

    /// Every house bot plays at `difficulty` from now on.
    pub fn set_bot_difficulty(&mut self, difficulty: Difficulty) {
        for mut bot in self.world.query::<&mut HouseBot>().iter_mut(&mut self.world) {
            bot.difficulty = difficulty;
        }
    }

    /// Inputs house bots made that the input checks refused (diagnostics; always 0).
    pub fn bot_inputs_refused(&mut self) -> u32 {
        self.world.query::<&HouseBot>().iter(&self.world).map(|b| b.refused_inputs).sum()
    }

    /// The shooter and net id of every projectile in flight (tests count shots with it).
    pub fn projectiles(&mut self) -> Vec<(NetId, PlayerId)> {
        let mut query = self.world.query::<(&Net, &super::components::Projectile)>();
        query.iter(&self.world).map(|(net, shot)| (net.0, shot.owner)).collect()
    }

    /// Remove a player and its entity; its projectiles keep flying.
    pub fn remove_player(&mut self, id: PlayerId) {
        if let Some(entity) = self.world.resource_mut::<PlayerIndex>().0.remove(&id) {
            self.world.despawn(entity);
        }
    }

    /// Queue an input for the next tick.
    pub fn push_input(&mut self, id: PlayerId, input: Input) {
        self.world.resource_mut::<PendingInputs>().0.push((id, input));
    }

    /// Advance one tick and return the tick that was simulated.
    pub fn step(&mut self) -> Tick {
        let tick = {
            let mut clock = self.world.resource_mut::<Clock>();
            clock.tick = clock.tick.next();
            clock.tick
        };
        self.schedule.run(&mut self.world);
        // A standalone bevy_ecs world keeps a message per component of every despawned
        // entity until told to forget them (nothing here reads them): without this, each
        // projectile that ends left a few dozen bytes behind for the room's whole life.
        self.world.clear_trackers();
        tick
    }

    /// The tick last stepped.
    pub fn tick(&self) -> Tick {
        self.world.resource::<Clock>().tick
    }

    /// The snapshot frame the last step built.
    pub fn take_snapshot(&mut self) -> Option<super::snapshot::SnapshotFrame> {
        self.world.resource_mut::<LatestSnapshot>().0.take().map(|frame| *frame)
    }

    /// The interest grid (which cells each player sees).
    pub fn interest_grid(&self) -> super::interest::InterestGrid {
        *self.world.resource::<super::interest::InterestGrid>()
    }

    /// Make the next step panic (fault-isolation tests).
    pub fn inject_fault(&mut self) {
        self.world.insert_resource(super::fault::InjectedFault);
    }

    /// Round ends and starts of the last step.
    pub fn take_match_events(&mut self) -> Vec<MatchEvent> {
        std::mem::take(&mut self.world.resource_mut::<MatchEvents>().0)
    }

    /// The match as it stands.
    pub fn match_state(&self) -> &Match {
        self.world.resource::<Match>()
    }

    /// The current round's standings, best first (for a round cut short).
    pub fn standings(&mut self) -> Vec<(PlayerId, u32, u32)> {
        rounds::standings(self.world.query::<(&Player, &Score)>().iter(&self.world))
    }

    /// Seconds the current round has run.
    pub fn round_elapsed_s(&self) -> f32 {
        let clock = self.world.resource::<Clock>();
        clock.tick.since(self.match_state().round_started).max(0) as f32 * clock.dt
    }

    pub fn has_player(&self, id: PlayerId) -> bool {
        self.world.resource::<PlayerIndex>().0.contains_key(&id)
    }

    /// Stop a player's stick and trigger (its connection dropped; it may come back).
    pub fn release_controls(&mut self, id: PlayerId) {
        if let Some(&entity) = self.world.resource::<PlayerIndex>().0.get(&id)
            && let Some(mut controls) = self.world.get_mut::<Controls>(entity)
        {
            // A reconnecting client numbers its inputs from 1 again.
            *controls = Controls::default();
        }
        if let Some(&entity) = self.world.resource::<PlayerIndex>().0.get(&id)
            && let Some(mut buffer) = self.world.get_mut::<input::InputBuffer>(entity)
        {
            buffer.reset();
        }
    }

    /// The player's network id, if it has an entity.
    pub fn net_id(&self, id: PlayerId) -> Option<NetId> {
        self.player_component::<Net>(id).map(|n| n.0)
    }

    /// Kills of the last step, each with where its victim fell.
    pub fn take_kills(&mut self) -> Vec<KillAt> {
        std::mem::take(&mut self.world.resource_mut::<KillFeed>().0)
    }

    /// `seq` of the newest input applied for `id` (0 before any).
    pub fn last_input_seq(&self, id: PlayerId) -> u32 {
        self.player_component::<Controls>(id).map_or(0, |c| c.last_seq)
    }

    pub fn settings(&self) -> &GameSettings {
        &self.world.resource::<Rules>().settings
    }

    /// Projectiles in flight (benchmarks and diagnostics).
    pub fn projectile_count(&mut self) -> usize {
        self.world.query::<&super::components::Projectile>().iter(&self.world).count()
    }

    pub fn player_count(&self) -> usize {
        self.world.resource::<PlayerIndex>().0.len()
    }

    /// A player's position, health, kills, deaths and whether it is dead (tests and diagnostics).
    pub fn player_state(&self, id: PlayerId) -> Option<PlayerView> {
        let body = self.player_component::<Body>(id)?;
        let entity = *self.world.resource::<PlayerIndex>().0.get(&id)?;
        let score = self.player_component::<Score>(id)?;
        Some(PlayerView {
            pos: body.pos,
            vel: body.vel,
            health: self.player_component::<Health>(id)?.0,
            kills: score.kills,
            deaths: score.deaths,
            dead: self.world.get::<Dead>(entity).is_some(),
        })
    }

    /// Place a player (tests set up encounters with it).
    pub fn set_player_position(&mut self, id: PlayerId, pos: Vec2) {
        if let Some(&entity) = self.world.resource::<PlayerIndex>().0.get(&id)
            && let Some(mut body) = self.world.get_mut::<Body>(entity)
        {
            body.pos = pos;
        }
    }

    fn player_component<C: Component>(&self, id: PlayerId) -> Option<&C> {
        let entity = *self.world.resource::<PlayerIndex>().0.get(&id)?;
        self.world.get::<C>(entity)
    }
}

/// A read-only view of one player, for tests and diagnostics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayerView {
    pub pos: Vec2,
    pub vel: Vec2,
    pub health: u16,
    pub kills: u32,
    pub deaths: u32,
    pub dead: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removal messages kept by the world, all component types together.
    fn removal_messages(room: &RoomWorld) -> usize {
        room.world.removed_components().iter().map(|(_, messages)| messages.len()).sum()
    }

    #[test]
    fn despawned_projectiles_leave_nothing_behind() {
        let settings = GameSettings::default();
        let mut room = RoomWorld::new(settings.clone(), settings.match_rules(), 30, 7);
        let players: Vec<PlayerId> = (1..=4).map(PlayerId).collect();
        for &id in &players {
            room.add_player(id);
        }
        let mut most = 0;
        for seq in 1..=600u32 {
            for (i, &id) in players.iter().enumerate() {
                let aim = i as f32 * 1.5 + seq as f32 * 0.01;
                room.push_input(id, Input::new(seq, Vec2::new(aim.cos(), aim.sin()), aim, true));
            }
            room.step();
            most = most.max(removal_messages(&room));
        }
        assert!(room.projectiles().len() < 600, "projectiles end (they hit or leave the arena)");
        // Two ticks' worth at most (the buffers swap once a tick), not 20 s of them.
        assert!(most < 200, "{most} removal messages kept");
    }
}
