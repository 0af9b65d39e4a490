// The live monitor: polls /api/monitor once a second and draws small line charts
// of the last minutes (no external code: plain canvas).

// The admin token comes in the page's fragment (`/monitor#token=…`), which the
// browser never sends to a server, and goes out as a bearer header, never in a URL.
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const COLORS = ["#ffd23f", "#ff6b6b", "#4fa3ff", "#4cd964"];

/** Draw `lines` (arrays of numbers, same length) on a canvas with a max label. */
function chart(canvas, lines, unit) {
  const dpr = devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const values = lines.flat();
  const max = Math.max(1e-9, ...values) * 1.1;
  ctx.strokeStyle = "#1d2431";
  ctx.lineWidth = 1;
  for (let i = 1; i < 4; i++) {
    ctx.beginPath();
    ctx.moveTo(0, (h * i) / 4);
    ctx.lineTo(w, (h * i) / 4);
    ctx.stroke();
  }
  lines.forEach((line, k) => {
    if (line.length < 2) return;
    ctx.strokeStyle = COLORS[k % COLORS.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    line.forEach((v, i) => {
      const x = (i / (line.length - 1)) * w;
      const y = h - (v / max) * h;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
  ctx.fillStyle = "#8fa3bf";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(`max ${(max / 1.1).toFixed(max < 10 ? 2 : 0)} ${unit}`, 4, 12);
  canvas.dataset.points = String(values.length);
}

function cells(row, values) {
  const tr = document.createElement("tr");
  for (const v of values) {
    const td = document.createElement("td");
    td.textContent = v;
    tr.append(td);
  }
  row.append(tr);
}

async function refresh() {
  const status = document.querySelector("#status");
  try {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const response = await fetch("/api/monitor", { cache: "no-store", headers });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    const s = data.series;
    chart(document.querySelector("#chart-tick"), [s.map((x) => x.tick_p50_ms), s.map((x) => x.tick_p99_ms)], "ms");
    chart(document.querySelector("#chart-players"), [s.map((x) => x.players)], "players");
    chart(document.querySelector("#chart-bandwidth"), [s.map((x) => x.bytes_out_per_s / 1000)], "KB/s");
    chart(document.querySelector("#chart-closes"), [s.map((x) => x.closes_per_s)], "/s");
    const nodes = document.querySelector("#nodes tbody");
    nodes.replaceChildren();
    for (const n of data.nodes) cells(nodes, [n.id, n.addr, n.version, `${n.uptime_s} s`, n.ready ? "yes" : "draining", n.rooms, n.players]);
    const rooms = document.querySelector("#rooms tbody");
    rooms.replaceChildren();
    for (const r of data.rooms) {
      const room = r.room;
      cells(rooms, [room.name, room.id, `${room.players}/${room.capacity}`, room.spectators, `${room.tick_rate_hz} Hz`,
        `${r.last_tick_ms.toFixed(2)} ms`, r.late_ticks, `${room.round} (${room.match_state})`, `${room.age_s} s`]);
    }
    const last = s[s.length - 1];
    status.className = "";
    status.textContent = last
      ? `${data.nodes.length} node · ${last.players} players · tick p99 ${last.tick_p99_ms.toFixed(2)} ms · updated ${new Date(last.t_ms).toLocaleTimeString()}`
      : "waiting for the first sample…";
  } catch (err) {
    status.className = "error";
    status.textContent = `cannot read /api/monitor: ${err.message}`;
  }
}

refresh();
setInterval(refresh, 1000);
