//! Protocol decoding of untrusted bytes: any input returns a value or an error, never a panic,
//! and whatever decodes re-encodes to something that decodes to the same value; deltas
//! apply to a baseline or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = arena_protocol::decode_client(data) {
        let again = arena_protocol::encode(&msg);
        let round_trip = arena_protocol::decode_client(&again).expect("our own encoding decodes");
        // NaN never equals itself; compare the bytes instead.
        assert_eq!(arena_protocol::encode(&round_trip), again);
    }
    // A delta from a hostile server applies or fails, never panics: against an empty
    // baseline and against one holding whatever entities the same bytes name.
    if let Ok(arena_protocol::ServerMsg::Delta(delta)) = arena_protocol::decode_server(data) {
        let mut client = arena_protocol::Baselines::default();
        let entities = delta.added.clone();
        client.keep_full(&arena_protocol::Snapshot { tick: delta.baseline, last_input_seq: 0, entities });
        let _ = client.apply(&delta);
        let _ = arena_protocol::Baselines::default().apply(&delta);
    }
});
