//! Churn: a bot cuts its connection as a flaky network would and joins its room again
//! with its session token, retrying refusals with back-off as the browser does.

use std::time::Instant;

use rand::Rng;
use rand::rngs::StdRng;

use super::join::{join, rejoin_url};
use super::retry::{LossCause, after_refusal, jittered, nominal_delay};
use super::{BotConfig, Connection};
use crate::reconnections::Reconnections;

/// How often a bot drops, in the unit it decides in: once per received snapshot.
pub(super) struct Churn {
    per_snapshot: f64,
}

impl Churn {
    /// `per_s` drops a second at the announced snapshot rate.
    pub(super) fn new(per_s: f64, snapshot_rate_hz: u16) -> Churn {
        Churn { per_snapshot: per_s / f64::from(snapshot_rate_hz.max(1)) }
    }

    /// Whether to drop after this snapshot.
    pub(super) fn drops_now(&self, rng: &mut StdRng) -> bool {
        self.per_snapshot > 0.0 && rng.random_bool(self.per_snapshot.min(1.0))
    }
}

/// A churned bot that did not come back, why, and what to tell about it.
pub(super) struct Lost {
    pub(super) cause: LossCause,
    pub(super) error: String,
}

/// Drop `connection` without a close and join its room again, retrying a refusal
/// with a retryable close after a back-off, up to `config.reconnect_retries` times
/// and not past `deadline` (the end of play). A lost bot stops playing.
pub(super) async fn drop_and_rejoin(
    config: &BotConfig,
    connection: Connection,
    deadline: Instant,
    rng: &mut StdRng,
    tally: &mut Reconnections,
) -> Result<Connection, Lost> {
    let (room_id, net_id) = (connection.welcome.room_id.clone(), connection.welcome.net_id);
    drop(connection);
    let url = rejoin_url(&config.url, &room_id);
    tally.start();
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let refusal = match join(config, &url).await {
            Ok((client, welcome)) => {
                tally.grant(started.elapsed(), welcome.net_id == net_id, retries);
                return Ok(Connection::new(client, welcome, config, rng));
            }
            Err(refusal) => refusal,
        };
        tally.refuse(refusal.code, &refusal.reason);
        let wait = jittered(nominal_delay(retries + 1), rng.random());
        let left = deadline.saturating_duration_since(Instant::now());
        match after_refusal(refusal.code, retries, config.reconnect_retries, wait, left) {
            Ok(wait) => {
                tokio::time::sleep(wait).await;
                retries += 1;
            }
            Err(cause) => {
                tally.lose(cause, retries);
                let error = format!("reconnect: {refusal} ({}, {retries} retries)", cause.describe());
                return Err(Lost { cause, error });
            }
        }
    }
}

#[cfg(test)]
mod tests;
