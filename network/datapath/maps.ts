// PolicyMaps over the BPF maps of bpf/network/netpol.bpf.c: apply(from, to) writes only the difference,
// in an order where no connection gets a verdict that neither state would give.
import type { BpfMap } from '../../native/index.js';
import type { CgroupEntry, DatapathState, IdentityDefaults, IpcacheEntry, PolicyEntry, PolicyMaps } from '../model.js';
import {
  NP_IDENT, NP_IP_KEY, NP_KEY, NP_VALUE, policyPrefixLen, viewOf, writeIdent, writeIpcacheKey, writeIpcacheKeyV4,
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

/** How one kind of state record maps to a map and its bytes. */
interface Codec<T> {
  /** Key and value sizes: the same in every map the record can go to. */
  ks: number;
  vs: number;
  /** Encodes the record at keys[keyAt] / values[valueAt] (zeroed) and returns its write-order
   *  bucket: the map (index in ROLES) and the key's LPM prefix length (0 in hash maps), as
   *  role * SPECS + (SPECS - 1 - length), so that more specific keys sort first. One call per record:
   *  reading a record's fields is the costly part (tens of thousands of objects, scattered in the heap). */
  write(e: T, keys: DataView, keyAt: number, values: DataView, valueAt: number): number;
}

const SPECS = 130; // prefix lengths 0..128, and one to spare
const POLICY_EXACT = 96;
const IP_EXACT = 128;

const bucketOf = (role: number, spec: number): number => {
  if (!(spec >= 0 && spec < SPECS)) throw new RangeError(`datapath state: a key of prefix length ${spec}`);
  return role * SPECS + (SPECS - 1 - spec);
};
const roleOf = (bucket: number): MapRole => ROLES[Math.floor(bucket / SPECS)]!;
const specOf = (bucket: number): number => SPECS - 1 - (bucket % SPECS);

const CODECS = {
  policy: {
    ks: NP_KEY.$size,
    vs: NP_VALUE.$size,
    write: (e: PolicyEntry, kv: DataView, k: number, vv: DataView, v: number): number => {
      writePolicyKey(kv, k, e);
      writePolicyValue(vv, v, e);
      const spec = policyPrefixLen(e);
      const ingress = e.dir === 'ingress';
      return bucketOf(spec === POLICY_EXACT ? (ingress ? ROLE_INDEX.ingressExact : ROLE_INDEX.egressExact) : ingress ? ROLE_INDEX.ingress : ROLE_INDEX.egress, spec);
    },
  } satisfies Codec<PolicyEntry>,
  defaults: {
    ks: 4,
    vs: NP_IDENT.$size,
    write: (d: IdentityDefaults, kv: DataView, k: number, vv: DataView, v: number): number => {
      kv.setUint32(k, d.localId >>> 0, true);
      writeIdent(vv, v, d);
      return bucketOf(ROLE_INDEX.idents, 0);
    },
  } satisfies Codec<IdentityDefaults>,
  ipcache: {
    ks: NP_IP_KEY.$size,
    vs: 4,
    write: (i: IpcacheEntry, kv: DataView, k: number, vv: DataView, v: number): number => {
      const len = i.v4Len;
      if (len !== undefined && len >= 0) writeIpcacheKeyV4(kv, k, i.v4Addr!, len);
      else writeIpcacheKey(kv, k, i.cidr);
      vv.setUint32(v, i.identity >>> 0, true);
      const spec = kv.getUint32(k + NP_IP_KEY.prefixlen, true);
      return bucketOf(spec === IP_EXACT ? ROLE_INDEX.ipcacheExact : ROLE_INDEX.ipcache, spec);
    },
  } satisfies Codec<IpcacheEntry>,
  cgroups: {
    ks: 8,
    vs: 4,
    write: (c: CgroupEntry, kv: DataView, k: number, vv: DataView, v: number): number => {
      kv.setBigUint64(k, c.cgroupId, true);
      vv.setUint32(v, c.identity >>> 0, true);
      return bucketOf(ROLE_INDEX.cgroups, 0);
    },
  } satisfies Codec<CgroupEntry>,
};

/** The kind of record each map holds: its key and value sizes are that codec's. */
const HOLDS: Record<MapRole, { ks: number; vs: number }> = {
  ingress: CODECS.policy,
  ingressExact: CODECS.policy,
  egress: CODECS.policy,
  egressExact: CODECS.policy,
  idents: CODECS.defaults,
  ipcache: CODECS.ipcache,
  ipcacheExact: CODECS.ipcache,
  cgroups: CODECS.cgroups,
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
 * `items` encoded in write order: each record encoded once into staging buffers (in input order), then
 * a counting sort over the buckets gives each role its run, most specific first. A run already in input
 * order (a bulk load of one kind of key) is handed out without a copy.
 */
function encode<T>(items: readonly T[], codec: Codec<T>, each: (role: number, keys: Buffer, values: Buffer, n: number) => void): void {
  const n = items.length;
  const { ks, vs } = codec;
  const keys = Buffer.alloc(n * ks);
  const values = Buffer.alloc(n * vs);
  const kv = viewOf(keys);
  const vv = viewOf(values);
  const bucket = new Uint16Array(n);
  const counts = new Int32Array(ROLES.length * SPECS + 1);
  for (let i = 0; i < n; i++) {
    const b = codec.write(items[i]!, kv, i * ks, vv, i * vs);
    bucket[i] = b;
    counts[b + 1]!++;
  }
  for (let b = 1; b < counts.length; b++) counts[b]! += counts[b - 1]!;
  const start = new Int32Array(ROLES.length + 1);
  for (let r = 0; r <= ROLES.length; r++) start[r] = counts[r * SPECS]!;
  const sorted = new Int32Array(n);
  for (let i = 0; i < n; i++) sorted[counts[bucket[i]!]!++] = i;
  for (let r = 0; r < ROLES.length; r++) {
    const from = start[r]!;
    const count = start[r + 1]! - from;
    if (count === 0) continue;
    let inOrder = true;
    for (let at = from + 1; at < from + count && inOrder; at++) inOrder = sorted[at] === sorted[at - 1]! + 1;
    if (inOrder) {
      const first = sorted[from]!;
      each(r, keys.subarray(first * ks, (first + count) * ks), values.subarray(first * vs, (first + count) * vs), count);
      continue;
    }
    const k = Buffer.alloc(count * ks);
    const v = Buffer.alloc(count * vs);
    for (let j = 0; j < count; j++) {
      const i = sorted[from + j]!;
      keys.copy(k, j * ks, i * ks, (i + 1) * ks);
      values.copy(v, j * vs, i * vs, (i + 1) * vs);
    }
    each(r, k, v, count);
  }
}

/**
 * The difference between two states, by object identity: the compiler never modifies a state it
 * returned and keeps unchanged entries as the same objects, so only the entries that differ are
 * encoded. Upserts are encoded straight into one key and one value buffer per map. An entry replaced
 * by another with the same key becomes one upsert; equal bytes, none.
 */
export function stateDiff(from: DatapathState, to: DatapathState): Map<MapRole, MapWrites> {
  const diffs = new Map<MapRole, MapWrites>(ROLES.map((r) => [r, new MapWrites(HOLDS[r].ks, HOLDS[r].vs)]));
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
    if (added.length > 0) encode(added, codec, (ri, keys, values, n) => {
      const r = ROLES[ri]!;
      const w = diffs.get(r)!;
      w.count = n;
      w.keys = keys;
      w.values = values;
      // one write per key: a second one would silently win in the kernel
      const index = new PackedKeyIndex(w.keys, w.ks, n);
      for (let i = 0; i < n; i++) {
        const dup = index.add(i);
        if (dup >= 0) throw new Error(`datapath state: two ${w.value(dup).equals(w.value(i)) ? 'entries' : 'different values'} for one ${r} key`);
      }
      indexes.set(r, index);
    });
    // deletes, unless an upsert replaces the key
    const scratch = Buffer.alloc(NP_KEY.$size + NP_VALUE.$size);
    const sv = viewOf(scratch);
    for (const e of removed) {
      scratch.fill(0);
      const b = codec.write(e, sv, 0, sv, codec.ks);
      const r = roleOf(b);
      const w = diffs.get(r)!;
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
