//! Renders `assets/wire.js`, the browser's wire constants, from the Rust definitions.
//!
//! The browser client is plain JavaScript, so it cannot share these types; instead of
//! a hand-kept copy it imports this generated module, and a test fails when the
//! committed file differs from what the definitions give now. Names, tags and field
//! orders are read from the types themselves (their serde derives, the close-code and
//! entity-field tables), so a change on the Rust side reaches the browser.

mod shape;

use std::fmt::Write;

use crate::delta::{self, DeltaSnapshot, field};
use crate::lobby::LobbyRoom;
use crate::replay::{self, Record, ReplayEnd, ReplayHeader, TickedMsg};
use crate::server_msg::{self, Kill};
use crate::{ChatLine, ChatText, ClientMsg, EntityKind, ErrorMsg, Input, Notice, Ping, PlayerInfo, Pong};
use crate::{PROTOCOL_VERSION, client_msg, close_code, codec, snapshot};
use crate::{RoomEvent, RosterChange, RoundResults, RoundStart, ServerMsg, Snapshot, Standing, Welcome};

/// The command that rewrites `assets/wire.js` (from any directory of the workspace).
pub const REGENERATE: &str = "ARENA_WRITE_WIRE_JS=1 cargo test -p arena-protocol wire_js";

/// Objects longer than this are written one entry a line, so diffs stay readable.
const LINE_WIDTH: usize = 120;

/// One `export const` of the module.
struct Export {
    name: String,
    /// Where it comes from, for the reader of wire.js.
    doc: String,
    value: Value,
}

enum Value {
    /// A JavaScript literal as written.
    Literal(String),
    /// A frozen object: keys and literals, in this order.
    Object(Vec<(String, String)>),
}

/// `export const NAME = value;` for a Rust constant, named like it unless `as` renames it.
macro_rules! constant {
    ($path:path) => {
        constant(stringify!($path), None, $path)
    };
    ($path:path as $js:ident) => {
        constant(stringify!($path), Some(stringify!($js)), $path)
    };
}

fn constant(path: &str, rename: Option<&str>, value: impl std::fmt::Display) -> Export {
    let path = path.replace(' ', "");
    let name = rename.unwrap_or_else(|| path.rsplit("::").next().unwrap_or(&path)).to_string();
    Export { name, doc: format!("From {path}."), value: Value::Literal(value.to_string()) }
}

/// Every constant the browser needs, in the order wire.js lists them.
fn exports() -> Vec<Export> {
    let mut all = vec![
        constant!(PROTOCOL_VERSION),
        constant!(codec::MAX_CLIENT_MESSAGE_BYTES),
        constant!(client_msg::MAX_CHAT_CHARS),
        constant!(client_msg::MAX_EARLIER_INPUTS),
        constant!(server_msg::SCOREBOARD_SIZE),
        constant!(snapshot::POSITION_SCALE),
        constant!(snapshot::AIM_STEPS),
        constant!(snapshot::ENTITY_FIELDS),
        constant!(delta::BASELINE_WINDOW),
        constant!(delta::field::RELATIVE as RELATIVE_FIELDS),
        Export {
            name: "REPLAY_MAGIC".into(),
            doc: "From replay::MAGIC.".into(),
            value: Value::Literal(string(replay::MAGIC)),
        },
        constant!(replay::FORMAT_VERSION as REPLAY_FORMAT_VERSION),
        object("CLOSE_CODES", "From close_code::ALL: each close code by name.", close_code::ALL, |c| {
            (c.name.to_string(), c.code.to_string())
        }),
        object(
            "CLOSE_MEANINGS",
            "From close_code::ALL: what each close means (the first paragraph of its doc).",
            close_code::ALL,
            |c| (c.code.to_string(), string(&c.meaning())),
        ),
    ];
    for (name, tags) in [
        shape::variants::<ServerMsg>(),
        shape::variants::<ClientMsg>(),
        shape::variants::<RoomEvent>(),
        shape::variants::<Record>(),
    ] {
        let doc = format!("From the serde tags of {name}: the key of each kind's one-entry map.");
        all.push(object(name, &doc, tags, |tag| (pascal_case(tag), string(tag))));
    }
    let kinds = (0..=u8::MAX).filter_map(|n| EntityKind::try_from(n).ok());
    all.push(object("EntityKind", "From snapshot::EntityKind: the kind field of an entity.", kinds, |k| {
        (format!("{k:?}"), u8::from(k).to_string())
    }));
    let entity = std::iter::once("net_id".to_string()).chain(field::ALL.map(|(name, _)| name.to_lowercase()));
    all.push(layout("WireEntity", "net_id, then delta::field::ALL (snapshot::WireEntity's order)", entity));
    all.push(object(
        "EntityField",
        "From delta::field::ALL: each field's bit in a change's mask.",
        field::ALL,
        |(n, bit)| (n.to_lowercase(), bit.to_string()),
    ));
    for (name, fields) in [
        shape::fields::<Input>(),
        shape::fields::<Ping>(),
        shape::fields::<ChatText>(),
        shape::fields::<Welcome>(),
        shape::fields::<RoundStart>(),
        shape::fields::<Snapshot>(),
        shape::fields::<DeltaSnapshot>(),
        shape::fields::<Pong>(),
        shape::fields::<PlayerInfo>(),
        shape::fields::<RosterChange>(),
        shape::fields::<Kill>(),
        shape::fields::<ErrorMsg>(),
        shape::fields::<ChatLine>(),
        shape::fields::<Standing>(),
        shape::fields::<RoundResults>(),
        shape::fields::<Notice>(),
        shape::fields::<LobbyRoom>(),
        shape::fields::<ReplayHeader>(),
        shape::fields::<TickedMsg>(),
        shape::fields::<ReplayEnd>(),
    ] {
        all.push(layout(name, &format!("the serde fields of {name}"), fields.iter().map(|f| f.to_string())));
    }
    all
}

/// A struct that travels as an array: each field's index in it.
fn layout(name: &str, rust: &str, fields: impl Iterator<Item = String>) -> Export {
    let doc = format!("From {rust}: each field's index in its array.");
    object(name, &doc, fields.enumerate(), |(i, field)| (field, i.to_string()))
}

fn object<T>(
    name: &str,
    doc: &str,
    items: impl IntoIterator<Item = T>,
    entry: impl Fn(T) -> (String, String),
) -> Export {
    Export {
        name: name.to_string(),
        doc: doc.to_string(),
        value: Value::Object(items.into_iter().map(entry).collect()),
    }
}

/// The text of `assets/wire.js`.
pub fn wire_js() -> String {
    let mut js = String::new();
    js.push_str("// Wire constants for the browser client: GENERATED from the Rust definitions in protocol/src/\n");
    js.push_str("// by protocol/src/wire_js.rs; do not edit. After changing them, regenerate with\n");
    let _ = writeln!(js, "//   {REGENERATE}\n// (until then that crate's tests fail).");
    for export in exports() {
        let _ = write!(js, "\n/** {} */\nexport const {} = ", export.doc, export.name);
        match export.value {
            Value::Literal(literal) => js.push_str(&literal),
            Value::Object(entries) => {
                let entries: Vec<String> = entries.iter().map(|(key, value)| format!("{key}: {value}")).collect();
                let one_line = format!("Object.freeze({{ {} }})", entries.join(", "));
                if "export const  = ;".len() + export.name.len() + one_line.len() <= LINE_WIDTH {
                    js.push_str(&one_line);
                } else {
                    let _ = write!(js, "Object.freeze({{\n  {},\n}})", entries.join(",\n  "));
                }
            }
        }
        js.push_str(";\n");
    }
    js
}

/// A JavaScript string literal; our texts are plain prose, so only quotes and backslashes need escaping.
fn string(text: &str) -> String {
    assert!(!text.contains(char::is_control), "{text:?} would need more escaping");
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `round_started` → `RoundStarted`: how JavaScript names the variant whose tag this is.
fn pascal_case(tag: &str) -> String {
    let capitalized = |word: &str| {
        let mut chars = word.chars();
        chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
    };
    tag.split('_').map(capitalized).collect()
}

#[cfg(test)]
mod tests;
