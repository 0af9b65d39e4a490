// The lobby's list of recent replays (`GET /api/replays`), each a link to the viewer.
// With a session token, the private rooms' replays its player was in are listed too.

/** Replays the lobby shows. */
const SHOWN = 10;

/** Fill `list` with the newest replays; quietly empty when the server keeps none. */
export async function showReplays(list) {
  const session = JSON.parse(sessionStorage.getItem("arena.session") || "null");
  const headers = session?.token ? { Authorization: `Bearer ${session.token}` } : {};
  let replays = [];
  try {
    const response = await fetch(`/api/replays?limit=${SHOWN}`, { headers, cache: "no-store" });
    if (response.ok) ({ replays } = await response.json());
  } catch {
    // The lobby works without them.
  }
  list.replaceChildren(
    ...replays.map((r) => {
      const row = document.createElement("li");
      row.className = "room replay";
      row.dataset.replayId = r.id;
      const label = document.createElement("span");
      const when = new Date(r.started_at_ms).toLocaleString();
      label.textContent = `${r.room_name}, round ${r.round} — ${r.players.length} players, ${Math.round(r.duration_s)} s, ${when}`;
      const watch = document.createElement("a");
      watch.textContent = "Watch replay";
      // Any node's replay plays from this page: the link says which node keeps it.
      const node = r.node ? `&node=${encodeURIComponent(r.node)}` : "";
      watch.href = `/replay.html?replay=${encodeURIComponent(r.id)}${node}`;
      row.append(label, watch);
      return row;
    }),
  );
}
