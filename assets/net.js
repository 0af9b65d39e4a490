// The WebSocket connection: join, decode, ping for RTT, count snapshots, report its state.
import { PROTOCOL_VERSION, CloseCode, decodeServer, encodeInput, encodePing } from "./protocol.js";

const PING_INTERVAL_MS = 1000;

export class Connection {
  /**
   * @param {{room?: string, name?: string}} join
   * @param {(msg: object) => void} onMessage every decoded server message
   * @param {(state: object) => void} onState connection state changes
   */
  constructor(join, onMessage, onState) {
    this.join = join;
    this.onMessage = onMessage;
    this.onState = onState;
    this.state = { status: "connecting", code: null, reason: "" };
    this.rttMs = null;
    this.snapshotTimes = [];
    this.bytesIn = 0;
    this.open();
  }

  url() {
    const params = new URLSearchParams({ v: String(PROTOCOL_VERSION) });
    if (this.join.room) params.set("room", this.join.room);
    if (this.join.name) params.set("name", this.join.name);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws?${params}`;
  }

  open() {
    this.setState({ status: "connecting", code: null, reason: "" });
    const ws = new WebSocket(this.url());
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.setState({ status: "connected", code: null, reason: "" });
      this.ping();
      this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => {
      clearInterval(this.pingTimer);
      const reason = event.reason || CloseCode[event.code] || "";
      this.setState({ status: "disconnected", code: event.code, reason });
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
    if (msg.kind === "pong") {
      this.rttMs = performance.now() - msg.clientTimeMs;
    } else if (msg.kind === "snapshot") {
      const now = performance.now();
      this.snapshotTimes.push(now);
      while (this.snapshotTimes.length && this.snapshotTimes[0] < now - 1000) this.snapshotTimes.shift();
    }
    this.onMessage(msg);
  }

  /** Snapshots received in the last second. */
  snapshotRate() {
    const now = performance.now();
    return this.snapshotTimes.filter((t) => t >= now - 1000).length;
  }

  ping() {
    this.send(encodePing(performance.now()));
  }

  sendInput(seq, moveX, moveY, aim, fire) {
    this.send(encodeInput(seq, moveX, moveY, aim, fire));
  }

  send(bytes) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  close() {
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000, "left");
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }
}
