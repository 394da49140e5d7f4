// One loaded hook: an instance of bpf/tracing/generic.bpf.c (the object built for its family of hook)
// with the compiled cfg, its filter maps filled, sharing the event ring, counters and process marks
// with the process sensor.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject, packageRoot, type BpfLink, type BpfMap } from '../../native/index.js';
import type { CompiledHook, ProgramName } from '../compile/compile.js';
import { HOOK_CFG, HOOK_STAT_NAMES } from '../compile/layout.js';

/** Maps of the process sensor every hook object reuses. */
export const SHARED_MAPS = ['pal_events', 'pal_stats', 'pal_bin_names', 'pal_marks_cfg', 'pal_proc_marks'] as const;
export type SharedMaps = Record<(typeof SHARED_MAPS)[number], BpfMap>;

export type HookCounts = Record<(typeof HOOK_STAT_NAMES)[number], number>;

/** The object each entry program is built into (bpf/Makefile): with its return program, if any. */
const FAMILY: Record<ProgramName, string> = {
  pal_tp: 'tracepoint', pal_raw_tp: 'raw_tp', pal_uprobe: 'uprobe', pal_uretprobe: 'uprobe', pal_kprobe: 'kprobe',
  pal_kretprobe: 'kprobe', pal_fentry: 'fentry', pal_fexit: 'fentry', pal_lsm: 'lsm',
};

export const genericObject = (program: ProgramName): string => join(packageRoot(), 'build', 'bpf', `generic-${FAMILY[program]}.bpf.o`);

/** Workload cgroups one podSelector can select. */
const CGROUP_SET_MAX = 16384;

/** Threads inside a return-probed function at once; beyond this an entry's record is counted lost. */
const RET_PENDING_MAX = 4096;

export class LoadedHook {
  private links: BpfLink[] = [];
  private readonly stats: BpfMap;

  private constructor(readonly compiled: CompiledHook, readonly hookId: number, private readonly obj: BpfObject) {
    this.stats = obj.map('hook_stats');
  }

  /** Opens, configures and loads; throws BpfError (verifier log included) without leaving anything loaded. */
  static load(c: CompiledHook, hookId: number, markBits: bigint[], shared: SharedMaps): LoadedHook {
    const obj = BpfObject.open(genericObject(c.program));
    try {
      const cfg = Buffer.from(c.cfg);
      cfg.writeUInt32LE(hookId, HOOK_CFG.hook_id);
      c.marks.forEach((m, i) => cfg.writeBigUInt64LE(markBits[i]!, m.offset));
      obj.setConst('cfg', cfg);
      obj.setAutoload(c.program, true);
      if (c.target) obj.setAttachTarget(c.program, c.target);
      if (c.ret) {
        obj.setAutoload(c.ret.program, true);
        if (c.target) obj.setAttachTarget(c.ret.program, c.target);
        obj.setMapMaxEntries('ret_pending', RET_PENDING_MAX);
      }
      for (const name of SHARED_MAPS) obj.reuseMap(name, shared[name]);
      obj.setMapMaxEntries('str_match', Math.max(1, c.strKeys.length));
      obj.setMapMaxEntries('num_set', Math.max(1, c.numKeys.length));
      obj.setMapMaxEntries('addr_match', Math.max(1, c.addrKeys.length));
      if (!c.rateLimited) obj.setMapMaxEntries('rate', 1); // an LRU map is preallocated: ~0.6 MB at 8192
      if (c.workloads) obj.setMapMaxEntries('cgroup_set', CGROUP_SET_MAX);
      obj.load();
      const one = Buffer.from([1]);
      for (const [map, keys] of [['str_match', c.strKeys], ['num_set', c.numKeys], ['addr_match', c.addrKeys]] as const) {
        if (keys.length === 0) continue;
        const m = obj.map(map);
        for (const k of keys) m.update(k, one);
      }
      return new LoadedHook(c, hookId, obj);
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  /** The cgroups of the workloads a podSelector / namespaced policy selects now (replaces the set). */
  setCgroups(ids: readonly bigint[]): void {
    const set = this.obj.map('cgroup_set');
    const want = new Set(ids.map((id) => id.toString()));
    const key = Buffer.alloc(8);
    for (const k of set.keys()) if (!want.has(k.readBigUInt64LE().toString())) set.delete(k);
    const one = Buffer.from([1]);
    for (const id of ids) {
      key.writeBigUInt64LE(id);
      set.update(key, one);
    }
  }

  get attached(): boolean {
    return this.links.length > 0;
  }

  attach(): void {
    if (this.attached) return;
    try {
      // The return program first: an entry that parks a record always finds its return attached.
      const ret = this.compiled.ret;
      if (ret) for (const spec of ret.attach) this.links.push(this.obj.attach(ret.program, spec));
      for (const spec of this.compiled.attach) this.links.push(this.obj.attach(this.compiled.program, spec));
    } catch (e) {
      this.detach();
      throw e;
    }
  }

  detach(): void {
    for (const l of this.links) l.destroy();
    this.links = [];
  }

  close(): void {
    this.detach();
    this.obj.close();
  }

  counts(): HookCounts {
    const out = {} as HookCounts;
    const key = Buffer.alloc(4);
    HOOK_STAT_NAMES.forEach((name, i) => {
      key.writeUInt32LE(i);
      out[name] = Number(this.stats.sumPerCpuU64(key) ?? 0n);
    });
    return out;
  }

  /** Kernel memory of this hook's own programs and maps (memlock from fdinfo). */
  kernelMemory(): number {
    let total = 0;
    const fds = [
      ...this.obj.programs().filter((p) => p.fd >= 0).map((p) => p.fd),
      ...this.obj.maps().filter((m) => !(SHARED_MAPS as readonly string[]).includes(m.name) && m.fd >= 0).map((m) => m.fd),
    ];
    for (const fd of fds) {
      try {
        total += Number(/^memlock:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? 0);
      } catch {
        // fd closed meanwhile: counts nothing
      }
    }
    return total;
  }
}
