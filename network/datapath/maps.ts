// PolicyMaps over the BPF maps of bpf/network/netpol.bpf.c: apply(from, to) writes only the difference,
// in an order where no connection gets a verdict that neither state would give.
import type { BpfMap } from '../../native/index.js';
import type { DatapathState, PolicyMaps } from '../model.js';
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

/** One map's content as encoded keys (hex) → [key, value, specificity]. */
type Encoded = Map<string, { key: Buffer; value: Buffer; spec: number }>;

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

function put(m: Encoded, key: Buffer, value: Buffer, spec: number, what: string): void {
  const k = key.toString('hex');
  const prev = m.get(k);
  if (prev && !prev.value.equals(value)) throw new Error(`datapath state: two different values for ${what}`);
  m.set(k, { key, value, spec });
}

/** Encodes a whole state per map. Throws RangeError on an entry the maps cannot hold. */
export function encodeState(s: DatapathState): Record<MapRole, Encoded> {
  const out: Record<MapRole, Encoded> = {
    ingress: new Map(), egress: new Map(), ipcache: new Map(), cgroups: new Map(), idents: new Map(),
  };
  for (const e of s.policy) {
    const key = encodePolicyKey(e);
    const what = `${e.dir} entry local=${e.localId} peer=${e.peerId} proto=${e.proto ?? 'any'} port=${e.port}/${e.portBits}`;
    put(out[e.dir], key, encodePolicyValue(e), key.readUInt32LE(0), what);
  }
  for (const d of s.defaults) put(out.idents, encodeIdentKey(d.localId), encodeIdent(d), 0, `defaults of ${d.localId}`);
  for (const i of s.ipcache) {
    const key = encodeIpcacheKey(i.cidr);
    put(out.ipcache, key, encodeU32(i.identity), key.readUInt32LE(0), `ipcache ${i.cidr}`);
  }
  for (const c of s.cgroups) put(out.cgroups, encodeCgroupKey(c.cgroupId), encodeU32(c.identity), 0, `cgroup ${c.cgroupId}`);
  return out;
}

function diff(role: MapRole, from: Encoded, to: Encoded): Diff {
  const d: Diff = { role, upserts: [], deletes: [] };
  for (const [k, v] of to) {
    const old = from.get(k);
    if (!old || !old.value.equals(v.value)) d.upserts.push({ ...v, old: old?.value ?? null });
  }
  for (const [k, v] of from) if (!to.has(k)) d.deletes.push({ key: v.key, spec: v.spec, old: v.value });
  d.upserts.sort((a, b) => b.spec - a.spec); // most specific first
  d.deletes.sort((a, b) => a.spec - b.spec); // least specific first: the specific ones still answer as before
  return d;
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
    const a = encodeState(from);
    const b = encodeState(to);
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
