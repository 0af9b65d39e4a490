//! WebSocket echo for the Autobahn conformance cases (testing only, off by default:
//! `--autobahn-echo`). It shares the game endpoint's frame handling — the same
//! assembler, error mapping and lingering close — so the cases test what players get.

use fastwebsockets::{Frame, OpCode, Payload, Role};
use tokio::sync::mpsc;

use super::assembler::{Assembler, Control, Message, Step, screen};
use super::reader::{configure, nothing_obliged, read_error};
use super::{CLOSE_GRACE, Direct, LINGER_MAX_BYTES, SessionEnd, shared_io, truncate_reason};

/// Autobahn's largest cases send 16 MiB messages.
pub const ECHO_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024 + 1024;

pub async fn serve(upgrade: fastwebsockets::upgrade::UpgradeFut) {
    let Ok(ws) = upgrade.await else { return };
    let (read_side, write_side, raw) = shared_io::split(ws.into_inner());
    let (mut read, mut write) = fastwebsockets::after_handshake_split(read_side, write_side, Role::Server);
    configure(&mut read, ECHO_MAX_MESSAGE_BYTES);
    let (tx, mut rx) = mpsc::channel::<Direct>(16);
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let (frame, last) = match out {
                Direct::Frame(opcode, payload) => {
                    (Frame::new(true, opcode, None, Payload::Owned(payload.into_vec())), opcode == OpCode::Close)
                }
                Direct::Message(bytes) => (Frame::binary(Payload::Owned(bytes.into_vec())), false),
                Direct::Close { code, reason } => (Frame::close(code, truncate_reason(&reason).as_bytes()), true),
            };
            if write.write_frame(frame).await.is_err() || write.flush().await.is_err() || last {
                break;
            }
        }
    });
    let mut assembler = Assembler::new(ECHO_MAX_MESSAGE_BYTES);
    loop {
        let mut frame = match read.read_frame(&mut nothing_obliged).await {
            Ok(frame) => frame,
            Err(e) => {
                if let SessionEnd::Closed { code, reason } = read_error(e) {
                    let _ = tx.send(Direct::Close { code, reason: reason.into() }).await;
                }
                break;
            }
        };
        match screen(&mut frame) {
            Control::Assemble => {}
            Control::Pong(payload) => {
                if tx.send(Direct::Frame(OpCode::Pong, payload.into())).await.is_err() {
                    break;
                }
                continue;
            }
            Control::Close(payload) => {
                let _ = tx.send(Direct::Frame(OpCode::Close, payload.into())).await;
                break;
            }
            Control::Fail(code, reason) => {
                let _ = tx.send(Direct::Close { code, reason: reason.into() }).await;
                break;
            }
        }
        let echo = match assembler.push(frame) {
            Step::Pending => continue,
            Step::Close => break,
            Step::Fail(code, reason) => {
                let _ = tx.send(Direct::Close { code, reason: reason.into() }).await;
                break;
            }
            Step::Message(Message::Text(text)) => Direct::Frame(OpCode::Text, text.into_bytes().into()),
            Step::Message(Message::Binary(bytes)) => Direct::Frame(OpCode::Binary, bytes.into()),
        };
        if tx.send(echo).await.is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
    raw.drain(CLOSE_GRACE, LINGER_MAX_BYTES).await;
}
