//! Arena server library: everything but argument parsing lives here, so tests,
//! benches and bots can start a real server on `127.0.0.1:0`.

pub mod admin;
pub mod api;
pub mod assets;
pub mod cluster;
pub mod config;
pub mod http;
pub mod identity;
pub mod join;
pub mod lobby_feed;
pub mod metrics;
pub mod monitor;
pub mod origins;
pub mod results;
pub mod room;
pub mod rooms;
pub mod server;
pub mod session;
pub mod settings;
pub mod shutdown;

pub use config::Config;
pub use server::run;
