//! Reading half of a session: frames in, typed messages to the room.

use arena_protocol::{
    ClientMsg, ErrorMsg, MAX_CLIENT_MESSAGE_BYTES, PlayerId, Pong, ServerMsg, close_code, decode_client, encode,
};
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, WebSocketError, WebSocketRead};
use tokio::sync::mpsc;

use super::rate::TokenBucket;
use super::shared_io::Side;
use super::{Direct, SessionEnd, truncate_reason};
use crate::room::RoomInput;

/// Chat lines a player may send at once; more are refused with a warning.
const CHAT_BURST: u32 = 5;
/// Seconds per chat line on average after the burst.
const CHAT_EVERY_S: f64 = 2.0;

pub async fn read_loop(
    mut read: WebSocketRead<Side>,
    direct: mpsc::Sender<Direct>,
    inbox: mpsc::Sender<RoomInput>,
    player: PlayerId,
) -> SessionEnd {
    // The library checks single frames; fragments are summed below.
    read.set_max_message_size(MAX_CLIENT_MESSAGE_BYTES + 1);
    let obliged = direct.clone();
    let mut send_obligated = move |frame: Frame<'_>| {
        let tx = obliged.clone();
        let msg = Direct::Frame(frame.opcode, frame.payload.to_vec());
        async move { tx.send(msg).await.map_err(|_| "writer has stopped") }
    };
    let mut fragments: Option<Vec<u8>> = None;
    let mut chat_budget = TokenBucket::new(CHAT_BURST, 1.0 / CHAT_EVERY_S);
    let end = loop {
        let frame = match read.read_frame(&mut send_obligated).await {
            Ok(frame) => frame,
            Err(e) => break read_error(e),
        };
        let message: Vec<u8> = match (frame.opcode, fragments.as_mut()) {
            (OpCode::Close, _) => break SessionEnd::Normal,
            (OpCode::Ping | OpCode::Pong, _) => continue,
            (OpCode::Text, _) => {
                break closed(close_code::UNSUPPORTED_DATA, "text frames are not supported; send binary MessagePack");
            }
            (OpCode::Binary, Some(_)) | (OpCode::Continuation, None) => {
                break closed(close_code::PROTOCOL_ERROR, "bad fragment sequence");
            }
            (OpCode::Binary, None) if frame.fin => frame.payload.to_vec(),
            (OpCode::Binary, None) => {
                fragments = Some(frame.payload.to_vec());
                continue;
            }
            (OpCode::Continuation, Some(buffer)) => {
                if buffer.len() + frame.payload.len() > MAX_CLIENT_MESSAGE_BYTES {
                    break closed(close_code::MESSAGE_TOO_BIG, "message too big");
                }
                buffer.extend_from_slice(&frame.payload);
                if !frame.fin {
                    continue;
                }
                fragments.take().unwrap_or_default()
            }
        };
        match decode_client(&message) {
            Ok(ClientMsg::Input(input)) => {
                if let Err(e) = input.validate() {
                    break closed(close_code::POLICY_VIOLATION, &format!("invalid input: {e}"));
                }
                match inbox.try_send(RoomInput::Input(player, input)) {
                    // A full inbox drops this input; the client sends a fresh one next tick.
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => break closed(close_code::ROOM_CLOSED, "room closed"),
                }
            }
            Ok(ClientMsg::Chat(chat)) => {
                let text = match chat.validated() {
                    Ok(text) => text.to_string(),
                    Err(e) => break closed(close_code::POLICY_VIOLATION, &format!("invalid chat: {e}")),
                };
                if !chat_budget.try_take() {
                    let warning = encode(&ServerMsg::Error(ErrorMsg {
                        code: close_code::POLICY_VIOLATION,
                        message: format!(
                            "chat is limited to {CHAT_BURST} lines at once and one every {CHAT_EVERY_S} s"
                        ),
                    }));
                    let _ = direct.try_send(Direct::Message(Bytes::from(warning)));
                    continue;
                }
                if inbox.send(RoomInput::Chat(player, text)).await.is_err() {
                    break closed(close_code::ROOM_CLOSED, "room closed");
                }
            }
            Ok(ClientMsg::Ping(ping)) => {
                let pong = encode(&ServerMsg::Pong(Pong { client_time_ms: ping.client_time_ms }));
                if direct.send(Direct::Message(Bytes::from(pong))).await.is_err() {
                    break SessionEnd::Normal;
                }
            }
            Err(e) => break closed(close_code::INVALID_PAYLOAD, &format!("invalid message: {e}")),
        }
    };
    if let SessionEnd::Closed { code, reason } = &end {
        let _ = direct.send(Direct::Close { code: *code, reason: reason.clone() }).await;
    }
    end
}

fn closed(code: u16, reason: &str) -> SessionEnd {
    SessionEnd::Closed { code, reason: truncate_reason(reason).to_string() }
}

/// Map a frame-level error to the close the RFC asks for.
fn read_error(e: WebSocketError) -> SessionEnd {
    match e {
        WebSocketError::FrameTooLarge => closed(close_code::MESSAGE_TOO_BIG, "message too big"),
        WebSocketError::InvalidUTF8 => closed(close_code::INVALID_PAYLOAD, "invalid UTF-8"),
        WebSocketError::ReservedBitsNotZero
        | WebSocketError::InvalidFragment
        | WebSocketError::InvalidContinuationFrame
        | WebSocketError::ControlFrameFragmented
        | WebSocketError::PingFrameTooLarge
        | WebSocketError::InvalidCloseFrame
        | WebSocketError::InvalidCloseCode
        | WebSocketError::InvalidValue => closed(close_code::PROTOCOL_ERROR, &e.to_string()),
        WebSocketError::UnexpectedEOF | WebSocketError::ConnectionClosed | WebSocketError::SendError(_) => {
            SessionEnd::Normal
        }
        other => SessionEnd::Io(other.to_string()),
    }
}
