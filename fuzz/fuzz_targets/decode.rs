//! Protocol decoding of untrusted bytes: any input returns a value or an error, never a panic,
//! and whatever decodes re-encodes to something that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = arena_protocol::decode_client(data) {
        let again = arena_protocol::encode(&msg);
        let round_trip = arena_protocol::decode_client(&again).expect("our own encoding decodes");
        // NaN never equals itself; compare the bytes instead.
        assert_eq!(arena_protocol::encode(&round_trip), again);
    }
    let _ = arena_protocol::decode_server(data);
});
