//! The operator's view of this node, `GET /api/monitor`: the node, its rooms and
//! the last minutes of samples (the `/monitor` page draws it). Part of
//! operations; it reads the lobby's directory and the history sampler.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hyper::{Request, Response, StatusCode};

use crate::lobby::Directory;
use crate::ops::history::History;
use crate::web::{Body, bearer_matches, error, json};

/// What the monitor reads.
#[derive(Debug)]
pub struct Monitor {
    pub directory: Arc<Directory>,
    pub history: Arc<History>,
    pub started: Instant,
    pub local_addr: SocketAddr,
    /// False while draining.
    pub ready: Arc<AtomicBool>,
    /// The monitor needs it; without one the monitor is off.
    pub admin_token: Option<String>,
}

impl Monitor {
    /// `GET /api/monitor`: needs the admin token as a bearer token (never in the
    /// URL, which proxies log); off without `--admin-token`, since it lists private
    /// rooms, whose ids are their invitations.
    pub fn api<B>(&self, req: &Request<B>) -> Response<Body> {
        let Some(expected) = &self.admin_token else {
            return error(StatusCode::FORBIDDEN, "the monitor is off: start the server with an admin token");
        };
        if !bearer_matches(req, expected) {
            return error(StatusCode::UNAUTHORIZED, "the monitor needs the admin token (Authorization: Bearer …)");
        }
        let rooms: Vec<serde_json::Value> = self
            .directory
            .all()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "room": r.summary(),
                    "last_tick_ms": r.status.last_tick_us.load(Ordering::Relaxed) as f64 / 1000.0,
                    "late_ticks": r.status.late_ticks.load(Ordering::Relaxed),
                })
            })
            .collect();
        let (room_count, players) = self.directory.population();
        let body = serde_json::json!({
            "nodes": [{
                "id": "local",
                "addr": self.local_addr.to_string(),
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_s": self.started.elapsed().as_secs(),
                "ready": self.ready.load(Ordering::Relaxed),
                "rooms": room_count,
                "players": players,
            }],
            "rooms": rooms,
            "series": self.history.snapshot(),
        });
        json(StatusCode::OK, &body)
    }
}
