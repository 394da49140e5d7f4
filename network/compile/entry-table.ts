// The flat list of every group's entries, patched in place when groups change (swap-remove, append),
// so one policy change costs what it changes plus one copy, not a walk over every group.
import type { PolicyEntry } from '../model.js';

export class EntryTable {
  private readonly flat: PolicyEntry[] = [];
  /** Built at the first removal: a bulk load only appends and never pays for it. */
  private index: Map<PolicyEntry, number> | null = null;
  /** Entries added and removed since the last snapshot. Lists, not sets: the compiler replaces a
   *  group's entries at most once between snapshots, so no entry is both added and removed. */
  private added: PolicyEntry[] = [];
  private removed: PolicyEntry[] = [];

  replace(old: readonly PolicyEntry[], next: readonly PolicyEntry[]): void {
    for (const e of old) this.removed.push(e);
    for (const e of next) this.added.push(e);
    if (old.length === 0 && this.index === null) {
      for (const e of next) this.flat.push(e);
      return;
    }
    if (this.index === null) {
      this.index = new Map();
      for (let i = 0; i < this.flat.length; i++) this.index.set(this.flat[i]!, i);
    }
    const index = this.index;
    for (const e of old) {
      const i = index.get(e)!;
      const last = this.flat.pop()!;
      if (last !== e) {
        this.flat[i] = last;
        index.set(last, i);
      }
      index.delete(e);
    }
    for (const e of next) {
      index.set(e, this.flat.length);
      this.flat.push(e);
    }
  }

  /** A copy (states handed out never change afterwards) and what changed since the last one. */
  snapshot(): { entries: PolicyEntry[]; added: PolicyEntry[]; removed: PolicyEntry[] } {
    const out = { entries: this.flat.slice(), added: this.added, removed: this.removed };
    this.added = [];
    this.removed = [];
    return out;
  }
}
