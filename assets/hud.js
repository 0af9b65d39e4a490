// The overlays drawn with HTML: ping/FPS/snapshot-rate line, scoreboard, kill feed,
// and the connection banner with its reconnect button.

const KILL_FEED_MS = 6000;

export class Hud {
  constructor(root) {
    this.stats = root.querySelector("#stats");
    this.scores = root.querySelector("#scores");
    this.feed = root.querySelector("#feed");
    this.banner = root.querySelector("#banner");
    this.bannerText = root.querySelector("#banner-text");
    this.reconnect = root.querySelector("#reconnect");
    this.leave = root.querySelector("#leave");
  }

  update({ rttMs, fps, snapshotRate, state }) {
    const ping = rttMs === null ? "…" : `${rttMs.toFixed(0)} ms`;
    this.stats.textContent = `ping ${ping} · ${fps.toFixed(0)} fps · ${snapshotRate} snapshots/s`;
    if (!state) return;
    const rows = state.scoreboard().slice(0, 8);
    this.scores.replaceChildren(
      ...rows.map((r) => {
        const li = document.createElement("li");
        li.textContent = `${r.name}: ${r.score}`;
        if (r.me) li.className = "me";
        return li;
      }),
    );
    const now = performance.now();
    this.feed.replaceChildren(
      ...state.kills
        .filter((k) => now - k.at < KILL_FEED_MS)
        .map((k) => {
          const li = document.createElement("li");
          li.textContent = `${state.names.get(k.killer) || "?"} ✖ ${state.names.get(k.victim) || "?"}`;
          return li;
        }),
    );
  }

  /** Show the connection state; `disconnected` shows the close code and reason. */
  showConnection(s) {
    this.banner.dataset.status = s.status;
    this.banner.hidden = s.status === "connected";
    this.reconnect.hidden = s.status !== "disconnected";
    this.leave.hidden = s.status !== "disconnected";
    this.bannerText.textContent =
      s.status === "connecting" ? "Connecting…" : `Disconnected (${s.code}): ${s.reason || "no reason given"}`;
  }
}
