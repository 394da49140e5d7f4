// CIDR identities (ID.CIDR_SCOPE | n): one per prefix that some rule names as a CIDR or an except.
// Because every such prefix is in the ipcache, the longest-prefix answer for an address tells exactly
// which named CIDRs contain it: address A is inside CIDR C iff A's longest match P is inside C.
import { ID, type IpcacheEntry } from '../model.js';
import { contains, mask, parsePrefix, scanCanonicalV4, V4Text, v4Mapped, type Prefix } from './cidr.js';
import { PairTable } from '../util/pair-table.js';

/**
 * Its own pal_np_ipcache entry (cidr, identity), and its own parsed prefix: one object per prefix.
 * A plain object from one literal (newIdentity): V8 tracks a literal's allocation site and, seeing
 * that identities survive, allocates them straight in the old generation.
 */
export interface CidrIdentity extends IpcacheEntry, Prefix {
  readonly cidr: string;
  /** The id (ID.CIDR_SCOPE | n), as its ipcache entry names it. */
  readonly identity: number;
  /** Rule references. */
  refs: number;
  /** Where its entry sits in the entry list (kept without gaps by moving the last one in). */
  slot: number;
  /** The changes() batch it was created in. */
  readonly batch: number;
  /** The IPv4 prefix as numbers (IpcacheEntry): length 0..32 or -1 (IPv6), address (0 for IPv6). */
  readonly v4Len: number;
  readonly v4Addr: number;
}

/** A rule's peer held as a CIDR identity (not a list of peer specs). */
export const isCidrIdentity = (x: object): x is CidrIdentity => 'identity' in x && 'refs' in x;

const newIdentity = (cidr: string, identity: number, addr: bigint, bits: number, v4: boolean, slot: number, batch: number, v4Addr: number): CidrIdentity => ({
  cidr, identity, addr, bits, v4, refs: 1, slot, batch, v4Len: v4 ? bits - 96 : -1, v4Addr,
});

const LAST = ID.CIDR_SCOPE - 1;
/** Above this many pending inserts one sort beats inserting each in place. */
const SORT_THRESHOLD = 64;

const before = (a: Prefix, b: Prefix): number => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.bits - b.bits);

export class CidrIdentities {
  /** IPv4 prefixes by their numbers, the rest (IPv6) by their text. */
  private readonly byV4 = new PairTable<CidrIdentity>();
  private readonly byText = new Map<string, CidrIdentity>();
  private readonly scan = new V4Text();
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
  /** How many of `created` were dropped again (none in a bulk load: no pass over them to filter). */
  private createdDropped = 0;
  private dropped: CidrIdentity[] = [];
  private batch = 0;

  /** Makes room for `more` IPv4 prefixes (a bulk load). */
  reserve(more: number): void {
    this.byV4.reserve(more);
  }

  /** `cidr` must be canonical (formatPrefix). Returns the identity, new when its refs are 1 (no result
   *  object per call: a bulk load acquires one per rule). Parses only a prefix it does not know. */
  acquire(cidr: string): CidrIdentity {
    const v4 = scanCanonicalV4(cidr, this.scan);
    const e = this.lookup(cidr, v4);
    if (e) {
      e.refs++;
      return e;
    }
    let identity: CidrIdentity;
    if (v4) {
      const { addr, len } = this.scan;
      identity = newIdentity(cidr, this.allocate(), v4Mapped(addr), 96 + len, true, this.slots.length, this.batch, addr);
      this.byV4.set(addr, len, identity);
    } else {
      const p = parsePrefix(cidr);
      if (typeof p === 'string') throw new Error(`${cidr}: ${p}`);
      identity = newIdentity(cidr, this.allocate(), p.addr, p.bits, p.v4, this.slots.length, this.batch, p.v4 ? Number(p.addr & 0xffffffffn) : 0);
      this.byText.set(cidr, identity);
    }
    this.created.push(identity);
    this.slots.push(identity);
    this.pending.push(identity);
    return identity;
  }

  /** Drops one reference (of an identity, or by its text). Returns the identity when it was the last. */
  release(which: string | CidrIdentity): CidrIdentity | undefined {
    const e = typeof which === 'string' ? this.get(which) : which;
    if (!e || e.refs === 0 || --e.refs > 0) return undefined;
    if (e.v4) this.byV4.delete(e.v4Addr, e.v4Len);
    else this.byText.delete(e.cidr);
    if (e.batch !== this.batch) this.dropped.push(e);
    else this.createdDropped++;
    this.used?.delete(e.identity);
    const last = this.slots.pop()!;
    if (last !== e) {
      last.slot = e.slot;
      this.slots[e.slot] = last;
    }
    const sorted = this.all();
    const i = this.lowerBound(e);
    if (sorted[i] === e) sorted.splice(i, 1);
    return e;
  }

  private get(cidr: string): CidrIdentity | undefined {
    return this.lookup(cidr, scanCanonicalV4(cidr, this.scan));
  }

  /** By the numbers scanCanonicalV4 just read into this.scan when `v4`, else by text. */
  private lookup(cidr: string, v4: boolean): CidrIdentity | undefined {
    return v4 ? this.byV4.get(this.scan.addr, this.scan.len) : this.byText.get(cidr);
  }

  /** The identities that came and went since the last call (one created and dropped in between is in
   *  neither list). */
  changes(): { added: CidrIdentity[]; removed: CidrIdentity[] } {
    const out = { added: this.createdDropped > 0 ? this.created.filter((e) => e.refs > 0) : this.created, removed: this.dropped };
    this.created = [];
    this.createdDropped = 0;
    this.dropped = [];
    this.batch++;
    return out;
  }

  /** Every CIDR identity, each its ipcache entry (live: copy before keeping). */
  entries(): readonly CidrIdentity[] {
    return this.slots;
  }

  id(cidr: string): number | undefined {
    return this.get(cidr)?.identity;
  }

  get size(): number {
    return this.slots.length;
  }

  all(): CidrIdentity[] {
    if (this.pending.length > SORT_THRESHOLD) {
      this.sorted = this.sorted.concat(this.pending).sort((a, b) => before(a, b));
    } else {
      for (const p of this.pending) this.sorted.splice(this.lowerBound(p), 0, p);
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
      if (c.addr > last) break;
      if (c.v4 !== outer.v4) continue;
      let excluded = false;
      for (const e of except) if (contains(e, c)) excluded = true;
      if (!excluded) out.push(c.identity);
    }
  }

  private lowerBound(p: Prefix): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.sorted[mid]!, p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private allocate(): number {
    for (let tries = 0; tries < LAST; tries++) {
      const n = this.next;
      if (n >= LAST && this.used === null) this.used = new Set(this.slots.map((c) => c.identity));
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
