// PolicyMaps over the BPF maps of bpf/network/netpol.bpf.c: apply(from, to) writes only the difference,
// in an order where no connection gets a verdict that neither state would give.
import type { BpfMap } from '../../native/index.js';
import type { CgroupEntry, DatapathState, IdentityDefaults, IpcacheEntry, PolicyEntry, PolicyMaps } from '../model.js';
import {
  ipcachePrefixLen, NP_IDENT, NP_IP_KEY, NP_KEY, NP_VALUE, policyPrefixLen, viewOf, writeIdent, writeIpcacheKey,
  writePolicyKey, writePolicyValue,
} from './layout.js';
import { PackedKeyIndex } from './key-index.js';

/** The maps of netpol.h, by role. The *Exact hash maps hold the full-length keys of the trie beside them. */
export interface NetpolMaps {
  ingress: BpfMap;
  ingressExact: BpfMap;
  egress: BpfMap;
  egressExact: BpfMap;
  ipcache: BpfMap;
  ipcacheExact: BpfMap;
  cgroups: BpfMap;
  idents: BpfMap;
}

export type MapRole = keyof NetpolMaps;

export interface ApplyStats {
  upserts: number;
  deletes: number;
  /** map writes issued (a batch counts once) */
  syscalls: number;
  ms: number;
}

/**
 * Upsert order; deletes go in the reverse order. An exact map comes before its trie: its keys are the
 * most specific ones (upserts most specific first, deletes least specific first, across both).
 */
const ROLES: readonly MapRole[] = ['ingressExact', 'ingress', 'egressExact', 'egress', 'idents', 'ipcacheExact', 'ipcache', 'cgroups'];
const ROLE_INDEX = Object.fromEntries(ROLES.map((r, i) => [r, i])) as Record<MapRole, number>;

const SIZES: Record<MapRole, [number, number]> = {
  ingress: [NP_KEY.$size, NP_VALUE.$size],
  ingressExact: [NP_KEY.$size, NP_VALUE.$size],
  egress: [NP_KEY.$size, NP_VALUE.$size],
  egressExact: [NP_KEY.$size, NP_VALUE.$size],
  idents: [4, NP_IDENT.$size],
  ipcache: [NP_IP_KEY.$size, 4],
  ipcacheExact: [NP_IP_KEY.$size, 4],
  cgroups: [8, 4],
};

/** How one kind of state record maps to a map and its bytes. */
interface Codec<T> {
  /** Its write-order bucket: the map (index in ROLES) and the key's LPM prefix length (0 in hash
   *  maps), as role * SPECS + (SPECS - 1 - length), so that more specific keys sort first. */
  bucket(e: T): number;
  write(e: T, keys: DataView, keyAt: number, values: DataView, valueAt: number): void;
}

const SPECS = 130; // prefix lengths 0..128, and one to spare
const POLICY_EXACT = 96;
const IP_EXACT = 128;

const bucketOf = (role: MapRole, spec: number): number => {
  if (!(spec >= 0 && spec < SPECS)) throw new RangeError(`datapath state: a key of prefix length ${spec}`);
  return ROLE_INDEX[role] * SPECS + (SPECS - 1 - spec);
};
const roleOf = (bucket: number): MapRole => ROLES[Math.floor(bucket / SPECS)]!;
const specOf = (bucket: number): number => SPECS - 1 - (bucket % SPECS);

const CODECS = {
  policy: {
    bucket: (e: PolicyEntry): number => {
      const spec = policyPrefixLen(e);
      return bucketOf(spec === POLICY_EXACT ? (e.dir === 'ingress' ? 'ingressExact' : 'egressExact') : e.dir, spec);
    },
    write: (e: PolicyEntry, kv: DataView, k: number, vv: DataView, v: number): void => {
      writePolicyKey(kv, k, e);
      writePolicyValue(vv, v, e);
    },
  } satisfies Codec<PolicyEntry>,
  defaults: {
    bucket: (): number => bucketOf('idents', 0),
    write: (d: IdentityDefaults, kv: DataView, k: number, vv: DataView, v: number): void => {
      kv.setUint32(k, d.localId >>> 0, true);
      writeIdent(vv, v, d);
    },
  } satisfies Codec<IdentityDefaults>,
  ipcache: {
    bucket: (i: IpcacheEntry): number => {
      const spec = ipcachePrefixLen(i.cidr);
      return bucketOf(spec === IP_EXACT ? 'ipcacheExact' : 'ipcache', spec);
    },
    write: (i: IpcacheEntry, kv: DataView, k: number, vv: DataView, v: number): void => {
      writeIpcacheKey(kv, k, i.cidr);
      vv.setUint32(v, i.identity >>> 0, true);
    },
  } satisfies Codec<IpcacheEntry>,
  cgroups: {
    bucket: (): number => bucketOf('cgroups', 0),
    write: (c: CgroupEntry, kv: DataView, k: number, vv: DataView, v: number): void => {
      kv.setBigUint64(k, c.cgroupId, true);
      vv.setUint32(v, c.identity >>> 0, true);
    },
  } satisfies Codec<CgroupEntry>,
};

/**
 * What one map gets: `count` upserts packed in `keys` / `values` (in write order: most specific
 * first), each with the value it replaces (`old`, null for a new key), and deletes (least specific first).
 */
export class MapWrites {
  count = 0;
  keys: Buffer = EMPTY;
  values: Buffer = EMPTY;
  /** null: every upsert is a new key. */
  old: Array<Buffer | null> | null = null;
  readonly deletes: { key: Buffer; spec: number; old: Buffer }[] = [];
  constructor(readonly ks: number, readonly vs: number) {}

  key(i: number): Buffer {
    return this.keys.subarray(i * this.ks, (i + 1) * this.ks);
  }

  value(i: number): Buffer {
    return this.values.subarray(i * this.vs, (i + 1) * this.vs);
  }

  oldValue(i: number): Buffer | null {
    return this.old?.[i] ?? null;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Indices of `items` by role (in ROLES order), each role's run ordered most specific first: a
 * counting sort over the items' buckets, each computed once.
 */
function order<T>(items: readonly T[], codec: Codec<T>): { sorted: Int32Array; start: Int32Array } {
  const bucket = new Uint16Array(items.length);
  const counts = new Int32Array(ROLES.length * SPECS + 1);
  for (let i = 0; i < items.length; i++) {
    const b = codec.bucket(items[i]!);
    bucket[i] = b;
    counts[b + 1]!++;
  }
  for (let b = 1; b < counts.length; b++) counts[b]! += counts[b - 1]!;
  const start = new Int32Array(ROLES.length + 1);
  for (let r = 0; r <= ROLES.length; r++) start[r] = counts[r * SPECS]!;
  const sorted = new Int32Array(items.length);
  for (let i = 0; i < items.length; i++) sorted[counts[bucket[i]!]!++] = i;
  return { sorted, start };
}


/**
 * The difference between two states, by object identity: the compiler never modifies a state it
 * returned and keeps unchanged entries as the same objects, so only the entries that differ are
 * encoded. Upserts are encoded straight into one key and one value buffer per map. An entry replaced
 * by another with the same key becomes one upsert; equal bytes, none.
 */
export function stateDiff(from: DatapathState, to: DatapathState): Map<MapRole, MapWrites> {
  const diffs = new Map<MapRole, MapWrites>(ROLES.map((r) => [r, new MapWrites(...SIZES[r])]));
  // a: entries before, b: after; entries in both are unchanged (only the changed ones are passed when
  // the compiler gave a delta: then the two lists are disjoint)
  const part = <T extends object>(a: readonly T[], b: readonly T[], codec: Codec<T>, disjoint: boolean): void => {
    if (a === b) return;
    let added = b;
    let removed = a;
    if (!disjoint && a.length > 0 && b.length > 0) {
      const before = new Set(a);
      const after = new Set(b);
      added = b.filter((e) => !before.has(e));
      removed = a.filter((e) => !after.has(e));
    }
    // upserts, packed in write order
    const indexes = new Map<MapRole, PackedKeyIndex>();
    const { sorted, start } = order(added, codec);
    for (let ri = 0; ri < ROLES.length; ri++) {
      const n = start[ri + 1]! - start[ri]!;
      if (n === 0) continue;
      const r = ROLES[ri]!;
      const w = diffs.get(r)!;
      w.count = n;
      w.keys = Buffer.alloc(n * w.ks);
      w.values = Buffer.alloc(n * w.vs);
      const kv = viewOf(w.keys);
      const vv = viewOf(w.values);
      for (let i = 0, at = start[ri]!; i < n; i++, at++) codec.write(added[sorted[at]!]!, kv, i * w.ks, vv, i * w.vs);
      // one write per key: a second one would silently win in the kernel
      const index = new PackedKeyIndex(w.keys, w.ks, n);
      for (let i = 0; i < n; i++) {
        const dup = index.add(i);
        if (dup >= 0) throw new Error(`datapath state: two ${w.value(dup).equals(w.value(i)) ? 'entries' : 'different values'} for one ${r} key`);
      }
      indexes.set(r, index);
    }
    // deletes, unless an upsert replaces the key
    const scratch = Buffer.alloc(NP_KEY.$size + NP_VALUE.$size);
    const sv = viewOf(scratch);
    for (const e of removed) {
      const b = codec.bucket(e);
      const r = roleOf(b);
      const w = diffs.get(r)!;
      scratch.fill(0);
      codec.write(e, sv, 0, sv, w.ks);
      const hit = indexes.get(r)?.find(scratch) ?? -1;
      const old = Buffer.from(scratch.subarray(w.ks, w.ks + w.vs));
      if (hit >= 0) (w.old ??= new Array<Buffer | null>(w.count).fill(null))[hit] = old;
      else w.deletes.push({ key: Buffer.from(scratch.subarray(0, w.ks)), spec: specOf(b), old });
    }
  };
  const delta = to.policyDelta;
  if (delta && delta.base.deref() === from) part(delta.removed, delta.added, CODECS.policy, true);
  else part(from.policy, to.policy, CODECS.policy, false);
  part(from.defaults, to.defaults, CODECS.defaults, false);
  const ipDelta = to.ipcacheDelta;
  if (ipDelta && ipDelta.base.deref() === from) part(ipDelta.removed, ipDelta.added, CODECS.ipcache, true);
  else part(from.ipcache, to.ipcache, CODECS.ipcache, false);
  part(from.cgroups, to.cgroups, CODECS.cgroups, false);
  for (const w of diffs.values()) {
    if (w.old) dropUnchanged(w);
    w.deletes.sort((x, y) => x.spec - y.spec); // least specific first: the specific ones still answer as before
  }
  return diffs;
}

/** Replacements with the same bytes: nothing to write. */
function dropUnchanged(w: MapWrites): void {
  const keep: number[] = [];
  for (let i = 0; i < w.count; i++) if (!w.old![i]?.equals(w.value(i))) keep.push(i);
  if (keep.length === w.count) return;
  const keys = Buffer.alloc(keep.length * w.ks);
  const values = Buffer.alloc(keep.length * w.vs);
  keep.forEach((i, j) => {
    w.keys.copy(keys, j * w.ks, i * w.ks, (i + 1) * w.ks);
    w.values.copy(values, j * w.vs, i * w.vs, (i + 1) * w.vs);
  });
  w.old = keep.map((i) => w.old![i]!);
  w.keys = keys;
  w.values = values;
  w.count = keep.length;
}

/** Maps whose batch update the kernel refused once: written element by element from then on. */
const noBatch = new WeakSet<BpfMap>();

const UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENOTSUPP']);

export class BpfPolicyMaps implements PolicyMaps {
  /** Figures of the last apply(). */
  last: ApplyStats = { upserts: 0, deletes: 0, syscalls: 0, ms: 0 };

  constructor(private readonly maps: NetpolMaps, private readonly batchSize = 4096) {}

  /**
   * Order: policy upserts (most specific first), identity defaults, ipcache, cgroups; then deletes in
   * the reverse order (cgroups, ipcache, defaults, policy least specific first). A new workload thus
   * finds its policy and defaults in place before its cgroup or address maps to it, and a removed
   * one stops being a workload before its policy goes. On a failure, what was written is undone and
   * the error is thrown: the kernel is back at `from`.
   */
  apply(from: DatapathState, to: DatapathState): void {
    const t0 = performance.now();
    const diffs = stateDiff(from, to);
    const undo: (() => void)[] = [];
    const stats: ApplyStats = { upserts: 0, deletes: 0, syscalls: 0, ms: 0 };
    try {
      for (const r of ROLES) {
        const w = diffs.get(r)!;
        if (w.count > 0) this.#upsert(r, w, stats, undo);
      }
      for (let i = ROLES.length - 1; i >= 0; i--) {
        const m = this.maps[ROLES[i]!];
        for (const x of diffs.get(ROLES[i]!)!.deletes) {
          m.delete(x.key);
          stats.syscalls++;
          stats.deletes++;
          undo.push(() => m.update(x.key, x.old));
        }
      }
    } catch (e) {
      for (const u of undo.reverse()) {
        try {
          u();
        } catch {
          // best effort: the first error is the one to report
        }
      }
      throw e;
    }
    stats.ms = performance.now() - t0;
    this.last = stats;
  }

  #upsert(r: MapRole, w: MapWrites, stats: ApplyStats, undo: (() => void)[]): void {
    const m = this.maps[r];
    for (let from = 0; from < w.count; from += this.batchSize) {
      const to = Math.min(w.count, from + this.batchSize);
      // registered first: a batch that fails may have written part of the chunk
      undo.push(() => {
        for (let i = from; i < to; i++) {
          const old = w.oldValue(i);
          if (old) m.update(w.key(i), old);
          else m.delete(w.key(i));
        }
      });
      if (to - from > 1 && !noBatch.has(m)) {
        try {
          m.updateBatchFlat(w.keys.subarray(from * w.ks, to * w.ks), w.values.subarray(from * w.vs, to * w.vs));
          stats.syscalls++;
          stats.upserts += to - from;
          continue;
        } catch (e) {
          // LPM tries have no batch ops on some kernels; a full map fails the same way element-wise
          if (!UNSUPPORTED.has((e as { code?: string }).code ?? '')) throw e;
          noBatch.add(m);
        }
      }
      for (let i = from; i < to; i++) {
        m.update(w.key(i), w.value(i));
        stats.syscalls++;
        stats.upserts++;
      }
    }
  }
}

export const EMPTY_STATE: DatapathState = { policy: [], defaults: [], ipcache: [], cgroups: [] };
