// The live monitor: polls /api/monitor once a second and draws the last minutes with
// uPlot (time axis, values on hover, drag to zoom, double-click to zoom back out).
import uPlot from "uplot";

// The admin token comes in the page's fragment (`/monitor#token=…`), which the
// browser never sends to a server, and goes out as a bearer header, never in a URL.
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const COLORS = ["#ffd23f", "#ff6b6b", "#4fa3ff", "#4cd964"];
const AXIS = { stroke: "#8fa3bf", grid: { stroke: "#1d2431" }, ticks: { stroke: "#1d2431" } };

/** The four charts: element id, series labels, and each sample's values. */
const CHARTS = [
  ["chart-tick", ["p50 ms", "p99 ms"], (x) => [x.tick_p50_ms, x.tick_p99_ms]],
  ["chart-players", ["players"], (x) => [x.players]],
  ["chart-bandwidth", ["KB/s"], (x) => [x.bytes_out_per_s / 1000]],
  ["chart-closes", ["closes/s"], (x) => [x.closes_per_s]],
].map(([id, labels, values]) => ({ el: document.getElementById(id), labels, values, plot: null, zoomed: false }));

/** A uPlot chart in `c.el`; `dataset.points` counts the values drawn (the browser test reads it). */
function makePlot(c) {
  const opts = {
    width: c.el.clientWidth,
    height: 150,
    cursor: { sync: { key: "monitor" } },
    scales: { x: { time: true } },
    axes: [AXIS, { ...AXIS, size: 44 }],
    series: [{}, ...c.labels.map((label, k) => ({ label, stroke: COLORS[k % COLORS.length], width: 2 }))],
    hooks: {
      // A drag selection zooms in: keep that range while new samples arrive.
      setSelect: [(u) => { if (u.select.width > 0) c.zoomed = true; }],
      draw: [(u) => { c.el.dataset.points = String(u.data.slice(1).reduce((n, s) => n + s.length, 0)); }],
    },
  };
  const plot = new uPlot(opts, [[], ...c.labels.map(() => [])], c.el);
  // uPlot's own double-click handler resets the zoom; follow the data again.
  plot.over.addEventListener("dblclick", () => { c.zoomed = false; });
  return plot;
}

function draw(series) {
  for (const c of CHARTS) {
    c.plot ??= makePlot(c);
    const rows = series.map(c.values);
    const data = [series.map((x) => x.t_ms / 1000), ...c.labels.map((_, k) => rows.map((r) => r[k]))];
    c.plot.setData(data, !c.zoomed);
  }
}

addEventListener("resize", () => {
  for (const c of CHARTS) c.plot?.setSize({ width: c.el.clientWidth, height: 150 });
});

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
    draw(s);
    const nodes = document.querySelector("#nodes tbody");
    nodes.replaceChildren();
    for (const n of data.nodes) cells(nodes, [n.id, n.addr, n.version, `${n.uptime_s} s`, n.ready ? "yes" : "draining", n.rooms, n.players]);
    const rooms = document.querySelector("#rooms tbody");
    rooms.replaceChildren();
    for (const r of data.rooms) {
      const room = r.room;
      const bots = room.bots ? ` + ${room.bots} bots` : "";
      cells(rooms, [room.name, room.id, `${room.players}/${room.capacity}${bots}`, room.spectators, `${room.tick_rate_hz} Hz`,
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
