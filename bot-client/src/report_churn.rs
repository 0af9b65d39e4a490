//! The report's churn part: how reconnections went, for the JSON, the summary and the HTML.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::bot::retry::LossCause;
use crate::reconnections::{Reconnections, Refused};
use crate::report::LatencySummary;

/// Reconnections under `--churn`. Every attempt ends granted (on the first try or
/// after retries) or lost: `attempted = granted_first_try + granted_after_retry + failed`.
#[derive(Debug, Serialize)]
pub struct ChurnSummary {
    /// Reconnections granted, on the first try or after retries.
    pub reconnects: u64,
    /// Bots lost for good: their reconnection never succeeded, and they stopped there.
    /// Each is an error too, unless its play time ran out while it waited to retry.
    pub failed: u64,
    /// Share of granted reconnections that got their own entity (score, health) back, in percent.
    pub same_entity_pct: f64,
    /// From the drop to the welcome, back-off included.
    pub reconnect_ms: LatencySummary,
    /// Drops after which a bot set out to come back.
    pub attempted: u64,
    pub granted_first_try: u64,
    pub granted_after_retry: u64,
    /// Tries after the first, over all reconnections.
    pub retries: u64,
    /// The most retries one reconnection was allowed (`--reconnect-retries`).
    pub max_retries: u32,
    /// Refused tries, over all codes.
    pub refused: u64,
    /// Refused tries by close code (1006: the connection failed without a close), with an example reason.
    pub refused_by_code: BTreeMap<u16, Refused>,
    /// Bots lost for good (`failed`) by why they stopped trying.
    pub lost_by_cause: BTreeMap<LossCause, u64>,
}

impl ChurnSummary {
    /// None when no bot churned.
    pub(crate) fn of(r: &Reconnections, max_retries: u32) -> Option<ChurnSummary> {
        (r.attempted > 0).then(|| ChurnSummary {
            reconnects: r.granted(),
            failed: r.lost_total(),
            same_entity_pct: 100.0 * r.reclaimed as f64 / r.granted().max(1) as f64,
            reconnect_ms: LatencySummary::of(&r.time),
            attempted: r.attempted,
            granted_first_try: r.granted_first_try,
            granted_after_retry: r.granted_after_retry,
            retries: r.retries,
            max_retries,
            refused: r.refused_total(),
            refused_by_code: r.refused.clone(),
            lost_by_cause: r.lost.clone(),
        })
    }

    /// Lines for the terminal summary.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "churn: {} reconnects ({} failed), {:.1}% got their entity back, reconnect ms p50 {:.1} p99 {:.1}\n",
            self.reconnects, self.failed, self.same_entity_pct, self.reconnect_ms.p50, self.reconnect_ms.p99
        );
        let _ = writeln!(
            out,
            "  attempted {}: granted {} on the first try, {} after retries ({} retries, at most {} each), lost for good {}{}",
            self.attempted,
            self.granted_first_try,
            self.granted_after_retry,
            self.retries,
            self.max_retries,
            self.failed,
            self.losses().map(|l| format!(" ({l})")).unwrap_or_default(),
        );
        if let Some(refusals) = self.refusals() {
            let _ = writeln!(out, "  refused tries {}: {refusals}", self.refused);
        }
        out
    }

    /// `2 × 4001 (e.g. room a is full), 1 × 1006 (e.g. …)`, or None without refusals.
    pub fn refusals(&self) -> Option<String> {
        let each = self.refused_by_code.iter().map(|(code, r)| format!("{} × {code} (e.g. {})", r.count, r.example));
        (!self.refused_by_code.is_empty()).then(|| each.collect::<Vec<_>>().join(", "))
    }

    /// `retries exhausted 1, play time ended 2`, or None without losses.
    pub fn losses(&self) -> Option<String> {
        let each = self.lost_by_cause.iter().map(|(cause, count)| format!("{} {count}", cause.describe()));
        (!self.lost_by_cause.is_empty()).then(|| each.collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::bot::retry::LossCause;
    use crate::report::Report;
    use crate::stats::{BotStats, Totals};

    /// Four churning bots: back at once, back after two room-full refusals, lost after
    /// exhausting one retry, and lost to a refusal that is not retried.
    fn report() -> Report {
        let mut bots: Vec<BotStats> = (0..4).map(|_| BotStats { connected: true, ..BotStats::default() }).collect();
        let ms = Duration::from_millis;
        bots.iter_mut().for_each(|bot| bot.reconnections.start());
        bots[0].reconnections.grant(ms(4), true, 0);
        bots[1].reconnections.refuse(4001, "room a is full");
        bots[1].reconnections.refuse(4001, "room a is full");
        bots[1].reconnections.grant(ms(900), true, 2);
        bots[2].reconnections.refuse(1006, "connect: TCP connect failed");
        bots[2].reconnections.refuse(1006, "connect: TCP connect failed");
        bots[2].reconnections.lose(LossCause::RetriesExhausted, 1);
        bots[3].reconnections.refuse(1008, "invalid token");
        bots[3].reconnections.lose(LossCause::NotRetryable, 0);
        let mut totals = Totals::new();
        bots.iter().for_each(|bot| totals.add(bot));
        Report::new(&totals, Duration::from_secs(10), Duration::from_secs(11)).with_reconnect_retries(1)
    }

    #[test]
    fn the_churn_summary_tells_first_tries_retries_refusals_and_losses_apart() {
        let report = report();
        let churn = report.churn.as_ref().expect("bots churned");
        assert_eq!((churn.attempted, churn.granted_first_try, churn.granted_after_retry), (4, 1, 1));
        assert_eq!((churn.reconnects, churn.failed, churn.retries, churn.max_retries), (2, 2, 3, 1));
        assert_eq!(churn.attempted, churn.reconnects + churn.failed);
        assert_eq!(churn.refused, 5);
        assert_eq!(
            churn.refused_by_code.iter().map(|(code, r)| (*code, r.count)).collect::<Vec<_>>(),
            [(1006, 2), (1008, 1), (4001, 2)]
        );
        assert_eq!(churn.refused_by_code[&4001].example, "room a is full");
        assert_eq!(churn.same_entity_pct, 100.0);
    }

    #[test]
    fn the_summary_and_the_json_say_the_same() {
        let report = report();
        let text = report.summary();
        assert!(text.contains("churn: 2 reconnects (2 failed)"), "{text}");
        assert!(
            text.contains(
                "attempted 4: granted 1 on the first try, 1 after retries (3 retries, at most 1 each), lost for good 2 \
                 (not retryable 1, retries exhausted 1)"
            ),
            "{text}"
        );
        assert!(text.contains("refused tries 5: 2 × 1006 (e.g. connect: TCP connect failed), 1 × 1008"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        let churn = &json["churn"];
        assert_eq!(churn["refused_by_code"]["4001"], serde_json::json!({"count": 2, "example": "room a is full"}));
        assert_eq!(churn["lost_by_cause"], serde_json::json!({"not_retryable": 1, "retries_exhausted": 1}));
        assert_eq!((churn["reconnects"].as_u64(), churn["failed"].as_u64()), (Some(2), Some(2)));
    }

    #[test]
    fn the_html_report_lists_reconnections() {
        let html = crate::report_html::render(&report(), &Totals::new(), &[]);
        assert!(html.contains("<td>4 / 1 / 1 / 2</td>"), "attempted / first try / after retries / lost");
        assert!(html.contains("2 × 4001 (e.g. room a is full)"));
    }

    #[test]
    fn without_churn_there_is_no_churn_summary() {
        let mut totals = Totals::new();
        totals.add(&BotStats { connected: true, ..BotStats::default() });
        assert!(Report::new(&totals, Duration::from_secs(1), Duration::from_secs(1)).churn.is_none());
    }
}
