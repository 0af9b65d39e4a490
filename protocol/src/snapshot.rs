//! Snapshot messages, built so the shared part is encoded once.
//!
//! A snapshot on the wire is `{"snapshot": [tick, last_input_seq, entities]}`
//! (or a delta, see [`crate::delta`]). Everything after `last_input_seq` is the
//! same for every client with the same view and baseline, so the server encodes
//! that body once per distinct (view, baseline) and each client's message is a
//! few bytes of header ([`write_snapshot_header`]) followed by the shared body.

use glam::Vec2;
use serde::{Deserialize, Serialize};

use crate::{NetId, PlayerId, Tick};

/// A decoded snapshot, as a client sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub tick: Tick,
    /// `seq` of the newest input of this client the server has applied (0 before any).
    pub last_input_seq: u32,
    pub entities: Vec<EntityState>,
}

/// What an entity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum EntityKind {
    Player = 0,
    Projectile = 1,
    /// A player the server itself plays (a house bot): shown and hit like any player.
    Bot = 2,
}

impl EntityKind {
    /// A body that moves, aims, fires and can be hit: a person's or a house bot's.
    pub fn is_player(self) -> bool {
        matches!(self, EntityKind::Player | EntityKind::Bot)
    }
}

impl From<EntityKind> for u8 {
    fn from(kind: EntityKind) -> u8 {
        kind as u8
    }
}

impl TryFrom<u8> for EntityKind {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(EntityKind::Player),
            1 => Ok(EntityKind::Projectile),
            2 => Ok(EntityKind::Bot),
            other => Err(format!("unknown entity kind {other}")),
        }
    }
}

/// One entity's state after a tick. On the wire it is quantized ([`WireEntity`]):
/// positions and velocities in eighths of a unit, the aim in 256ths of a turn.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireEntity", from = "WireEntity")]
pub struct EntityState {
    pub net_id: NetId,
    pub kind: EntityKind,
    /// The player it is (players) or who fired it (projectiles).
    pub owner: PlayerId,
    pub pos: Vec2,
    /// Units per second.
    pub vel: Vec2,
    /// Radians; 0 for projectiles.
    pub aim: f32,
    /// 0 means dead and waiting to respawn; always 0 for projectiles.
    pub health: u16,
    /// Kills (players); 0 for projectiles.
    pub score: u32,
}

/// Fixed-point scale of positions and velocities on the wire: 1/8 unit.
pub const POSITION_SCALE: f32 = 8.0;
/// Aim steps per turn on the wire.
pub const AIM_STEPS: f32 = 256.0;

/// Fields of a [`WireEntity`] after its net id (see [`crate::delta::field`]).
pub const ENTITY_FIELDS: usize = 9;

/// How an entity travels: `[net_id, kind, owner, x, y, vx, vy, aim, health, score]`,
/// all integers. `x`, `y` are `pos * 8` (unsigned), `vx`, `vy` are `vel * 8`
/// (signed), `aim` is the angle in 256ths of a turn (0..=255). MessagePack writes
/// each in as few bytes as it fits: about 22 bytes an entity instead of 40 as floats.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireEntity(NetId, EntityKind, PlayerId, u32, u32, i32, i32, u8, u16, u32);

impl WireEntity {
    pub fn net_id(&self) -> NetId {
        self.0
    }

    /// Every field but the net id, in wire order, as plain integers (for deltas).
    pub fn fields(&self) -> [i64; ENTITY_FIELDS] {
        [
            i64::from(u8::from(self.1)),
            i64::from(self.2.0),
            i64::from(self.3),
            i64::from(self.4),
            i64::from(self.5),
            i64::from(self.6),
            i64::from(self.7),
            i64::from(self.8),
            i64::from(self.9),
        ]
    }

    /// The entity with these fields, or which field is out of its range.
    pub fn from_fields(net_id: NetId, f: [i64; ENTITY_FIELDS]) -> Result<WireEntity, String> {
        fn fit<T: TryFrom<i64>>(value: i64, name: &str) -> Result<T, String> {
            T::try_from(value).map_err(|_| format!("{name} {value} out of range"))
        }
        Ok(WireEntity(
            net_id,
            EntityKind::try_from(fit::<u8>(f[0], "kind")?)?,
            PlayerId(fit(f[1], "owner")?),
            fit(f[2], "x")?,
            fit(f[3], "y")?,
            fit(f[4], "vx")?,
            fit(f[5], "vy")?,
            fit(f[6], "aim")?,
            fit(f[7], "health")?,
            fit(f[8], "score")?,
        ))
    }
}

impl From<EntityState> for WireEntity {
    fn from(e: EntityState) -> WireEntity {
        let turn = std::f32::consts::TAU;
        let aim = (e.aim.rem_euclid(turn) / turn * AIM_STEPS).round() as u32 % AIM_STEPS as u32;
        WireEntity(
            e.net_id,
            e.kind,
            e.owner,
            (e.pos.x.max(0.0) * POSITION_SCALE).round() as u32,
            (e.pos.y.max(0.0) * POSITION_SCALE).round() as u32,
            (e.vel.x * POSITION_SCALE).round() as i32,
            (e.vel.y * POSITION_SCALE).round() as i32,
            aim as u8,
            e.health,
            e.score,
        )
    }
}

impl From<WireEntity> for EntityState {
    fn from(w: WireEntity) -> EntityState {
        let aim = f32::from(w.7) / AIM_STEPS * std::f32::consts::TAU;
        EntityState {
            net_id: w.0,
            kind: w.1,
            owner: w.2,
            pos: Vec2::new(w.3 as f32 / POSITION_SCALE, w.4 as f32 / POSITION_SCALE),
            vel: Vec2::new(w.5 as f32 / POSITION_SCALE, w.6 as f32 / POSITION_SCALE),
            aim: if aim > std::f32::consts::PI { aim - std::f32::consts::TAU } else { aim },
            health: w.8,
            score: w.9,
        }
    }
}

/// Which snapshot message a header starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotKind {
    /// `{"snapshot": [tick, last_input_seq, entities]}`
    Full,
    /// `{"delta": [tick, last_input_seq, baseline, added, changed, removed]}`
    Delta,
}

/// The per-client start of a snapshot message, up to and including
/// `last_input_seq`. The body, shared by every client with the same view and
/// baseline and written once, follows ([`write_full_body`], [`write_delta_body`]).
pub fn write_snapshot_header(kind: SnapshotKind, tick: Tick, last_input_seq: u32, out: &mut Vec<u8>) {
    let (name, fields) = match kind {
        SnapshotKind::Full => ("snapshot", 3),
        SnapshotKind::Delta => ("delta", 6),
    };
    let _ = rmp::encode::write_map_len(out, 1);
    let _ = rmp::encode::write_str(out, name);
    let _ = rmp::encode::write_array_len(out, fields);
    let _ = rmp::encode::write_uint(out, u64::from(tick.0));
    let _ = rmp::encode::write_uint(out, u64::from(last_input_seq));
}

/// The body of a whole snapshot: its entity list (counted first, then written).
pub fn write_full_body<'a>(entities: impl Iterator<Item = &'a WireEntity> + Clone, out: &mut Vec<u8>) {
    let _ = rmp::encode::write_array_len(out, entities.clone().count() as u32);
    entities.for_each(|e| write_value(e, out));
}

/// A whole snapshot's body from pre-encoded entities ([`encode_entity`]): `count`
/// of them as runs back to back. Same bytes on the wire as [`write_full_body`].
pub fn write_full_body_spliced<'a>(count: u32, runs: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    let _ = rmp::encode::write_array_len(out, count);
    runs.for_each(|run| out.extend_from_slice(run));
}

/// One entity as it is written inside a snapshot's or a delta's `added` list; a
/// server that shares such bytes between bodies splices them in with
/// [`write_delta_body_spliced`].
pub fn encode_entity(entity: &WireEntity, out: &mut Vec<u8>) {
    write_value(entity, out);
}

/// One change as it is written inside a delta's `changed` list (see [`encode_entity`]).
pub fn encode_change(change: &crate::delta::EntityChange, out: &mut Vec<u8>) {
    write_value(change, out);
}

/// A delta body like [`write_delta_body`] from pre-encoded items: `added` holds
/// `added_count` entities ([`encode_entity`]) and `changed` holds `changed_count`
/// changes ([`encode_change`]), each as runs of items back to back. Same bytes on the
/// wire as listing them.
pub fn write_delta_body_spliced<'a>(
    baseline: Tick,
    (added_count, added): (u32, impl Iterator<Item = &'a [u8]>),
    (changed_count, changed): (u32, impl Iterator<Item = &'a [u8]>),
    removed: &[NetId],
    out: &mut Vec<u8>,
) {
    let _ = rmp::encode::write_uint(out, u64::from(baseline.0));
    let _ = rmp::encode::write_array_len(out, added_count);
    added.for_each(|run| out.extend_from_slice(run));
    let _ = rmp::encode::write_array_len(out, changed_count);
    changed.for_each(|run| out.extend_from_slice(run));
    write_value(removed, out);
}

/// The body of a delta snapshot: baseline tick, added, changed, removed.
pub fn write_delta_body(
    baseline: Tick,
    added: &[WireEntity],
    changed: &[crate::delta::EntityChange],
    removed: &[NetId],
    out: &mut Vec<u8>,
) {
    let _ = rmp::encode::write_uint(out, u64::from(baseline.0));
    write_value(added, out);
    write_value(changed, out);
    write_value(removed, out);
}

fn write_value<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    value.serialize(&mut rmp_serde::Serializer::new(out)).expect("writing to a Vec cannot fail");
}

/// The first fields of a snapshot message (`tick`, `last_input_seq`) without
/// decoding its entities: what a bot that skips the game state needs.
pub fn peek_snapshot_header(bytes: &[u8]) -> Option<(SnapshotKind, Tick, u32)> {
    let mut rd = bytes;
    if rmp::decode::read_map_len(&mut rd).ok()? != 1 {
        return None;
    }
    let mut name = [0u8; 8];
    let kind = match rmp::decode::read_str(&mut rd, &mut name).ok()? {
        "snapshot" => SnapshotKind::Full,
        "delta" => SnapshotKind::Delta,
        _ => return None,
    };
    rmp::decode::read_array_len(&mut rd).ok()?;
    let tick = rmp::decode::read_int(&mut rd).ok()?;
    let seq = rmp::decode::read_int(&mut rd).ok()?;
    Some((kind, Tick(tick), seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ServerMsg, decode_server, encode};

    fn sample_entities() -> Vec<EntityState> {
        vec![
            EntityState {
                net_id: NetId(1),
                kind: EntityKind::Player,
                owner: PlayerId(9),
                pos: Vec2::new(10.5, 20.125),
                vel: Vec2::new(-300.0, 0.25),
                aim: std::f32::consts::TAU * 32.0 / 256.0,
                health: 100,
                score: 3,
            },
            EntityState {
                net_id: NetId(70_000),
                kind: EntityKind::Projectile,
                owner: PlayerId(9),
                pos: Vec2::new(1999.0, 0.0),
                vel: Vec2::new(0.0, 900.0),
                aim: 0.0,
                health: 0,
                score: 0,
            },
        ]
    }

    #[test]
    fn header_plus_shared_body_equals_a_whole_encoded_snapshot() {
        let entities = sample_entities();
        let wire: Vec<WireEntity> = entities.iter().map(|&e| e.into()).collect();
        let mut body = Vec::new();
        write_full_body(wire.iter(), &mut body);
        for (tick, seq) in [(Tick(0), 0), (Tick(5), 127), (Tick(70_000), u32::MAX)] {
            let mut framed = Vec::new();
            write_snapshot_header(SnapshotKind::Full, tick, seq, &mut framed);
            framed.extend_from_slice(&body);
            let whole = ServerMsg::Snapshot(Snapshot { tick, last_input_seq: seq, entities: entities.clone() });
            assert_eq!(framed, encode(&whole));
            assert_eq!(decode_server(&framed).unwrap(), whole);
            assert_eq!(peek_snapshot_header(&framed), Some((SnapshotKind::Full, tick, seq)));
        }
    }

    #[test]
    fn a_delta_header_plus_body_decodes_as_a_delta() {
        use crate::delta::{DeltaSnapshot, EntityChange};
        let [a, b] = [0, 1].map(|i| WireEntity::from(sample_entities()[i]));
        let moved = WireEntity::from(EntityState { pos: Vec2::new(11.0, 20.125), ..sample_entities()[0] });
        let change = EntityChange::between(&a, &moved).unwrap();
        let mut out = Vec::new();
        write_snapshot_header(SnapshotKind::Delta, Tick(9), 4, &mut out);
        write_delta_body(Tick(7), &[b], &[change], &[NetId(3)], &mut out);
        let expected = DeltaSnapshot {
            tick: Tick(9),
            last_input_seq: 4,
            baseline: Tick(7),
            added: vec![EntityState::from(b)],
            changed: vec![change],
            removed: vec![NetId(3)],
        };
        assert_eq!(decode_server(&out).unwrap(), ServerMsg::Delta(expected));
        assert_eq!(peek_snapshot_header(&out), Some((SnapshotKind::Delta, Tick(9), 4)));
        assert_eq!(peek_snapshot_header(&encode(&ServerMsg::Pong(crate::Pong { client_time_ms: 1.0 }))), None);
    }

    #[test]
    fn spliced_items_give_the_same_bytes_as_a_listed_delta() {
        use crate::delta::EntityChange;
        let base = WireEntity::from(sample_entities()[0]);
        let changes: Vec<EntityChange> = (1..=20)
            .map(|dx| {
                let moved = EntityState { pos: Vec2::new(10.5 + dx as f32, 20.0), ..sample_entities()[0] };
                EntityChange::between(&base, &moved.into()).unwrap()
            })
            .collect();
        let added: Vec<WireEntity> = sample_entities().into_iter().map(WireEntity::from).collect();
        let mut listed = Vec::new();
        write_delta_body(Tick(7), &added, &changes, &[NetId(3)], &mut listed);
        // Changes in three runs (one of them empty), entities one a run.
        let mut runs = [Vec::new(), Vec::new(), Vec::new()];
        changes[..12].iter().for_each(|c| encode_change(c, &mut runs[0]));
        changes[12..].iter().for_each(|c| encode_change(c, &mut runs[2]));
        let entities: Vec<Vec<u8>> = added
            .iter()
            .map(|e| {
                let mut bytes = Vec::new();
                encode_entity(e, &mut bytes);
                bytes
            })
            .collect();
        let mut spliced = Vec::new();
        write_delta_body_spliced(
            Tick(7),
            (2, entities.iter().map(Vec::as_slice)),
            (20, runs.iter().map(Vec::as_slice)),
            &[NetId(3)],
            &mut spliced,
        );
        assert_eq!(spliced, listed, "20 changes cross MessagePack's 16-element list header");
        let mut whole = Vec::new();
        write_full_body(added.iter(), &mut whole);
        let mut spliced = Vec::new();
        write_full_body_spliced(2, [&entities.concat()[..], &[]].into_iter(), &mut spliced);
        assert_eq!(spliced, whole, "a whole body from runs of entities");
    }

    #[test]
    fn quantization_keeps_an_eighth_of_a_unit_and_a_256th_of_a_turn() {
        let e = EntityState {
            net_id: NetId(3),
            kind: EntityKind::Player,
            owner: PlayerId(4),
            pos: Vec2::new(1234.567, 0.04),
            vel: Vec2::new(-299.99, 12.3),
            aim: -1.0,
            health: 75,
            score: 2,
        };
        let back = EntityState::from(WireEntity::from(e));
        assert!((back.pos - e.pos).abs().max_element() <= 0.5 / POSITION_SCALE);
        assert!((back.vel - e.vel).abs().max_element() <= 0.5 / POSITION_SCALE);
        assert!((back.aim - e.aim).abs() <= std::f32::consts::TAU / AIM_STEPS);
        assert_eq!((back.health, back.score, back.net_id), (75, 2, NetId(3)));
        // A busy room's entity fits in about 22 bytes.
        let one = crate::encode(&vec![e]);
        assert!(one.len() <= 26, "{} bytes", one.len());
    }

    #[test]
    fn unknown_entity_kind_is_a_decode_error() {
        let mut bytes = encode(&ServerMsg::Snapshot(Snapshot {
            tick: Tick(1),
            last_input_seq: 0,
            entities: sample_entities()[..1].to_vec(),
        }));
        // The entity is a 10-element array (0x9a) starting with net_id 1, then the kind.
        let kind_at = bytes.windows(3).position(|w| w == [0x9a, 0x01, 0x00]).unwrap() + 2;
        bytes[kind_at] = 9;
        assert!(decode_server(&bytes).is_err());
    }
}
