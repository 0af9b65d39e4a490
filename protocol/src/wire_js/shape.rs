//! Reads a type's field or variant names from its `Deserialize` impl, in wire order.
//!
//! A derived `Deserialize` hands its names (after `rename_all`) to the deserializer
//! before reading anything; this one keeps them and stops there. The order is the
//! declaration order, which is the array order on the wire (structs travel as arrays).

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

/// A struct's name and its fields, in wire order.
pub(super) fn fields<T: DeserializeOwned>() -> (&'static str, &'static [&'static str]) {
    names::<T>(Want::Struct)
}

/// An enum's name and its variants' tags, in declaration order.
pub(super) fn variants<T: DeserializeOwned>() -> (&'static str, &'static [&'static str]) {
    names::<T>(Want::Enum)
}

fn names<T: DeserializeOwned>(want: Want) -> (&'static str, &'static [&'static str]) {
    match T::deserialize(Catch(want)) {
        Err(Caught::Names(name, names)) => (name, names),
        _ => panic!("{} does not deserialize as a {want:?} with names", std::any::type_name::<T>()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    Struct,
    Enum,
}

/// A deserializer that fails on purpose, carrying the names it was given.
struct Catch(Want);

#[derive(Debug)]
enum Caught {
    Names(&'static str, &'static [&'static str]),
    /// Asked for something other than what we want: the type is not shaped as expected.
    Other,
}

impl fmt::Display for Caught {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Caught {}

impl de::Error for Caught {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Caught::Other
    }
}

impl<'de> Deserializer<'de> for Catch {
    type Error = Caught;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Caught> {
        Err(Caught::Other)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Caught> {
        Err(if self.0 == Want::Struct { Caught::Names(name, fields) } else { Caught::Other })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Caught> {
        Err(if self.0 == Want::Enum { Caught::Names(name, variants) } else { Caught::Other })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_in_wire_order() {
        assert_eq!(fields::<crate::RoundStart>(), ("RoundStart", &["round", "score_limit", "time_limit_s"][..]));
        let (name, tags) = variants::<crate::ClientMsg>();
        assert_eq!((name, tags), ("ClientMsg", &["input", "ping", "chat"][..]));
    }

    #[test]
    #[should_panic(expected = "does not deserialize as a Struct")]
    fn a_type_without_field_names_is_refused() {
        fields::<crate::EntityState>(); // travels as a tuple struct (WireEntity)
    }
}
