// The flat list of every group's entries, patched in place when groups change (swap-remove, append),
// so one policy change costs what it changes plus one copy, not a walk over every group.
import type { PolicyEntry } from '../model.js';

/** A group's entries: one (most groups have one key: no list), or several. */
export type Entries = PolicyEntry | readonly PolicyEntry[];

export const NO_ENTRIES: readonly PolicyEntry[] = [];
const count = (es: Entries): number => (Array.isArray(es) ? es.length : 1);
const at = (es: Entries, i: number): PolicyEntry => (Array.isArray(es) ? (es as readonly PolicyEntry[])[i]! : (es as PolicyEntry));

export class EntryTable {
  private readonly flat: PolicyEntry[] = [];
  /** Built at the first removal: a bulk load only appends and never pays for it. */
  private index: Map<PolicyEntry, number> | null = null;
  /** Entries added and removed since the last snapshot. Lists, not sets: the compiler replaces a
   *  group's entries at most once between snapshots, so no entry is both added and removed. */
  private added: PolicyEntry[] = [];
  private removed: PolicyEntry[] = [];

  replace(old: Entries, next: Entries): void {
    const nOld = count(old);
    const nNext = count(next);
    for (let i = 0; i < nOld; i++) this.removed.push(at(old, i));
    for (let i = 0; i < nNext; i++) this.added.push(at(next, i));
    if (nOld === 0 && this.index === null) {
      for (let i = 0; i < nNext; i++) this.flat.push(at(next, i));
      return;
    }
    if (this.index === null) {
      this.index = new Map();
      for (let i = 0; i < this.flat.length; i++) this.index.set(this.flat[i]!, i);
    }
    const index = this.index;
    for (let j = 0; j < nOld; j++) {
      const e = at(old, j);
      const i = index.get(e)!;
      const last = this.flat.pop()!;
      if (last !== e) {
        this.flat[i] = last;
        index.set(last, i);
      }
      index.delete(e);
    }
    for (let j = 0; j < nNext; j++) {
      const e = at(next, j);
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
