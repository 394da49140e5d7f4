// CIDR identities (ID.CIDR_SCOPE | n): one per prefix that some rule names as a CIDR or an except.
// Because every such prefix is in the ipcache, the longest-prefix answer for an address tells exactly
// which named CIDRs contain it: address A is inside CIDR C iff A's longest match P is inside C.
import { ID } from '../model.js';
import { contains, parsePrefix, type Prefix } from './cidr.js';

export interface CidrIdentity {
  id: number;
  cidr: string;
  prefix: Prefix;
}

const LAST = ID.CIDR_SCOPE - 1;

export class CidrIdentities {
  private readonly byCidr = new Map<string, { identity: CidrIdentity; refs: number }>();
  /** Sorted by address then length: the prefixes inside C are one run starting at C's address. */
  private sorted: CidrIdentity[] = [];
  private next = 1;
  private readonly used = new Set<number>();

  /** `cidr` must be canonical (formatPrefix). Returns the identity and whether it is new. */
  acquire(cidr: string): { id: number; added: boolean } {
    const e = this.byCidr.get(cidr);
    if (e) {
      e.refs++;
      return { id: e.identity.id, added: false };
    }
    const prefix = parsePrefix(cidr);
    if (typeof prefix === 'string') throw new Error(`${cidr}: ${prefix}`);
    const identity: CidrIdentity = { id: this.allocate(), cidr, prefix };
    this.byCidr.set(cidr, { identity, refs: 1 });
    this.sorted.splice(this.lowerBound(prefix.addr, prefix.bits), 0, identity);
    return { id: identity.id, added: true };
  }

  /** Returns the prefix when its last reference went away. */
  release(cidr: string): Prefix | undefined {
    const e = this.byCidr.get(cidr);
    if (!e || --e.refs > 0) return undefined;
    this.byCidr.delete(cidr);
    this.used.delete(e.identity.id);
    const i = this.lowerBound(e.identity.prefix.addr, e.identity.prefix.bits);
    this.sorted.splice(i, 1);
    return e.identity.prefix;
  }

  id(cidr: string): number | undefined {
    return this.byCidr.get(cidr)?.identity.id;
  }

  all(): readonly CidrIdentity[] {
    return this.sorted;
  }

  /** Identities of every known prefix inside `outer` and inside none of `except` (outer itself included). */
  inside(outer: Prefix, except: readonly Prefix[], out: number[]): void {
    for (let i = this.lowerBound(outer.addr, outer.bits); i < this.sorted.length; i++) {
      const c = this.sorted[i]!;
      if (!contains(outer, c.prefix)) {
        if (c.prefix.addr > outer.addr && !contains(outer, { ...c.prefix, bits: 128 })) break;
        continue;
      }
      let excluded = false;
      for (const e of except) if (contains(e, c.prefix)) excluded = true;
      if (!excluded) out.push(c.id);
    }
  }

  private lowerBound(addr: bigint, bits: number): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.sorted[mid]!.prefix;
      if (p.addr < addr || (p.addr === addr && p.bits < bits)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private allocate(): number {
    for (let tries = 0; tries < LAST; tries++) {
      const n = this.next;
      this.next = n >= LAST ? 1 : n + 1;
      const id = (ID.CIDR_SCOPE | n) >>> 0;
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
    throw new Error('CIDR identities exhausted');
  }
}

