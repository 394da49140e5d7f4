// PolicyMaps over the BPF maps of bpf/network/netpol.bpf.c: apply(from, to) writes only the difference,
// in an order where no connection gets a verdict that neither state would give.
import type { BpfMap } from '../../native/index.js';
import type { CgroupEntry, DatapathState, IdentityDefaults, IpcacheEntry, PolicyEntry, PolicyMaps } from '../model.js';
import { writeIdent, NP_IDENT, NP_IP_KEY, NP_KEY, NP_VALUE, writeIpcacheKey, writePolicyKey, writePolicyValue } from './layout.js';

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

const SIZES: Record<MapRole, [number, number]> = {
  ingress: [NP_KEY.$size, NP_VALUE.$size],
  egress: [NP_KEY.$size, NP_VALUE.$size],
  idents: [4, NP_IDENT.$size],
  ipcache: [NP_IP_KEY.$size, 4],
  cgroups: [8, 4],
};

interface Diff {
  upserts: { key: Buffer; value: Buffer; spec: number; old: Buffer | null }[];
  deletes: { key: Buffer; spec: number; old: Buffer }[];
}

/** LPM maps: the prefix length leads the key; hash maps: all keys are equally specific. */
const specOf = (role: MapRole, key: Buffer): number =>
  role === 'ingress' || role === 'egress' || role === 'ipcache' ? key.readUInt32LE(0) : 0;

/** One entry's key and value bytes in the map of its role. */
interface Encoded {
  role: MapRole;
  key: Buffer;
  value: Buffer;
}

function encodeEntry(role: MapRole, write: (b: Buffer, keyAt: number, valueAt: number) => void): Encoded {
  const [ks, vs] = SIZES[role];
  const b = Buffer.alloc(ks + vs);
  write(b, 0, ks);
  return { role, key: b.subarray(0, ks), value: b.subarray(ks) };
}

const ENCODERS = {
  policy: (e: PolicyEntry): Encoded => encodeEntry(e.dir, (b, k, v) => (writePolicyKey(b, k, e), writePolicyValue(b, v, e))),
  defaults: (d: IdentityDefaults): Encoded => encodeEntry('idents', (b, k, v) => (b.writeUInt32LE(d.localId >>> 0, k), writeIdent(b, v, d))),
  ipcache: (i: IpcacheEntry): Encoded => encodeEntry('ipcache', (b, k, v) => (writeIpcacheKey(b, k, i.cidr), b.writeUInt32LE(i.identity >>> 0, v))),
  cgroups: (c: CgroupEntry): Encoded => encodeEntry('cgroups', (b, k, v) => (b.writeBigUInt64LE(c.cgroupId, k), b.writeUInt32LE(c.identity >>> 0, v))),
};

/**
 * The difference between two states, by object identity: the compiler never modifies a state it
 * returned and keeps unchanged entries as the same objects, so only the entries that differ are
 * encoded (a change among 50,000 entries costs a few Set lookups per entry, not an encoding of all).
 * An entry replaced by another with the same key becomes one upsert; equal bytes, none.
 */
export function stateDiff(from: DatapathState, to: DatapathState): Map<MapRole, Diff> {
  const diffs = new Map<MapRole, Diff>(ROLES.map((r) => [r, { upserts: [], deletes: [] }]));
  // a: entries before, b: after; entries in both are unchanged (only the changed ones are passed when
  // the compiler gave a delta: then the two lists are disjoint)
  const part = <T extends object>(a: readonly T[], b: readonly T[], encode: (e: T) => Encoded): void => {
    if (a === b) return;
    const before = new Set(a);
    const after = new Set(b);
    const ups = new Map<string, Diff['upserts'][number]>();
    for (const e of b) {
      if (before.has(e)) continue;
      const x = encode(e);
      const id = x.role + x.key.toString('latin1');
      const prev = ups.get(id);
      if (prev && !prev.value.equals(x.value)) throw new Error(`datapath state: two different values for one ${x.role} key`);
      if (prev) continue;
      const u = { key: x.key, value: x.value, spec: specOf(x.role, x.key), old: null as Buffer | null };
      ups.set(id, u);
      diffs.get(x.role)!.upserts.push(u);
    }
    for (const e of a) {
      if (after.has(e)) continue;
      const x = encode(e);
      const u = ups.get(x.role + x.key.toString('latin1'));
      if (u) u.old = x.value; // replaced: the upsert overwrites it, undo restores it
      else diffs.get(x.role)!.deletes.push({ key: x.key, spec: specOf(x.role, x.key), old: x.value });
    }
  };
  const delta = to.policyDelta;
  if (delta && delta.base.deref() === from) part(delta.removed, delta.added, ENCODERS.policy);
  else part(from.policy, to.policy, ENCODERS.policy);
  part(from.defaults, to.defaults, ENCODERS.defaults);
  part(from.ipcache, to.ipcache, ENCODERS.ipcache);
  part(from.cgroups, to.cgroups, ENCODERS.cgroups);
  for (const d of diffs.values()) {
    d.upserts = d.upserts.filter((u) => !(u.old && u.old.equals(u.value))); // same bytes: nothing to write
    d.upserts.sort((x, y) => y.spec - x.spec); // most specific first
    d.deletes.sort((x, y) => x.spec - y.spec); // least specific first: the specific ones still answer as before
  }
  return diffs;
}

const ROLES: MapRole[] = ['ingress', 'egress', 'idents', 'ipcache', 'cgroups'];

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
    const roles = ROLES;
    const diffs = stateDiff(from, to);
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
