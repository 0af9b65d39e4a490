// A replay file (protocol/README.md, "Replay files"): fetched, gunzipped by the browser's own
// DecompressionStream, and read into its header, frames, events and end. Field positions
// and tags come from ./wire.js, generated from protocol/src/replay/.
import { decodeMulti } from "@msgpack/msgpack";
import { serverMessage } from "./protocol.js";
import {
  DeltaSnapshot, PlayerInfo, REPLAY_FORMAT_VERSION, REPLAY_MAGIC, Record, ReplayEnd, ReplayHeader, RoundStart,
  Snapshot, TickedMsg,
} from "./wire.js";

/**
 * Fetch replay `id` (with a session token for a private room's) and read it whole. `node` is
 * the cluster node that keeps it, when known: this page's server fetches it from there.
 */
export async function loadReplay(id, token, node) {
  const where = node ? `?node=${encodeURIComponent(node)}` : "";
  const response = await fetch(`/api/replays/${encodeURIComponent(id)}${where}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error || `${response.status} ${response.statusText}`);
  }
  // Timed in parts (the page reports them as `loadMs`): what a long replay costs before its first frame.
  const started = performance.now();
  const file = await response.arrayBuffer();
  const fetched = performance.now();
  const inflated = new Blob([file]).stream().pipeThrough(new DecompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(inflated).arrayBuffer());
  const gunzipped = performance.now();
  const replay = readReplay(bytes);
  replay.loadMs = {
    download: fetched - started, gunzip: gunzipped - fetched, decode: performance.now() - gunzipped,
    fileBytes: file.byteLength, rawBytes: bytes.byteLength,
  };
  return replay;
}

/** The decompressed bytes as `{header, frames, events, end}`; throws on a file it cannot read. */
export function readReplay(bytes) {
  const values = decodeMulti(bytes);
  const first = values.next();
  const h = first.done ? null : first.value;
  if (!Array.isArray(h) || h[ReplayHeader.magic] !== REPLAY_MAGIC) throw new Error("not an Arena replay");
  if (h[ReplayHeader.format_version] !== REPLAY_FORMAT_VERSION) {
    throw new Error(`replay format version ${h[ReplayHeader.format_version]} is not supported (this page reads ${REPLAY_FORMAT_VERSION})`);
  }
  const round = h[ReplayHeader.round];
  const header = {
    roomId: h[ReplayHeader.room_id], roomName: h[ReplayHeader.room_name], private: h[ReplayHeader.private],
    round: round[RoundStart.round], scoreLimit: round[RoundStart.score_limit], timeLimitS: round[RoundStart.time_limit_s],
    startedAtMs: h[ReplayHeader.started_at_ms], tickRateHz: h[ReplayHeader.tick_rate_hz],
    recordedRateHz: h[ReplayHeader.recorded_rate_hz],
    arenaWidth: h[ReplayHeader.arena_size][0], arenaHeight: h[ReplayHeader.arena_size][1],
    playerRadius: h[ReplayHeader.player_radius], projectileRadius: h[ReplayHeader.projectile_radius],
    playerSpeed: h[ReplayHeader.player_speed], maxHealth: h[ReplayHeader.max_health],
    players: h[ReplayHeader.players].map((p) => ({
      playerId: p[PlayerInfo.player_id], name: p[PlayerInfo.name], bot: p[PlayerInfo.bot],
    })),
  };
  // Frames stay as their records: a keyframe's wire entities, or a delta against the frame before.
  const frames = [], events = [];
  let end = null;
  for (const record of values) {
    const [tag] = Object.keys(record);
    const b = record[tag];
    switch (tag) {
      case Record.Keyframe:
        frames.push({ tick: b[Snapshot.tick], keyframe: true, entities: b[Snapshot.entities] });
        break;
      case Record.Delta:
        frames.push({
          tick: b[DeltaSnapshot.tick], keyframe: false, baseline: b[DeltaSnapshot.baseline],
          added: b[DeltaSnapshot.added], changed: b[DeltaSnapshot.changed], removed: b[DeltaSnapshot.removed],
        });
        break;
      case Record.Event:
        events.push({ tick: b[TickedMsg.tick], msg: serverMessage(b[TickedMsg.msg]) });
        break;
      case Record.End:
        end = { tick: b[ReplayEnd.tick], reason: b[ReplayEnd.reason], endedAtMs: b[ReplayEnd.ended_at_ms] };
        break;
      default:
        throw new Error(`unknown replay record ${tag}`);
    }
  }
  if (!end) throw new Error("the replay is truncated (no end record)");
  if (frames.length === 0 || !frames[0].keyframe) throw new Error("the replay has no keyframe to start from");
  return { header, frames, events, end };
}
