// Delta snapshots (protocol/README.md, "Delta snapshots"): the states rebuilt from
// recent snapshots, kept so the next delta can be applied to the one it names.
// Entities stay in wire form here (arrays of integers) so deltas apply exactly.
import { BASELINE_WINDOW, ENTITY_FIELDS, RELATIVE_FIELDS } from "./wire.js";

export class Baselines {
  constructor() {
    /** Oldest first: `{tick, entities: Map(netId → wire array)}`. */
    this.states = [];
  }

  /** A whole snapshot's wire entities become a baseline. */
  keepFull(tick, wireEntities) {
    this.keep(tick, new Map(wireEntities.map((e) => [e[0], e])));
  }

  /**
   * Rebuild the wire entities a delta stands for and keep them as a baseline.
   * Throws when the baseline or a changed entity is unknown (the caller then asks for whole snapshots).
   */
  apply(tick, baselineTick, added, changed, removed) {
    const base = this.states.find((s) => s.tick === baselineTick);
    if (!base) throw new Error(`baseline ${baselineTick} is not kept`);
    const entities = new Map(base.entities);
    for (const id of removed) entities.delete(id);
    for (const change of changed) {
      const [id, mask] = change;
      const before = entities.get(id);
      if (!before) throw new Error(`entity ${id} changed but is not in the baseline`);
      const after = before.slice();
      let next = 2;
      for (let bit = 0; bit < ENTITY_FIELDS; bit++) {
        if (!(mask & (1 << bit))) continue;
        const value = change[next++];
        // Field `bit` sits after the net id in the entity array; x and y travel as differences.
        after[bit + 1] = RELATIVE_FIELDS & (1 << bit) ? before[bit + 1] + value : value;
      }
      entities.set(id, after);
    }
    for (const e of added) entities.set(e[0], e);
    this.keep(tick, entities);
    return [...entities.values()];
  }

  keep(tick, entities) {
    this.states.push({ tick, entities });
    if (this.states.length > BASELINE_WINDOW) this.states.shift();
  }

  clear() {
    this.states = [];
  }
}
