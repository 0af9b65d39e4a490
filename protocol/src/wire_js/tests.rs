//! Keeps `assets/wire.js` and the modules that import it in step with the Rust definitions.

use std::path::{Path, PathBuf};

use super::*;

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

/// Fails when a Rust change did not reach the browser; with `ARENA_WRITE_WIRE_JS` set it
/// rewrites the file instead (that is the regenerate command).
#[test]
fn committed_wire_js_is_what_the_rust_definitions_give() {
    let path = assets().join("wire.js");
    let generated = wire_js();
    if std::env::var_os("ARENA_WRITE_WIRE_JS").is_some() {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed.lines().zip(generated.lines()).take_while(|(a, b)| a == b).count() + 1;
        panic!(
            "assets/wire.js differs from what protocol/src defines (first at line {line}: committed {:?}, generated {:?}).\n\
             Regenerate it with:\n    {REGENERATE}\nand commit it with the Rust change.",
            committed.lines().nth(line - 1).unwrap_or("<end>"),
            generated.lines().nth(line - 1).unwrap_or("<end>"),
        );
    }
}

/// A field or tag renamed on the Rust side would leave `Welcome.room_id` undefined in the
/// browser, silently; this finds every `Name.key` of a wire.js object in the assets instead.
#[test]
fn assets_use_only_names_wire_js_defines() {
    let objects: Vec<(String, Vec<String>)> = exports()
        .into_iter()
        .filter_map(|e| match e.value {
            Value::Object(entries) => Some((e.name, entries.into_iter().map(|(key, _)| key).collect())),
            Value::Literal(_) => None,
        })
        .collect();
    let mut unknown = Vec::new();
    let mut uses = 0;
    for entry in std::fs::read_dir(assets()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "js") || path.ends_with("wire.js") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (object, keys) in &objects {
            for key in member_accesses(&source, object) {
                uses += 1;
                if !keys.iter().any(|k| k == key) {
                    unknown.push(format!("{}: {object}.{key}", path.file_name().unwrap().to_string_lossy()));
                }
            }
        }
    }
    assert!(unknown.is_empty(), "names wire.js does not define: {unknown:?}");
    assert!(uses > 20, "only {uses} uses found: has protocol.js stopped using wire.js?");
}

/// Every `key` in `object.key` in JavaScript source (not `other_object.key`).
fn member_accesses<'a>(source: &'a str, object: &str) -> Vec<&'a str> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let prefix = format!("{object}.");
    source
        .match_indices(&prefix)
        .filter(|(at, _)| !source[..*at].ends_with(|c: char| is_ident(c) || c == '.'))
        .map(|(at, _)| {
            let rest = &source[at + prefix.len()..];
            &rest[..rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len())]
        })
        .filter(|key| !key.is_empty())
        .collect()
}

#[test]
fn close_codes_and_tags_come_from_the_rust_side() {
    let js = wire_js();
    assert!(js.contains("IDLE: 4010") && js.contains("4009: \"The client did not answer"), "{js}");
    assert!(js.contains("RosterChange: \"roster_change\""), "{js}");
    assert!(
        js.contains("export const WireEntity = Object.freeze({\n  net_id: 0,\n  kind: 1,\n  owner: 2,\n  x: 3,"),
        "{js}"
    );
    assert!(js.contains("export const MAX_CLIENT_MESSAGE_BYTES = 16384;"), "{js}");
}

#[test]
fn member_accesses_skip_longer_names_and_comments_end_of_sentence() {
    let source = "a[Welcome.room_id]; MyWelcome.x; Welcome. Then; w.Welcome.y;";
    assert_eq!(member_accesses(source, "Welcome"), ["room_id"]);
}
