// The WebSocket connection: join, decode, ping for RTT, count snapshots, report its
// state, and reconnect by itself with back-off after a close worth retrying.
import { Baselines } from "./baselines.js";
import {
  CLOSE_CODES, PROTOCOL_VERSION, CloseCode, RETRYABLE_CLOSES, decodeServer, encodeChat, encodeInput, encodePing, entity,
} from "./protocol.js";

const PING_INTERVAL_MS = 1000;
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

export class Connection {
  /**
   * @param {{wsUrl?: string, room?: string, name?: string, token?: string, spectate?: boolean}} join
   * @param {(msg: object) => void} onMessage every decoded server message
   * @param {(state: object) => void} onState connection state changes
   */
  constructor(join, onMessage, onState) {
    this.join = join;
    this.onMessage = onMessage;
    this.onState = onState;
    this.state = { status: "connecting", code: null, reason: "", retryInMs: null, attempt: 0 };
    this.rttMs = null;
    this.snapshotTimes = [];
    this.bytesIn = 0;
    this.baselines = new Baselines();
    this.ackTick = 0; // newest snapshot decoded: the server sends deltas against it
    this.deltas = 0; // snapshots that came as deltas
    this.closedByUs = false;
    this.open(0);
  }

  url() {
    const params = new URLSearchParams({ v: String(PROTOCOL_VERSION) });
    const room = this.roomId || this.join.room;
    if (room) params.set("room", room);
    if (this.join.name) params.set("name", this.join.name);
    if (this.join.spectate) params.set("spectate", "1");
    // A matchmaking URL carries a one-time seat reservation: use it for the first attempt only.
    if (this.join.wsUrl && !this.roomId) {
      const url = new URL(this.join.wsUrl, location.href);
      for (const [k, v] of params) if (!url.searchParams.has(k)) url.searchParams.set(k, v);
      url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      return url.toString();
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws?${params}`;
  }

  open(attempt) {
    this.setState({ status: "connecting", code: null, reason: "", retryInMs: null, attempt });
    this.baselines.clear();
    this.ackTick = 0;
    // The session token rides in the subprotocol list, not the URL: URLs end up in
    // proxies' and servers' logs. The server answers with "arena".
    const protocols = this.join.token ? ["arena", `arena-token.${this.join.token}`] : ["arena"];
    const ws = new WebSocket(this.url(), protocols);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.setState({ status: "connected", code: null, reason: "", retryInMs: null, attempt: 0 });
      this.ping();
      this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    };
    ws.onmessage = (event) => ws === this.ws && this.receive(event.data);
    ws.onclose = (event) => {
      if (ws !== this.ws) return; // A socket we already replaced.
      clearInterval(this.pingTimer);
      const reason = event.reason || CloseCode[event.code] || "";
      // Only a player with a token can reclaim their place; guests rejoin as someone new.
      const retry = !this.closedByUs && RETRYABLE_CLOSES.has(event.code) && attempt < RETRY_DELAYS_MS.length;
      const retryInMs = retry ? RETRY_DELAYS_MS[attempt] : null;
      this.setState({ status: "disconnected", code: event.code, reason, retryInMs, attempt: attempt + 1 });
      if (retry) this.retryTimer = setTimeout(() => this.open(attempt + 1), retryInMs);
    };
  }

  receive(data) {
    this.bytesIn += data.byteLength;
    let msg;
    try {
      msg = decodeServer(new Uint8Array(data));
    } catch (err) {
      console.warn("undecodable server message", err);
      return;
    }
    if (msg.kind === "snapshot" || msg.kind === "delta") {
      msg = this.rebuild(msg);
      if (!msg) return;
    }
    if (msg.kind === "welcome") {
      this.roomId = msg.roomId; // Reconnections go back to the same room.
    } else if (msg.kind === "pong") {
      this.rttMs = performance.now() - msg.clientTimeMs;
    } else if (msg.kind === "snapshot") {
      const now = performance.now();
      this.snapshotTimes.push(now);
      while (this.snapshotTimes.length && this.snapshotTimes[0] < now - 1000) this.snapshotTimes.shift();
    }
    this.onMessage(msg);
  }

  /** A whole snapshot or a delta → `{kind: "snapshot", tick, lastInputSeq, entities}`, or null if undecodable. */
  rebuild(msg) {
    let wire;
    if (msg.kind === "snapshot") {
      wire = msg.wireEntities;
      this.baselines.keepFull(msg.tick, wire);
    } else {
      try {
        wire = this.baselines.apply(msg.tick, msg.baseline, msg.added, msg.changed, msg.removed);
        this.deltas += 1;
      } catch (err) {
        // Should not happen; acknowledging nothing makes the server send a whole snapshot next.
        console.warn("undecodable delta snapshot", err);
        this.ackTick = 0;
        return null;
      }
    }
    this.ackTick = msg.tick;
    return { kind: "snapshot", tick: msg.tick, lastInputSeq: msg.lastInputSeq, entities: wire.map(entity) };
  }

  /** Snapshots received in the last second. */
  snapshotRate() {
    const now = performance.now();
    return this.snapshotTimes.filter((t) => t >= now - 1000).length;
  }

  ping() {
    this.send(encodePing(performance.now()));
  }

  /** Controls for one tick, with the newest snapshot decoded and the tick being shown. */
  sendInput(seq, moveX, moveY, aim, fire, viewTick) {
    this.send(encodeInput(seq, moveX, moveY, aim, fire, this.ackTick, viewTick));
  }

  sendChat(text) {
    this.send(encodeChat(text));
  }

  send(bytes) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  /** Reconnect now (the banner's button), whatever the back-off says. */
  reconnect() {
    clearTimeout(this.retryTimer);
    this.closedByUs = false;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(CLOSE_CODES.NORMAL, "reconnecting");
    this.open(0);
  }

  close() {
    this.closedByUs = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(CLOSE_CODES.NORMAL, "left");
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }
}
