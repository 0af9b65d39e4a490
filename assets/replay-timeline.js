// A replay's world at any moment: the frame at or before a tick rebuilt from its keyframe
// (at most five seconds of deltas, with the game's own Baselines), the next one to
// interpolate towards, and what the room had said by then (names, kills, scores, chat).
import { Baselines } from "./baselines.js";
import { EntityKind, entity } from "./protocol.js";

export class Timeline {
  constructor(replay) {
    this.replay = replay;
    this.frames = replay.frames;
    this.events = replay.events;
    this.firstTick = this.frames[0].tick;
    this.lastTick = Math.max(this.frames[this.frames.length - 1].tick, replay.end.tick);
    this.tickMs = 1000 / replay.header.tickRateHz;
    /** The last frame rebuilt and its baselines: playing forward costs one delta a frame. */
    this.cursor = null;
  }

  /** Index of the last frame at or before `tick` (0 before the first). */
  frameIndexAt(tick) {
    let lo = 0, hi = this.frames.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.frames[mid].tick <= tick) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Wire entities of frame `index`: from the cursor (or the frame before it) when it is
   * there or on the way, else rebuilt from the keyframe before.
   */
  wireAt(index) {
    const c = this.cursor;
    if (c?.index === index) return c.entities;
    if (c?.prev?.index === index) return c.prev.entities;
    let start = index;
    while (!this.frames[start].keyframe) start--;
    let cursor = c;
    if (!cursor || cursor.index > index || cursor.index < start) {
      const baselines = new Baselines();
      baselines.keepFull(this.frames[start].tick, this.frames[start].entities);
      cursor = { index: start, baselines, entities: this.frames[start].entities, prev: null };
    }
    for (let i = cursor.index + 1; i <= index; i++) {
      const f = this.frames[i];
      cursor.prev = { index: cursor.index, entities: cursor.entities };
      if (f.keyframe) cursor.baselines.keepFull(f.tick, f.entities);
      cursor.entities = f.keyframe ? f.entities : cursor.baselines.apply(f.tick, f.baseline, f.added, f.changed, f.removed);
      cursor.index = i;
    }
    this.cursor = cursor;
    return cursor.entities;
  }

  /** Everything drawn at (fractional) `tick`: positions between the frames around it. */
  entitiesAt(tick) {
    const i = this.frameIndexAt(tick);
    const before = this.wireAt(i).map(entity);
    if (i + 1 >= this.frames.length) return before;
    const after = this.wireAt(i + 1).map(entity);
    const span = this.frames[i + 1].tick - this.frames[i].tick;
    const t = span > 0 ? Math.min(Math.max((tick - this.frames[i].tick) / span, 0), 1) : 0;
    const then = new Map(before.map((e) => [e.netId, e]));
    // What is in both frames moves between them; what comes or goes shows with the frame that has it.
    const shown = t < 0.5 ? before : after;
    const now = new Map(after.map((e) => [e.netId, e]));
    return shown.map((e) => {
      const a = then.get(e.netId), b = now.get(e.netId);
      return a && b ? { ...(t < 0.5 ? a : b), x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t } : e;
    });
  }

  /** Players (people and house bots) in the recorded frame at or before `tick`. */
  playersAt(tick) {
    return this.wireAt(this.frameIndexAt(tick)).map(entity).filter((e) => e.kind !== EntityKind.Projectile);
  }

  /** Events up to `tick`, oldest first. */
  eventsUntil(tick) {
    let n = 0;
    while (n < this.events.length && this.events[n].tick <= tick) n++;
    return this.events.slice(0, n);
  }

  /** Names by player id at `tick`: the header's, then the roster changes since. */
  namesAt(tick) {
    const names = new Map(this.replay.header.players.map((p) => [p.playerId, p.name]));
    for (const { msg } of this.eventsUntil(tick)) {
      if (msg.kind !== "roster_change") continue;
      // Who left keeps their name: the kill feed and scoreboard may still show them.
      for (const p of msg.joined) names.set(p.playerId, p.name);
    }
    return names;
  }

  /** The room's scoreboard as last sent at or before `tick`, or null before the first. */
  scoresAt(tick) {
    const sent = this.eventsUntil(tick).filter((e) => e.msg.kind === "scores");
    return sent.length ? sent[sent.length - 1].msg.standings : null;
  }

  /** Kills within `windowMs` of replay time before `tick`, with their age in ms. */
  killsBefore(tick, windowMs) {
    return this.eventsUntil(tick)
      .filter((e) => e.msg.kind === "kill" && (tick - e.tick) * this.tickMs < windowMs)
      .map((e) => ({ killer: e.msg.killer, victim: e.msg.victim, ageMs: (tick - e.tick) * this.tickMs }));
  }

  /** The round's results once they were announced at or before `tick`. */
  resultsAt(tick) {
    const over = this.eventsUntil(tick).find((e) => e.msg.kind === "event" && e.msg.event.type === "round_over");
    return over ? over.msg.event : null;
  }

  /** Chat lines and room events up to `tick`, the last `count` of them. */
  chatAt(tick, count) {
    const lines = [];
    for (const { msg } of this.eventsUntil(tick)) {
      if (msg.kind === "chat") lines.push({ text: `${msg.name}: ${msg.text}`, kind: "chat" });
      else if (msg.kind === "event" && (msg.event.type === "joined" || msg.event.type === "left")) {
        lines.push({ text: `${msg.event.player.name} ${msg.event.type}`, kind: "event" });
      }
    }
    return lines.slice(-count);
  }
}
