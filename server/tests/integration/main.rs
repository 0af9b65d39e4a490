//! Real-socket tests: a server on 127.0.0.1:0, driven by the bots' client.
//! One binary, so helpers are compiled once and tests share a process.

mod accounts;
mod binary;
mod cluster;
mod gathered_backpressure;
mod gathered_order;
mod hardening;
mod hostile;
mod hostile_chat;
mod hostile_http;
mod house_bots;
mod house_bots_live;
mod http;
mod internal_url;
mod lobby;
mod metrics;
mod observability;
mod play;
mod process;
mod replays;
mod replays_cluster;
mod rules;
mod static_files;
mod tls;
mod util;
