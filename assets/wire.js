// Wire constants for the browser client: GENERATED from the Rust definitions in protocol/src/
// by protocol/src/wire_js.rs; do not edit. After changing them, regenerate with
//   ARENA_WRITE_WIRE_JS=1 cargo test -p arena-protocol wire_js
// (until then that crate's tests fail).

/** From PROTOCOL_VERSION. */
export const PROTOCOL_VERSION = 2;

/** From codec::MAX_CLIENT_MESSAGE_BYTES. */
export const MAX_CLIENT_MESSAGE_BYTES = 16384;

/** From client_msg::MAX_CHAT_CHARS. */
export const MAX_CHAT_CHARS = 200;

/** From client_msg::MAX_EARLIER_INPUTS. */
export const MAX_EARLIER_INPUTS = 3;

/** From server_msg::SCOREBOARD_SIZE. */
export const SCOREBOARD_SIZE = 10;

/** From snapshot::POSITION_SCALE. */
export const POSITION_SCALE = 8;

/** From snapshot::AIM_STEPS. */
export const AIM_STEPS = 256;

/** From snapshot::ENTITY_FIELDS. */
export const ENTITY_FIELDS = 9;

/** From delta::BASELINE_WINDOW. */
export const BASELINE_WINDOW = 32;

/** From delta::field::RELATIVE. */
export const RELATIVE_FIELDS = 12;

/** From replay::MAGIC. */
export const REPLAY_MAGIC = "arena-replay";

/** From replay::FORMAT_VERSION. */
export const REPLAY_FORMAT_VERSION = 1;

/** From close_code::ALL: each close code by name. */
export const CLOSE_CODES = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  VERSION_MISMATCH: 4000,
  ROOM_FULL: 4001,
  BAD_JOIN: 4002,
  TOO_SLOW: 4003,
  ROOM_CLOSED: 4004,
  ROOM_NOT_FOUND: 4005,
  KICKED: 4006,
  REPLACED: 4007,
  SPECTATORS_FULL: 4008,
  HEARTBEAT_TIMEOUT: 4009,
  IDLE: 4010,
});

/** From close_code::ALL: what each close means (the first paragraph of its doc). */
export const CLOSE_MEANINGS = Object.freeze({
  1000: "A normal close: the connection ended as either side asked.",
  1001: "The server is shutting down or draining.",
  1002: "A malformed WebSocket frame (reserved bits, bad continuation, bad close frame).",
  1003: "A text frame: Arena speaks binary MessagePack only.",
  1007: "A binary message that is not a valid client message.",
  1008: "A well-formed message with values out of range (NaN, infinite, too long), an invalid or expired session token, or a missing one where tokens are required.",
  1009: "A message larger than the 16 KiB limit.",
  1011: "The room failed; the client may join another.",
  1013: "The server cannot take the join now (its room limit is reached); try again later.",
  4000: "The upgrade asked for a protocol version (v=) this server does not speak.",
  4001: "The room asked for is full.",
  4002: "The join query was invalid (bad name or room id).",
  4003: "The client did not read its messages fast enough and fell too far behind.",
  4004: "The room closed (emptied, closed by an operator, or failed to start).",
  4005: "The room named in the join does not exist (rooms come from the lobby API or matchmaking).",
  4006: "An operator removed this player; the reason says why.",
  4007: "The same player connected again elsewhere; this older connection yields.",
  4008: "The room's spectator places are all taken.",
  4009: "The client did not answer the server's WebSocket pings in time.",
  4010: "The client sent no application message (input, chat, ping) for the idle timeout.",
});

/** From the serde tags of ServerMsg: the key of each kind's one-entry map. */
export const ServerMsg = Object.freeze({
  Welcome: "welcome",
  Snapshot: "snapshot",
  Pong: "pong",
  Roster: "roster",
  RosterChange: "roster_change",
  Kill: "kill",
  Error: "error",
  Chat: "chat",
  Event: "event",
  Scores: "scores",
  Delta: "delta",
  Lobby: "lobby",
});

/** From the serde tags of ClientMsg: the key of each kind's one-entry map. */
export const ClientMsg = Object.freeze({ Input: "input", Ping: "ping", Chat: "chat" });

/** From the serde tags of RoomEvent: the key of each kind's one-entry map. */
export const RoomEvent = Object.freeze({
  Joined: "joined",
  Left: "left",
  RoundStarted: "round_started",
  RoundOver: "round_over",
  Closing: "closing",
  Announcement: "announcement",
});

/** From the serde tags of Record: the key of each kind's one-entry map. */
export const Record = Object.freeze({ Keyframe: "keyframe", Delta: "delta", Event: "event", End: "end" });

/** From snapshot::EntityKind: the kind field of an entity. */
export const EntityKind = Object.freeze({ Player: 0, Projectile: 1, Bot: 2 });

/** From net_id, then delta::field::ALL (snapshot::WireEntity's order): each field's index in its array. */
export const WireEntity = Object.freeze({
  net_id: 0,
  kind: 1,
  owner: 2,
  x: 3,
  y: 4,
  vx: 5,
  vy: 6,
  aim: 7,
  health: 8,
  score: 9,
});

/** From delta::field::ALL: each field's bit in a change's mask. */
export const EntityField = Object.freeze({
  kind: 1,
  owner: 2,
  x: 4,
  y: 8,
  vx: 16,
  vy: 32,
  aim: 64,
  health: 128,
  score: 256,
});

/** From the serde fields of Input: each field's index in its array. */
export const Input = Object.freeze({ seq: 0, move_dir: 1, aim: 2, fire: 3, ack_tick: 4, view_tick: 5, earlier: 6 });

/** From the serde fields of Ping: each field's index in its array. */
export const Ping = Object.freeze({ client_time_ms: 0 });

/** From the serde fields of ChatText: each field's index in its array. */
export const ChatText = Object.freeze({ text: 0 });

/** From the serde fields of Welcome: each field's index in its array. */
export const Welcome = Object.freeze({
  protocol_version: 0,
  player_id: 1,
  net_id: 2,
  room_id: 3,
  room_name: 4,
  tick_rate_hz: 5,
  snapshot_rate_hz: 6,
  arena_size: 7,
  player_radius: 8,
  projectile_radius: 9,
  player_speed: 10,
  max_health: 11,
  spectator: 12,
  round: 13,
});

/** From the serde fields of RoundStart: each field's index in its array. */
export const RoundStart = Object.freeze({ round: 0, score_limit: 1, time_limit_s: 2 });

/** From the serde fields of Snapshot: each field's index in its array. */
export const Snapshot = Object.freeze({ tick: 0, last_input_seq: 1, entities: 2 });

/** From the serde fields of DeltaSnapshot: each field's index in its array. */
export const DeltaSnapshot = Object.freeze({
  tick: 0,
  last_input_seq: 1,
  baseline: 2,
  added: 3,
  changed: 4,
  removed: 5,
});

/** From the serde fields of Pong: each field's index in its array. */
export const Pong = Object.freeze({ client_time_ms: 0 });

/** From the serde fields of PlayerInfo: each field's index in its array. */
export const PlayerInfo = Object.freeze({ player_id: 0, net_id: 1, name: 2, bot: 3 });

/** From the serde fields of RosterChange: each field's index in its array. */
export const RosterChange = Object.freeze({ joined: 0, left: 1 });

/** From the serde fields of Kill: each field's index in its array. */
export const Kill = Object.freeze({ killer: 0, victim: 1 });

/** From the serde fields of ErrorMsg: each field's index in its array. */
export const ErrorMsg = Object.freeze({ code: 0, message: 1 });

/** From the serde fields of ChatLine: each field's index in its array. */
export const ChatLine = Object.freeze({ player_id: 0, name: 1, text: 2 });

/** From the serde fields of Standing: each field's index in its array. */
export const Standing = Object.freeze({ player_id: 0, name: 1, kills: 2, deaths: 3, bot: 4 });

/** From the serde fields of RoundResults: each field's index in its array. */
export const RoundResults = Object.freeze({ round: 0, reason: 1, duration_s: 2, next_round_in_s: 3, standings: 4 });

/** From the serde fields of Notice: each field's index in its array. */
export const Notice = Object.freeze({ text: 0 });

/** From the serde fields of LobbyRoom: each field's index in its array. */
export const LobbyRoom = Object.freeze({
  id: 0,
  name: 1,
  players: 2,
  spectators: 3,
  capacity: 4,
  match_state: 5,
  round: 6,
  ws_url: 7,
  bots: 8,
});

/** From the serde fields of ReplayHeader: each field's index in its array. */
export const ReplayHeader = Object.freeze({
  magic: 0,
  format_version: 1,
  protocol_version: 2,
  room_id: 3,
  room_name: 4,
  private: 5,
  round: 6,
  started_at_ms: 7,
  tick_rate_hz: 8,
  recorded_rate_hz: 9,
  arena_size: 10,
  player_radius: 11,
  projectile_radius: 12,
  player_speed: 13,
  max_health: 14,
  players: 15,
});

/** From the serde fields of TickedMsg: each field's index in its array. */
export const TickedMsg = Object.freeze({ tick: 0, msg: 1 });

/** From the serde fields of ReplayEnd: each field's index in its array. */
export const ReplayEnd = Object.freeze({ tick: 0, reason: 1, ended_at_ms: 2 });
