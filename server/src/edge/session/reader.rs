//! Reading half of a session: frames in, typed and checked messages to the room.

use std::sync::Arc;

use arena_protocol::{ClientMsg, ErrorMsg, Input, PlayerId, Pong, ServerMsg, close_code, decode_client, encode};
use fastwebsockets::{Frame, OpCode, WebSocketError, WebSocketRead};
use tokio::sync::mpsc;

use super::assembler::{Assembler, Control, Message, Step, screen};
use super::liveness::Liveness;
use super::shared_io::Side;
use super::{Direct, DirectSender, Limits, SessionEnd, truncate_reason};
use crate::ops::metrics::{self, SessionTally};
use crate::rate::TokenBucket;
use crate::room::RoomInput;

/// Chat lines a player may send at once; more are refused with a warning.
const CHAT_BURST: u32 = 5;
/// Seconds per chat line on average after the burst.
const CHAT_EVERY_S: f64 = 2.0;
/// Seconds of inputs over the rate limit a connection may send before it is closed.
const INPUT_ABUSE_SECONDS: u32 = 3;

/// What a session's reader needs.
pub struct ReaderContext {
    pub direct: DirectSender,
    /// Where inputs and chat go; None on the lobby feed, which only listens.
    pub room: Option<RoomSender>,
    pub limits: Limits,
    pub liveness: Arc<Liveness>,
}

/// A player's way into its room.
pub struct RoomSender {
    pub inbox: mpsc::Sender<RoomInput>,
    pub player: PlayerId,
}

/// Why a lobby watcher that sends game messages is closed.
const LOBBY_ONLY_LISTENS: &str = "the lobby feed only listens (and answers ping): join a room at /ws to play";

/// The per-connection budgets a reader spends.
struct Budgets {
    chat: TokenBucket,
    input: TokenBucket,
    /// Each dropped input takes one of these; they refill at half the rate, so only a
    /// sustained flood (not a burst after a stall) empties it.
    abuse: TokenBucket,
}

impl Budgets {
    fn new(limits: &Limits) -> Budgets {
        let per_second = limits.input_rate.max(1);
        let rate = f64::from(per_second);
        Budgets {
            chat: TokenBucket::new(CHAT_BURST, 1.0 / CHAT_EVERY_S),
            input: TokenBucket::new(per_second, rate),
            abuse: TokenBucket::new(per_second * INPUT_ABUSE_SECONDS, rate / 2.0),
        }
    }
}

/// Read frames until the connection ends; returns why it ended (a close the
/// client caused is also handed to the writer to send).
pub async fn read_loop(mut read: WebSocketRead<Side>, cx: ReaderContext) -> SessionEnd {
    configure(&mut read, cx.limits.max_message_bytes);
    let mut assembler = Assembler::new(cx.limits.max_message_bytes);
    let mut budgets = Budgets::new(&cx.limits);
    // This connection's counts, added to the shared metrics once a second.
    let mut tally = SessionTally::default();
    // Set once the room has ended: it closes this connection itself, through the
    // writer, with its own code and reason; until then messages have nowhere to go.
    let mut room_gone = false;
    let end = loop {
        let mut frame = match read.read_frame(&mut nothing_obliged).await {
            Ok(frame) => frame,
            Err(e) => break read_error(e),
        };
        match screen(&mut frame) {
            Control::Assemble => {}
            Control::Pong(payload) => {
                if cx.direct.send(Direct::Frame(OpCode::Pong, payload.into())).await.is_err() {
                    break SessionEnd::Normal;
                }
                continue;
            }
            Control::Close(payload) => {
                let _ = cx.direct.send(Direct::Frame(OpCode::Close, payload.into())).await;
                break SessionEnd::Normal;
            }
            Control::Fail(code, reason) => break closed(code, reason),
        }
        // One per ping interval per client: cheap enough to record as it comes.
        if frame.opcode == OpCode::Pong
            && let Some(rtt) = cx.liveness.pong_received()
        {
            metrics::handles().rtt_seconds.record(rtt.as_secs_f64());
        }
        let bytes = match assembler.push(frame) {
            Step::Pending => continue,
            Step::Close => break SessionEnd::Normal,
            Step::Fail(code, reason) => break closed(code, reason),
            Step::Message(Message::Text(_)) => {
                break closed(close_code::UNSUPPORTED_DATA, "text frames are not supported; send binary MessagePack");
            }
            Step::Message(Message::Binary(bytes)) => bytes,
        };
        cx.liveness.active();
        let message = match check_message(&bytes) {
            Ok(message) => message,
            Err((code, reason)) => break closed(code, &reason),
        };
        let handled = match message {
            // Nearly every message: forwarded without an await.
            ClientMsg::Input(input) => forward_input(input, &cx, &mut budgets, &mut tally, &mut room_gone),
            // Boxed: chat and pings are rare, and their awaits held inline would make
            // every reader's task about half a KiB larger.
            other => Box::pin(dispatch(other, &cx, &mut budgets, &mut tally, &mut room_gone)).await,
        };
        if let Err(end) = handled {
            break end;
        }
    };
    if let SessionEnd::Closed { code, reason } = &end {
        let _ = cx.direct.send(Direct::Close { code: *code, reason: reason.as_str().into() }).await;
    }
    end
}

/// An input to the room, within budget; never waits (a full inbox drops it). Err
/// ends the connection.
fn forward_input(
    input: Input,
    cx: &ReaderContext,
    budgets: &mut Budgets,
    tally: &mut SessionTally,
    room_gone: &mut bool,
) -> Result<(), SessionEnd> {
    let Some(room) = &cx.room else { return Err(closed(close_code::POLICY_VIOLATION, LOBBY_ONLY_LISTENS)) };
    if *room_gone {
        return Ok(());
    }
    tally.input();
    if !budgets.input.try_take() {
        metrics::handles().inputs_dropped_rate_limit.increment(1);
        if !budgets.abuse.try_take() {
            return Err(closed(close_code::POLICY_VIOLATION, "too many inputs: flooding"));
        }
        return Ok(());
    }
    match room.inbox.try_send(RoomInput::Input(room.player, input)) {
        Ok(()) => {}
        // A full inbox drops this input; the client sends a fresh one next tick.
        Err(mpsc::error::TrySendError::Full(_)) => metrics::handles().inputs_dropped_inbox_full.increment(1),
        Err(mpsc::error::TrySendError::Closed(_)) => *room_gone = true,
    }
    Ok(())
}

/// Act on one checked message: inputs (see [`forward_input`]) and chat to the room
/// (within budget), pings answered. Err ends the connection.
async fn dispatch(
    message: ClientMsg,
    cx: &ReaderContext,
    budgets: &mut Budgets,
    tally: &mut SessionTally,
    room_gone: &mut bool,
) -> Result<(), SessionEnd> {
    let room = match (&message, &cx.room) {
        (ClientMsg::Ping(_), _) => None,
        (_, Some(_)) if *room_gone => return Ok(()),
        (_, Some(room)) => Some(room),
        (_, None) => return Err(closed(close_code::POLICY_VIOLATION, LOBBY_ONLY_LISTENS)),
    };
    match (message, room) {
        (ClientMsg::Input(input), Some(_)) => return forward_input(input, cx, budgets, tally, room_gone),
        (ClientMsg::Chat(chat), Some(room)) => {
            if !budgets.chat.try_take() {
                metrics::handles().chat_rate_limited.increment(1);
                let warning = encode(&ServerMsg::Error(ErrorMsg {
                    code: close_code::POLICY_VIOLATION,
                    message: format!("chat is limited to {CHAT_BURST} lines at once and one every {CHAT_EVERY_S} s"),
                }));
                let _ = cx.direct.try_send(Direct::Message(warning.into()));
                return Ok(());
            }
            if room.inbox.send(RoomInput::Chat(room.player, chat.text.trim().to_string())).await.is_err() {
                *room_gone = true;
            }
        }
        (ClientMsg::Ping(ping), _) => {
            let pong = encode(&ServerMsg::Pong(Pong { client_time_ms: ping.client_time_ms }));
            if cx.direct.send(Direct::Message(pong.into())).await.is_err() {
                return Err(SessionEnd::Normal);
            }
        }
        (ClientMsg::Input(_) | ClientMsg::Chat(_), None) => {}
    }
    Ok(())
}

/// Decode and range-check one client message; a refusal carries the close code and reason.
/// Untrusted bytes in, never a panic out (fuzzed by `fuzz/fuzz_targets/session_frames.rs`).
pub fn check_message(bytes: &[u8]) -> Result<ClientMsg, (u16, String)> {
    let message = decode_client(bytes).map_err(|e| (close_code::INVALID_PAYLOAD, format!("invalid message: {e}")))?;
    match &message {
        ClientMsg::Input(input) => {
            input.validate().map_err(|e| (close_code::POLICY_VIOLATION, format!("invalid input: {e}")))?;
        }
        ClientMsg::Chat(chat) => {
            chat.validated().map_err(|e| (close_code::POLICY_VIOLATION, format!("invalid chat: {e}")))?;
        }
        ClientMsg::Ping(_) => {}
    }
    Ok(message)
}

/// Set up a read half the way every endpoint reads: whole-frame size limit, and no
/// automatic pong or close reply, so [`screen`] sees pings and closes first (the
/// library would answer an unmasked one before we could refuse it).
pub fn configure<S>(read: &mut WebSocketRead<S>, max_message_bytes: usize) {
    // The library checks single frames against this; the assembler checks whole messages.
    read.set_max_message_size(max_message_bytes + 1);
    read.set_auto_pong(false);
    read.set_auto_close(false);
}

/// `read_frame`'s callback for the frames the library would send by itself; with
/// automatic pongs and close replies off (see [`configure`]) it has none.
pub fn nothing_obliged(_: Frame<'_>) -> std::future::Ready<Result<(), &'static str>> {
    std::future::ready(Ok(()))
}

pub fn closed(code: u16, reason: &str) -> SessionEnd {
    SessionEnd::Closed { code, reason: truncate_reason(reason).to_string() }
}

/// Map a frame-level error to the close the RFC asks for.
pub fn read_error(e: WebSocketError) -> SessionEnd {
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
