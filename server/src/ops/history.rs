//! The last five minutes of the node, one sample a second (tick p50/p99, rooms,
//! players, bandwidth, closes), for the `/monitor` page.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::telemetry::telemetry;
use super::unix_ms_after;

/// Samples kept: five minutes at one a second.
const HISTORY: usize = 300;

/// One second of the node's life.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub t_ms: u64,
    pub tick_p50_ms: f64,
    pub tick_p99_ms: f64,
    pub rooms: usize,
    pub players: usize,
    pub bytes_out_per_s: u64,
    pub closes_per_s: u64,
}

/// The last minutes of samples.
#[derive(Debug, Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    pub fn snapshot(&self) -> Vec<Sample> {
        self.samples.lock().expect("history lock").iter().cloned().collect()
    }
}

/// Sample once a second until the task is dropped.
pub fn spawn_sampler(
    population: impl Fn() -> (usize, usize) + Send + 'static,
    history: Arc<History>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        let t = telemetry();
        let mut last_bytes = t.bytes_out();
        let mut last_closes = t.closes();
        loop {
            every.tick().await;
            let (tick_p50_ms, tick_p99_ms) = t.take_tick_quantiles();
            let (rooms, players) = population();
            let bytes = t.bytes_out();
            let closes = t.closes();
            let sample = Sample {
                t_ms: unix_ms_after(Duration::ZERO),
                tick_p50_ms,
                tick_p99_ms,
                rooms,
                players,
                bytes_out_per_s: bytes.saturating_sub(last_bytes),
                closes_per_s: closes.saturating_sub(last_closes),
            };
            (last_bytes, last_closes) = (bytes, closes);
            let mut samples = history.samples.lock().expect("history lock");
            if samples.len() == HISTORY {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
    })
}
