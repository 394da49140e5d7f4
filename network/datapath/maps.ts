// PolicyMaps over the BPF maps of bpf/network/netpol.bpf.c: apply(from, to) writes only the difference,
// in an order where no connection gets a verdict that neither state would give.
import type { BpfMap } from '../../native/index.js';
import type { DatapathState, PolicyMaps } from '../model.js';
import { encodeIdent, NP_IDENT, NP_IP_KEY, NP_KEY, NP_VALUE, writeIpcacheKey, writePolicyKey, writePolicyValue } from './layout.js';

/** The five maps of netpol.h, by role. */
export interface NetpolMaps {
  ingress: BpfMap;
  egress: BpfMap;
  ipcache: BpfMap;
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

/** One map's content, encoded once into a slab: entry i's key then value at i * (keySize + valueSize).
 *  The index maps the key bytes (as a latin1 string) to i. */
export interface Table {
  keySize: number;
  valueSize: number;
  n: number;
  buf: Buffer;
  index: Map<string, number>;
}

const SIZES: Record<MapRole, [number, number]> = {
  ingress: [NP_KEY.$size, NP_VALUE.$size],
  egress: [NP_KEY.$size, NP_VALUE.$size],
  idents: [4, NP_IDENT.$size],
  ipcache: [NP_IP_KEY.$size, 4],
  cgroups: [8, 4],
};

class TableBuilder {
  readonly t: Table;
  constructor(private readonly role: MapRole, capacity: number) {
    const [keySize, valueSize] = SIZES[role];
    this.t = { keySize, valueSize, n: 0, buf: Buffer.alloc(Math.max(1, capacity) * (keySize + valueSize)), index: new Map() };
  }

  /** Offset of the next free slot (zeroed). */
  get at(): number {
    return this.t.n * (this.t.keySize + this.t.valueSize);
  }

  /** Commits the slot just written; a key seen before must carry the same value. */
  commit(what: () => string): void {
    const { t } = this;
    const at = this.at;
    const k = t.buf.toString('latin1', at, at + t.keySize);
    const prev = t.index.get(k);
    if (prev === undefined) {
      t.index.set(k, t.n++);
      return;
    }
    const pv = prev * (t.keySize + t.valueSize) + t.keySize;
    if (t.buf.compare(t.buf, at + t.keySize, at + t.keySize + t.valueSize, pv, pv + t.valueSize) !== 0)
      throw new Error(`datapath state: two different values for ${what()} (${this.role})`);
    t.buf.fill(0, at, at + t.keySize + t.valueSize); // the slot is free again
  }
}

/** Encodes a whole state per map. Throws RangeError on an entry the maps cannot hold. */
export function encodeState(s: DatapathState): Record<MapRole, Table> {
  let nIn = 0;
  for (const e of s.policy) if (e.dir === 'ingress') nIn++;
  const b = {
    ingress: new TableBuilder('ingress', nIn),
    egress: new TableBuilder('egress', s.policy.length - nIn),
    idents: new TableBuilder('idents', s.defaults.length),
    ipcache: new TableBuilder('ipcache', s.ipcache.length),
    cgroups: new TableBuilder('cgroups', s.cgroups.length),
  };
  for (const e of s.policy) {
    const tb = b[e.dir];
    const at = tb.at;
    writePolicyKey(tb.t.buf, at, e);
    writePolicyValue(tb.t.buf, at + NP_KEY.$size, e);
    tb.commit(() => `${e.dir} entry local=${e.localId} peer=${e.peerId} proto=${e.proto ?? 'any'} port=${e.port}/${e.portBits}`);
  }
  for (const d of s.defaults) {
    const at = b.idents.at;
    b.idents.t.buf.writeUInt32LE(d.localId >>> 0, at);
    encodeIdent(d).copy(b.idents.t.buf, at + 4);
    b.idents.commit(() => `defaults of ${d.localId}`);
  }
  for (const i of s.ipcache) {
    const at = b.ipcache.at;
    writeIpcacheKey(b.ipcache.t.buf, at, i.cidr);
    b.ipcache.t.buf.writeUInt32LE(i.identity >>> 0, at + NP_IP_KEY.$size);
    b.ipcache.commit(() => `ipcache ${i.cidr}`);
  }
  for (const c of s.cgroups) {
    const at = b.cgroups.at;
    b.cgroups.t.buf.writeBigUInt64LE(c.cgroupId, at);
    b.cgroups.t.buf.writeUInt32LE(c.identity >>> 0, at + 8);
    b.cgroups.commit(() => `cgroup ${c.cgroupId}`);
  }
  return { ingress: b.ingress.t, egress: b.egress.t, idents: b.idents.t, ipcache: b.ipcache.t, cgroups: b.cgroups.t };
}

interface Diff {
  upserts: { key: Buffer; value: Buffer; spec: number; old: Buffer | null }[];
  deletes: { key: Buffer; spec: number; old: Buffer }[];
}

/** LPM maps: the prefix length leads the key; hash maps: all keys are equally specific. */
const specOf = (role: MapRole, key: Buffer): number =>
  role === 'ingress' || role === 'egress' || role === 'ipcache' ? key.readUInt32LE(0) : 0;

function diff(role: MapRole, from: Table, to: Table): Diff {
  const d: Diff = { upserts: [], deletes: [] };
  const ks = to.keySize, stride = to.keySize + to.valueSize;
  for (const [k, i] of to.index) {
    const j = from.index.get(k);
    const at = i * stride;
    let old: Buffer | null = null;
    if (j !== undefined) {
      const fv = j * stride + ks;
      if (to.buf.compare(from.buf, fv, fv + to.valueSize, at + ks, at + stride) === 0) continue;
      old = from.buf.subarray(fv, fv + to.valueSize);
    }
    const key = to.buf.subarray(at, at + ks);
    d.upserts.push({ key, value: to.buf.subarray(at + ks, at + stride), spec: specOf(role, key), old });
  }
  for (const [k, j] of from.index) {
    if (to.index.has(k)) continue;
    const at = j * stride;
    const key = from.buf.subarray(at, at + ks);
    d.deletes.push({ key, spec: specOf(role, key), old: from.buf.subarray(at + ks, at + stride) });
  }
  d.upserts.sort((a, b) => b.spec - a.spec); // most specific first
  d.deletes.sort((a, b) => a.spec - b.spec); // least specific first: the specific ones still answer as before
  return d;
}

/** Encodings of states already applied: the `from` of the next apply is usually the last `to`. */
const encoded = new WeakMap<DatapathState, Record<MapRole, Table>>();
function encodedOf(s: DatapathState): Record<MapRole, Table> {
  let e = encoded.get(s);
  if (!e) {
    e = encodeState(s);
    encoded.set(s, e);
  }
  return e;
}

/** Maps whose updateBatch the kernel refused once: written element by element from then on. */
const noBatch = new WeakSet<BpfMap>();

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
    // states are treated as immutable: the encoding of each state object is kept
    const a = encodedOf(from);
    const b = encodedOf(to);
    const roles: MapRole[] = ['ingress', 'egress', 'idents', 'ipcache', 'cgroups'];
    const diffs = new Map(roles.map((r) => [r, diff(r, a[r], b[r])]));
    const undo: (() => void)[] = [];
    const stats: ApplyStats = { upserts: 0, deletes: 0, syscalls: 0, ms: 0 };
    try {
      for (const r of roles) {
        const d = diffs.get(r)!;
        if (d.upserts.length === 0) continue;
        this.#upsert(r, d, stats, undo);
      }
      for (const r of [...roles].reverse()) {
        const d = diffs.get(r)!;
        for (const x of d.deletes) {
          this.maps[r].delete(x.key);
          stats.syscalls++;
          stats.deletes++;
          undo.push(() => this.maps[r].update(x.key, x.old));
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

  #upsert(r: MapRole, d: Diff, stats: ApplyStats, undo: (() => void)[]): void {
    const m = this.maps[r];
    for (let i = 0; i < d.upserts.length; i += this.batchSize) {
      const chunk = d.upserts.slice(i, i + this.batchSize);
      const keys = chunk.map((x) => x.key);
      const values = chunk.map((x) => x.value);
      let done = false;
      if (chunk.length > 1 && !noBatch.has(m)) {
        try {
          m.updateBatch(keys, values);
          stats.syscalls++;
          done = true;
        } catch (e) {
          // LPM tries have no batch ops on some kernels; a full map fails the same way element-wise
          const code = (e as { code?: string }).code;
          if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOTSUPP') {
            // part of the batch may be in: undo all of it
            for (const x of chunk) undo.push(() => (x.old ? m.update(x.key, x.old) : m.delete(x.key)));
            throw e;
          }
          noBatch.add(m);
        }
      }
      if (!done) {
        for (let j = 0; j < chunk.length; j++) {
          m.update(keys[j]!, values[j]!);
          stats.syscalls++;
          const x = chunk[j]!;
          undo.push(() => (x.old ? m.update(x.key, x.old) : m.delete(x.key)));
        }
      } else {
        for (const x of chunk) undo.push(() => (x.old ? m.update(x.key, x.old) : m.delete(x.key)));
      }
      stats.upserts += chunk.length;
    }
  }
}

export const EMPTY_STATE: DatapathState = { policy: [], defaults: [], ipcache: [], cgroups: [] };
