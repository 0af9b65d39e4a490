//! Encoding and the untrusted-bytes decoders, with their limits.

use serde::{Serialize, de::DeserializeOwned};

use crate::{ClientMsg, ServerMsg};

/// Largest client message the server accepts (a whole message, across fragments).
/// An input is about 20 bytes; this leaves room for chat and future messages.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 16 * 1024;

/// Why bytes did not decode.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("message of {0} bytes is larger than the limit of {MAX_CLIENT_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("not a valid message: {0}")]
    Invalid(#[from] rmp_serde::decode::Error),
    #[error("{0} bytes left over after the message")]
    TrailingBytes(usize),
}

/// Encode any message in the wire format (structs as arrays).
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    msg.serialize(&mut rmp_serde::Serializer::new(&mut out))
        .expect("writing to a Vec cannot fail and our types are all serializable");
    out
}

/// Decode one client message from untrusted bytes. Never panics.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg, CodecError> {
    if bytes.len() > MAX_CLIENT_MESSAGE_BYTES {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    decode_exact(bytes)
}

/// Decode one server message (used by bots and tests). Never panics.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, CodecError> {
    decode_exact(bytes)
}

fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let mut rest = bytes;
    let value = T::deserialize(&mut rmp_serde::Deserializer::new(&mut rest))?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, NetId, Ping, PlayerId, PlayerInfo, Pong, Welcome, server_msg::Kill};
    use glam::Vec2;
    use proptest::prelude::*;

    #[test]
    fn client_messages_round_trip() {
        let msgs = [
            ClientMsg::Input(Input {
                ack_tick: crate::Tick(9),
                view_tick: crate::Tick(7),
                earlier: vec![crate::Controls::default()],
                ..Input::new(42, Vec2::new(0.6, -0.8), -1.5, true)
            }),
            ClientMsg::Ping(Ping { client_time_ms: 12345.678 }),
            ClientMsg::Chat(crate::ChatText { text: "hello".into() }),
        ];
        for msg in msgs {
            assert_eq!(decode_client(&encode(&msg)).unwrap(), msg);
        }
    }

    #[test]
    fn server_messages_round_trip() {
        let msgs = [
            ServerMsg::Welcome(Welcome {
                protocol_version: crate::PROTOCOL_VERSION,
                player_id: PlayerId(3),
                net_id: NetId(4),
                room_id: "r1".into(),
                room_name: "Room 1".into(),
                tick_rate_hz: 30,
                snapshot_rate_hz: 30,
                arena_size: Vec2::new(2000.0, 2000.0),
                player_radius: 20.0,
                projectile_radius: 5.0,
                player_speed: 300.0,
                max_health: 100,
                spectator: false,
                round: crate::RoundStart { round: 1, score_limit: 10, time_limit_s: 180 },
            }),
            ServerMsg::Pong(Pong { client_time_ms: 1.5 }),
            ServerMsg::Roster(vec![PlayerInfo {
                player_id: PlayerId(1),
                net_id: NetId(2),
                name: "ann".into(),
                bot: false,
            }]),
            ServerMsg::Kill(Kill { killer: PlayerId(1), victim: PlayerId(2) }),
            ServerMsg::Chat(crate::ChatLine { player_id: PlayerId(1), name: "ann".into(), text: "gg".into() }),
            ServerMsg::Event(crate::RoomEvent::RoundOver(crate::RoundResults {
                round: 2,
                reason: "score_limit".into(),
                duration_s: 61.5,
                next_round_in_s: 5.0,
                standings: vec![crate::Standing {
                    player_id: PlayerId(1),
                    name: "ann".into(),
                    kills: 10,
                    deaths: 2,
                    bot: true,
                }],
            })),
            ServerMsg::Event(crate::RoomEvent::Announcement(crate::Notice { text: "restart at noon".into() })),
        ];
        for msg in msgs {
            assert_eq!(decode_server(&encode(&msg)).unwrap(), msg);
        }
    }

    /// The hex example in protocol/README.md, checked so the docs cannot drift.
    #[test]
    fn readme_input_example_matches_the_encoder() {
        let msg = ClientMsg::Input(Input::new(7, Vec2::new(1.0, 0.0), 0.0, true));
        let hex: String = encode(&msg).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "81a5696e707574970792ca3f800000ca00000000ca00000000c3000090");
    }

    /// JavaScript encoders write whole numbers as ints and others as float64;
    /// both must decode where the protocol says f32.
    #[test]
    fn floats_may_arrive_as_ints_or_float64() {
        // {"input": [3, [1, -0.5 as float64], 0, false]}
        let mut bytes = vec![0x81, 0xa5];
        bytes.extend_from_slice(b"input");
        bytes.extend_from_slice(&[0x94, 0x03, 0x92, 0x01, 0xcb]);
        bytes.extend_from_slice(&(-0.5f64).to_be_bytes());
        bytes.extend_from_slice(&[0x00, 0xc2]);
        let expected = ClientMsg::Input(Input::new(3, Vec2::new(1.0, -0.5), 0.0, false));
        assert_eq!(decode_client(&bytes).unwrap(), expected);
    }

    #[test]
    fn trailing_bytes_and_oversize_are_refused() {
        let mut bytes = encode(&ClientMsg::Ping(Ping { client_time_ms: 1.0 }));
        bytes.push(0xc0);
        assert!(matches!(decode_client(&bytes), Err(CodecError::TrailingBytes(1))));
        let huge = vec![0x90; MAX_CLIENT_MESSAGE_BYTES + 1];
        assert!(matches!(decode_client(&huge), Err(CodecError::TooLarge(_))));
    }

    #[test]
    fn a_text_tag_is_refused() {
        assert!(decode_client(b"{\"input\":1}").is_err());
        assert!(decode_client(&[]).is_err());
        // A claimed 4-billion-element array must fail without allocating it.
        assert!(decode_client(&[0x81, 0xa5, b'i', b'n', b'p', b'u', b't', 0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_client(&bytes);
            let _ = decode_server(&bytes);
        }

        #[test]
        fn mutated_valid_messages_never_panic(seq in any::<u32>(), flip in 0usize..40, value in any::<u8>()) {
            let mut bytes = encode(&ClientMsg::Input(Input::new(seq, Vec2::new(0.5, 0.5), 1.0, false)));
            let at = flip % bytes.len();
            bytes[at] = value;
            let _ = decode_client(&bytes);
        }
    }
}
