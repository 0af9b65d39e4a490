//! Who is in the room and how they come and go: joins and reconnections, leaves
//! and reconnection holds, kicks, and the roster and presence events of each tick.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_protocol::{
    ChatLine, NetId, PROTOCOL_VERSION, PlayerId, PlayerInfo, RoomEvent, RosterChange, RoundStart, ServerMsg, Welcome,
    close_code, encode,
};
use bytes::Bytes;

use super::chat_budget::{self, RoomChatBudget};
use super::clients::{Client, Clients};
use super::encoder::SentViews;
use super::house_bots::Crew;
use super::world::RoomWorld;
use super::{JoinRequest, RoomSpec, RoomStatus, SeatHold};
use crate::ops::metrics;

mod bots;

/// How long a client whose connection ended waits for its session's leave
/// before it is removed anyway.
const LEAVE_WAIT: Duration = Duration::from_secs(5);

/// More joins and leaves than this in one tick are summed up by the roster alone.
const PRESENCE_EVENTS_PER_TICK: usize = 8;

/// The room's people and what they have been told about each other.
pub struct Membership {
    pub clients: Clients,
    spec: Arc<RoomSpec>,
    /// Where the room's counts are published for the lobby, as they change.
    status: Arc<RoomStatus>,
    /// Players and spectators in `clients`, kept as they come and go.
    counts: (usize, usize),
    /// Zero: dropped players leave at once.
    reconnect_grace: Duration,
    /// Joins and leaves since the last tick, sent with the tick.
    presence: Vec<RoomEvent>,
    /// The roster's changes since they were last sent.
    roster_change: RosterChange,
    /// The house bots playing here; they hold no seat and give way to people.
    pub crew: Crew,
    /// What was broadcast this tick that a replay keeps, as the bytes sent (while recording).
    for_replay: Option<Vec<Bytes>>,
    /// Chat lines everyone together may still send: each line goes to every client.
    chat_budget: RoomChatBudget,
}

impl Membership {
    pub fn new(spec: Arc<RoomSpec>, status: Arc<RoomStatus>, reconnect_grace: Duration) -> Membership {
        Membership {
            clients: Clients::default(),
            spec: spec.clone(),
            status,
            counts: (0, 0),
            reconnect_grace,
            presence: Vec::new(),
            roster_change: RosterChange::default(),
            crew: Crew::new(spec.bots),
            for_replay: None,
            chat_budget: RoomChatBudget::default(),
        }
    }

    /// The name a player (person or house bot) is shown by in this room.
    pub fn name_of(&self, player: PlayerId) -> String {
        match self.crew.get(player) {
            Some(bot) => bot.name.clone(),
            None => self.clients.name_of(player),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.clients.map.is_empty()
    }

    /// One player or spectator more (`change` 1) or fewer (-1), published at once
    /// so the lobby's counts follow the room within the tick.
    fn count(&mut self, spectator: bool, change: isize) {
        let (players, spectators) = &mut self.counts;
        let counter = if spectator { spectators } else { players };
        *counter = counter.saturating_add_signed(change);
        self.status.set_population(self.counts.0, self.counts.1);
    }

    /// A session asks to take part: a newcomer, or a player coming back.
    pub fn join(&mut self, join: JoinRequest, world: &mut RoomWorld) {
        let player = join.identity.player_id;
        if self.clients.map.contains_key(&player) {
            return self.rejoin(join, world);
        }
        // No one shares a name with a bot: a person cannot pass as one.
        let crew = &self.crew;
        let name = self.clients.unique_name(&join.identity.name, |n| crew.has_name(n));
        let net_id = if join.spectator { NetId(0) } else { world.add_player(player) };
        // Counted, and a bot made way, before the welcome: whoever hears the welcome
        // and asks the lobby finds the room as it is with the newcomer in it.
        self.count(join.spectator, 1);
        self.fill_bots(world);
        // A fresh queue always has room for the welcome.
        let _ = join.outbox.send_control(self.welcome(world, player, net_id, join.spectator));
        tracing::debug!(%player, %name, spectator = join.spectator, "joined");
        let info = PlayerInfo { player_id: player, net_id, name: name.clone(), bot: false };
        self.clients.insert(
            player,
            Client {
                identity: join.identity,
                name,
                spectator: join.spectator,
                net_id,
                connection: join.connection,
                outbox: Some(join.outbox),
                held_until: None,
                held_seat: None,
                views: SentViews::default(),
            },
        );
        self.send_roster(player);
        // A player who left and came back within the tick is simply in the roster.
        self.roster_change.left.retain(|&p| p != player);
        self.roster_change.joined.push(info.clone());
        self.presence.push(RoomEvent::Joined(info));
    }

    /// The same player again: a reconnection, or a second tab. The newest
    /// connection wins, keeps the entity, and brings its own seat: the one held
    /// for the player goes back to the lobby.
    fn rejoin(&mut self, join: JoinRequest, world: &mut RoomWorld) {
        let player = join.identity.player_id;
        let Some(existing) = self.clients.map.get_mut(&player) else { return };
        if let Some(old) = existing.outbox.take() {
            old.latest.send_replace(super::Latest::Closed {
                code: close_code::REPLACED,
                reason: "you connected again from elsewhere".into(),
            });
        }
        existing.connection = join.connection;
        existing.held_until = None;
        existing.held_seat = None;
        existing.views.reset();
        let (net_id, spectator) = (existing.net_id, existing.spectator);
        let _ = join.outbox.send_control(self.welcome(world, player, net_id, spectator));
        if let Some(existing) = self.clients.map.get_mut(&player) {
            existing.outbox = Some(join.outbox);
        }
        self.send_roster(player);
        world.release_controls(player);
        tracing::debug!(%player, "player reconnected");
    }

    fn welcome(&self, world: &RoomWorld, player: PlayerId, net_id: NetId, spectator: bool) -> Bytes {
        let s = world.settings();
        let game = world.match_state();
        Bytes::from(encode(&ServerMsg::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            player_id: player,
            net_id,
            room_id: self.spec.id.clone(),
            room_name: self.spec.name.clone(),
            tick_rate_hz: self.spec.tick_rate_hz,
            snapshot_rate_hz: self.spec.snapshot_rate_hz,
            arena_size: glam::Vec2::new(s.arena_width, s.arena_height),
            player_radius: s.player_radius,
            projectile_radius: s.projectile_radius,
            player_speed: s.player_speed,
            max_health: s.max_health,
            spectator,
            round: RoundStart {
                round: game.round,
                score_limit: game.rules.score_limit,
                time_limit_s: game.rules.time_limit_s,
            },
        })))
    }

    /// The whole roster, to one client that just joined or reconnected.
    fn send_roster(&self, player: PlayerId) {
        let Some(outbox) = self.clients.map.get(&player).and_then(|c| c.outbox.as_ref()) else { return };
        let roster = Bytes::from(encode(&ServerMsg::Roster(self.roster())));
        // Right after the welcome in a fresh queue, so there is room.
        let _ = outbox.send_control(roster);
    }

    /// A connection ended. A player with a verified identity is held (entity,
    /// score and seat) for the reconnection grace; anyone else leaves.
    pub fn leave(
        &mut self,
        player: PlayerId,
        connection: u64,
        seat: Option<Box<dyn SeatHold>>,
        world: &mut RoomWorld,
        now: Instant,
    ) {
        let Some(client) = self.clients.map.get_mut(&player) else { return };
        if client.connection != connection {
            return; // An older connection of a player who is connected again.
        }
        let can_hold = client.identity.verified && !client.spectator && !self.reconnect_grace.is_zero();
        match seat {
            Some(seat) if can_hold => {
                client.outbox = None;
                client.held_until = Some(now + self.reconnect_grace);
                client.held_seat = Some(seat);
                world.release_controls(player);
                tracing::debug!(%player, "player dropped; holding their place");
            }
            _ => self.remove(player, world),
        }
    }

    /// Connections that ended without their leave reaching us yet: nothing more
    /// to send them, and they are removed if the leave never comes.
    pub fn notice_ended_connections(&mut self, now: Instant) {
        for client in self.clients.map.values_mut() {
            if client.outbox.as_ref().is_some_and(|o| o.latest.is_closed()) {
                client.outbox = None;
                client.held_until.get_or_insert(now + LEAVE_WAIT);
            }
        }
    }

    /// Players whose reconnection grace ran out leave for good (so do clients
    /// whose connection ended without a leave reaching us).
    pub fn expire_holds(&mut self, now: Instant, world: &mut RoomWorld) {
        let expired: Vec<PlayerId> = self
            .clients
            .map
            .iter()
            .filter(|(_, c)| c.held_until.is_some_and(|until| until <= now))
            .map(|(&p, _)| p)
            .collect();
        for player in expired {
            self.remove(player, world);
        }
    }

    /// An operator removes a player; true when they were in the room.
    pub fn kick(&mut self, player: PlayerId, reason: &str, world: &mut RoomWorld) -> bool {
        let found = self.clients.map.contains_key(&player);
        if found {
            self.clients.close(player, close_code::KICKED, reason);
            self.remove(player, world);
        }
        found
    }

    /// Take a client out of the room (a held seat goes back to the lobby with it).
    pub fn remove(&mut self, player: PlayerId, world: &mut RoomWorld) {
        let Some(client) = self.clients.remove(player) else { return };
        self.count(client.spectator, -1);
        if !client.spectator {
            world.remove_player(player);
        }
        tracing::debug!(%player, "left");
        let info = PlayerInfo { player_id: player, net_id: client.net_id, name: client.name, bot: false };
        self.roster_change.joined.retain(|p| p.player_id != player);
        self.roster_change.left.push(player);
        self.presence.push(RoomEvent::Left(info));
    }

    /// A player's chat line, to everyone while the room's chat budget lasts; past
    /// it, only its sender hears (an `error`), and nobody is closed for it.
    pub fn chat(&mut self, player: PlayerId, text: String, world: &mut RoomWorld, now: Instant) {
        let Some(client) = self.clients.map.get(&player) else { return };
        if !self.chat_budget.try_spend(now) {
            metrics::budget_refused(chat_budget::BUDGET_NAME);
            if let Some(outbox) = &client.outbox {
                // A sender too far behind to take the refusal just misses it.
                let _ = outbox.send_control(self.chat_budget.refusal());
            }
            return;
        }
        let line = ChatLine { player_id: player, name: client.name.clone(), text };
        self.broadcast(&ServerMsg::Chat(line), world);
    }

    /// Broadcast, then remove whoever was too slow to take it.
    pub fn broadcast(&mut self, msg: &ServerMsg, world: &mut RoomWorld) {
        self.send_to(msg, world, |_, _| true);
    }

    /// [`Membership::broadcast`] to the clients `to` picks (a replay records it whole).
    pub fn send_to(&mut self, msg: &ServerMsg, world: &mut RoomWorld, to: impl Fn(PlayerId, &Client) -> bool) {
        let bytes = Bytes::from(encode(msg));
        if let Some(kept) = &mut self.for_replay
            && crate::replay::is_recorded(msg)
        {
            kept.push(bytes.clone());
        }
        for player in self.clients.send_encoded_to(bytes, to) {
            self.remove(player, world);
        }
    }

    /// Keep (or stop keeping) the broadcasts a replay records.
    pub fn keep_for_replay(&mut self, keep: bool) {
        if keep != self.for_replay.is_some() {
            self.for_replay = keep.then(Vec::new);
        }
    }

    /// The broadcasts kept since the last call, oldest first.
    pub fn take_for_replay(&mut self) -> Vec<Bytes> {
        self.for_replay.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Joins and leaves of this tick, then the roster once. A crowd joining at once
    /// is summed up by the roster instead of one event each.
    pub fn publish_presence(&mut self, world: &mut RoomWorld) {
        let events = std::mem::take(&mut self.presence);
        if events.len() <= PRESENCE_EVENTS_PER_TICK {
            for event in events {
                self.broadcast(&ServerMsg::Event(event), world);
            }
        }
        // Only the changes go to everyone (a room of 1,000 would otherwise send its
        // whole roster to all 1,000 each time someone comes or goes). Removing a
        // too-slow client changes the roster again: loop until it settles.
        while !(self.roster_change.joined.is_empty() && self.roster_change.left.is_empty()) {
            let change = std::mem::take(&mut self.roster_change);
            self.broadcast(&ServerMsg::RosterChange(change), world);
        }
        self.presence.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use arena_protocol::{ServerMsg, decode_server};

    use super::*;
    use crate::identity::Identity;
    use crate::room::{ClientOutbox, Latest};
    use crate::settings::GameSettings;

    /// A seat that counts its own drop, standing in for the lobby's.
    #[derive(Debug)]
    struct CountedSeat(Arc<AtomicUsize>);
    impl SeatHold for CountedSeat {}
    impl Drop for CountedSeat {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// One client's far ends, as its session would hold them.
    struct Far {
        latest: crate::room::latest::LatestReceiver,
    }

    impl Far {
        fn messages(&mut self) -> Vec<ServerMsg> {
            std::iter::from_fn(|| self.latest.next_control()).map(|b| decode_server(&b).expect("decodes")).collect()
        }
    }

    fn room() -> (Membership, RoomWorld) {
        let settings = GameSettings::default();
        let rules = settings.match_rules();
        let spec = Arc::new(RoomSpec {
            id: "r1".into(),
            name: "Room".into(),
            capacity: 10,
            spectator_capacity: 2,
            tick_rate_hz: 30,
            snapshot_rate_hz: 30,
            private: false,
            rules,
            bots: crate::room::house_bots::BotFill::default(),
            created_at: Instant::now(),
            replays: true,
        });
        (Membership::new(spec, Arc::default(), Duration::from_secs(10)), RoomWorld::new(settings, rules, 30, 7))
    }

    fn join(m: &mut Membership, world: &mut RoomWorld, id: u32, verified: bool, connection: u64) -> Far {
        let (latest_tx, latest) = crate::room::latest::slot();
        let identity = Identity { player_id: PlayerId(id), name: format!("p{id}"), verified };
        let outbox = ClientOutbox { latest: latest_tx };
        m.join(JoinRequest { identity, spectator: false, connection, outbox }, world);
        Far { latest }
    }

    #[test]
    fn a_joiner_gets_welcome_and_roster_and_the_others_get_one_change() {
        let (mut m, mut world) = room();
        let mut ann = join(&mut m, &mut world, 1, false, 1);
        m.publish_presence(&mut world);
        assert!(matches!(&ann.messages()[..], [ServerMsg::Welcome(_), ServerMsg::Roster(r), ..] if r.len() == 1));
        let mut bob = join(&mut m, &mut world, 2, false, 2);
        m.publish_presence(&mut world);
        assert!(matches!(&bob.messages()[..2], [ServerMsg::Welcome(_), ServerMsg::Roster(r)] if r.len() == 2));
        let to_ann = ann.messages();
        assert!(to_ann.iter().any(|msg| matches!(msg, ServerMsg::RosterChange(c) if c.joined.len() == 1)));
        assert!(!to_ann.iter().any(|msg| matches!(msg, ServerMsg::Roster(_))), "never the whole roster again");
    }

    #[test]
    fn a_verified_player_is_held_with_their_seat_and_gets_both_back() {
        let (mut m, mut world) = room();
        let _first = join(&mut m, &mut world, 1, true, 1);
        let net_id = m.clients.map[&PlayerId(1)].net_id;
        let dropped = Arc::new(AtomicUsize::new(0));
        let now = Instant::now();
        m.leave(PlayerId(1), 1, Some(Box::new(CountedSeat(dropped.clone()))), &mut world, now);
        assert!(m.clients.map[&PlayerId(1)].held_until.is_some(), "held, not removed");
        assert_eq!(dropped.load(Ordering::SeqCst), 0, "the seat stays counted while held");
        let mut again = join(&mut m, &mut world, 1, true, 2);
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "the held seat goes back: the new connection has its own");
        assert!(matches!(&again.messages()[0], ServerMsg::Welcome(w) if w.net_id == net_id), "same entity");
        // The old connection's leave, arriving late, changes nothing.
        m.leave(PlayerId(1), 1, None, &mut world, now);
        assert!(m.clients.map[&PlayerId(1)].outbox.is_some());
    }

    #[test]
    fn guests_leave_at_once_and_held_players_when_the_grace_ends() {
        let (mut m, mut world) = room();
        let _guest = join(&mut m, &mut world, 1, false, 1);
        let _held = join(&mut m, &mut world, 2, true, 2);
        let dropped = Arc::new(AtomicUsize::new(0));
        let now = Instant::now();
        m.leave(PlayerId(1), 1, Some(Box::new(CountedSeat(dropped.clone()))), &mut world, now);
        assert!(!m.clients.map.contains_key(&PlayerId(1)));
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "a guest's seat is freed with the leave");
        m.leave(PlayerId(2), 2, Some(Box::new(CountedSeat(dropped.clone()))), &mut world, now);
        m.expire_holds(now + Duration::from_secs(9), &mut world);
        assert!(m.clients.map.contains_key(&PlayerId(2)), "still within the grace");
        m.expire_holds(now + Duration::from_secs(10), &mut world);
        assert!(m.is_empty());
        assert_eq!(dropped.load(Ordering::SeqCst), 2, "the held seat is freed when the grace ends");
        assert!(!world.has_player(PlayerId(2)));
    }

    #[test]
    fn a_connection_that_ended_without_its_leave_is_removed_after_the_wait() {
        let (mut m, mut world) = room();
        let far = join(&mut m, &mut world, 1, false, 1);
        drop(far);
        let now = Instant::now();
        m.notice_ended_connections(now);
        m.expire_holds(now + LEAVE_WAIT - Duration::from_millis(1), &mut world);
        assert!(!m.is_empty());
        m.expire_holds(now + LEAVE_WAIT, &mut world);
        assert!(m.is_empty());
    }

    #[test]
    fn chat_past_the_room_budget_goes_back_to_its_sender_only() {
        let (mut m, mut world) = room();
        let mut ann = join(&mut m, &mut world, 1, false, 1);
        let mut bob = join(&mut m, &mut world, 2, false, 2);
        m.publish_presence(&mut world);
        let (_, _) = (ann.messages(), bob.messages());
        let now = Instant::now();
        let budget = chat_budget::ROOM_CHAT_BURST as usize;
        for line in 0..=budget {
            let (player, text) = if line == budget { (PlayerId(2), "one too many") } else { (PlayerId(1), "hi") };
            m.chat(player, text.into(), &mut world, now);
        }
        let chat = |msgs: &[ServerMsg]| msgs.iter().filter(|msg| matches!(msg, ServerMsg::Chat(_))).count();
        let refusals = |msgs: &[ServerMsg]| msgs.iter().filter(|msg| matches!(msg, ServerMsg::Error(_))).count();
        let (to_ann, to_bob) = (ann.messages(), bob.messages());
        assert_eq!((chat(&to_ann), refusals(&to_ann)), (budget, 0));
        assert_eq!((chat(&to_bob), refusals(&to_bob)), (budget, 1), "bob's line is refused to bob alone");
        assert_eq!(m.clients.map.len(), 2, "nobody is closed");
    }

    #[test]
    fn a_kick_closes_with_its_reason_and_removes() {
        let (mut m, mut world) = room();
        let far = join(&mut m, &mut world, 1, true, 1);
        assert!(m.kick(PlayerId(1), "be nice", &mut world));
        assert!(
            matches!(&*far.latest.borrow(), Latest::Closed { code, reason } if *code == close_code::KICKED && reason == "be nice")
        );
        assert!(!m.kick(PlayerId(1), "again", &mut world), "already gone");
    }
}
