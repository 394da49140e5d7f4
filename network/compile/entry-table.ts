// The flat list of every group's entries, patched in place when groups change (swap-remove, append),
// so one policy change costs what it changes plus one copy, not a walk over every group.
import type { PolicyEntry } from '../model.js';

export class EntryTable {
  private readonly flat: PolicyEntry[] = [];
  private readonly index = new Map<PolicyEntry, number>();

  replace(old: readonly PolicyEntry[], next: readonly PolicyEntry[]): void {
    for (const e of old) {
      const i = this.index.get(e)!;
      const last = this.flat.pop()!;
      if (last !== e) {
        this.flat[i] = last;
        this.index.set(last, i);
      }
      this.index.delete(e);
    }
    for (const e of next) {
      this.index.set(e, this.flat.length);
      this.flat.push(e);
    }
  }

  /** A copy: states handed out never change afterwards. */
  snapshot(): PolicyEntry[] {
    return this.flat.slice();
  }
}
