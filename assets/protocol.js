// Encodes and decodes Arena's wire messages (protocol/README.md); the only browser module
// that knows the byte layout. Every tag, field position and limit comes from ./wire.js,
// generated from protocol/src/, so none is copied here by hand.
import { encode, decode } from "@msgpack/msgpack";
import {
  AIM_STEPS, CLOSE_CODES, CLOSE_MEANINGS, ChatLine, ChatText, ClientMsg, DeltaSnapshot, ErrorMsg, Input, Kill,
  LobbyRoom, Notice, POSITION_SCALE, Ping, PlayerInfo, Pong, RoomEvent, RosterChange, RoundResults, RoundStart,
  ServerMsg, Snapshot, Standing, Welcome, WireEntity,
} from "./wire.js";

export { CLOSE_CODES, EntityKind, PROTOCOL_VERSION } from "./wire.js";

/** What each close code means: the server's, plus the one only the browser reports. */
export const CloseCode = Object.freeze({
  ...CLOSE_MEANINGS,
  // Never on the wire: the browser's code for a connection that dropped without a close frame.
  1006: "The connection was lost.",
});

/** Closes after which reconnecting by itself makes sense (not after IDLE: nobody is there). */
export const RETRYABLE_CLOSES = new Set([
  CLOSE_CODES.GOING_AWAY, 1006, CLOSE_CODES.INTERNAL_ERROR, CLOSE_CODES.TRY_AGAIN_LATER, CLOSE_CODES.TOO_SLOW,
  CLOSE_CODES.HEARTBEAT_TIMEOUT,
]);

/**
 * A struct as its wire array, each field at its index in `layout`. Naming a field the
 * layout lacks, or leaving one out, throws: the Rust struct changed and this call did not.
 */
function array(layout, fields) {
  const names = Object.keys(fields);
  if (names.length !== Object.keys(layout).length || !names.every((name) => name in layout)) {
    throw new Error(`fields ${names} do not match the wire layout ${Object.keys(layout)}`);
  }
  const out = [];
  for (const name of names) out[layout[name]] = fields[name];
  return out;
}

/**
 * `{"input": [seq, [x, y], aim, fire, ack_tick, view_tick, earlier]}`: `ackTick` is the newest
 * snapshot decoded (0: send whole snapshots), `viewTick` the tick being shown (lag compensation).
 */
export function encodeInput(seq, moveX, moveY, aim, fire, ackTick = 0, viewTick = 0) {
  const input = array(Input, {
    seq, move_dir: [moveX, moveY], aim, fire, ack_tick: ackTick, view_tick: viewTick, earlier: [],
  });
  return encode({ [ClientMsg.Input]: input });
}

/** `{"chat": [text]}` */
export function encodeChat(text) {
  return encode({ [ClientMsg.Chat]: array(ChatText, { text }) });
}

/** `{"ping": [client_time_ms]}` */
export function encodePing(clientTimeMs) {
  return encode({ [ClientMsg.Ping]: array(Ping, { client_time_ms: clientTimeMs }) });
}

/** `[net_id, kind, owner, x, y, vx, vy, aim, health, score]`, all integers, quantized (WireEntity). */
export function entity(e) {
  const aim = (e[WireEntity.aim] / AIM_STEPS) * Math.PI * 2;
  return {
    netId: e[WireEntity.net_id], kind: e[WireEntity.kind], owner: e[WireEntity.owner],
    x: e[WireEntity.x] / POSITION_SCALE, y: e[WireEntity.y] / POSITION_SCALE,
    vx: e[WireEntity.vx] / POSITION_SCALE, vy: e[WireEntity.vy] / POSITION_SCALE,
    aim: aim > Math.PI ? aim - Math.PI * 2 : aim, health: e[WireEntity.health], score: e[WireEntity.score],
  };
}

function roundStart(r) {
  return { round: r[RoundStart.round], scoreLimit: r[RoundStart.score_limit], timeLimitS: r[RoundStart.time_limit_s] };
}

function player(p) {
  return { playerId: p[PlayerInfo.player_id], netId: p[PlayerInfo.net_id], name: p[PlayerInfo.name], bot: p[PlayerInfo.bot] };
}

function standing(s) {
  return {
    playerId: s[Standing.player_id], name: s[Standing.name], kills: s[Standing.kills], deaths: s[Standing.deaths],
    bot: s[Standing.bot],
  };
}

/** `{"joined": player} | {"left": player} | {"round_started": …} | {"round_over": …} | {"closing": [text]} | {"announcement": [text]}` */
function roomEvent(e) {
  const [tag] = Object.keys(e);
  const b = e[tag];
  switch (tag) {
    case RoomEvent.Joined:
      return { type: "joined", player: player(b) };
    case RoomEvent.Left:
      return { type: "left", player: player(b) };
    case RoomEvent.RoundStarted:
      return { type: "round_started", ...roundStart(b) };
    case RoomEvent.RoundOver:
      return {
        type: "round_over", round: b[RoundResults.round], reason: b[RoundResults.reason],
        durationS: b[RoundResults.duration_s], nextRoundInS: b[RoundResults.next_round_in_s],
        standings: b[RoundResults.standings].map(standing),
      };
    case RoomEvent.Closing:
      return { type: "closing", text: b[Notice.text] };
    case RoomEvent.Announcement:
      return { type: "announcement", text: b[Notice.text] };
    default:
      return { type: "unknown", name: tag };
  }
}

/** Decode one server message into `{kind, …named fields}`; throws on anything malformed. */
export function decodeServer(bytes) {
  return serverMessage(decode(bytes));
}

/** A server message already decoded from MessagePack (a replay holds them inside its records), named. */
export function serverMessage(msg) {
  const tags = msg && typeof msg === "object" ? Object.keys(msg) : [];
  if (tags.length !== 1) throw new Error("not an Arena message");
  const tag = tags[0];
  const b = msg[tag];
  switch (tag) {
    case ServerMsg.Welcome:
      return {
        kind: "welcome", protocolVersion: b[Welcome.protocol_version], playerId: b[Welcome.player_id],
        netId: b[Welcome.net_id], roomId: b[Welcome.room_id], roomName: b[Welcome.room_name],
        tickRateHz: b[Welcome.tick_rate_hz], snapshotRateHz: b[Welcome.snapshot_rate_hz],
        arenaWidth: b[Welcome.arena_size][0], arenaHeight: b[Welcome.arena_size][1],
        playerRadius: b[Welcome.player_radius], projectileRadius: b[Welcome.projectile_radius],
        playerSpeed: b[Welcome.player_speed], maxHealth: b[Welcome.max_health], spectator: b[Welcome.spectator],
        round: roundStart(b[Welcome.round]),
      };
    // Entities stay in wire form: the connection rebuilds deltas on them, then calls entity().
    case ServerMsg.Snapshot:
      return {
        kind: "snapshot", tick: b[Snapshot.tick], lastInputSeq: b[Snapshot.last_input_seq],
        wireEntities: b[Snapshot.entities],
      };
    case ServerMsg.Delta:
      return {
        kind: "delta", tick: b[DeltaSnapshot.tick], lastInputSeq: b[DeltaSnapshot.last_input_seq],
        baseline: b[DeltaSnapshot.baseline], added: b[DeltaSnapshot.added], changed: b[DeltaSnapshot.changed],
        removed: b[DeltaSnapshot.removed],
      };
    case ServerMsg.Pong:
      return { kind: "pong", clientTimeMs: b[Pong.client_time_ms] };
    case ServerMsg.Roster:
      return { kind: "roster", players: b.map(player) };
    case ServerMsg.RosterChange:
      return { kind: "roster_change", joined: b[RosterChange.joined].map(player), left: b[RosterChange.left] };
    case ServerMsg.Kill:
      return { kind: "kill", killer: b[Kill.killer], victim: b[Kill.victim] };
    case ServerMsg.Error:
      return { kind: "error", code: b[ErrorMsg.code], message: b[ErrorMsg.message] };
    case ServerMsg.Chat:
      return { kind: "chat", playerId: b[ChatLine.player_id], name: b[ChatLine.name], text: b[ChatLine.text] };
    case ServerMsg.Scores:
      return { kind: "scores", standings: b.map(standing) };
    case ServerMsg.Event:
      return { kind: "event", event: roomEvent(b) };
    case ServerMsg.Lobby:
      return {
        kind: "lobby",
        rooms: b.map((r) => ({
          id: r[LobbyRoom.id], name: r[LobbyRoom.name], players: r[LobbyRoom.players],
          spectators: r[LobbyRoom.spectators], capacity: r[LobbyRoom.capacity], match_state: r[LobbyRoom.match_state],
          round: r[LobbyRoom.round], ws_url: r[LobbyRoom.ws_url], bots: r[LobbyRoom.bots],
        })),
      };
    default:
      return { kind: "unknown", name: tag };
  }
}
