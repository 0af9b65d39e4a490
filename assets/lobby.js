// The lobby screen: display name and session, the room list (pushed by the lobby feed,
// polled when the feed is down), create (public or private), join, watch, Quick play,
// and invitation links (?room=ID).
import { CLOSE_CODES, decodeServer } from "./protocol.js";
import { showReplays } from "./replay-list.js";

/** Polling period while the lobby feed is not connected, and the wait before reconnecting it. */
const REFRESH_MS = 2000;

/** A session token for this name, reused while valid (it lets a dropped player reclaim their place). */
async function sessionFor(name) {
  const stored = JSON.parse(sessionStorage.getItem("arena.session") || "null");
  if (stored && stored.name === name && stored.expires_at * 1000 > Date.now() + 60000) return stored;
  const response = await fetch("/api/session", { method: "POST", body: JSON.stringify({ name }) });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  sessionStorage.setItem("arena.session", JSON.stringify(body));
  return body;
}

/** Forget the stored token (the server no longer accepts it). */
export function forgetSession() {
  sessionStorage.removeItem("arena.session");
}

export class Lobby {
  /** @param {(join: object) => void} onJoin
   * @param {{session: () => object|null, refresh: () => void}} [account] signed in: play as that account */
  constructor(root, onJoin, account) {
    this.root = root;
    this.onJoin = onJoin;
    this.account = account;
    this.nameInput = root.querySelector("#name");
    this.nameInput.value = localStorage.getItem("arena.name") || "";
    this.list = root.querySelector("#rooms");
    this.status = root.querySelector("#lobby-status");
    root.querySelector("#quick-play").addEventListener("click", () => this.quickPlay());
    root.querySelector("#create-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.create(root.querySelector("#new-room").value.trim(), root.querySelector("#new-private").checked);
    });
    this.invitation = new URLSearchParams(location.search).get("room");
  }

  name() {
    return this.nameInput.value.trim().slice(0, 24) || "guest";
  }

  say(text) {
    this.status.textContent = text;
  }

  async join(extra) {
    localStorage.setItem("arena.name", this.name());
    try {
      const session = this.account?.session() || (await sessionFor(this.name()));
      this.onJoin({ name: session.name, token: session.token, ...extra });
    } catch (err) {
      this.say(`Cannot start a session: ${err.message}`);
    }
  }

  async quickPlay() {
    const response = await fetch("/api/matchmake", { method: "POST" });
    const body = await response.json();
    if (!response.ok) return this.say(`No seat available: ${body.error}`);
    this.join({ wsUrl: body.ws_url, room: body.room.id });
  }

  async create(name, isPrivate) {
    if (!name) return this.say("Give the room a name.");
    const response = await fetch("/api/rooms", { method: "POST", body: JSON.stringify({ name, private: isPrivate }) });
    const body = await response.json();
    if (!response.ok) return this.say(`Cannot create the room: ${body.error}`);
    this.join({ room: body.id });
  }

  show() {
    this.root.hidden = false;
    this.account?.refresh();
    if (this.invitation) {
      const room = this.invitation;
      this.invitation = null;
      history.replaceState(null, "", "/");
      this.say(`Joining the room you were invited to…`);
      return this.join({ room });
    }
    showReplays(this.root.querySelector("#replays"));
    this.watch();
  }

  hide() {
    this.root.hidden = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    if (this.feed) {
      this.feed.onclose = null;
      this.feed.close(CLOSE_CODES.NORMAL, "lobby hidden");
      this.feed = null;
    }
  }

  /** Follow the lobby feed (`/ws/lobby`): the room list on connecting and on every change. */
  watch() {
    this.refresh();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const feed = new WebSocket(`${scheme}//${location.host}/ws/lobby`);
    feed.binaryType = "arraybuffer";
    this.feed = feed;
    feed.onopen = () => clearInterval(this.timer);
    feed.onmessage = (event) => {
      const msg = decodeServer(new Uint8Array(event.data));
      if (msg.kind === "lobby") this.showRooms(msg.rooms);
    };
    // Feed down: poll until it comes back.
    feed.onclose = () => {
      if (this.feed !== feed) return;
      clearInterval(this.timer);
      this.timer = setInterval(() => this.refresh(), REFRESH_MS);
      this.retry = setTimeout(() => !this.root.hidden && this.watch(), REFRESH_MS);
    };
  }

  async refresh() {
    try {
      const response = await fetch("/api/rooms", { cache: "no-store" });
      const { rooms } = await response.json();
      this.showRooms(rooms);
    } catch (err) {
      this.say(`Cannot reach the server: ${err.message}`);
    }
  }

  showRooms(rooms) {
    this.render(rooms);
    this.say(rooms.length ? "" : "No public rooms yet: Quick play makes one.");
  }

  render(rooms) {
    this.list.replaceChildren(
      ...rooms.map((room) => {
        const row = document.createElement("li");
        row.className = "room";
        row.dataset.roomId = room.id;
        const label = document.createElement("span");
        const state = room.match_state === "results" ? "results" : `round ${room.round}`;
        // People and house bots apart: bots hold no seat and step aside for whoever joins.
        const bots = room.bots ? `, ${room.bots} bots` : "";
        label.textContent = `${room.name} — ${room.players}/${room.capacity} players${bots}, ${room.spectators} watching, ${state}`;
        const join = document.createElement("button");
        join.textContent = "Join";
        join.className = "join";
        join.disabled = room.players >= room.capacity;
        join.addEventListener("click", () => this.join({ room: room.id }));
        const watch = document.createElement("button");
        watch.textContent = "Watch";
        watch.className = "watch";
        watch.addEventListener("click", () => this.join({ room: room.id, spectate: true }));
        const buttons = document.createElement("span");
        buttons.append(join, watch);
        row.append(label, buttons);
        return row;
      }),
    );
  }
}
