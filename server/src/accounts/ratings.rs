//! Places and skill ratings from a round's standings.
//!
//! A round is a free-for-all of up to 1,000 players, so the rating is Weng-Lin
//! (the Bayesian system OpenSkill implements; `skillratings::weng_lin`) with every
//! player a team of one, ranked by place:
//!
//! - **Place**: more kills is better; equal kills, fewer deaths is better; equal
//!   both, the same place (so two players can share first).
//! - **Win**: first place (alone or shared) with at least one kill. A round where
//!   nobody scored has no winner.
//! - **Score**: the kills (the shooter scores one per kill).
//! - **Rating**: each account keeps (μ, σ), starting at 25 and 25/3; the number shown
//!   and ranked is the conservative `μ − 3σ`, which starts at 0 and rises as the
//!   system grows sure of a good player. Guests have no rating of their own: they
//!   take part as opponents of the starting (μ, σ), and what the update would give
//!   them is thrown away. House bots are left out of the rating altogether (their
//!   lines stay in match history), so beating easy bots earns no rating.

use skillratings::MultiTeamOutcome;
use skillratings::weng_lin::{WengLinConfig, WengLinRating, weng_lin_multi_team};

/// A rating's starting point, as the crate defines it (μ 25, σ 25/3).
pub fn starting() -> WengLinRating {
    WengLinRating::new()
}

/// The number shown and ranked: `μ − 3σ`.
pub fn ordinal(r: &WengLinRating) -> f64 {
    r.rating - 3.0 * r.uncertainty
}

/// One line of a round's standings, as places need it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Result {
    pub kills: u32,
    pub deaths: u32,
}

/// Each line's place (1 is first), ties shared: a player's place is one more than
/// the number of players strictly better.
pub fn places(results: &[Result]) -> Vec<u32> {
    let better = |a: &Result, b: &Result| a.kills > b.kills || (a.kills == b.kills && a.deaths < b.deaths);
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| results[b].kills.cmp(&results[a].kills).then(results[a].deaths.cmp(&results[b].deaths)));
    let mut places = vec![0; results.len()];
    for (position, &i) in order.iter().enumerate() {
        places[i] = match position {
            0 => 1,
            _ => {
                let previous = order[position - 1];
                if better(&results[previous], &results[i]) { position as u32 + 1 } else { places[previous] }
            }
        };
    }
    places
}

/// Whether a line with this place and these kills won the round.
pub fn won(place: u32, kills: u32) -> bool {
    place == 1 && kills > 0
}

/// New ratings for every entrant (`None`: a guest or bot at the starting rating), in
/// the same order. One entrant alone is unchanged: there is nobody to compare with.
pub fn rate(entrants: &[(Option<WengLinRating>, u32)]) -> Vec<WengLinRating> {
    let current: Vec<[WengLinRating; 1]> = entrants.iter().map(|(r, _)| [r.unwrap_or_else(starting)]).collect();
    if entrants.len() < 2 {
        return current.into_iter().map(|[r]| r).collect();
    }
    let teams: Vec<(&[WengLinRating], MultiTeamOutcome)> = current
        .iter()
        .zip(entrants)
        .map(|(team, (_, place))| (&team[..], MultiTeamOutcome::new(*place as usize)))
        .collect();
    weng_lin_multi_team(&teams, &WengLinConfig::new()).into_iter().map(|team| team[0]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kills: u32, deaths: u32) -> Result {
        Result { kills, deaths }
    }

    #[test]
    fn places_rank_by_kills_then_deaths_and_share_ties() {
        let results = [line(3, 1), line(5, 0), line(3, 1), line(3, 0), line(0, 4)];
        assert_eq!(places(&results), vec![3, 1, 3, 2, 5]);
        assert_eq!(places(&[line(0, 0), line(0, 0)]), vec![1, 1]);
        assert!(places(&[]).is_empty());
    }

    #[test]
    fn a_win_is_first_place_with_a_kill() {
        assert!(won(1, 1));
        assert!(!won(1, 0), "a round nobody scored in has no winner");
        assert!(!won(2, 9));
    }

    #[test]
    fn the_winner_rises_the_last_falls_and_guests_count_as_opponents() {
        let new = rate(&[(None, 1), (Some(starting()), 2), (None, 3)]);
        assert!(ordinal(&new[0]) > ordinal(&starting()));
        assert!(new[1].uncertainty < starting().uncertainty, "every entrant's σ shrinks");
        assert!(ordinal(&new[2]) < ordinal(&new[0]));
        assert_eq!(rate(&[(None, 1)]), vec![starting()], "alone: nothing to learn");
        let tied = rate(&[(None, 1), (None, 1)]);
        assert!((tied[0].rating - tied[1].rating).abs() < 1e-9, "a shared place moves both alike");
    }

    #[test]
    fn a_thousand_player_round_rates_every_entrant() {
        let entrants: Vec<(Option<WengLinRating>, u32)> = (0..1000).map(|i| (None, i / 3 + 1)).collect();
        let new = rate(&entrants);
        assert_eq!(new.len(), 1000);
        assert!(new.iter().all(|r| r.rating.is_finite() && r.uncertainty.is_finite()));
        assert!(new[0].rating > new[999].rating);
    }
}
