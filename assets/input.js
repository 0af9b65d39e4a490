// Keyboard, mouse and touch turned into one control state: move vector, aim, fire.

const KEYS = {
  KeyW: [0, -1], ArrowUp: [0, -1], KeyS: [0, 1], ArrowDown: [0, 1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0], KeyD: [1, 0], ArrowRight: [1, 0],
};

export class Controls {
  constructor(canvas, touchRoot) {
    this.held = new Set();
    this.mouse = null; // screen position of the pointer, CSS pixels
    this.mouseFire = false;
    this.touchMove = null; // {x, y} unit-ish vector from the virtual stick
    this.touchFire = false;
    addEventListener("keydown", (e) => {
      if (KEYS[e.code] || e.code === "Space") {
        this.held.add(e.code);
        if (e.target === document.body || e.target === canvas) e.preventDefault();
      }
    });
    addEventListener("keyup", (e) => this.held.delete(e.code));
    addEventListener("blur", () => this.held.clear());
    canvas.addEventListener("mousemove", (e) => (this.mouse = { x: e.clientX, y: e.clientY }));
    canvas.addEventListener("mousedown", () => (this.mouseFire = true));
    addEventListener("mouseup", () => (this.mouseFire = false));
    this.setupTouch(touchRoot);
  }

  setupTouch(root) {
    const stick = root.querySelector("#stick");
    const knob = root.querySelector("#knob");
    const fire = root.querySelector("#fire");
    let origin = null;
    stick.addEventListener("touchstart", (e) => {
      const t = e.changedTouches[0];
      origin = { x: t.clientX, y: t.clientY, id: t.identifier };
      e.preventDefault();
    }, { passive: false });
    stick.addEventListener("touchmove", (e) => {
      for (const t of e.changedTouches) {
        if (!origin || t.identifier !== origin.id) continue;
        const dx = t.clientX - origin.x, dy = t.clientY - origin.y;
        const len = Math.max(Math.hypot(dx, dy), 1);
        const reach = Math.min(len, 50);
        this.touchMove = { x: (dx / len) * (reach / 50), y: (dy / len) * (reach / 50) };
        knob.style.transform = `translate(${(dx / len) * reach}px, ${(dy / len) * reach}px)`;
      }
      e.preventDefault();
    }, { passive: false });
    const release = () => {
      origin = null;
      this.touchMove = null;
      knob.style.transform = "";
    };
    stick.addEventListener("touchend", release);
    stick.addEventListener("touchcancel", release);
    fire.addEventListener("touchstart", (e) => { this.touchFire = true; e.preventDefault(); }, { passive: false });
    fire.addEventListener("touchend", () => (this.touchFire = false));
  }

  /** The controls now; `ownScreen` is where the own player is drawn, to aim from. */
  sample(ownScreen, lastAim) {
    let x = 0, y = 0;
    for (const code of this.held) {
      const k = KEYS[code];
      if (k) { x += k[0]; y += k[1]; }
    }
    if (this.touchMove) { x = this.touchMove.x; y = this.touchMove.y; }
    const len = Math.hypot(x, y);
    if (len > 1) { x /= len; y /= len; }
    let aim = lastAim;
    if (this.touchMove && (x || y)) aim = Math.atan2(y, x);
    else if (this.mouse && ownScreen) aim = Math.atan2(this.mouse.y - ownScreen.y, this.mouse.x - ownScreen.x);
    const fire = this.mouseFire || this.touchFire || this.held.has("Space");
    return { moveX: x, moveY: y, aim, fire };
  }
}
