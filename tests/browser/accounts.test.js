// Accounts in real Chromium: sign up from the lobby, play a round, and find the
// rating and the match in the profile and the own rank on the leaderboard.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO, startServer, launchBrowser, waitFor, arenaState } from "./harness.js";

const ARTIFACTS = path.join(REPO, "target/browser");
const ADMIN_TOKEN = "browser-test-admin-token-0123456789abcdef";
let server, player, guest;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // A fresh data folder: a fresh SQLite account database.
  const data = mkdtempSync(path.join(tmpdir(), "arena-accounts-"));
  server = await startServer(["--admin-token", ADMIN_TOKEN, "--data-dir", data]);
  // Two browsers: the account lives in localStorage, which one profile's pages share.
  player = await launchBrowser({ width: 1024, height: 900 });
  guest = await launchBrowser({ width: 800, height: 600 });
});

after(async () => {
  await player?.close();
  await guest?.close();
  await server?.stop();
});

test("sign up, play a round, and see the rating and the match in the profile", async () => {
  const page = await player.newPage();
  page.on("pageerror", (err) => assert.fail(`page error: ${err.message}`));
  await page.goto(server.url);
  await page.fill("#account-name", "Zoë");
  await page.fill("#account-password", "correct horse");
  await page.click("#sign-up");
  await page.locator("#account-signed-in").waitFor({ state: "visible", timeout: 10000 });
  await waitFor(() => page.locator("#account-who").textContent(), (who) => who === "Signed in as Zoë", 10000, "the signed-in name");
  const account = await page.evaluate(() => JSON.parse(localStorage.getItem("arena.account")));
  assert.ok(account.player_id > 0 && account.player_id < 2 ** 29, `an account id: ${account.player_id}`);

  // Quick play as the account (with the room's house bots); a guest in another browser joins too.
  await page.click("#quick-play");
  const joined = await waitFor(() => arenaState(page), (s) => s.status === "connected" && s.roomId, 10000, "the account to join");
  assert.equal(joined.playerId, account.player_id, "playing under the account's id");
  const other = await guest.newPage();
  await other.goto(`${server.url}?room=${joined.roomId}`);
  await waitFor(() => arenaState(other), (s) => s.status === "connected" && s.roomId === joined.roomId, 10000, "the guest to join");

  // The operator closes the room: its round is logged and stored.
  const closed = await fetch(`${server.url}api/admin/rooms/${joined.roomId}/close`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  assert.equal(closed.status, 200, await closed.text());
  await page.locator("#leave").waitFor({ state: "visible", timeout: 10000 });
  await page.click("#leave");

  // Ranks come from a cache a few seconds stale at most: refresh until both show.
  const match = page.locator(`#matches li.match[data-room-id="${joined.roomId}"]`);
  await waitFor(
    async () => {
      await page.click("#account-refresh");
      await page.waitForTimeout(300);
      return [await match.count(), await page.locator("#my-rank").textContent()];
    },
    ([n, rank]) => n === 1 && rank === "Your rank: #1 of 1",
    15000,
    "the match in the profile and the own rank",
  );
  // Quick play rooms come with house bots: the account, the guest and the bots all place.
  assert.match(await match.textContent(), /round 1: place \d+ of [2-9]\d*, \d+ kills, rating 0\.00 → -?\d+\.\d\d$/);
  assert.match(await page.locator("#profile-stats").textContent(), /^Rating -?\d+\.\d\d · 1 rounds · [01] wins/);
  assert.equal(await page.locator("#leaderboard li.me").count(), 1);
  await page.screenshot({ path: path.join(ARTIFACTS, "profile.png") });

  // Signing out revokes the token and turns the page back to guest play.
  await page.click("#sign-out");
  await page.locator("#account-signed-out").waitFor({ state: "visible", timeout: 10000 });
  const revoked = await fetch(`${server.url}api/leaderboard?around=me`, { headers: { authorization: `Bearer ${account.token}` } });
  assert.equal(revoked.status, 401);
});
