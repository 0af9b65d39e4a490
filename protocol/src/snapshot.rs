//! Snapshot messages, built so the shared part is encoded once per tick.
//!
//! A snapshot on the wire is `{"snapshot": [tick, last_input_seq, entities]}`.
//! Everything but `last_input_seq` is the same for every client of a room, so
//! the room encodes [`SnapshotBody`] once and each client's frame is a few
//! bytes of header ([`write_snapshot_frame`]) followed by those shared bytes.

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

/// One entity's state after a tick.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
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

/// The part of a snapshot shared by every client of a room, already encoded.
#[derive(Clone, Debug)]
pub struct SnapshotBody {
    pub tick: Tick,
    /// MessagePack of `entities` (an array of [`EntityState`]).
    pub encoded_entities: Vec<u8>,
}

impl SnapshotBody {
    /// Encode the shared part once.
    pub fn encode(tick: Tick, entities: &[EntityState]) -> SnapshotBody {
        let mut encoded_entities = Vec::with_capacity(16 + entities.len() * 40);
        entities
            .serialize(&mut rmp_serde::Serializer::new(&mut encoded_entities))
            .expect("writing to a Vec cannot fail");
        SnapshotBody { tick, encoded_entities }
    }
}

/// Write one client's snapshot message: a small per-client header, then the
/// shared entity bytes. The result decodes as [`crate::ServerMsg::Snapshot`].
pub fn write_snapshot_frame(tick: Tick, last_input_seq: u32, encoded_entities: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(24 + encoded_entities.len());
    // Writes into a Vec never fail.
    let _ = rmp::encode::write_map_len(out, 1);
    let _ = rmp::encode::write_str(out, "snapshot");
    let _ = rmp::encode::write_array_len(out, 3);
    let _ = rmp::encode::write_uint(out, u64::from(tick.0));
    let _ = rmp::encode::write_uint(out, u64::from(last_input_seq));
    out.extend_from_slice(encoded_entities);
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
                pos: Vec2::new(10.5, 20.0),
                vel: Vec2::new(-300.0, 0.0),
                aim: 1.25,
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
    fn shared_body_plus_header_equals_a_whole_encoded_snapshot() {
        let entities = sample_entities();
        for (tick, seq) in [(Tick(0), 0), (Tick(5), 127), (Tick(70_000), u32::MAX)] {
            let body = SnapshotBody::encode(tick, &entities);
            let mut framed = Vec::new();
            write_snapshot_frame(tick, seq, &body.encoded_entities, &mut framed);
            let whole = ServerMsg::Snapshot(Snapshot { tick, last_input_seq: seq, entities: entities.clone() });
            assert_eq!(framed, encode(&whole));
            assert_eq!(decode_server(&framed).unwrap(), whole);
        }
    }

    #[test]
    fn unknown_entity_kind_is_a_decode_error() {
        let mut bytes = encode(&ServerMsg::Snapshot(Snapshot {
            tick: Tick(1),
            last_input_seq: 0,
            entities: sample_entities()[..1].to_vec(),
        }));
        // The entity is an 8-element array (0x98) starting with net_id 1, then the kind.
        let kind_at = bytes.windows(3).position(|w| w == [0x98, 0x01, 0x00]).unwrap() + 2;
        bytes[kind_at] = 9;
        assert!(decode_server(&bytes).is_err());
    }
}
