// Test harness: the release server on a free loopback port, and Debian's Chromium
// driven by playwright-core with flags that keep a second page from being throttled.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SERVER_BIN = path.join(REPO, "target/release/arena-server");

/** Start arena-server on 127.0.0.1:0 and resolve once it printed its URL (http or https);
 * `bin` and `cwd` default to the release build run from the repository. Without a
 * `--data-dir` in `extraArgs` it gets a throwaway one, removed when it exits: the default
 * (`arena-data` in the repository) would keep the tests' replays, results and accounts,
 * and `scripts/run.sh` would list those replays in a newcomer's lobby. */
export function startServer(extraArgs = [], { bin = SERVER_BIN, cwd = REPO } = {}) {
  const ownDataDir = extraArgs.some((arg) => arg === "--data-dir" || arg.startsWith("--data-dir="));
  const throwaway = ownDataDir ? null : mkdtempSync(path.join(tmpdir(), "arena-data-"));
  const args = throwaway ? ["--data-dir", throwaway, ...extraArgs] : extraArgs;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["--addr", "127.0.0.1:0", ...args], {
      cwd,
      env: { ...process.env, RUST_LOG: "info", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (throwaway) {
      // "exit" never comes when the binary could not start; "error" does.
      const removeThrowaway = () => rmSync(throwaway, { recursive: true, force: true });
      child.once("exit", removeThrowaway);
      child.once("error", removeThrowaway);
    }
    let output = "";
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 15000);
    const onData = (chunk) => {
      output += chunk;
      const match = output.match(/(https?):\/\/127\.0\.0\.1:(\d+)\//);
      if (match) {
        clearTimeout(timer);
        resolve({ url: `${match[1]}://127.0.0.1:${match[2]}/`, child, stop: () => stopServer(child) });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** A browser context with a fresh, throwaway profile; `extraArgs` go to Chromium. */
export async function launchBrowser(viewport, extraArgs = []) {
  const profile = mkdtempSync(path.join(tmpdir(), "arena-chromium-"));
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    viewport,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
      ...extraArgs,
    ],
  });
}

/** Poll `read` until `accept` holds or `timeoutMs` passes; returns the last value read. */
export async function waitFor(read, accept, timeoutMs = 10000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  let value;
  while (Date.now() < deadline) {
    value = await read();
    if (accept(value)) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
}

/** The page's own test view (assets/main.js: window.arena). */
export const arenaState = (page) => page.evaluate(() => window.arena.snapshot());

/** The RGBA of the page's game canvas under `point`, given in CSS pixels. */
export async function pixelAt(page, point) {
  return page.evaluate(({ x, y }) => {
    const canvas = document.querySelector("#game");
    const dpr = canvas.width / canvas.clientWidth;
    return Array.from(canvas.getContext("2d").getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data);
  }, point);
}

/** The own player's fill (#ffd23f, render.js), unlike anything else on screen. */
export const OWN_COLOUR = [255, 210, 63];

/** Whether `pixel` is the own player's colour, give or take a few levels of what is
 *  blended over it at that moment (a shot or a label passing shifted it by one in a CI
 *  run); the other players' colours, shots and the floor are far from it. */
export function isOwnColour(pixel) {
  return OWN_COLOUR.every((c, i) => Math.abs(pixel[i] - c) <= 8);
}
