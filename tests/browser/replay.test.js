// Replays in real Chromium: two pages play a round, the server shuts down (closing the
// round's replay), a new server on the same folder lists it in the lobby, and the viewer
// seeks, follows, changes speed and pauses.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO, startServer, launchBrowser, waitFor, arenaState, pixelAt, isOwnColour, OWN_COLOUR } from "./harness.js";

const ARTIFACTS = path.join(REPO, "target/browser");
const replayDir = mkdtempSync(path.join(tmpdir(), "arena-replays-"));
let server, context, viewer;

// "loading" until the viewer's module has loaded (right after a click, the old page may still be there).
const replayState = (page) => page.evaluate(() => window.arenaReplay?.snapshot() ?? { status: "loading" });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Move the timeline as a user does: set the range and let it announce the input. */
async function seekTo(page, value) {
  await page.evaluate((v) => {
    const range = document.querySelector("#timeline");
    range.value = String(v === "middle" ? Math.round(Number(range.max) / 2) : v);
    range.dispatchEvent(new Event("input", { bubbles: true }));
  }, value);
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startServer(["--replay-dir", replayDir]);
  context = await launchBrowser({ width: 1024, height: 700 });
});

after(async () => {
  await context?.close();
  await server?.stop();
});

test("a round played in the browser is recorded and listed in the lobby after a restart", async () => {
  const players = [];
  for (const name of ["Alice", "Bob"]) {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.fill("#name", name);
    await page.click("#quick-play");
    await waitFor(() => arenaState(page), (s) => s.status === "connected" && s.own, 10000, `${name} playing`);
    players.push(page);
  }
  // Quick play seats both in one room (with the house bots that keep it busy, if any).
  const [alice, bob] = await Promise.all(players.map((page) => arenaState(page)));
  assert.equal(alice.roomId, bob.roomId);
  // Alice walks right for a while: the replay must show her moving.
  await players[0].bringToFront();
  await players[0].keyboard.down("KeyD");
  await sleep(2500);
  await players[0].keyboard.up("KeyD");
  await sleep(1500);
  // SIGTERM: the drain closes the round in progress, and its replay with it.
  await server.stop();
  for (const page of players) await page.close();
  server = await startServer(["--replay-dir", replayDir]);

  viewer = await context.newPage();
  viewer.on("pageerror", (err) => assert.fail(`page error: ${err.message}`));
  await viewer.goto(server.url);
  const link = viewer.locator("#replays li.replay a");
  await link.first().waitFor({ timeout: 10000 });
  assert.match(await viewer.locator("#replays li.replay").first().textContent(), /\d+ players/);
  await link.first().click();
  const s = await waitFor(() => replayState(viewer), (s) => s.status !== "loading", 10000, "the replay to load");
  assert.equal(s.status, "ready", s.error);
  assert.ok(s.lastTick - s.firstTick >= 90, `a round of ${s.lastTick - s.firstTick} ticks`);
});

test("the viewer seeks to the middle and draws the players that were there", async () => {
  await seekTo(viewer, "middle");
  const at = await replayState(viewer);
  const middle = (at.firstTick + at.lastTick) / 2;
  assert.ok(Math.abs(at.tick - middle) <= 1, `at tick ${at.tick}, the middle is ${middle}`);
  const there = await viewer.evaluate((tick) => window.arenaReplay.playersAt(tick), at.tick);
  assert.ok(there.length >= 2, `players recorded then: ${JSON.stringify(there)}`);
  const drawn = await waitFor(() => replayState(viewer), (s) => s.playersDrawn === there.length, 5000, `all ${there.length} recorded players drawn: ${JSON.stringify(there)}`);
  assert.equal(drawn.playing, false, "seeking does not start playback");
  console.log(`# replay viewer: seek to the middle of a ${((at.lastTick - at.firstTick) / 30).toFixed(1)} s round took ${at.seekMs.toFixed(1)} ms`);
  // Following a player (one alive then: the dead are drawn faded) puts them, in the
  // own-player colour, at the centre of the canvas.
  // Alive in the frames on both sides of the moment shown (it is drawn between them).
  const next = await viewer.evaluate((tick) => window.arenaReplay.playersAt(tick + 3), at.tick);
  const alive = there.find((p) => p.health > 0 && next.some((n) => n.owner === p.owner && n.health > 0));
  assert.ok(alive, `someone alive at tick ${at.tick}`);
  await viewer.selectOption("#follow", String(alive.owner));
  const followed = await waitFor(() => replayState(viewer), (s) => s.followedScreen, 5000, "a followed player");
  const pixel = await pixelAt(viewer, followed.followedScreen);
  assert.ok(isOwnColour(pixel), `pixel at the followed player: ${pixel}, not ${OWN_COLOUR}`);
  assert.ok(Math.abs(followed.followedScreen.x - 512) < 2 && Math.abs(followed.followedScreen.y - 350) < 2, JSON.stringify(followed));
  await viewer.screenshot({ path: path.join(ARTIFACTS, "replay.png") });
});

test("speed changes how fast the replay plays, and pause stops it", async () => {
  await seekTo(viewer, 0);
  await viewer.selectOption("#speed", "0.25");
  await viewer.click("#play");
  const slowFrom = (await replayState(viewer)).tick;
  await sleep(1000);
  const slowTo = (await replayState(viewer)).tick;
  await viewer.selectOption("#speed", "4");
  await sleep(500);
  const fastTo = (await replayState(viewer)).tick;
  const [slowRate, fastRate] = [(slowTo - slowFrom) / 1.0, (fastTo - slowTo) / 0.5];
  // 0.25× of 30 ticks/s is 7.5, 4× is 120: wide margins for a busy machine.
  assert.ok(slowRate > 2 && slowRate < 15, `0.25×: ${slowRate} ticks/s`);
  assert.ok(fastRate > 6 * slowRate, `4×: ${fastRate} ticks/s against ${slowRate} at 0.25×`);
  await viewer.click("#play");
  const paused = await replayState(viewer);
  assert.equal(paused.playing, false);
  await sleep(500);
  assert.equal((await replayState(viewer)).tick, paused.tick, "paused playback moved");
});
