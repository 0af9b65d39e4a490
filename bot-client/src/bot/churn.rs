//! Churn: a bot cuts its connection as a flaky network would and joins its room again
//! with its session token.

use std::time::Instant;

use rand::Rng;
use rand::rngs::StdRng;

use super::join::{join, rejoin_url};
use super::{BotConfig, Connection};
use crate::stats::BotStats;

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

/// Drop `connection` without a close and join its room again. The error ends the bot.
pub(super) async fn drop_and_rejoin(
    config: &BotConfig,
    connection: Connection,
    rng: &mut StdRng,
    stats: &mut BotStats,
) -> Result<Connection, String> {
    let (room_id, net_id) = (connection.welcome.room_id.clone(), connection.welcome.net_id);
    drop(connection);
    let started = Instant::now();
    match join(config, &rejoin_url(&config.url, &room_id)).await {
        Ok((client, welcome)) => {
            stats.record_reconnect(started.elapsed(), welcome.net_id == net_id);
            Ok(Connection::new(client, welcome, rng))
        }
        Err(e) => {
            stats.reconnect_failures += 1;
            Err(format!("reconnect: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn churn_is_spread_over_the_snapshots_of_a_second() {
        let mut rng = StdRng::seed_from_u64(7);
        assert!(!(0..1000).any(|_| Churn::new(0.0, 30).drops_now(&mut rng)), "no churn, no drop");
        let drops = (0..30_000).filter(|_| Churn::new(1.0, 30).drops_now(&mut rng)).count();
        assert!((800..1200).contains(&drops), "about one drop per 30 snapshots: {drops}");
    }
}
