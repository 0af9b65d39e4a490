//! The join request in the upgrade's query string (`/ws?v=2&room=…&name=…`), its
//! checks, and admission: who the client is and which seat it takes.

use std::sync::Arc;

use arena_protocol::client_msg::hidden_char;
use arena_protocol::{PROTOCOL_VERSION, close_code};

use super::directory::{Directory, JoinError};
use super::seats::{Seat, SeatKind};
use crate::accounts::token_versions::TokenVersions;
use crate::identity::{Identity, Tokens, is_account_id, new_guest_id};
use crate::ops::metrics;

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 24;
/// The name of a player who gave none (the lobby page sends it too); no account may have it.
pub const DEFAULT_NAME: &str = "guest";
/// Longest room id, in bytes.
pub const MAX_ROOM_ID_LEN: usize = 32;

/// The raw query, as the client sent it.
#[derive(Clone, Debug, Default)]
pub struct JoinQuery {
    pub version: Option<String>,
    pub room: Option<String>,
    pub name: Option<String>,
    pub token: Option<String>,
    pub reservation: Option<String>,
    pub spectate: Option<String>,
}

/// A checked join.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Join {
    pub room: Option<String>,
    pub name: String,
    /// A session token from `POST /api/session`.
    pub token: Option<String>,
    /// A seat held by `POST /api/matchmake`.
    pub reservation: Option<String>,
    /// Watch without a body (needs a room).
    pub spectate: bool,
}

/// A display name, trimmed: at most [`MAX_NAME_CHARS`] characters, no control
/// characters, nothing invisible or direction-changing (bidi controls, zero-width
/// characters: see [`hidden_char`]), so a name cannot pose as another or flip the
/// text around it; empty becomes `guest`. The one check for every way a name arrives.
pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(format!("name must be at most {MAX_NAME_CHARS} characters without control characters"));
    }
    if let Some(c) = hidden_char(name) {
        return Err(format!(
            "name must not contain invisible or direction-changing characters (found U+{:04X})",
            u32::from(c)
        ));
    }
    Ok(if name.is_empty() { DEFAULT_NAME.to_string() } else { name.to_string() })
}

impl JoinQuery {
    /// Parse `v`, `room` and `name` from a query string; other keys are ignored.
    pub fn parse(query: Option<&str>) -> JoinQuery {
        let mut out = JoinQuery::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let value = value.into_owned();
            match &*key {
                "v" => out.version = Some(value),
                "room" => out.room = Some(value),
                "name" => out.name = Some(value),
                "token" => out.token = Some(value),
                "reservation" => out.reservation = Some(value),
                "spectate" => out.spectate = Some(value),
                _ => {}
            }
        }
        out
    }

    /// Check the query; a refusal carries the close code and reason to send.
    pub fn validate(&self) -> Result<Join, (u16, String)> {
        if let Some(v) = &self.version
            && v.trim() != PROTOCOL_VERSION.to_string()
        {
            return Err((
                close_code::VERSION_MISMATCH,
                format!("protocol version {v:.10} is not supported; this server speaks {PROTOCOL_VERSION}"),
            ));
        }
        let room = match self.room.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id)
                if id.len() <= MAX_ROOM_ID_LEN
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(id.to_string())
            }
            Some(_) => {
                return Err((
                    close_code::BAD_JOIN,
                    format!("room id must be 1-{MAX_ROOM_ID_LEN} letters, digits, '-' or '_'"),
                ));
            }
        };
        let name = validate_name(self.name.as_deref().unwrap_or("")).map_err(|why| (close_code::BAD_JOIN, why))?;
        let spectate = matches!(self.spectate.as_deref(), Some("1" | "true" | ""));
        if spectate && room.is_none() {
            return Err((close_code::BAD_JOIN, "spectating needs a room= to watch".into()));
        }
        let token = self.token.clone().filter(|t| !t.is_empty());
        let reservation = self.reservation.clone().filter(|r| !r.is_empty());
        Ok(Join { room, name, token, reservation, spectate })
    }
}

/// What admitting a client needs: token checks, the auth rule and the seats.
#[derive(Debug)]
pub struct JoinChecks {
    pub tokens: Arc<Tokens>,
    /// Account tokens' current versions: a revoked token is refused.
    pub token_versions: Arc<TokenVersions>,
    /// `--require-auth`: accounts only (an account's session token).
    pub require_auth: bool,
    pub directory: Arc<Directory>,
}

impl JoinChecks {
    /// Who the client is and where it sits, or the close code and reason that refuse it.
    pub async fn admit(&self, join: &Join) -> Result<(Identity, Seat), (u16, String)> {
        let identity = self.identify(join).await?;
        let player = identity.player_id;
        // A verified player who still holds a seat here (connected elsewhere, or held
        // through the reconnection grace) is coming back: counted apart in the metrics.
        let reconnecting = identity.verified && self.directory.holds_seat(player);
        let kind = if join.spectate { SeatKind::Spectator } else { SeatKind::Player };
        let seat = match (&join.reservation, &join.room) {
            (Some(reservation), room) => self.directory.claim(reservation, room.as_deref(), player),
            (None, Some(room)) => self.directory.seat_in(room, player, kind),
            (None, None) => self.directory.seat_anywhere(player),
        };
        match seat {
            Ok(seat) => {
                if reconnecting {
                    metrics::reconnect("granted", "seat_held");
                }
                Ok((identity, seat))
            }
            Err(e) => {
                let (code, label) = refusal_of(&e);
                if reconnecting {
                    metrics::reconnect("refused", label);
                    return Err((code, format!("reconnection refused: {e}")));
                }
                Err((code, e.to_string()))
            }
        }
    }
}

impl JoinChecks {
    /// Who the client is: a token's holder (an account's token only if not revoked), or a new guest.
    async fn identify(&self, join: &Join) -> Result<Identity, (u16, String)> {
        let refuse = |why: String| (close_code::POLICY_VIOLATION, why);
        let Some(token) = &join.token else {
            if self.require_auth {
                return Err(refuse("an account's session token is required: sign in (POST /api/login)".into()));
            }
            return Ok(Identity { player_id: new_guest_id(), name: join.name.clone(), verified: false });
        };
        let (identity, version) = self.tokens.verify_versioned(token).map_err(|e| refuse(e.to_string()))?;
        match version {
            Some(version) if is_account_id(identity.player_id) => self
                .token_versions
                .check(i64::from(identity.player_id.0), version)
                .await
                .map_err(|e| refuse(e.to_string()))?,
            _ if self.require_auth => {
                return Err(refuse("an account's session token is required: sign in (POST /api/login)".into()));
            }
            _ => {}
        }
        Ok(identity)
    }
}

/// The close code of a refused join, and a bounded label for the metrics.
fn refusal_of(e: &JoinError) -> (u16, &'static str) {
    match e {
        JoinError::NotFound(_) => (close_code::ROOM_NOT_FOUND, "room_not_found"),
        JoinError::RoomFull(_) => (close_code::ROOM_FULL, "room_full"),
        JoinError::SpectatorsFull(_) => (close_code::SPECTATORS_FULL, "spectators_full"),
        JoinError::BadReservation => (close_code::BAD_JOIN, "bad_reservation"),
        JoinError::ShuttingDown => (close_code::GOING_AWAY, "shutting_down"),
        JoinError::Create(_) | JoinError::OverBudget(_) => (close_code::TRY_AGAIN_LATER, "try_again_later"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_a_join() {
        let q = JoinQuery::parse(Some("v=2&room=lobby-2&name=Ann%20B"));
        assert_eq!(
            q.validate().unwrap(),
            Join { room: Some("lobby-2".into()), name: "Ann B".into(), ..Join::default() }
        );
        assert_eq!(JoinQuery::parse(None).validate().unwrap(), Join { name: "guest".into(), ..Join::default() });
        let watch = JoinQuery::parse(Some("room=r1&spectate=1&token=abc")).validate().unwrap();
        assert!(watch.spectate);
        assert_eq!(watch.token.as_deref(), Some("abc"));
        assert_eq!(JoinQuery::parse(Some("spectate=1")).validate().unwrap_err().0, close_code::BAD_JOIN);
    }

    #[test]
    fn refuses_other_versions_bad_rooms_and_names() {
        assert_eq!(JoinQuery::parse(Some("v=1")).validate().unwrap_err().0, close_code::VERSION_MISMATCH);
        assert_eq!(JoinQuery::parse(Some("room=../etc")).validate().unwrap_err().0, close_code::BAD_JOIN);
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(JoinQuery::parse(Some(&format!("name={long}"))).validate().unwrap_err().0, close_code::BAD_JOIN);
        assert_eq!(JoinQuery::parse(Some("name=a%07b")).validate().unwrap_err().0, close_code::BAD_JOIN);
    }

    #[test]
    fn names_with_bidi_controls_or_zero_width_characters_are_refused() {
        // "ann" followed by a right-to-left override, as a query and as a plain name.
        let (code, why) = JoinQuery::parse(Some("name=ann%E2%80%AEgnp.exe")).validate().unwrap_err();
        assert_eq!(code, close_code::BAD_JOIN);
        assert!(why.contains("U+202E"), "{why}");
        for hidden in ['\u{202A}', '\u{2067}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}', '\u{2060}', '\u{FEFF}'] {
            let why = validate_name(&format!("an{hidden}n")).unwrap_err();
            assert!(why.contains(&format!("U+{:04X}", u32::from(hidden))), "{why}");
        }
        // Zero-width characters at the edges are not trimmed away into a valid name.
        assert!(validate_name("\u{FEFF}ann").is_err());
        assert_eq!(validate_name(" Zoë 🏳️‍🌈 ").unwrap(), "Zoë 🏳️‍🌈");
        assert_eq!(validate_name("مريم").unwrap(), "مريم");
    }
}
