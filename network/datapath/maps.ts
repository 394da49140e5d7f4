// PolicyMaps over the BPF maps of bpf/network/netpol.bpf.c: apply(from, to) writes only the difference,
// in an order where no connection gets a verdict that neither state would give.
import type { BpfMap } from '../../native/index.js';
import type {
  CgroupEntry, DatapathState, IdentityDefaults, IpcacheEntry, PolicyEntry, PolicyMaps, VerdictHalf,
} from '../model.js';
import {
  encodeCgroupKey, encodeIdent, encodeIdentKey, encodeIpcacheKey, encodePolicyKey, encodePolicyValue, encodeU32,
} from './layout.js';

/** The five maps of netpol.h, by role. */
export interface NetpolMaps {
  ingress: BpfMap;
  egress: BpfMap;
  ipcache: BpfMap;
  cgroups: BpfMap;
  idents: BpfMap;
}

type MapRole = keyof NetpolMaps;

/** One entry of one map: a string identity of its key and value (cheap to build and compare), its
 *  specificity, and how to encode it (done only for entries that change). */
type Item =
  | { val: string; spec: number; role: 'ingress' | 'egress'; src: PolicyEntry }
  | { val: string; spec: number; role: 'idents'; src: IdentityDefaults }
  | { val: string; spec: number; role: 'ipcache'; src: IpcacheEntry }
  | { val: string; spec: number; role: 'cgroups'; src: CgroupEntry };

function itemKey(i: Item): Buffer {
  switch (i.role) {
    case 'ingress':
    case 'egress':
      return encodePolicyKey(i.src);
    case 'idents':
      return encodeIdentKey(i.src.localId);
    case 'ipcache':
      return encodeIpcacheKey(i.src.cidr);
    case 'cgroups':
      return encodeCgroupKey(i.src.cgroupId);
  }
}

function itemValue(i: Item): Buffer {
  switch (i.role) {
    case 'ingress':
    case 'egress':
      return encodePolicyValue(i.src);
    case 'idents':
      return encodeIdent(i.src);
    case 'ipcache':
      return encodeU32(i.src.identity);
    case 'cgroups':
      return encodeU32(i.src.identity);
  }
}
type Index = Map<string, Item>;

interface Diff {
  role: MapRole;
  upserts: { key: Buffer; value: Buffer; spec: number; old: Buffer | null }[];
  deletes: { key: Buffer; spec: number; old: Buffer }[];
}

export interface ApplyStats {
  upserts: number;
  deletes: number;
  /** map writes issued (a batch counts once) */
  syscalls: number;
  ms: number;
}

// marks are almost always 0n: skip the bigint-to-string then
const halfStr = (h: VerdictHalf): string =>
  (h.allow ? '1' : '0') + (h.deny ? '1' : '0') + '/' + h.allowRule + '/' + h.denyRule +
  (h.allowMarks === 0n && h.denyMarks === 0n ? '' : '/' + h.allowMarks.toString(16) + '/' + h.denyMarks.toString(16));

function put(m: Index, k: string, item: Item, what: string): void {
  const prev = m.get(k);
  if (prev && prev.val !== item.val) throw new Error(`datapath state: two different values for ${what}`);
  m.set(k, item);
}

/** Indexes a whole state per map. Throws RangeError on an entry the maps cannot hold. */
export function indexState(s: DatapathState): Record<MapRole, Index> {
  const out: Record<MapRole, Index> = {
    ingress: new Map(), egress: new Map(), ipcache: new Map(), cgroups: new Map(), idents: new Map(),
  };
  for (const e of s.policy) {
    let spec = 64;
    let port = 0;
    if (e.proto !== null) {
      if (!Number.isInteger(e.portBits) || e.portBits < 0 || e.portBits > 16 || !Number.isInteger(e.port) || e.port < 0 || e.port > 0xffff)
        throw new RangeError(`policy entry: port ${e.port}/${e.portBits} is not a port prefix`);
      spec = 80 + e.portBits;
      port = e.portBits === 0 ? 0 : e.port & ((0xffff << (16 - e.portBits)) & 0xffff);
    }
    const k = `${e.localId},${e.peerId},${e.proto ?? '*'},${port},${spec}`;
    put(out[e.dir], k, { val: halfStr(e.enf) + '|' + halfStr(e.all), spec, role: e.dir, src: e }, `${e.dir} entry local=${e.localId} peer=${e.peerId} proto=${e.proto ?? 'any'} port=${e.port}/${e.portBits}`);
  }
  for (const d of s.defaults) {
    put(out.idents, String(d.localId), {
      val: `${+d.ingressEnf}${+d.ingressAll}${+d.egressEnf}${+d.egressAll}`, spec: 0, role: 'idents', src: d,
    }, `defaults of ${d.localId}`);
  }
  for (const i of s.ipcache) {
    // cidr is canonical (model.ts): the string is the key
    const slash = i.cidr.indexOf('/');
    const bits = slash < 0 ? 128 : Number(i.cidr.slice(slash + 1)) + (i.cidr.includes(':') ? 0 : 96);
    put(out.ipcache, i.cidr, { val: String(i.identity), spec: bits, role: 'ipcache', src: i }, `ipcache ${i.cidr}`);
  }
  for (const c of s.cgroups) {
    put(out.cgroups, String(c.cgroupId), { val: String(c.identity), spec: 0, role: 'cgroups', src: c }, `cgroup ${c.cgroupId}`);
  }
  return out;
}

function diff(role: MapRole, from: Index, to: Index): Diff {
  const d: Diff = { role, upserts: [], deletes: [] };
  for (const [k, v] of to) {
    const old = from.get(k);
    if (!old || old.val !== v.val) d.upserts.push({ key: itemKey(v), value: itemValue(v), spec: v.spec, old: old ? itemValue(old) : null });
  }
  for (const [k, v] of from) if (!to.has(k)) d.deletes.push({ key: itemKey(v), spec: v.spec, old: itemValue(v) });
  d.upserts.sort((a, b) => b.spec - a.spec); // most specific first
  d.deletes.sort((a, b) => a.spec - b.spec); // least specific first: the specific ones still answer as before
  return d;
}

/** Indexes of states already applied or diffed: the `from` of the next apply is usually the last `to`. */
const indexes = new WeakMap<DatapathState, Record<MapRole, Index>>();
function indexOf(s: DatapathState): Record<MapRole, Index> {
  let i = indexes.get(s);
  if (!i) {
    i = indexState(s);
    indexes.set(s, i);
  }
  return i;
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
    // states are treated as immutable: an index is kept per state object
    const a = indexOf(from);
    const b = indexOf(to);
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
