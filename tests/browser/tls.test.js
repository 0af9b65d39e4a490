// The browser client over native TLS: the page on https://, the game over wss://.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { REPO, startServer, launchBrowser, waitFor, arenaState } from "./harness.js";

// A self-signed certificate for localhost and 127.0.0.1, for this test only (the key is
// public): Chromium is told to ignore certificate errors rather than to trust it.
const FIXTURES = path.join(REPO, "tests/browser/fixtures");
let server, context;

before(async () => {
  server = await startServer([
    "--tls-cert", path.join(FIXTURES, "tls-cert.pem"),
    "--tls-key", path.join(FIXTURES, "tls-key.pem"),
  ]);
  context = await launchBrowser({ width: 1024, height: 700 }, ["--ignore-certificate-errors"]);
});

after(async () => {
  await context?.close();
  await server?.stop();
});

test("over https the page plays through wss", async () => {
  assert.match(server.url, /^https:\/\//);
  const page = await context.newPage();
  page.on("pageerror", (err) => assert.fail(`page error: ${err.message}`));
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await page.goto(server.url);
  await page.fill("#name", "Tess");
  await page.click("#quick-play");
  const joined = await waitFor(() => arenaState(page), (s) => s.status === "connected" && s.roomId, 10000, "the page to join");
  assert.ok(joined.roomId);
  await waitFor(() => arenaState(page), (s) => s.own && s.playersDrawn >= 1, 10000, "the own player drawn from snapshots");
  const game = sockets.filter((url) => /\/ws(\?|$)/.test(url));
  assert.ok(game.length > 0, `no game socket among ${sockets.join(", ")}`);
  for (const url of sockets) assert.match(url, /^wss:\/\//);
  await page.close();
});
