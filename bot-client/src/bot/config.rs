//! How one bot runs: its URL, play time, pace, churn and how much it decodes.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use crate::timeline::Timeline;

/// How one bot runs.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// Full `ws://…/ws?…` URL including this bot's join query.
    pub url: String,
    /// How long to play after joining.
    pub duration: Duration,
    /// Time between two ping messages. Default: 1 s.
    pub ping_interval: Duration,
    /// A gap this long without any message counts as an error. Default: 5 s.
    pub stall_timeout: Duration,
    /// Drops per second: the bot cuts its connection without a close and joins
    /// again with its token, as a player on a flaky network would. Default: 0.
    pub churn_per_s: f64,
    /// Tries after a refused reconnect (retryable closes only, with back-off) before
    /// the bot gives up for good; 0 gives up at the first refusal. Default: 5.
    pub reconnect_retries: u32,
    /// Answer the server's WebSocket pings. Default: true; false tests the heartbeat.
    pub answer_pings: bool,
    /// Where to record per-second figures for the report's charts. Default: none.
    pub timeline: Option<Arc<Timeline>>,
    /// Counts connected bots: one per open connection, so a churning bot that is away
    /// (retrying, say) does not count. Default: none.
    pub connected_gauge: Option<Arc<AtomicUsize>>,
    /// How much of each snapshot the bot decodes. Default: everything.
    pub decode: Decode,
    /// Send an input every this many snapshots, carrying the ones in between
    /// (`Input::earlier`, at most 4 in one). Default: 1, one input per snapshot.
    pub input_every: u32,
    /// Acknowledge snapshots so the server sends deltas. Default: true.
    pub deltas: bool,
}

/// Retries of a refused reconnect unless told otherwise: as many as the browser makes
/// (assets/net.js), and with the back-off about 8 to 11 s of trying, which spans the
/// server's default reconnect grace (10 s) that keeps a dropped bot's entity for it.
pub const DEFAULT_RECONNECT_RETRIES: u32 = 5;

/// How much of each snapshot a bot decodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decode {
    /// Every entity (deltas applied to rebuild the whole state); the bot aims at enemies.
    #[default]
    Full,
    /// Only tick and input ack; the bot wanders and fires blind. One machine drives many more bots.
    Headers,
}

impl Decode {
    pub fn name(self) -> &'static str {
        match self {
            Decode::Full => "full",
            Decode::Headers => "headers",
        }
    }
}

impl BotConfig {
    pub fn new(url: String, duration: Duration) -> BotConfig {
        BotConfig {
            url,
            duration,
            ping_interval: Duration::from_secs(1),
            stall_timeout: Duration::from_secs(5),
            churn_per_s: 0.0,
            reconnect_retries: DEFAULT_RECONNECT_RETRIES,
            answer_pings: true,
            timeline: None,
            connected_gauge: None,
            decode: Decode::Full,
            input_every: 1,
            deltas: true,
        }
    }
}
