// CIDR identities (ID.CIDR_SCOPE | n): one per prefix that some rule names as a CIDR or an except.
// Because every such prefix is in the ipcache, the longest-prefix answer for an address tells exactly
// which named CIDRs contain it: address A is inside CIDR C iff A's longest match P is inside C.
import { ID, type IpcacheEntry } from '../model.js';
import { canonicalV4Prefix, contains, mask, parsePrefix, type Prefix } from './cidr.js';

/** Its own pal_np_ipcache entry (cidr, identity): states list the identity itself. */
export interface CidrIdentity extends IpcacheEntry {
  readonly cidr: string;
  /** The id (ID.CIDR_SCOPE | n), as its ipcache entry names it. */
  readonly identity: number;
  readonly prefix: Prefix;
  /** Rule references. */
  refs: number;
  /** Where its entry sits in the entry list (kept without gaps by moving the last one in). */
  slot: number;
  /** The changes() batch it was created in. */
  batch: number;
}

const LAST = ID.CIDR_SCOPE - 1;
/** Above this many pending inserts one sort beats inserting each in place. */
const SORT_THRESHOLD = 64;

const before = (a: Prefix, b: Prefix): number => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.bits - b.bits);

export class CidrIdentities {
  private readonly byCidr = new Map<string, CidrIdentity>();
  /** Sorted by address then length: the prefixes inside C are one run starting at C's address. */
  private sorted: CidrIdentity[] = [];
  /** Added since the last sort (bulk loads sort once instead of inserting one by one). */
  private pending: CidrIdentity[] = [];
  /** Every identity, in no particular order: the ipcache is built by copying it. */
  private readonly slots: CidrIdentity[] = [];
  private next = 1;
  /** Ids in use, needed only once the counter has wrapped (before that every new id is unused). */
  private used: Set<number> | null = null;
  /** Created and dropped since the last changes(). */
  private created: CidrIdentity[] = [];
  private dropped: CidrIdentity[] = [];
  private batch = 0;

  /** `cidr` must be canonical (formatPrefix). Returns the identity, new when its refs are 1 (no result
   *  object per call: a bulk load acquires one per rule). Parses only a prefix it does not know. */
  acquire(cidr: string): CidrIdentity {
    const e = this.byCidr.get(cidr);
    if (e) {
      e.refs++;
      return e;
    }
    // IPv4 parses faster by hand than through the parser's memo of tens of thousands of texts
    const prefix = canonicalV4Prefix(cidr) ?? parsePrefix(cidr);
    if (typeof prefix === 'string') throw new Error(`${cidr}: ${prefix}`);
    const id = this.allocate();
    const identity: CidrIdentity = { cidr, identity: id, prefix, refs: 1, slot: this.slots.length, batch: this.batch };
    this.created.push(identity);
    this.byCidr.set(cidr, identity);
    this.slots.push(identity);
    this.pending.push(identity);
    return identity;
  }

  /** Drops one reference (of an identity, or by its text). Returns the identity when it was the last. */
  release(which: string | CidrIdentity): CidrIdentity | undefined {
    const e = typeof which === 'string' ? this.byCidr.get(which) : which;
    if (!e || e.refs === 0 || --e.refs > 0) return undefined;
    this.byCidr.delete(e.cidr);
    if (e.batch !== this.batch) this.dropped.push(e);
    this.used?.delete(e.identity);
    const last = this.slots.pop()!;
    if (last !== e) {
      last.slot = e.slot;
      this.slots[e.slot] = last;
    }
    const sorted = this.all();
    const i = this.lowerBound(e.prefix);
    if (sorted[i] === e) sorted.splice(i, 1);
    return e;
  }

  /** The identities that came and went since the last call (one created and dropped in between is in
   *  neither list). */
  changes(): { added: CidrIdentity[]; removed: CidrIdentity[] } {
    const out = { added: this.created.filter((e) => e.refs > 0), removed: this.dropped };
    this.created = [];
    this.dropped = [];
    this.batch++;
    return out;
  }

  /** Every CIDR identity, each its ipcache entry (live: copy before keeping). */
  entries(): readonly CidrIdentity[] {
    return this.slots;
  }

  id(cidr: string): number | undefined {
    return this.byCidr.get(cidr)?.identity;
  }

  get size(): number {
    return this.byCidr.size;
  }

  all(): CidrIdentity[] {
    if (this.pending.length > SORT_THRESHOLD) {
      this.sorted = this.sorted.concat(this.pending).sort((a, b) => before(a.prefix, b.prefix));
    } else {
      for (const p of this.pending) this.sorted.splice(this.lowerBound(p.prefix), 0, p);
    }
    this.pending = [];
    return this.sorted;
  }

  /** Identities of every known prefix inside `outer` and inside none of `except` (outer itself included). */
  inside(outer: Prefix, except: readonly Prefix[], out: number[]): void {
    const sorted = this.all();
    const last = outer.addr | (~mask(outer.bits) & ((1n << 128n) - 1n));
    for (let i = this.lowerBound(outer); i < sorted.length; i++) {
      const c = sorted[i]!;
      if (c.prefix.addr > last) break;
      if (c.prefix.v4 !== outer.v4) continue;
      let excluded = false;
      for (const e of except) if (contains(e, c.prefix)) excluded = true;
      if (!excluded) out.push(c.identity);
    }
  }

  private lowerBound(p: Prefix): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.sorted[mid]!.prefix, p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private allocate(): number {
    for (let tries = 0; tries < LAST; tries++) {
      const n = this.next;
      if (n >= LAST && this.used === null) this.used = new Set([...this.byCidr.values()].map((c) => c.identity));
      this.next = n >= LAST ? 1 : n + 1;
      const id = (ID.CIDR_SCOPE | n) >>> 0;
      if (this.used === null) return id;
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
    throw new Error('CIDR identities exhausted');
  }
}
