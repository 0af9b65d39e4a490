//! When a churned bot tries again after its reconnect was refused, and how long it waits first.

use std::time::Duration;

use arena_protocol::close_code;
use serde::Serialize;

/// RFC 6455's code for a connection that ended without a close frame. The server never
/// sends it; a bot reports it for a failed connect, handshake or welcome, as a browser does.
pub const CONNECTION_LOST: u16 = 1006;

/// The browser reconnects by itself after these (assets/protocol.js `RETRYABLE_CLOSES`;
/// keep the two lists alike). A heartbeat timeout cannot refuse a join, but a bot that
/// mirrors the browser's list does not have to know that.
const BROWSER_RETRYABLE: [u16; 6] = [
    close_code::GOING_AWAY,
    CONNECTION_LOST,
    close_code::INTERNAL_ERROR,
    close_code::TRY_AGAIN_LATER,
    close_code::TOO_SLOW,
    close_code::HEARTBEAT_TIMEOUT,
];

/// Wait before the first retry.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The doubling stops here, so a long refusal costs a few seconds a try, not minutes.
const MAX_DELAY: Duration = Duration::from_secs(4);

/// Whether a bot tries again after a refusal with this close code. Beyond the browser's
/// list, a full room is retried: a churning bot's place is held for it but may be taken
/// meanwhile, and seats free up as other players leave, which is what the soak test probes.
pub fn is_retryable(code: u16) -> bool {
    BROWSER_RETRYABLE.contains(&code) || code == close_code::ROOM_FULL
}

/// The wait before retry number `retry` (1 for the first), without jitter:
/// 250 ms doubling each time up to 4 s.
pub fn nominal_delay(retry: u32) -> Duration {
    let doublings = retry.saturating_sub(1).min(16);
    (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

/// `nominal` plus up to half of it, `unit` in [0, 1) choosing how much: bots refused
/// together (a room filling up) then spread their retries instead of arriving as one burst.
pub fn jittered(nominal: Duration, unit: f64) -> Duration {
    nominal + nominal.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
}

/// Why a churned bot never came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossCause {
    /// The server's refusal is not one to try again after (a bad token, a room gone).
    NotRetryable,
    /// Every allowed retry was refused too.
    RetriesExhausted,
    /// The bot's play time ended before its next retry was due.
    PlayTimeEnded,
}

impl LossCause {
    pub fn describe(self) -> &'static str {
        match self {
            LossCause::NotRetryable => "not retryable",
            LossCause::RetriesExhausted => "retries exhausted",
            LossCause::PlayTimeEnded => "play time ended",
        }
    }
}

/// After a refusal with `code`, having retried `retries_done` times of `max_retries`:
/// wait `wait` and try again, or give up, and why. `time_left` is the bot's play time left.
pub fn after_refusal(
    code: u16,
    retries_done: u32,
    max_retries: u32,
    wait: Duration,
    time_left: Duration,
) -> Result<Duration, LossCause> {
    if !is_retryable(code) {
        Err(LossCause::NotRetryable)
    } else if retries_done >= max_retries {
        Err(LossCause::RetriesExhausted)
    } else if wait >= time_left {
        Err(LossCause::PlayTimeEnded)
    } else {
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn the_wait_doubles_from_250_ms_and_stops_at_4_s() {
        let waits: Vec<Duration> = (1..=8).map(nominal_delay).collect();
        assert_eq!(waits, [ms(250), ms(500), ms(1000), ms(2000), ms(4000), ms(4000), ms(4000), ms(4000)]);
        assert_eq!(nominal_delay(u32::MAX), ms(4000), "no overflow on absurd retry counts");
    }

    #[test]
    fn jitter_adds_up_to_half_the_wait() {
        assert_eq!(jittered(ms(1000), 0.0), ms(1000));
        assert_eq!(jittered(ms(1000), 0.5), ms(1250));
        assert!(jittered(ms(1000), 0.999_999) < ms(1500));
        assert_eq!(jittered(ms(1000), 7.0), ms(1500), "an out-of-range unit is clamped");
    }

    #[test]
    fn the_browsers_retryable_closes_and_room_full_are_retried() {
        for code in [1001, 1006, 1011, 1013, 4003, 4009, 4001] {
            assert!(is_retryable(code), "{code}");
        }
        for code in [1000, 1008, 4000, 4002, 4004, 4005, 4006, 4007, 4010] {
            assert!(!is_retryable(code), "{code}");
        }
    }

    #[test]
    fn a_refusal_is_retried_until_the_limit_or_the_end_of_play() {
        let long = Duration::from_secs(60);
        assert_eq!(after_refusal(4001, 0, 5, ms(250), long), Ok(ms(250)));
        assert_eq!(after_refusal(4001, 4, 5, ms(4000), long), Ok(ms(4000)));
        assert_eq!(after_refusal(4001, 5, 5, ms(4000), long), Err(LossCause::RetriesExhausted));
        assert_eq!(after_refusal(1006, 0, 0, ms(250), long), Err(LossCause::RetriesExhausted), "0: no retry");
        assert_eq!(after_refusal(1008, 0, 5, ms(250), long), Err(LossCause::NotRetryable));
        assert_eq!(after_refusal(1013, 1, 5, ms(500), ms(400)), Err(LossCause::PlayTimeEnded));
    }

    /// The browser's list lives in JavaScript; this reads it so the two cannot drift apart.
    #[test]
    fn the_browsers_list_is_the_one_in_assets_protocol_js() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/protocol.js");
        let js = std::fs::read_to_string(path).expect("assets/protocol.js");
        let list = js.split("RETRYABLE_CLOSES = new Set([").nth(1).and_then(|rest| rest.split("])").next());
        let mut codes: Vec<u16> = list
            .expect("RETRYABLE_CLOSES in protocol.js")
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| match item.strip_prefix("CLOSE_CODES.") {
                Some(name) => close_code::ALL.iter().find(|c| c.name == name).expect("a known close code").code,
                None => item.parse().expect("a close code number"),
            })
            .collect();
        codes.sort();
        let mut ours = BROWSER_RETRYABLE.to_vec();
        ours.sort();
        assert_eq!(codes, ours);
    }
}
