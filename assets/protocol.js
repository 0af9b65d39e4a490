// Mirror of the Rust wire protocol (protocol/src/*.rs); the format is documented in
// protocol/README.md. This is the only browser module that knows the byte layout.
import { encode, decode } from "@msgpack/msgpack";

export const PROTOCOL_VERSION = 1;

export const EntityKind = Object.freeze({ Player: 0, Projectile: 1 });

/** Close codes the server uses (protocol/src/close_code.rs). */
export const CloseCode = Object.freeze({
  1000: "closed",
  1001: "server shutting down",
  1002: "protocol error",
  1003: "unsupported data",
  1006: "connection lost",
  1007: "invalid message",
  1008: "policy violation",
  1009: "message too big",
  1011: "room failed",
  4000: "protocol version mismatch",
  4001: "room full",
  4002: "bad join request",
  4003: "too slow",
  4004: "room closed",
  4005: "room not found",
  4006: "removed by an operator",
  4007: "connected again elsewhere",
  4008: "no spectator place left",
  1013: "server busy, try again later",
});

/** Closes after which reconnecting by itself makes sense. */
export const RETRYABLE_CLOSES = new Set([1001, 1006, 1011, 1013, 4003]);

/**
 * `{"input": [seq, [x, y], aim, fire, ack_tick, view_tick, earlier]}`: `ackTick` is the newest
 * snapshot decoded (0: send whole snapshots), `viewTick` the tick being shown (lag compensation).
 */
export function encodeInput(seq, moveX, moveY, aim, fire, ackTick = 0, viewTick = 0) {
  return encode({ input: [seq, [moveX, moveY], aim, fire, ackTick, viewTick, []] });
}

/** `{"chat": [text]}` */
export function encodeChat(text) {
  return encode({ chat: [text] });
}

/** `{"ping": [client_time_ms]}` */
export function encodePing(clientTimeMs) {
  return encode({ ping: [clientTimeMs] });
}

/** Positions and velocities travel in eighths of a unit (protocol/src/snapshot.rs: POSITION_SCALE). */
const POSITION_SCALE = 8;
/** The aim travels in 256ths of a turn (AIM_STEPS). */
const AIM_STEPS = 256;

/** `[net_id, kind, owner, x, y, vx, vy, aim, health, score]`, all integers (WireEntity). */
export function entity(e) {
  const aim = (e[7] / AIM_STEPS) * Math.PI * 2;
  return {
    netId: e[0], kind: e[1], owner: e[2],
    x: e[3] / POSITION_SCALE, y: e[4] / POSITION_SCALE,
    vx: e[5] / POSITION_SCALE, vy: e[6] / POSITION_SCALE,
    aim: aim > Math.PI ? aim - Math.PI * 2 : aim, health: e[8], score: e[9],
  };
}

function roundStart(r) {
  return { round: r[0], scoreLimit: r[1], timeLimitS: r[2] };
}

function player(p) {
  return { playerId: p[0], netId: p[1], name: p[2] };
}

/** `{"joined": player} | {"left": player} | {"round_started": …} | {"round_over": …} | {"closing": [text]} | {"announcement": [text]}` */
function roomEvent(e) {
  const [type] = Object.keys(e);
  const b = e[type];
  switch (type) {
    case "joined":
    case "left":
      return { type, player: player(b) };
    case "round_started":
      return { type, ...roundStart(b) };
    case "round_over":
      return {
        type, round: b[0], reason: b[1], durationS: b[2], nextRoundInS: b[3],
        standings: b[4].map((s) => ({ playerId: s[0], name: s[1], kills: s[2], deaths: s[3] })),
      };
    case "closing":
    case "announcement":
      return { type, text: b[0] };
    default:
      return { type: "unknown", name: type };
  }
}

/** Decode one server message into `{kind, …named fields}`; throws on anything malformed. */
export function decodeServer(bytes) {
  const msg = decode(bytes);
  const kinds = msg && typeof msg === "object" ? Object.keys(msg) : [];
  if (kinds.length !== 1) throw new Error("not an Arena message");
  const kind = kinds[0];
  const b = msg[kind];
  switch (kind) {
    case "welcome":
      return {
        kind, protocolVersion: b[0], playerId: b[1], netId: b[2], roomId: b[3], roomName: b[4],
        tickRateHz: b[5], snapshotRateHz: b[6], arenaWidth: b[7][0], arenaHeight: b[7][1],
        playerRadius: b[8], projectileRadius: b[9], playerSpeed: b[10], maxHealth: b[11],
        spectator: b[12], round: roundStart(b[13]),
      };
    // Entities stay in wire form: the connection rebuilds deltas on them, then calls entity().
    case "snapshot":
      return { kind, tick: b[0], lastInputSeq: b[1], wireEntities: b[2] };
    case "delta":
      return { kind, tick: b[0], lastInputSeq: b[1], baseline: b[2], added: b[3], changed: b[4], removed: b[5] };
    case "pong":
      return { kind, clientTimeMs: b[0] };
    case "roster":
      return { kind, players: b.map(player) };
    case "roster_change":
      return { kind, joined: b[0].map(player), left: b[1] };
    case "kill":
      return { kind, killer: b[0], victim: b[1] };
    case "error":
      return { kind, code: b[0], message: b[1] };
    case "chat":
      return { kind, playerId: b[0], name: b[1], text: b[2] };
    case "scores":
      return { kind, standings: b.map((s) => ({ playerId: s[0], name: s[1], kills: s[2], deaths: s[3] })) };
    case "event":
      return { kind, event: roomEvent(b) };
    case "lobby":
      return {
        kind,
        rooms: b.map((r) => ({
          id: r[0], name: r[1], players: r[2], spectators: r[3], capacity: r[4], match_state: r[5], round: r[6], ws_url: r[7],
        })),
      };
    default:
      return { kind: "unknown", name: kind };
  }
}
