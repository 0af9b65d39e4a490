// The overlays drawn with HTML: ping/FPS/snapshot-rate line, scoreboard, kill feed,
// chat and room events, round results, and the connection banner.

const KILL_FEED_MS = 6000;
const CHAT_LINES = 8;

export class Hud {
  constructor(root) {
    this.stats = root.querySelector("#stats");
    this.scores = root.querySelector("#scores");
    this.feed = root.querySelector("#feed");
    this.chatLog = root.querySelector("#chat-log");
    this.chatInput = root.querySelector("#chat-input");
    this.results = root.querySelector("#results");
    this.share = root.querySelector("#share");
    this.banner = root.querySelector("#banner");
    this.bannerText = root.querySelector("#banner-text");
    this.reconnect = root.querySelector("#reconnect");
    this.leave = root.querySelector("#leave");
  }

  update({ rttMs, fps, snapshotRate, state, following }) {
    const ping = rttMs === null ? "…" : `${rttMs.toFixed(0)} ms`;
    const watching = state?.welcome.spectator ? ` · watching ${following || "…"} (Tab: next)` : "";
    this.stats.textContent = `ping ${ping} · ${fps.toFixed(0)} fps · ${snapshotRate} snapshots/s${watching}`;
    if (!state) return;
    const rows = state.scoreboard().slice(0, 8);
    this.scores.replaceChildren(
      ...rows.map((r) => {
        const li = document.createElement("li");
        li.textContent = `${r.name}: ${r.score}`;
        if (r.bot) li.append(botTag());
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

  /** Add a line to the chat box; `kind` styles room events apart from chat. */
  say(text, kind = "chat") {
    const li = document.createElement("li");
    li.textContent = text;
    li.className = kind;
    this.chatLog.append(li);
    while (this.chatLog.children.length > CHAT_LINES) this.chatLog.firstChild.remove();
  }

  showResults(results) {
    const table = results.standings
      .map((s, i) => `<tr><td>${i + 1}</td><td>${escapeHtml(s.name)}${s.bot ? ' <span class="bot-tag">bot</span>' : ""}</td><td>${s.kills}</td><td>${s.deaths}</td></tr>`)
      .join("");
    const why = results.reason === "score_limit" ? "score limit reached" : results.reason.replace("_", " ");
    this.results.innerHTML =
      `<h2>Round ${results.round} over</h2><p>${why} after ${results.durationS.toFixed(0)} s — next round in ${results.nextRoundInS.toFixed(0)} s</p>` +
      `<table><tr><th>#</th><th>player</th><th>kills</th><th>deaths</th></tr>${table}</table>`;
    this.results.hidden = false;
  }

  hideResults() {
    this.results.hidden = true;
  }

  showShareLink(roomId) {
    const link = `${location.origin}/?room=${encodeURIComponent(roomId)}`;
    this.share.textContent = `invite: ${link}`;
    this.share.hidden = false;
  }

  /** Show the connection state; `disconnected` shows the close code and reason. */
  showConnection(s) {
    this.banner.dataset.status = s.status;
    this.banner.hidden = s.status === "connected";
    this.reconnect.hidden = s.status !== "disconnected";
    this.leave.hidden = s.status !== "disconnected";
    if (s.status === "connecting") {
      this.bannerText.textContent = s.attempt > 0 ? `Reconnecting (attempt ${s.attempt})…` : "Connecting…";
    } else {
      const retry = s.retryInMs === null ? "" : ` — reconnecting in ${(s.retryInMs / 1000).toFixed(1)} s`;
      this.bannerText.textContent = `Disconnected (${s.code}): ${s.reason || "no reason given"}${retry}`;
    }
  }
}

/** The small "bot" label next to a house bot's name. */
function botTag() {
  const tag = document.createElement("span");
  tag.className = "bot-tag";
  tag.textContent = "bot";
  return tag;
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
