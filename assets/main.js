// Glue: lobby → connection → game loop (inputs at the tick rate, drawing every frame),
// plus chat, room events, round results and spectating.
import { Connection } from "./net.js";
import { GameState } from "./state.js";
import { Controls } from "./input.js";
import { Renderer } from "./render.js";
import { Lobby, forgetSession } from "./lobby.js";
import { Account, forgetAccount } from "./account.js";
import { Hud } from "./hud.js";
import { CLOSE_CODES, EntityKind } from "./protocol.js";

// A replay link (`/?replay=ID`) opens the replay viewer.
const replayLink = new URLSearchParams(location.search).get("replay");
if (replayLink) location.replace(`/replay.html?replay=${encodeURIComponent(replayLink)}`);

const canvas = document.querySelector("#game");
const game = document.querySelector("#game-screen");
const renderer = new Renderer(canvas);
const controls = new Controls(canvas, document.querySelector("#touch"));
const hud = new Hud(game);

let connection = null;
let state = null;
let inputTimer = null;
let seq = 0;
let aim = 0;
let frames = [];
let lastDraw = { players: 0, projectiles: 0, ownScreen: null };

const lobby = new Lobby(document.querySelector("#lobby"), start, new Account(document.querySelector("#account")));

function start(join) {
  connection?.close();
  lobby.hide();
  game.hidden = false;
  state = null;
  connection = new Connection(join, onMessage, onConnectionState);
}

function onConnectionState(s) {
  hud.showConnection(s);
  // A token this server no longer accepts (restarted with another secret, expired): get a new one next time.
  if (s.status === "disconnected" && s.code === CLOSE_CODES.POLICY_VIOLATION && /token/.test(s.reason)) {
    forgetSession();
    if (/revoked/.test(s.reason)) forgetAccount();
  }
}

function onMessage(msg) {
  switch (msg.kind) {
    case "welcome":
      state = new GameState(msg);
      seq = 0;
      clearInterval(inputTimer);
      // Spectators send inputs too: the server ignores their controls but uses their acknowledgements.
      inputTimer = setInterval(sendInput, 1000 / msg.tickRateHz);
      hud.hideResults();
      hud.showShareLink(msg.roomId);
      hud.say(`You are ${msg.spectator ? "watching" : "playing in"} ${msg.roomName}. Enter to chat.`, "event");
      break;
    case "snapshot":
      state?.addSnapshot(msg);
      break;
    case "roster":
      state?.setRoster(msg.players);
      break;
    case "roster_change":
      state?.changeRoster(msg.joined, msg.left);
      break;
    case "kill":
      state?.addKill(msg);
      break;
    case "scores":
      state?.setScores(msg.standings);
      break;
    case "chat":
      hud.say(`${msg.name}: ${msg.text}`);
      break;
    case "error":
      hud.say(msg.message, "warning");
      break;
    case "event":
      onEvent(msg.event);
      break;
  }
}

function onEvent(e) {
  switch (e.type) {
    case "joined":
      return hud.say(`${e.player.name} joined`, "event");
    case "left":
      return hud.say(`${e.player.name} left`, "event");
    case "round_over":
      return hud.showResults(e);
    case "round_started":
      hud.hideResults();
      return hud.say(`Round ${e.round}: first to ${e.scoreLimit} kills`, "event");
    case "announcement":
      return hud.say(`📢 ${e.text}`, "announcement");
    case "closing":
      return hud.say(`The room is closing: ${e.text}`, "warning");
  }
}

function sendInput() {
  if (!state || connection.state.status !== "connected") return;
  const idle = document.activeElement === hud.chatInput || state.welcome.spectator;
  const c = idle ? { moveX: 0, moveY: 0, aim, fire: false } : controls.sample(lastDraw.ownScreen, aim);
  aim = c.aim;
  seq += 1;
  connection.sendInput(seq, c.moveX, c.moveY, c.aim, c.fire, state.renderTick(performance.now()));
  state.applyLocalInput({ seq, moveX: c.moveX, moveY: c.moveY });
}

function frame(now) {
  frames.push(now);
  while (frames.length && frames[0] < now - 1000) frames.shift();
  if (state) {
    lastDraw = renderer.draw(state.view(now), state.welcome, state.names, state.welcome.playerId);
  }
  if (connection) {
    const following = state?.followed() ? state.names.get(state.followed().owner) : null;
    hud.update({ rttMs: connection.rttMs, fps: frames.length, snapshotRate: connection.snapshotRate(), state, following });
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

addEventListener("keydown", (e) => {
  if (game.hidden) return;
  if (e.key === "Enter") {
    if (document.activeElement === hud.chatInput) {
      const text = hud.chatInput.value.trim();
      if (text) connection?.sendChat(text);
      hud.chatInput.value = "";
      hud.chatInput.blur();
    } else {
      hud.chatInput.focus();
    }
    e.preventDefault();
  } else if (e.key === "Escape") {
    hud.chatInput.blur();
  } else if (e.key === "Tab" && state?.welcome.spectator) {
    state.followNext();
    e.preventDefault();
  }
});

hud.reconnect.addEventListener("click", () => connection?.reconnect());
hud.leave.addEventListener("click", () => {
  connection?.close();
  connection = null;
  state = null;
  clearInterval(inputTimer);
  game.hidden = true;
  lobby.show();
});

lobby.show();

// Read-only view of the client for automated browser tests and curious players.
window.arena = {
  snapshot() {
    const own = state?.own;
    return {
      status: connection?.state.status ?? "lobby",
      closeCode: connection?.state.code ?? null,
      closeReason: connection?.state.reason ?? "",
      roomId: state?.welcome.roomId ?? null,
      playerId: state?.welcome.playerId ?? null,
      spectator: state?.welcome.spectator ?? false,
      own: own ? { x: own.x, y: own.y, health: own.health, kills: own.score } : null,
      ownScreen: lastDraw.ownScreen,
      playersDrawn: lastDraw.players,
      projectilesDrawn: lastDraw.projectiles,
      rosterSize: state?.names.size ?? 0,
      fps: frames.length,
      snapshotRate: connection?.snapshotRate() ?? 0,
      deltaSnapshots: connection?.deltas ?? 0,
      rttMs: connection?.rttMs ?? null,
      chat: [...hud.chatLog.children].map((li) => li.textContent),
    };
  },
  /** Where the newest snapshot (the server's view) puts a player, or null. */
  playerSeen(playerId) {
    const latest = state?.snapshots[state.snapshots.length - 1];
    const e = latest?.entities.find((e) => e.kind !== EntityKind.Projectile && e.owner === playerId);
    return e ? { x: e.x, y: e.y, health: e.health } : null;
  },
  /** Everyone else with a body in the newest snapshot, house bots marked. */
  others() {
    const latest = state?.snapshots[state.snapshots.length - 1];
    return (latest?.entities ?? [])
      .filter((e) => e.kind !== EntityKind.Projectile && e.owner !== state.welcome.playerId)
      .map((e) => ({ x: e.x, y: e.y, vx: e.vx, vy: e.vy, health: e.health, bot: e.kind === EntityKind.Bot }));
  },
};
