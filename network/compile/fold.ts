// One (direction, local, peer) group: merge every rule's contribution per L4 key, then fold each less
// specific key into the more specific ones it covers, so the kernel's single LPM answer is complete.
import type { Direction, PolicyEntry, VerdictHalf } from '../model.js';
import { countOf, itemAt } from '../util/one-or-many.js';
import { keyBits, keyPort, keyProto, L3_KEY, l4Key, portMask, type L4Keys } from './l4.js';

/** What one rule brings to the keys it names (for every local and peer it applies to). */
export interface Atom {
  deny: boolean;
  /** Enforce-mode policy: counts in the enf half as well as in all. */
  enforce: boolean;
  ruleId: number;
  /** 0n: every process; otherwise the process-mark bits of the rule's binaries. */
  marks: bigint;
  l4: L4Keys;
}

/** A verdict half being built; handed out as the entry's VerdictHalf once folded (never changed after).
 *  Plain objects from one literal, not class instances: V8 tracks a literal's allocation site and,
 *  seeing that every half survives, allocates them straight in the old generation (a bulk load's
 *  50,000 would otherwise be copied twice by the young-generation collector). */
type Half = { -readonly [K in keyof VerdictHalf]: VerdictHalf[K] };

const newHalf = (): Half => ({ allow: false, deny: false, allowMarks: 0n, denyMarks: 0n, allowRule: 0, denyRule: 0 });

function addAtom(h: Half, a: Atom): void {
  if (a.deny) {
    if (a.marks === 0n) h.deny = true;
    else h.denyMarks |= a.marks;
    if (h.denyRule === 0 || a.ruleId < h.denyRule) h.denyRule = a.ruleId;
  } else {
    if (a.marks === 0n) h.allow = true;
    else h.allowMarks |= a.marks;
    if (h.allowRule === 0 || a.ruleId < h.allowRule) h.allowRule = a.ruleId;
  }
}

/** Takes what a covering key says; this key's own rule ids stay first. */
function inherit(h: Half, from: Half): void {
  h.allow ||= from.allow;
  h.deny ||= from.deny;
  h.allowMarks |= from.allowMarks;
  h.denyMarks |= from.denyMarks;
  if (h.allowRule === 0) h.allowRule = from.allowRule;
  if (h.denyRule === 0) h.denyRule = from.denyRule;
}

interface Built extends PolicyEntry {
  enf: Half;
  all: Half;
}

/** Entries fed by enforce-mode rules only have equal halves: they share one object (read-only once built). */
function shareHalves(entries: Built[]): void {
  for (const e of entries) if (sameHalf(e.enf, e.all)) e.all = e.enf;
}

function sameHalf(a: Half, b: Half): boolean {
  return a.allow === b.allow && a.deny === b.deny && a.allowMarks === b.allowMarks && a.denyMarks === b.denyMarks && a.allowRule === b.allowRule && a.denyRule === b.denyRule;
}

/**
 * Builds the group's entries from the atom lists every policy contributes to it. Keys are folded from
 * the least specific up (the key encoding sorts L3 first, then by protocol and prefix length), so each
 * key only needs its nearest present ancestor, which already holds everything above it.
 */
export function foldGroup(dir: Direction, localId: number, peerId: number, contributions: ReadonlyArray<readonly Atom[]>): PolicyEntry | PolicyEntry[] {
  if (contributions.length === 1 && contributions[0]!.length === 1) return foldSingle(dir, localId, peerId, contributions[0]![0]!);
  const raw = new Map<number, Built>();
  for (const atoms of contributions) {
    for (const a of atoms) {
      for (let i = 0, n = countOf(a.l4); i < n; i++) {
        const k = itemAt(a.l4, i);
        let e = raw.get(k);
        if (!e) raw.set(k, (e = entry(dir, localId, peerId, k)));
        if (a.enforce) addAtom(e.enf, a);
        addAtom(e.all, a);
      }
    }
  }
  if (raw.size === 1) {
    const only = [...raw.values()];
    shareHalves(only);
    return only;
  }
  const keys = [...raw.keys()].sort((x, y) => x - y);
  const l3 = raw.get(L3_KEY);
  const out: Built[] = new Array<Built>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const e = raw.get(k)!;
    out[i] = e;
    if (e.proto === null) continue;
    let up: Built | undefined;
    for (let b = e.portBits - 1; b >= 0 && !up; b--) up = raw.get(l4Key(e.proto, e.port & portMask(b), b));
    up ??= l3;
    if (up) {
      inherit(e.enf, up.enf);
      inherit(e.all, up.all);
    }
  }
  shareHalves(out);
  return out;
}

function entry(dir: Direction, localId: number, peerId: number, k: number, shared = false): Built {
  const proto = keyProto(k);
  const enf = newHalf();
  return { dir, localId, peerId, proto, port: proto === null ? 0 : keyPort(k), portBits: proto === null ? 0 : keyBits(k), enf, all: shared ? enf : newHalf() };
}

/** One rule alone: its keys never need each other (a split range is disjoint), so no merge and no fold. */
export function foldSingle(dir: Direction, localId: number, peerId: number, a: Atom): PolicyEntry | PolicyEntry[] {
  if (typeof a.l4 === 'number') {
    const e = entry(dir, localId, peerId, a.l4, a.enforce);
    addAtom(e.all, a);
    return e;
  }
  const n = countOf(a.l4);
  const out: PolicyEntry[] = new Array<PolicyEntry>(n);
  for (let i = 0; i < n; i++) {
    const e = entry(dir, localId, peerId, itemAt(a.l4, i), a.enforce);
    addAtom(e.all, a);
    out[i] = e;
  }
  return out;
}
