// The lobby screen: display name, the room list (refreshing), create, join, Quick play.

const REFRESH_MS = 2000;

export class Lobby {
  /** @param {(join: {room?: string, name: string}) => void} onJoin */
  constructor(root, onJoin) {
    this.root = root;
    this.onJoin = onJoin;
    this.nameInput = root.querySelector("#name");
    this.nameInput.value = localStorage.getItem("arena.name") || "";
    this.list = root.querySelector("#rooms");
    this.status = root.querySelector("#lobby-status");
    root.querySelector("#quick-play").addEventListener("click", () => this.join(undefined));
    root.querySelector("#create-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const wanted = root.querySelector("#new-room").value.trim();
      const id = wanted.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 32);
      if (!id) return this.say("Room names use letters, digits, '-' and '_'.");
      this.join(id);
    });
  }

  name() {
    return this.nameInput.value.trim().slice(0, 24);
  }

  join(room) {
    localStorage.setItem("arena.name", this.name());
    this.onJoin({ room, name: this.name() });
  }

  say(text) {
    this.status.textContent = text;
  }

  show() {
    this.root.hidden = false;
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  hide() {
    this.root.hidden = true;
    clearInterval(this.timer);
  }

  async refresh() {
    try {
      const response = await fetch("/api/rooms", { cache: "no-store" });
      const { rooms } = await response.json();
      this.render(rooms);
      this.say(rooms.length ? "" : "No rooms yet: Quick play makes one.");
    } catch (err) {
      this.say(`Cannot reach the server: ${err.message}`);
    }
  }

  render(rooms) {
    this.list.replaceChildren(
      ...rooms.map((room) => {
        const row = document.createElement("li");
        row.className = "room";
        row.dataset.roomId = room.id;
        const label = document.createElement("span");
        label.textContent = `${room.name} — ${room.players}/${room.capacity} players, ${room.tick_rate_hz} Hz`;
        const button = document.createElement("button");
        button.textContent = "Join";
        button.disabled = room.players >= room.capacity;
        button.addEventListener("click", () => this.join(room.id));
        row.append(label, button);
        return row;
      }),
    );
  }
}
