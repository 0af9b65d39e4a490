//! Headless Arena bots: a verified WebSocket client, a bot that plays and
//! measures, and a load runner. The server's tests reuse [`ArenaClient`].

pub mod behavior;
pub mod bot;
pub mod client;
pub mod connect;
pub mod http;
pub mod idle;
pub mod load;
pub mod reconnections;
pub mod report;
pub mod report_churn;
pub mod report_html;
pub mod stats;
pub mod timeline;

pub use bot::{BotConfig, DEFAULT_RECONNECT_RETRIES, Decode, run_bot};
pub use client::{ArenaClient, Incoming, RecvError};
pub use connect::{ConnectError, connect, connect_with_headers};
pub use idle::{IdleReport, run_idle};
pub use load::{LoadConfig, LoadRun, Placement, Progress, run_load};
pub use report::Report;
pub use stats::{BotStats, Totals};
