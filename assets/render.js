// Drawing: camera on the own player, arena bounds and grid, players, projectiles,
// names and health bars. Sized for the device pixel ratio.
import { EntityKind } from "./protocol.js";

const GRID = 100;
const COLORS = {
  background: "#10141c", outside: "#07090d", grid: "#1d2431", bounds: "#3b4a63",
  own: "#ffd23f", other: "#4fa3ff", dead: "#555d6b", projectile: "#ff6b6b", ownProjectile: "#ffe98a",
  label: "#dfe6f0", botTag: "#b08cff", botTagText: "#10141c",
};
const NAME_FONT = "12px system-ui, sans-serif";
const TAG_FONT = "bold 9px system-ui, sans-serif";

export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.resize();
    addEventListener("resize", () => this.resize());
  }

  resize() {
    const dpr = devicePixelRatio || 1;
    this.width = innerWidth;
    this.height = innerHeight;
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.dpr = dpr;
  }

  /** Screen position (CSS pixels) of a world point under the current camera. */
  toScreen(camera, x, y) {
    return { x: x - camera.x + this.width / 2, y: y - camera.y + this.height / 2 };
  }

  /** Draw one frame; returns what was drawn (exposed to tests). */
  draw(view, welcome, names, myPlayerId) {
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = COLORS.outside;
    ctx.fillRect(0, 0, this.width, this.height);
    if (!view) return { players: 0, projectiles: 0, ownScreen: null };
    const camera = view.camera ? { x: view.camera.x, y: view.camera.y } : { x: welcome.arenaWidth / 2, y: welcome.arenaHeight / 2 };
    const origin = this.toScreen(camera, 0, 0);

    ctx.fillStyle = COLORS.background;
    ctx.fillRect(origin.x, origin.y, welcome.arenaWidth, welcome.arenaHeight);
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let gx = GRID; gx < welcome.arenaWidth; gx += GRID) {
      ctx.moveTo(origin.x + gx, origin.y);
      ctx.lineTo(origin.x + gx, origin.y + welcome.arenaHeight);
    }
    for (let gy = GRID; gy < welcome.arenaHeight; gy += GRID) {
      ctx.moveTo(origin.x, origin.y + gy);
      ctx.lineTo(origin.x + welcome.arenaWidth, origin.y + gy);
    }
    ctx.stroke();
    ctx.strokeStyle = COLORS.bounds;
    ctx.lineWidth = 4;
    ctx.strokeRect(origin.x, origin.y, welcome.arenaWidth, welcome.arenaHeight);

    let players = 0, projectiles = 0;
    for (const e of view.entities) {
      if (e.kind !== EntityKind.Projectile) continue;
      const p = this.toScreen(camera, e.x, e.y);
      ctx.fillStyle = e.owner === myPlayerId ? COLORS.ownProjectile : COLORS.projectile;
      ctx.beginPath();
      ctx.arc(p.x, p.y, welcome.projectileRadius, 0, Math.PI * 2);
      ctx.fill();
      projectiles++;
    }
    for (const e of view.entities) {
      if (e.kind === EntityKind.Projectile) continue;
      const name = names.get(e.owner) || "";
      this.drawPlayer(camera, e, welcome, name, false, e.kind === EntityKind.Bot);
      players++;
    }
    let ownScreen = null;
    if (view.own) {
      this.drawPlayer(camera, view.own, welcome, names.get(view.own.owner) || "you", true);
      ownScreen = this.toScreen(camera, view.own.x, view.own.y);
      players++;
    }
    return { players, projectiles, ownScreen };
  }

  drawPlayer(camera, e, welcome, name, own, bot = false) {
    const ctx = this.ctx;
    const p = this.toScreen(camera, e.x, e.y);
    const r = welcome.playerRadius;
    const dead = e.health === 0;
    ctx.globalAlpha = dead ? 0.35 : 1;
    ctx.fillStyle = dead ? COLORS.dead : own ? COLORS.own : COLORS.other;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
    ctx.fill();
    if (own) {
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 3;
      ctx.stroke();
    }
    // Barrel along the aim.
    ctx.strokeStyle = ctx.fillStyle;
    ctx.lineWidth = 6;
    ctx.beginPath();
    ctx.moveTo(p.x, p.y);
    ctx.lineTo(p.x + Math.cos(e.aim) * (r + 10), p.y + Math.sin(e.aim) * (r + 10));
    ctx.stroke();
    ctx.globalAlpha = 1;

    this.drawLabel(dead ? `${name} (respawning)` : name, bot, p.x, p.y - r - 14);
    if (!dead) {
      const w = r * 2, h = 4, frac = e.health / welcome.maxHealth;
      ctx.fillStyle = "#2a2f3a";
      ctx.fillRect(p.x - w / 2, p.y - r - 10, w, h);
      ctx.fillStyle = frac > 0.5 ? "#4cd964" : frac > 0.25 ? "#ffcc00" : "#ff3b30";
      ctx.fillRect(p.x - w / 2, p.y - r - 10, w * frac, h);
    }
  }

  /**
   * A player's name centred at (x, y); a house bot's with a boxed BOT badge beside
   * it, drawn apart from the name in its own colours, so no name a person picks
   * (say "Ada [bot]") can look like a bot.
   */
  drawLabel(text, bot, x, y) {
    const ctx = this.ctx;
    ctx.font = NAME_FONT;
    if (!bot) {
      ctx.textAlign = "center";
      ctx.fillStyle = COLORS.label;
      ctx.fillText(text, x, y);
      return;
    }
    const nameWidth = ctx.measureText(text).width;
    ctx.font = TAG_FONT;
    const tagWidth = ctx.measureText("BOT").width + 6;
    const left = x - (nameWidth + 4 + tagWidth) / 2;
    ctx.textAlign = "left";
    ctx.font = NAME_FONT;
    ctx.fillStyle = COLORS.label;
    ctx.fillText(text, left, y);
    const tagLeft = left + nameWidth + 4;
    ctx.fillStyle = COLORS.botTag;
    ctx.fillRect(tagLeft, y - 10, tagWidth, 12);
    ctx.font = TAG_FONT;
    ctx.fillStyle = COLORS.botTagText;
    ctx.fillText("BOT", tagLeft + 3, y - 1);
  }
}
