// Glue: lobby → connection → game loop (inputs at the tick rate, drawing every frame).
import { Connection } from "./net.js";
import { GameState } from "./state.js";
import { Controls } from "./input.js";
import { Renderer } from "./render.js";
import { Lobby } from "./lobby.js";
import { Hud } from "./hud.js";

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
let lastJoin = null;
let frames = [];
let lastDraw = { players: 0, projectiles: 0, ownScreen: null };

const lobby = new Lobby(document.querySelector("#lobby"), start);

function start(join) {
  lastJoin = join;
  lobby.hide();
  game.hidden = false;
  state = null;
  connection = new Connection(join, onMessage, (connectionState) => hud.showConnection(connectionState));
}

function onMessage(msg) {
  switch (msg.kind) {
    case "welcome":
      state = new GameState(msg);
      seq = 0;
      clearInterval(inputTimer);
      inputTimer = setInterval(sendInput, 1000 / msg.tickRateHz);
      break;
    case "snapshot":
      state?.addSnapshot(msg);
      break;
    case "roster":
      state?.setRoster(msg.players);
      break;
    case "kill":
      state?.addKill(msg);
      break;
  }
}

function sendInput() {
  if (!state || connection.state.status !== "connected") return clearInterval(inputTimer);
  const c = controls.sample(lastDraw.ownScreen, aim);
  aim = c.aim;
  seq += 1;
  connection.sendInput(seq, c.moveX, c.moveY, c.aim, c.fire);
  state.applyLocalInput({ seq, moveX: c.moveX, moveY: c.moveY });
}

function frame(now) {
  frames.push(now);
  while (frames.length && frames[0] < now - 1000) frames.shift();
  if (state) {
    lastDraw = renderer.draw(state.view(now), state.welcome, state.names, state.welcome.playerId);
  }
  if (connection) {
    hud.update({ rttMs: connection.rttMs, fps: frames.length, snapshotRate: connection.snapshotRate(), state });
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

hud.reconnect.addEventListener("click", () => {
  connection?.close();
  start(lastJoin);
});
hud.leave.addEventListener("click", () => {
  connection?.close();
  connection = null;
  state = null;
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
      own: own ? { x: own.x, y: own.y, health: own.health } : null,
      ownScreen: lastDraw.ownScreen,
      playersDrawn: lastDraw.players,
      projectilesDrawn: lastDraw.projectiles,
      rosterSize: state?.names.size ?? 0,
      fps: frames.length,
      snapshotRate: connection?.snapshotRate() ?? 0,
      rttMs: connection?.rttMs ?? null,
    };
  },
  /** Where the newest snapshot (the server's view) puts a player, or null. */
  playerSeen(playerId) {
    const latest = state?.snapshots[state.snapshots.length - 1];
    const e = latest?.entities.find((e) => e.kind === 0 && e.owner === playerId);
    return e ? { x: e.x, y: e.y, health: e.health } : null;
  },
};
