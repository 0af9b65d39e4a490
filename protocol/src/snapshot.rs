//! Snapshot messages, built so the shared part is encoded once per tick.
//!
//! A snapshot on the wire is `{"snapshot": [tick, last_input_seq, entities]}`.
//! Everything but `last_input_seq` (and, with interest management, which areas a
//! client sees) is the same for every client of a room, so the room encodes each
//! area's entities once as an [`EntityChunk`], and each client's message is a few
//! bytes of header ([`write_snapshot_chunks`]) followed by the chunks it sees.

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

/// How an entity travels: `[net_id, kind, owner, x, y, vx, vy, aim, health, score]`,
/// all integers. `x`, `y` are `pos * 8` (unsigned), `vx`, `vy` are `vel * 8`
/// (signed), `aim` is the angle in 256ths of a turn (0..=255). MessagePack writes
/// each in as few bytes as it fits: about 22 bytes an entity instead of 40 as floats.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireEntity(NetId, EntityKind, PlayerId, u32, u32, i32, i32, u8, u16, u32);

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

/// The entities of one area of the arena, encoded once per tick: each entity's
/// array back to back, without the surrounding array header, so a client's list
/// is the concatenation of the areas it may see.
#[derive(Clone, Debug, Default)]
pub struct EntityChunk {
    pub count: u32,
    pub bytes: Vec<u8>,
}

impl EntityChunk {
    pub fn push(&mut self, entity: &EntityState) {
        entity.serialize(&mut rmp_serde::Serializer::new(&mut self.bytes)).expect("writing to a Vec cannot fail");
        self.count += 1;
    }

    pub fn clear(&mut self) {
        self.count = 0;
        self.bytes.clear();
    }
}

/// One client's snapshot message built from the chunks it may see. The result
/// decodes as [`crate::ServerMsg::Snapshot`].
pub fn write_snapshot_chunks<'a>(
    tick: Tick,
    last_input_seq: u32,
    chunks: impl Iterator<Item = &'a EntityChunk> + Clone,
    out: &mut Vec<u8>,
) {
    let count: u32 = chunks.clone().map(|c| c.count).sum();
    let bytes: usize = chunks.clone().map(|c| c.bytes.len()).sum();
    out.clear();
    out.reserve(30 + bytes);
    let _ = rmp::encode::write_map_len(out, 1);
    let _ = rmp::encode::write_str(out, "snapshot");
    let _ = rmp::encode::write_array_len(out, 3);
    let _ = rmp::encode::write_uint(out, u64::from(tick.0));
    let _ = rmp::encode::write_uint(out, u64::from(last_input_seq));
    let _ = rmp::encode::write_array_len(out, count);
    for chunk in chunks {
        out.extend_from_slice(&chunk.bytes);
    }
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
    fn shared_chunk_plus_header_equals_a_whole_encoded_snapshot() {
        let entities = sample_entities();
        let mut chunk = EntityChunk::default();
        entities.iter().for_each(|e| chunk.push(e));
        for (tick, seq) in [(Tick(0), 0), (Tick(5), 127), (Tick(70_000), u32::MAX)] {
            let mut framed = Vec::new();
            write_snapshot_chunks(tick, seq, [&chunk].into_iter(), &mut framed);
            let whole = ServerMsg::Snapshot(Snapshot { tick, last_input_seq: seq, entities: entities.clone() });
            assert_eq!(framed, encode(&whole));
            assert_eq!(decode_server(&framed).unwrap(), whole);
        }
    }

    #[test]
    fn chunks_concatenate_into_one_entity_list() {
        let entities = sample_entities();
        let mut near = EntityChunk::default();
        let mut far = EntityChunk::default();
        near.push(&entities[0]);
        far.push(&entities[1]);
        let mut out = Vec::new();
        write_snapshot_chunks(Tick(9), 4, [&near, &far].into_iter(), &mut out);
        let whole = ServerMsg::Snapshot(Snapshot { tick: Tick(9), last_input_seq: 4, entities: entities.clone() });
        assert_eq!(out, encode(&whole));
        write_snapshot_chunks(Tick(9), 4, [&far].into_iter(), &mut out);
        let ServerMsg::Snapshot(only_far) = decode_server(&out).unwrap() else { panic!() };
        assert_eq!(only_far.entities, vec![entities[1]]);
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
