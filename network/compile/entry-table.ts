// The flat list of every group's entries, patched in place when groups change (swap-remove, append),
// so one policy change costs what it changes plus one copy, not a walk over every group.
import type { PolicyEntry } from '../model.js';
import { countOf, itemAt, type OneOrMany } from '../util/one-or-many.js';

/** A group's entries: one (most groups have one key), or several. */
export type Entries = OneOrMany<PolicyEntry>;

export const NO_ENTRIES: readonly PolicyEntry[] = [];

export class EntryTable {
  private readonly flat: PolicyEntry[] = [];
  /** Built at the first removal: a bulk load only appends and never pays for it. */
  private index: Map<PolicyEntry, number> | null = null;
  /** Entries added and removed since the last snapshot. Lists, not sets: the compiler replaces a
   *  group's entries at most once between snapshots, so no entry is both added and removed. */
  private added: PolicyEntry[] = [];
  private removed: PolicyEntry[] = [];

  replace(old: Entries, next: Entries): void {
    const nOld = countOf(old);
    const nNext = countOf(next);
    for (let i = 0; i < nOld; i++) this.removed.push(itemAt(old, i));
    for (let i = 0; i < nNext; i++) this.added.push(itemAt(next, i));
    if (nOld === 0 && this.index === null) {
      for (let i = 0; i < nNext; i++) this.flat.push(itemAt(next, i));
      return;
    }
    if (this.index === null) {
      this.index = new Map();
      for (let i = 0; i < this.flat.length; i++) this.index.set(this.flat[i]!, i);
    }
    const index = this.index;
    for (let j = 0; j < nOld; j++) {
      const e = itemAt(old, j);
      const i = index.get(e)!;
      const last = this.flat.pop()!;
      if (last !== e) {
        this.flat[i] = last;
        index.set(last, i);
      }
      index.delete(e);
    }
    for (let j = 0; j < nNext; j++) {
      const e = itemAt(next, j);
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
