// What the client knows of the game: snapshots for interpolation, the own player's
// prediction and its reconciliation with the server, roster, scores and kill feed.
import { EntityKind } from "./protocol.js";

/** Other entities are drawn this many snapshot intervals in the past, between two snapshots. */
const INTERPOLATION_SNAPSHOTS = 2.5;
/** Snapshots kept for interpolation. */
const SNAPSHOT_BUFFER = 32;
/** How fast a prediction error is smoothed away (fraction per frame at 60 fps). */
const CORRECTION_PER_FRAME = 0.15;

export class GameState {
  constructor(welcome) {
    this.welcome = welcome;
    this.tickMs = 1000 / welcome.tickRateHz;
    // With fewer snapshots than ticks, stay further behind to keep two snapshots to blend.
    this.interpolationTicks = INTERPOLATION_SNAPSHOTS * Math.max(1, welcome.tickRateHz / welcome.snapshotRateHz);
    this.snapshots = [];
    this.names = new Map();
    this.kills = [];
    this.tickBase = null; // local time of tick 0, smoothed
    this.pending = []; // inputs sent but not yet applied by the server
    this.predicted = null; // own position after all pending inputs
    this.correction = { x: 0, y: 0 }; // visual offset left by a reconciliation
    this.own = null; // own entity in the newest snapshot
    this.lastAck = 0;
    this.followNetId = null; // spectators: whom the camera follows
  }

  /** Spectators: the followed player's (or bot's) entity in the newest snapshot (the first by default). */
  followed() {
    if (!this.welcome.spectator) return null;
    const latest = this.snapshots[this.snapshots.length - 1];
    if (!latest) return null;
    const players = latest.entities.filter((e) => e.kind !== EntityKind.Projectile);
    return players.find((e) => e.netId === this.followNetId) || players[0] || null;
  }

  /** Spectators: follow the next player. */
  followNext() {
    const latest = this.snapshots[this.snapshots.length - 1];
    if (!latest) return;
    const players = latest.entities.filter((e) => e.kind !== EntityKind.Projectile).sort((a, b) => a.netId - b.netId);
    if (players.length === 0) return;
    const i = players.findIndex((e) => e.netId === this.followNetId);
    this.followNetId = players[(i + 1) % players.length].netId;
  }

  setRoster(players) {
    this.names = new Map(players.map((p) => [p.playerId, p.name]));
  }

  /** Who joined and who left since the roster (joins first, as the server says). */
  changeRoster(joined, left) {
    for (const p of joined) this.names.set(p.playerId, p.name);
    for (const id of left) this.names.delete(id);
  }

  addKill(kill) {
    this.kills.push({ ...kill, at: performance.now() });
    if (this.kills.length > 5) this.kills.shift();
  }

  addSnapshot(snapshot) {
    const now = performance.now();
    const base = now - snapshot.tick * this.tickMs;
    // Packets are never early: follow the earliest arrival, drift slowly up for clock skew.
    this.tickBase = this.tickBase === null ? base : Math.min(base, this.tickBase + 0.05 * (base - this.tickBase));
    snapshot.byNetId = new Map(snapshot.entities.map((e) => [e.netId, e]));
    this.snapshots.push(snapshot);
    if (this.snapshots.length > SNAPSHOT_BUFFER) this.snapshots.shift();
    this.lastAck = snapshot.lastInputSeq;
    this.own = snapshot.byNetId.get(this.welcome.netId) || null;
    this.reconcile(snapshot);
  }

  /** Start from the server's position and replay the inputs it has not applied yet. */
  reconcile(snapshot) {
    this.pending = this.pending.filter((i) => i.seq > snapshot.lastInputSeq);
    if (!this.own || this.own.health === 0) {
      this.predicted = this.own ? { x: this.own.x, y: this.own.y } : null;
      return;
    }
    let pos = { x: this.own.x, y: this.own.y };
    for (const input of this.pending) pos = this.move(pos, input);
    if (this.predicted) {
      this.correction.x += this.predicted.x - pos.x;
      this.correction.y += this.predicted.y - pos.y;
      // A big jump (respawn, teleport) is shown at once, not smoothed.
      if (Math.hypot(this.correction.x, this.correction.y) > 100) this.correction = { x: 0, y: 0 };
    }
    this.predicted = pos;
  }

  /** The server's movement rule (server/src/room/movement.rs) for one tick. */
  move(pos, input) {
    const w = this.welcome;
    const len = Math.hypot(input.moveX, input.moveY);
    const scale = len > 1 ? 1 / len : 1;
    const step = (w.playerSpeed * this.tickMs) / 1000;
    const r = w.playerRadius;
    return {
      x: Math.min(Math.max(pos.x + input.moveX * scale * step, r), w.arenaWidth - r),
      y: Math.min(Math.max(pos.y + input.moveY * scale * step, r), w.arenaHeight - r),
    };
  }

  /** Record an input as sent and apply it to the prediction at once. */
  applyLocalInput(input) {
    this.pending.push(input);
    if (this.pending.length > 120) this.pending.shift();
    if (this.predicted && this.own && this.own.health > 0) this.predicted = this.move(this.predicted, input);
  }

  /** The (fractional) tick other entities are drawn at now: behind the newest snapshot. */
  renderTickAt(now) {
    return (now - this.tickBase) / this.tickMs - this.interpolationTicks;
  }

  /** The tick being shown, as sent with inputs for lag compensation (0 before any snapshot). */
  renderTick(now) {
    return this.tickBase === null ? 0 : Math.max(0, Math.round(this.renderTickAt(now)));
  }

  /** Where to draw everything now. */
  view(now) {
    if (this.snapshots.length === 0) return null;
    const renderTick = this.renderTickAt(now);
    let older = this.snapshots[0];
    let newer = this.snapshots[this.snapshots.length - 1];
    for (let i = this.snapshots.length - 1; i > 0; i--) {
      if (this.snapshots[i - 1].tick <= renderTick) {
        older = this.snapshots[i - 1];
        newer = this.snapshots[i];
        break;
      }
    }
    const span = newer.tick - older.tick;
    const t = span > 0 ? Math.min(Math.max((renderTick - older.tick) / span, 0), 1) : 1;
    const entities = [];
    for (const b of newer.entities) {
      const a = older.byNetId.get(b.netId);
      if (b.netId === this.welcome.netId) continue;
      entities.push(a ? { ...b, x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t } : b);
    }
    const decay = 1 - CORRECTION_PER_FRAME;
    this.correction.x *= decay;
    this.correction.y *= decay;
    let own = null;
    if (this.own) {
      const p = this.predicted || this.own;
      own = { ...this.own, x: p.x + this.correction.x, y: p.y + this.correction.y };
    }
    const target = this.followed();
    const camera = own || (target && entities.find((e) => e.netId === target.netId)) || null;
    return { entities, own, camera, tick: newer.tick };
  }

  /** The leaders' standings (sent once a second: snapshots may carry only nearby players). */
  setScores(standings) {
    this.scores = standings;
  }

  /** Players by score, for the scoreboard. */
  scoreboard() {
    if (this.scores) {
      return this.scores.map((s) => ({
        name: s.name, score: s.kills, bot: s.bot, me: s.playerId === this.welcome.playerId,
      }));
    }
    const latest = this.snapshots[this.snapshots.length - 1];
    if (!latest) return [];
    return latest.entities
      .filter((e) => e.kind !== EntityKind.Projectile)
      .map((e) => ({
        name: this.names.get(e.owner) || `player ${e.owner}`, score: e.score, bot: e.kind === EntityKind.Bot,
        me: e.netId === this.welcome.netId,
      }))
      .sort((a, b) => b.score - a.score);
  }
}
