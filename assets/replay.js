// The replay viewer (`/replay.html?replay=ID`): a recorded round drawn with the game's own
// renderer and HUD, with play, pause, speed, a timeline to seek, and a camera that follows
// a player or roams free (drag, or the arrow keys).
import { EntityKind } from "./protocol.js";
import { Renderer } from "./render.js";
import { Hud } from "./hud.js";
import { loadReplay } from "./replay-file.js";
import { Timeline } from "./replay-timeline.js";

const KILL_FEED_MS = 6000;
const CHAT_LINES = 8;
/** Free camera: units a held arrow key moves it per second. */
const PAN_SPEED = 900;

const $ = (selector) => document.querySelector(selector);
const renderer = new Renderer($("#game"));
const hud = new Hud($("#game-screen"));
const controls = { play: $("#play"), timeline: $("#timeline"), clock: $("#clock"), speed: $("#speed"), follow: $("#follow") };

/** The page's state: what is loaded and where playback is. */
const player = {
  status: "loading", error: null, timeline: null, tick: 0, playing: false, speed: 1,
  followId: null, camera: { x: 0, y: 0 }, drawn: { players: 0, projectiles: 0, ownScreen: null }, seekMs: null,
  loadMs: null,
};
let lastFrameAt = null;
const held = new Set();

async function open() {
  const query = new URLSearchParams(location.search);
  const id = query.get("replay");
  // In a cluster the lobby's link names the node that keeps it (`&node=`); any node passes it on.
  const node = query.get("node");
  if (!id) return fail("No replay named: open /replay.html?replay=ID, or pick one in the lobby.");
  // A private room's replay is shown to those who played in it: send the lobby's session token.
  const session = JSON.parse(sessionStorage.getItem("arena.session") || "null");
  try {
    const asked = performance.now();
    const timeline = new Timeline(await loadReplay(id, session?.token, node));
    // From asking to the first frame: download, gunzip, decode, and the first frame rebuilt.
    timeline.entitiesAt(timeline.firstTick);
    player.loadMs = { ...timeline.replay.loadMs, total: performance.now() - asked };
    const h = timeline.replay.header;
    player.timeline = timeline;
    player.tick = timeline.firstTick;
    player.camera = { x: h.arenaWidth / 2, y: h.arenaHeight / 2 };
    document.title = `Arena replay: ${h.roomName}, round ${h.round}`;
    controls.timeline.max = String(timeline.lastTick - timeline.firstTick);
    controls.timeline.disabled = controls.play.disabled = false;
    const names = timeline.namesAt(timeline.lastTick);
    for (const [playerId, name] of [...names].sort((a, b) => a[1].localeCompare(b[1]))) {
      controls.follow.append(new Option(name, String(playerId)));
    }
    player.status = "ready";
  } catch (err) {
    fail(`Cannot open the replay: ${err.message}`);
  }
}

function fail(message) {
  player.status = "error";
  player.error = message;
  hud.stats.textContent = message;
}

function seek(tick) {
  const t = player.timeline;
  const started = performance.now();
  player.tick = Math.min(Math.max(tick, t.firstTick), t.lastTick);
  t.entitiesAt(player.tick);
  player.seekMs = performance.now() - started;
}

function setPlaying(playing) {
  const t = player.timeline;
  if (playing && player.tick >= t.lastTick) player.tick = t.firstTick;
  player.playing = playing;
  controls.play.textContent = playing ? "Pause" : "Play";
}

function clock(ticks) {
  const s = Math.max(0, Math.floor(ticks * player.timeline.tickMs / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function frame(now) {
  const dt = lastFrameAt === null ? 0 : Math.min(now - lastFrameAt, 250);
  lastFrameAt = now;
  const t = player.timeline;
  if (t) {
    if (player.playing) {
      player.tick += (dt / t.tickMs) * player.speed;
      if (player.tick >= t.lastTick) {
        player.tick = t.lastTick;
        setPlaying(false);
      }
    }
    draw(t, now, dt);
  }
  requestAnimationFrame(frame);
}

function draw(t, now, dt) {
  const h = t.replay.header;
  const entities = t.entitiesAt(player.tick);
  const followed = player.followId === null ? null : entities.find((e) => e.kind !== EntityKind.Projectile && e.owner === player.followId);
  if (!followed) {
    const step = (PAN_SPEED * dt) / 1000;
    if (held.has("ArrowLeft")) player.camera.x -= step;
    if (held.has("ArrowRight")) player.camera.x += step;
    if (held.has("ArrowUp")) player.camera.y -= step;
    if (held.has("ArrowDown")) player.camera.y += step;
  }
  const camera = followed ? { x: followed.x, y: followed.y } : player.camera;
  const view = { entities: entities.filter((e) => e !== followed), own: followed, camera };
  const names = t.namesAt(player.tick);
  player.drawn = renderer.draw(view, h, names, player.followId);

  // The HUD as it was at that moment: scoreboard, kill feed, chat, results.
  const standings = t.scoresAt(player.tick);
  const kills = t.killsBefore(player.tick, KILL_FEED_MS).map((k) => ({ ...k, at: now - k.ageMs }));
  hud.update({
    rttMs: null, fps: 0, snapshotRate: 0, following: null,
    state: {
      welcome: { spectator: false }, kills, names,
      scoreboard: () => standings
        ? standings.map((s) => ({ name: s.name, score: s.kills, me: s.playerId === player.followId }))
        : entities.filter((e) => e.kind !== EntityKind.Projectile)
          .map((e) => ({ name: names.get(e.owner) || `player ${e.owner}`, score: e.score, me: e.owner === player.followId }))
          .sort((a, b) => b.score - a.score),
    },
  });
  const elapsed = player.tick - t.firstTick;
  hud.stats.textContent = `${h.roomName} · round ${h.round} · ${new Date(h.startedAtMs).toLocaleString()} · ${player.speed}×`;
  controls.clock.textContent = `${clock(elapsed)} / ${clock(t.lastTick - t.firstTick)}`;
  if (document.activeElement !== controls.timeline) controls.timeline.value = String(Math.round(elapsed));
  hud.chatLog.replaceChildren(...t.chatAt(player.tick, CHAT_LINES).map(({ text, kind }) => {
    const li = document.createElement("li");
    li.textContent = text;
    li.className = kind;
    return li;
  }));
  const results = t.resultsAt(player.tick);
  if (results) hud.showResults({ ...results, nextRoundInS: 0 }); else hud.hideResults();
}

controls.play.addEventListener("click", () => setPlaying(!player.playing));
controls.timeline.addEventListener("input", () => seek(player.timeline.firstTick + Number(controls.timeline.value)));
controls.speed.addEventListener("change", () => (player.speed = Number(controls.speed.value)));
controls.follow.addEventListener("change", () => {
  player.followId = controls.follow.value === "" ? null : Number(controls.follow.value);
});
addEventListener("keydown", (e) => {
  if (e.key === " " && player.timeline) {
    setPlaying(!player.playing);
    e.preventDefault();
  } else if (e.key.startsWith("Arrow") && e.target === document.body) {
    held.add(e.key);
    e.preventDefault();
  }
});
addEventListener("keyup", (e) => held.delete(e.key));
// Dragging the canvas moves the free camera (and leaves the followed player).
let dragFrom = null;
$("#game").addEventListener("pointerdown", (e) => (dragFrom = { x: e.clientX, y: e.clientY }));
addEventListener("pointerup", () => (dragFrom = null));
addEventListener("pointermove", (e) => {
  if (!dragFrom) return;
  if (player.followId !== null) {
    const followed = player.timeline?.playersAt(player.tick).find((p) => p.owner === player.followId);
    if (followed) player.camera = { x: followed.x, y: followed.y };
    player.followId = null;
    controls.follow.value = "";
  }
  player.camera.x -= e.clientX - dragFrom.x;
  player.camera.y -= e.clientY - dragFrom.y;
  dragFrom = { x: e.clientX, y: e.clientY };
});

requestAnimationFrame(frame);
open();

// Read-only view of the viewer for automated browser tests.
window.arenaReplay = {
  snapshot() {
    const t = player.timeline;
    return {
      status: player.status, error: player.error, tick: player.tick, playing: player.playing, speed: player.speed,
      firstTick: t?.firstTick ?? null, lastTick: t?.lastTick ?? null, followId: player.followId,
      playersDrawn: player.drawn.players, projectilesDrawn: player.drawn.projectiles, followedScreen: player.drawn.ownScreen,
      seekMs: player.seekMs, loadMs: player.loadMs,
      scoreboard: [...hud.scores.children].map((li) => li.textContent),
    };
  },
  /** Players in the recorded frame at or before `tick` (what the canvas should show then). */
  playersAt(tick) {
    return player.timeline.playersAt(tick).map((p) => ({ owner: p.owner, x: p.x, y: p.y, health: p.health }));
  },
};
