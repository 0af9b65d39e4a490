// The browser client in real Chromium against the real release server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { REPO, startServer, launchBrowser, waitFor, arenaState, pixelAt, isOwnColour, OWN_COLOUR } from "./harness.js";

const ARTIFACTS = path.join(REPO, "target/browser");
const ADMIN_TOKEN = "browser-test-admin-token-0123456789abcdef";
let server, context, first, second;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // No house bots: these tests count who is in the room (bots.test.js plays against them).
  server = await startServer(["--admin-token", ADMIN_TOKEN, "--quick-play-bots", "0"]);
  context = await launchBrowser({ width: 1024, height: 700 });
});

after(async () => {
  await context?.close();
  await server?.stop();
});

test("the lobby lists rooms and Quick play joins one", async () => {
  first = await context.newPage();
  first.on("pageerror", (err) => assert.fail(`page error: ${err.message}`));
  await first.goto(server.url);
  await first.fill("#name", "Alice");
  await first.click("#quick-play");
  const joined = await waitFor(() => arenaState(first), (s) => s.status === "connected" && s.roomId, 10000, "first page to join");

  second = await context.newPage();
  let lobbyFeed = false;
  let listFetches = 0;
  second.on("websocket", (ws) => (lobbyFeed ||= ws.url().endsWith("/ws/lobby")));
  second.on("request", (r) => (listFetches += r.url().endsWith("/api/rooms") ? 1 : 0));
  await second.goto(server.url);
  await second.fill("#name", "Bob");
  const row = second.locator(`li.room[data-room-id="${joined.roomId}"]`);
  await row.waitFor({ timeout: 10000 });
  assert.match(await row.textContent(), /1\/50 players/);
  // The list came over the lobby feed, not by polling the API.
  assert.ok(lobbyFeed, "the lobby did not open /ws/lobby");
  assert.ok(listFetches <= 1, `${listFetches} fetches of /api/rooms`);
  await row.locator("button.join").click();
  const other = await waitFor(() => arenaState(second), (s) => s.status === "connected" && s.roomId, 10000, "second page to join");
  assert.equal(other.roomId, joined.roomId);
});

test("two pages in the same room see each other", async () => {
  for (const page of [first, second]) {
    const s = await waitFor(() => arenaState(page), (s) => s.rosterSize === 2 && s.playersDrawn === 2, 10000, "both players drawn");
    assert.equal(s.playersDrawn, 2);
  }
});

test("the canvas draws the own player where the client says it is", async () => {
  const s = await waitFor(() => arenaState(first), (s) => s.ownScreen && s.own, 10000, "own player drawn");
  const pixel = await pixelAt(first, s.ownScreen);
  assert.ok(isOwnColour(pixel), `pixel at the own player: ${pixel}, not ${OWN_COLOUR}`);
});

test("holding a key moves the own player on the server", async () => {
  const me = (await arenaState(first)).playerId;
  // Watch through the other page: what it draws comes from the server's snapshots.
  const seenBy = async () => (await second.evaluate((id) => window.arena.playerSeen(id), me));
  await first.bringToFront();
  const start = await waitFor(seenBy, (p) => p !== null, 5000, "first player seen by the second page");
  const goLeft = start.x > 1000;
  await first.keyboard.down(goLeft ? "KeyA" : "KeyD");
  await new Promise((r) => setTimeout(r, 1000));
  await first.keyboard.up(goLeft ? "KeyA" : "KeyD");
  const end = await waitFor(seenBy, (p) => Math.abs(p.x - start.x) > 150, 5000, "the server to move the player");
  assert.ok(goLeft ? end.x < start.x : end.x > start.x, `moved from ${start.x} to ${end.x}`);
});

test("chat typed in one page shows in the other", async () => {
  await first.bringToFront();
  await first.keyboard.press("Enter");
  await first.keyboard.type("hello arena");
  await first.keyboard.press("Enter");
  await waitFor(() => arenaState(second), (s) => s.chat.some((l) => l === "Alice: hello arena"), 5000, "chat line");
});

test("a spectator watches the room without a body", async () => {
  const watcher = await context.newPage();
  try {
    await watcher.goto(server.url);
    const room = (await arenaState(first)).roomId;
    const row = watcher.locator(`li.room[data-room-id="${room}"]`);
    await row.waitFor({ timeout: 10000 });
    await row.locator("button.watch").click();
    const s = await waitFor(() => arenaState(watcher), (s) => s.spectator && s.playersDrawn >= 1 && s.deltaSnapshots > 0, 10000, "spectator view from delta snapshots");
    assert.equal(s.own, null);
    const players = await waitFor(() => arenaState(first), (s) => s.rosterSize === 3, 5000, "roster with the spectator");
    assert.equal(players.playersDrawn, 2, "the spectator has no body");
  } finally {
    await watcher.close();
  }
});

test("a screenshot of the game is saved, and the client reports its rates", async () => {
  await first.bringToFront();
  await first.mouse.move(700, 300);
  await first.mouse.down();
  await new Promise((r) => setTimeout(r, 700));
  await first.mouse.up();
  const file = path.join(ARTIFACTS, "game.png");
  await first.screenshot({ path: file });
  const s = await arenaState(first);
  console.log(`# client: ${s.fps} fps, ${s.snapshotRate} snapshots/s (${s.deltaSnapshots} deltas so far), ping ${s.rttMs?.toFixed(1)} ms; screenshot ${file}`);
  assert.ok(s.snapshotRate >= 20, `snapshot rate ${s.snapshotRate}`);
  // The client acknowledges what it decoded, so the server sends deltas, and the client rebuilds them.
  assert.ok(s.deltaSnapshots > 0, "no delta snapshot was received");
  assert.ok(s.fps >= 10, `frame rate ${s.fps}`);
});

test("the monitor page shows the room and live charts", async () => {
  const monitor = await context.newPage();
  try {
    await monitor.goto(`${server.url}monitor#token=${ADMIN_TOKEN}`);
    const room = (await arenaState(first)).roomId;
    await monitor.locator("#rooms tbody td", { hasText: room }).waitFor({ timeout: 10000 });
    const points = await waitFor(
      () => monitor.evaluate(() => Number(document.querySelector("#chart-players").dataset.points || 0)),
      (n) => n >= 2,
      10000,
      "samples in the players chart",
    );
    assert.ok(points >= 2);
    // uPlot drew it: its canvas and a legend that names the series.
    assert.equal(await monitor.locator("#chart-players .uplot canvas").count(), 1);
    assert.match(await monitor.locator("#chart-players .u-legend").textContent(), /players/);
    assert.match(await monitor.locator("#status").textContent(), /players/);
    await monitor.screenshot({ path: path.join(ARTIFACTS, "monitor.png"), fullPage: true });
  } finally {
    await monitor.close();
  }
});

test("an operator's kick shows its code and reason on screen", async () => {
  const { playerId, roomId } = await arenaState(second);
  const response = await fetch(`${server.url}api/admin/rooms/${roomId}/kick`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ player_id: playerId, reason: "be nice" }),
  });
  assert.equal(response.status, 200, await response.text());
  const banner = second.locator("#banner-text");
  await banner.waitFor({ state: "visible", timeout: 10000 });
  assert.equal(await banner.textContent(), "Disconnected (4006): be nice");
  await second.screenshot({ path: path.join(ARTIFACTS, "kicked.png") });
  assert.ok(await second.locator("#reconnect").isVisible());
});

test("a server-side close shows its code and reason on screen", async () => {
  const lone = await startServer();
  const page = await context.newPage();
  try {
    await page.goto(lone.url);
    await page.click("#quick-play");
    await waitFor(() => arenaState(page), (s) => s.status === "connected", 10000, "join");
    await lone.stop();
    const banner = page.locator("#banner-text");
    await banner.waitFor({ state: "visible", timeout: 10000 });
    // The reason shows at once; the client then retries on its own (it reads "reconnecting").
    const text = await banner.textContent();
    assert.match(text, /1001\): server shutting down — reconnecting in/);
    await page.screenshot({ path: path.join(ARTIFACTS, "disconnected.png") });
    assert.ok(await page.locator("#reconnect").isVisible());
  } finally {
    await page.close();
    await lone.stop();
  }
});
