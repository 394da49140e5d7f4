// One (direction, local, peer) group: merge every rule's contribution per L4 key, then fold each less
// specific key into the more specific ones it covers, so the kernel's single LPM answer is complete.
import type { Direction, PolicyEntry, VerdictHalf } from '../model.js';
import { keyBits, keyPort, keyProto, L3_KEY, l4Key, portMask } from './l4.js';

/** What one rule brings to the keys it names (for every local and peer it applies to). */
export interface Atom {
  deny: boolean;
  /** Enforce-mode policy: counts in the enf half as well as in all. */
  enforce: boolean;
  ruleId: number;
  /** 0n: every process; otherwise the process-mark bits of the rule's binaries. */
  marks: bigint;
  l4: readonly number[];
}

class Half {
  allow = false;
  deny = false;
  allowMarks = 0n;
  denyMarks = 0n;
  allowRule = 0;
  denyRule = 0;

  add(a: Atom): void {
    if (a.deny) {
      if (a.marks === 0n) this.deny = true;
      else this.denyMarks |= a.marks;
      if (this.denyRule === 0 || a.ruleId < this.denyRule) this.denyRule = a.ruleId;
    } else {
      if (a.marks === 0n) this.allow = true;
      else this.allowMarks |= a.marks;
      if (this.allowRule === 0 || a.ruleId < this.allowRule) this.allowRule = a.ruleId;
    }
  }

  /** Takes what a covering key says; this key's own rule ids stay first. */
  inherit(h: Half): void {
    this.allow ||= h.allow;
    this.deny ||= h.deny;
    this.allowMarks |= h.allowMarks;
    this.denyMarks |= h.denyMarks;
    if (this.allowRule === 0) this.allowRule = h.allowRule;
    if (this.denyRule === 0) this.denyRule = h.denyRule;
  }

  out(): VerdictHalf {
    return { allow: this.allow, deny: this.deny, allowMarks: this.allowMarks, denyMarks: this.denyMarks, allowRule: this.allowRule, denyRule: this.denyRule };
  }
}

class Acc {
  readonly enf = new Half();
  readonly all = new Half();
}

/** Builds the group's entries from the atom lists every policy contributes to it. */
export function foldGroup(dir: Direction, localId: number, peerId: number, contributions: Iterable<readonly Atom[]>): PolicyEntry[] {
  const raw = new Map<number, Acc>();
  for (const atoms of contributions) {
    for (const a of atoms) {
      for (const k of a.l4) {
        let acc = raw.get(k);
        if (!acc) raw.set(k, (acc = new Acc()));
        if (a.enforce) acc.enf.add(a);
        acc.all.add(a);
      }
    }
  }
  const out: PolicyEntry[] = [];
  for (const [k, own] of raw) {
    const enf = new Half();
    const all = new Half();
    enf.inherit(own.enf);
    all.inherit(own.all);
    const proto = keyProto(k);
    if (proto !== null) {
      // Covering keys, nearest first: shorter port prefixes of the same protocol, then the L3 key.
      const port = keyPort(k);
      for (let b = keyBits(k) - 1; b >= 0; b--) {
        const up = raw.get(l4Key(proto, port & portMask(b), b));
        if (up) {
          enf.inherit(up.enf);
          all.inherit(up.all);
        }
      }
      const l3 = raw.get(L3_KEY);
      if (l3) {
        enf.inherit(l3.enf);
        all.inherit(l3.all);
      }
    }
    out.push({ dir, localId, peerId, proto, port: proto === null ? 0 : keyPort(k), portBits: proto === null ? 0 : keyBits(k), enf: enf.out(), all: all.out() });
  }
  return out;
}
