// A 5-minute round of 50 house bots, recorded with the server's own encoder faster than
// real time (`arena-server replay-sample`), opened in the viewer in real Chromium: logs
// what loading it costs before the first frame (download, gunzip, decode) and the seek to
// its middle, and checks the players recorded there are drawn. Figures go to BENCHMARKS.md.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO, startServer, launchBrowser, waitFor } from "./harness.js";

const replayDir = mkdtempSync(path.join(tmpdir(), "arena-long-replay-"));
let server, context, sample;

const replayState = (page) => page.evaluate(() => window.arenaReplay?.snapshot() ?? { status: "loading" });

before(async () => {
  const bin = path.join(REPO, "target/release/arena-server");
  const args = ["replay-sample", "--dir", replayDir, "--players", "50", "--seconds", "300"];
  sample = JSON.parse(execFileSync(bin, args, { encoding: "utf8" }).trim().split("\n").pop());
  console.log(`# replay-sample: ${sample.frames} frames, ${(sample.bytes / 1e6).toFixed(2)} MB, recorded in ${sample.took_s.toFixed(1)} s`);
  server = await startServer(["--replay-dir", replayDir]);
  context = await launchBrowser({ width: 1024, height: 700 });
});

after(async () => {
  await context?.close();
  await server?.stop();
});

test("a 5-minute round of 50 opens, and seeking to its middle draws who was there", async () => {
  const page = await context.newPage();
  page.on("pageerror", (err) => assert.fail(`page error: ${err.message}`));
  await page.goto(`${server.url}replay.html?replay=${sample.id}`);
  const s = await waitFor(() => replayState(page), (s) => s.status !== "loading", 60000, "the long replay to load");
  assert.equal(s.status, "ready", s.error);
  assert.ok((s.lastTick - s.firstTick) / 30 >= 299, `a round of ${(s.lastTick - s.firstTick) / 30} s`);
  const l = s.loadMs;
  console.log(
    `# replay viewer, 5 min x 50 players (${(l.fileBytes / 1e6).toFixed(2)} MB, ${(l.rawBytes / 1e6).toFixed(1)} MB gunzipped): ` +
      `first frame after ${l.total.toFixed(0)} ms (download ${l.download.toFixed(0)}, gunzip ${l.gunzip.toFixed(0)}, decode ${l.decode.toFixed(0)})`,
  );
  const seeks = [];
  for (const offset of [0, 37, -53]) {
    await page.evaluate((offset) => {
      const range = document.querySelector("#timeline");
      range.value = String(Math.round(Number(range.max) / 2) + offset);
      range.dispatchEvent(new Event("input", { bubbles: true }));
    }, offset);
    seeks.push((await replayState(page)).seekMs);
  }
  const at = await replayState(page);
  const there = await page.evaluate((tick) => window.arenaReplay.playersAt(tick), at.tick);
  assert.equal(there.length, 50, "all 50 bots are in the middle frame");
  await waitFor(() => replayState(page), (s) => s.playersDrawn === 50, 5000, "the 50 bots drawn");
  console.log(`# replay viewer, 5 min x 50 players: seeks near the middle took ${seeks.map((ms) => ms.toFixed(1)).join(", ")} ms`);
});
