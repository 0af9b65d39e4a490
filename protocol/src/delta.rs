//! Delta snapshots: what changed since a snapshot the client acknowledged.
//!
//! A client that acknowledges snapshots (`Input::ack_tick`) receives
//! `{"delta": [tick, last_input_seq, baseline, added, changed, removed]}` instead of
//! whole snapshots: `added` are whole entities it did not have in `baseline`,
//! `changed` lists only the fields that differ from `baseline` (positions as
//! differences), `removed` the ids it had that are gone or out of view. Entities
//! that did not change are not sent at all. [`Baselines`] rebuilds whole snapshots
//! on the client side.

use std::collections::VecDeque;

use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::snapshot::{ENTITY_FIELDS, WireEntity};
use crate::{EntityState, NetId, Snapshot, Tick};

/// How many snapshots back a baseline may be. The server deltas only against
/// snapshots this recent; a client keeps at least this many decoded states.
pub const BASELINE_WINDOW: usize = 32;

/// Bit of each field in [`EntityChange::mask`], in wire order.
pub mod field {
    use crate::snapshot::ENTITY_FIELDS;

    /// Each field once: the macro makes its bit and its entry in [`ALL`], which the
    /// browser's `assets/wire.js` is generated from.
    macro_rules! fields {
        ($($(#[doc = $doc:literal])* $name:ident = $bit:literal;)+) => {
            $($(#[doc = $doc])* pub const $name: u16 = 1 << $bit;)+

            /// Every field after the net id, in wire order: its name and its bit.
            pub const ALL: [(&str, u16); ENTITY_FIELDS] = [$((stringify!($name), $name)),+];
        };
    }

    fields! {
        KIND = 0;
        OWNER = 1;
        /// Sent as the difference from the baseline's `x`.
        X = 2;
        /// Sent as the difference from the baseline's `y`.
        Y = 3;
        VX = 4;
        VY = 5;
        AIM = 6;
        HEALTH = 7;
        SCORE = 8;
    }

    /// Fields sent as differences from the baseline rather than as values.
    pub const RELATIVE: u16 = X | Y;
}

/// A snapshot as the difference from an earlier one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeltaSnapshot {
    pub tick: Tick,
    /// `seq` of the newest input of this client the server has applied.
    pub last_input_seq: u32,
    /// The acknowledged snapshot this one is relative to.
    pub baseline: Tick,
    /// Entities the client did not have in `baseline` (come into view, or new).
    pub added: Vec<EntityState>,
    pub changed: Vec<EntityChange>,
    /// Entities the client had in `baseline` that are gone or out of its view.
    pub removed: Vec<NetId>,
}

/// The fields of one entity that differ from the baseline.
/// On the wire: `[net_id, mask, value…]`, one value per bit set in `mask`, in bit order.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EntityChange {
    pub net_id: NetId,
    pub mask: u16,
    /// Indexed by field bit; only the entries whose bit is set mean anything.
    pub values: [i64; ENTITY_FIELDS],
}

/// Why a delta could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("baseline tick {0} is not among the snapshots kept")]
    UnknownBaseline(u32),
    #[error("entity {0} changed but is not in the baseline")]
    UnknownEntity(u32),
    #[error("entity {0}: {1}")]
    BadField(u32, String),
}

impl EntityChange {
    /// What changed from `base` to `now` (the same entity), or None when nothing did.
    pub fn between(base: &WireEntity, now: &WireEntity) -> Option<EntityChange> {
        let (before, after) = (base.fields(), now.fields());
        let mut change = EntityChange { net_id: now.net_id(), ..EntityChange::default() };
        for (i, (b, a)) in before.iter().zip(after).enumerate() {
            if *b != a {
                let bit = 1 << i;
                change.mask |= bit;
                change.values[i] = if field::RELATIVE & bit != 0 { a - b } else { a };
            }
        }
        (change.mask != 0).then_some(change)
    }

    /// `base` with this change applied; an out-of-range result is an error, not a panic.
    pub fn apply(&self, base: &WireEntity) -> Result<WireEntity, DeltaError> {
        let mut fields = base.fields();
        for (i, value) in fields.iter_mut().enumerate() {
            let bit = 1 << i;
            if self.mask & bit != 0 {
                *value = if field::RELATIVE & bit != 0 { value.saturating_add(self.values[i]) } else { self.values[i] };
            }
        }
        WireEntity::from_fields(self.net_id, fields).map_err(|e| DeltaError::BadField(self.net_id.0, e))
    }
}

impl Serialize for EntityChange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(2 + self.mask.count_ones() as usize))?;
        seq.serialize_element(&self.net_id)?;
        seq.serialize_element(&self.mask)?;
        for (i, value) in self.values.iter().enumerate() {
            if self.mask & (1 << i) != 0 {
                seq.serialize_element(value)?;
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for EntityChange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChangeVisitor;
        impl<'de> Visitor<'de> for ChangeVisitor {
            type Value = EntityChange;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("[net_id, mask, value…]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EntityChange, A::Error> {
                let missing = || de::Error::custom("entity change is missing a field");
                let net_id: NetId = seq.next_element()?.ok_or_else(missing)?;
                let mask: u16 = seq.next_element()?.ok_or_else(missing)?;
                if mask >> ENTITY_FIELDS != 0 {
                    return Err(de::Error::custom(format!("unknown field bits in mask {mask:#x}")));
                }
                let mut values = [0i64; ENTITY_FIELDS];
                for (i, value) in values.iter_mut().enumerate() {
                    if mask & (1 << i) != 0 {
                        *value = seq.next_element()?.ok_or_else(missing)?;
                    }
                }
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("entity change has more values than its mask"));
                }
                Ok(EntityChange { net_id, mask, values })
            }
        }
        deserializer.deserialize_seq(ChangeVisitor)
    }
}

/// The states a client rebuilt from recent snapshots, to apply deltas to.
#[derive(Debug, Default)]
pub struct Baselines {
    /// Oldest first; each state sorted by net id.
    states: VecDeque<(Tick, Vec<WireEntity>)>,
}

impl Baselines {
    /// Keep a whole snapshot as a baseline.
    pub fn keep_full(&mut self, snapshot: &Snapshot) {
        let mut state: Vec<WireEntity> = snapshot.entities.iter().map(|&e| WireEntity::from(e)).collect();
        state.sort_by_key(WireEntity::net_id);
        self.keep(snapshot.tick, state);
    }

    /// Rebuild the whole snapshot a delta stands for, and keep it as a baseline.
    pub fn apply(&mut self, delta: &DeltaSnapshot) -> Result<Snapshot, DeltaError> {
        let (_, base) = self
            .states
            .iter()
            .find(|(tick, _)| *tick == delta.baseline)
            .ok_or(DeltaError::UnknownBaseline(delta.baseline.0))?;
        let mut state = base.clone();
        // Sorted once, so a big removal list costs a lookup per entity, not a scan.
        let mut removed = delta.removed.clone();
        removed.sort_unstable();
        state.retain(|e| removed.binary_search(&e.net_id()).is_err());
        for change in &delta.changed {
            let at = state
                .binary_search_by_key(&change.net_id, WireEntity::net_id)
                .map_err(|_| DeltaError::UnknownEntity(change.net_id.0))?;
            state[at] = change.apply(&state[at])?;
        }
        for added in &delta.added {
            let wire = WireEntity::from(*added);
            match state.binary_search_by_key(&wire.net_id(), WireEntity::net_id) {
                Ok(at) => state[at] = wire,
                Err(at) => state.insert(at, wire),
            }
        }
        let snapshot = Snapshot {
            tick: delta.tick,
            last_input_seq: delta.last_input_seq,
            entities: state.iter().map(|&w| EntityState::from(w)).collect(),
        };
        self.keep(delta.tick, state);
        Ok(snapshot)
    }

    /// The newest tick kept: what the client acknowledges.
    pub fn newest(&self) -> Option<Tick> {
        self.states.back().map(|(tick, _)| *tick)
    }

    /// Forget everything (a new connection starts from whole snapshots).
    pub fn clear(&mut self) {
        self.states.clear();
    }

    fn keep(&mut self, tick: Tick, state: Vec<WireEntity>) {
        if self.states.len() == BASELINE_WINDOW {
            self.states.pop_front();
        }
        self.states.push_back((tick, state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EntityKind, PlayerId, ServerMsg, decode_server, encode};
    use glam::Vec2;

    fn player(id: u32, x: f32, health: u16) -> EntityState {
        EntityState {
            net_id: NetId(id),
            kind: EntityKind::Player,
            owner: PlayerId(id),
            pos: Vec2::new(x, 100.0),
            vel: Vec2::new(300.0, 0.0),
            aim: 0.0,
            health,
            score: 0,
        }
    }

    #[test]
    fn a_change_carries_only_what_differs_and_positions_as_differences() {
        let base = WireEntity::from(player(1, 100.0, 100));
        let now = WireEntity::from(player(1, 110.0, 80));
        let change = EntityChange::between(&base, &now).unwrap();
        assert_eq!(change.mask, field::X | field::HEALTH);
        assert_eq!(change.values[2], 80, "10 units in eighths");
        assert_eq!(change.apply(&base).unwrap(), now);
        assert_eq!(EntityChange::between(&now, &now), None);
        // [net_id, mask, dx, health]: 6 bytes instead of ~22.
        assert_eq!(encode(&change), vec![0x94, 0x01, 0xcc, 0x84, 0x50, 0x50]);
    }

    #[test]
    fn deltas_rebuild_the_same_snapshot_as_whole_ones() {
        let mut client = Baselines::default();
        let first =
            Snapshot { tick: Tick(10), last_input_seq: 3, entities: vec![player(1, 100.0, 100), player(2, 50.0, 100)] };
        client.keep_full(&first);
        assert_eq!(client.newest(), Some(Tick(10)));
        let base = [WireEntity::from(player(1, 100.0, 100)), WireEntity::from(player(2, 50.0, 100))];
        let moved = player(1, 140.0, 90);
        let delta = DeltaSnapshot {
            tick: Tick(12),
            last_input_seq: 5,
            baseline: Tick(10),
            added: vec![player(3, 9.0, 100)],
            changed: vec![EntityChange::between(&base[0], &WireEntity::from(moved)).unwrap()],
            removed: vec![NetId(2)],
        };
        let bytes = encode(&ServerMsg::Delta(delta.clone()));
        let ServerMsg::Delta(decoded) = decode_server(&bytes).unwrap() else { panic!("not a delta") };
        assert_eq!(decoded, delta);
        let rebuilt = client.apply(&decoded).unwrap();
        let expected = Snapshot { tick: Tick(12), last_input_seq: 5, entities: vec![moved, player(3, 9.0, 100)] };
        let quantized = |s: &Snapshot| s.entities.iter().map(|&e| WireEntity::from(e)).collect::<Vec<_>>();
        assert_eq!(quantized(&rebuilt), quantized(&expected));
        assert_eq!((rebuilt.tick, rebuilt.last_input_seq), (Tick(12), 5));
        assert_eq!(client.newest(), Some(Tick(12)));
    }

    #[test]
    fn a_delta_against_a_forgotten_baseline_or_entity_is_an_error() {
        let mut client = Baselines::default();
        let delta = DeltaSnapshot { tick: Tick(5), baseline: Tick(4), ..DeltaSnapshot::default() };
        assert_eq!(client.apply(&delta), Err(DeltaError::UnknownBaseline(4)));
        client.keep_full(&Snapshot { tick: Tick(4), last_input_seq: 0, entities: vec![] });
        let ghost = EntityChange { net_id: NetId(9), mask: field::HEALTH, values: [0; ENTITY_FIELDS] };
        let delta = DeltaSnapshot { changed: vec![ghost], ..delta };
        assert_eq!(client.apply(&delta), Err(DeltaError::UnknownEntity(9)));
    }

    #[test]
    fn field_bits_follow_wire_order() {
        assert!(field::ALL.iter().enumerate().all(|(i, &(_, bit))| bit == 1 << i), "{:?}", field::ALL);
    }

    #[test]
    fn malformed_changes_are_decode_errors() {
        // mask says two values, one given; unknown mask bit; a value past the mask.
        for bytes in
            [vec![0x93, 0x01, 0x0c, 0x05], vec![0x93, 0x01, 0xcd, 0x04, 0x00, 0x01], vec![0x94, 0x01, 0x80, 0x05, 0x06]]
        {
            assert!(rmp_serde::from_slice::<EntityChange>(&bytes).is_err(), "{bytes:02x?}");
        }
        // An x that would leave the u32 range is refused when applied.
        let base = WireEntity::from(player(1, 0.0, 100));
        let change = EntityChange { net_id: NetId(1), mask: field::X, values: [0, 0, -5, 0, 0, 0, 0, 0, 0] };
        assert!(matches!(change.apply(&base), Err(DeltaError::BadField(1, _))));
    }
}
