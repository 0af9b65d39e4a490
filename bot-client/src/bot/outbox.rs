//! What a bot sends: its inputs, bundled when it sends less often than it decides, and pings.

use std::time::{Duration, Instant};

use arena_protocol::client_msg::MAX_EARLIER_INPUTS;
use arena_protocol::{ClientMsg, Input, Ping};
use fastwebsockets::WebSocketError;

use crate::client::ArenaClient;

/// The inputs a bot decided but has not sent yet (`input_every` > 1), newest last.
#[derive(Default)]
pub(super) struct Unsent(pub(super) Vec<Input>);

impl Unsent {
    /// The input to send: the newest, carrying the earlier ones newest first.
    pub(super) fn bundle(&mut self) -> Option<Input> {
        let mut newest = self.0.pop()?;
        newest.earlier = self.0.drain(..).rev().map(|i| i.controls()).take(MAX_EARLIER_INPUTS).collect();
        Some(newest)
    }
}

/// When the next ping is due, and how pings are timed.
pub(super) struct Pings {
    pub(super) next: Instant,
    pub(super) interval: Duration,
    /// Origin of ping timestamps, shared by all bots.
    pub(super) clock: Instant,
}

/// Send the unsent inputs as one message, and a ping if one is due at `now`;
/// returns the bytes sent.
pub(super) async fn send_due(
    client: &mut ArenaClient,
    unsent: &mut Unsent,
    pings: &mut Pings,
    now: Instant,
) -> Result<usize, WebSocketError> {
    let mut bytes = match unsent.bundle() {
        Some(input) => client.send(&ClientMsg::Input(input)).await?,
        None => 0,
    };
    if now >= pings.next {
        pings.next = now + pings.interval;
        let client_time_ms = pings.clock.elapsed().as_secs_f64() * 1000.0;
        bytes += client.send(&ClientMsg::Ping(Ping { client_time_ms })).await?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsent_inputs_go_out_as_one_carrying_the_earlier_ones_newest_first() {
        let mut unsent = Unsent::default();
        assert!(unsent.bundle().is_none());
        for seq in 1..=3 {
            unsent.0.push(Input::new(seq, glam::Vec2::ZERO, seq as f32 / 10.0, false));
        }
        let bundle = unsent.bundle().unwrap();
        assert_eq!(bundle.seq, 3);
        assert_eq!(bundle.earlier.iter().map(|c| c.aim).collect::<Vec<_>>(), vec![0.2, 0.1]);
        assert!(unsent.0.is_empty());
    }
}
