// The binary as a user installs it (`cargo install --path server`; scripts/test.sh puts
// it under target/install), started from `/` without --assets-dir: the page it serves is
// the client built into it, and it plays, over http/ws and over https/wss.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO, startServer, launchBrowser, waitFor, arenaState, pixelAt, isOwnColour, OWN_COLOUR } from "./harness.js";

const INSTALLED_BIN = path.join(REPO, "target/install/bin/arena-server");
const FIXTURES = path.join(REPO, "tests/browser/fixtures");
const dataDirs = [];

after(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** Start the installed binary from `/` with a throwaway --data-dir (`/` need not be writable). */
function startInstalled(extraArgs = []) {
  assert.ok(existsSync(INSTALLED_BIN), `${INSTALLED_BIN} is missing: run scripts/test.sh (or its cargo install step)`);
  const dataDir = mkdtempSync(path.join(tmpdir(), "arena-installed-"));
  dataDirs.push(dataDir);
  return startServer(["--data-dir", dataDir, ...extraArgs], { bin: INSTALLED_BIN, cwd: "/" });
}

/** Open the page, press Quick play and wait until snapshots draw the own player. */
async function playOnce(server, browserArgs, scheme) {
  const context = await launchBrowser({ width: 1024, height: 700 }, browserArgs);
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    const sockets = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    const response = await page.goto(server.url);
    assert.equal(response.status(), 200);
    await page.fill("#name", "Ines");
    await page.click("#quick-play");
    const joined = await waitFor(() => arenaState(page), (s) => s.status === "connected" && s.roomId, 10000, "the page to join");
    assert.ok(joined.roomId);
    const s = await waitFor(() => arenaState(page), (s) => s.own && s.ownScreen && s.playersDrawn >= 1, 10000, "the own player drawn from snapshots");
    // The canvas shows the own player where the client says it is.
    const pixel = await pixelAt(page, s.ownScreen);
    assert.ok(isOwnColour(pixel), `pixel at the own player: ${pixel}, not ${OWN_COLOUR}`);
    const game = sockets.filter((url) => /\/ws(\?|$)/.test(url));
    assert.ok(game.length > 0, `no game socket among ${sockets.join(", ")}`);
    for (const url of sockets) assert.ok(url.startsWith(`${scheme}://`), `socket ${url} is not ${scheme}://`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
}

test("the installed binary started from / serves a playable page", async () => {
  const server = await startInstalled();
  try {
    assert.match(server.url, /^http:\/\//);
    await playOnce(server, [], "ws");
  } finally {
    await server.stop();
  }
});

test("the installed binary started from / plays over https and wss", async () => {
  // The committed self-signed test certificate; Chromium ignores certificate errors.
  const server = await startInstalled([
    "--tls-cert", path.join(FIXTURES, "tls-cert.pem"),
    "--tls-key", path.join(FIXTURES, "tls-key.pem"),
  ]);
  try {
    assert.match(server.url, /^https:\/\//);
    await playOnce(server, ["--ignore-certificate-errors"], "wss");
  } finally {
    await server.stop();
  }
});
