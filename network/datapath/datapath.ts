// The network-policy datapath: loads bpf/network/netpol.bpf.o, attaches it at the cgroup v2 root,
// and moves the policy maps from one DatapathState to the next.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BpfObject, forEachFrame, packageRoot, probeFeatures, RingBuffer, type BpfLink, type BpfMap,
} from '../../native/index.js';
import type { DatapathState } from '../model.js';
import { decodeNet, EV_NET, NP_STAT_NAMES, type NetpolCounters, type NetRecord } from './layout.js';
import { BpfPolicyMaps, EMPTY_STATE, type ApplyStats, type NetpolMaps } from './maps.js';

export const NETPOL_OBJECT = (): string => join(packageRoot(), 'build', 'bpf', 'netpol.bpf.o');

/** Maps of the process sensor the datapath shares when it runs inside the agent. */
export interface SharedNetMaps {
  pal_events: BpfMap;
  pal_stats: BpfMap;
  pal_proc_marks: BpfMap;
}

export interface DatapathOptions {
  /** The process object's maps: records go to the agent's ring, marks are the ones it keeps. Without
   *  them the datapath creates its own ring buffer (drain it with drain()) and marks map. */
  shared?: SharedNetMaps;
  /** Entries per direction in pal_np_ingress / pal_np_egress, and in each one's exact map (default 65536). */
  maxPolicyEntries?: number;
  maxIpcache?: number;
  maxCgroups?: number;
  /** UDP flows (socket, peer) remembered in the LRU pal_np_udp (default 65536); an evicted flow's
   *  next datagram is decided (and reported) again. */
  maxUdpFlows?: number;
  /** Standalone ring buffer bytes (power of two, default 4 MiB). */
  ringBytes?: number;
  /** connect/accept/close records for every TCP socket on the host, not only workloads'. */
  flowsAll?: boolean;
  /** Copy DNS messages of workloads (default true). */
  dns?: boolean;
  /** Object path (default build/bpf/netpol.bpf.o). */
  object?: string;
}

/** The programs and where each attaches: all at the cgroup v2 root. */
export const NETPOL_PROGRAMS = [
  'np_connect4', 'np_connect6', 'np_sendmsg4', 'np_sendmsg6', 'np_sock_create', 'np_ingress', 'np_egress',
] as const;

export class NetworkDatapath {
  readonly maps: NetpolMaps;
  readonly policyMaps: BpfPolicyMaps;
  /** pal_proc_marks (shared or own): tgid → mark bits for binary-aware rules. */
  readonly procMarks: BpfMap;
  readonly #obj: BpfObject;
  readonly #stats: BpfMap;
  readonly #ring: RingBuffer | null;
  #links: BpfLink[] = [];
  #state: DatapathState = EMPTY_STATE;
  #buf: Buffer | null = null;

  private constructor(obj: BpfObject, ring: RingBuffer | null) {
    this.#obj = obj;
    this.#ring = ring;
    this.maps = {
      ingress: obj.map('pal_np_ingress'),
      ingressExact: obj.map('pal_np_in_exact'),
      egress: obj.map('pal_np_egress'),
      egressExact: obj.map('pal_np_eg_exact'),
      ipcache: obj.map('pal_np_ipcache'),
      ipcacheExact: obj.map('pal_np_ip_exact'),
      cgroups: obj.map('pal_np_cgroups'),
      idents: obj.map('pal_np_idents'),
    };
    this.procMarks = obj.map('pal_proc_marks');
    this.#stats = obj.map('np_stats');
    this.policyMaps = new BpfPolicyMaps(this.maps);
  }

  /** Opens and loads (nothing attached yet). Throws BpfError with the verifier log on failure. */
  static load(opts: DatapathOptions = {}): NetworkDatapath {
    const obj = BpfObject.open(opts.object ?? NETPOL_OBJECT());
    let ring: RingBuffer | null = null;
    try {
      const u32 = (v: number): Buffer => {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(v);
        return b;
      };
      obj.setConst('np_flows_all', u32(opts.flowsAll ? 1 : 0));
      obj.setConst('np_dns', u32(opts.dns === false ? 0 : 1));
      const pe = opts.maxPolicyEntries ?? 65536;
      // an exact entry lives in the hash map, any other in the trie: each may need room for all
      for (const m of ['pal_np_ingress', 'pal_np_in_exact', 'pal_np_egress', 'pal_np_eg_exact']) obj.setMapMaxEntries(m, pe);
      for (const m of ['pal_np_ipcache', 'pal_np_ip_exact']) obj.setMapMaxEntries(m, opts.maxIpcache ?? 65536);
      obj.setMapMaxEntries('pal_np_cgroups', opts.maxCgroups ?? 16384);
      obj.setMapMaxEntries('pal_np_idents', opts.maxCgroups ?? 16384);
      obj.setMapMaxEntries('pal_np_udp', opts.maxUdpFlows ?? 65536);
      if (opts.shared) {
        obj.reuseMap('pal_events', opts.shared.pal_events);
        obj.reuseMap('pal_stats', opts.shared.pal_stats);
        obj.reuseMap('pal_proc_marks', opts.shared.pal_proc_marks);
      } else {
        obj.setMapMaxEntries('pal_events', opts.ringBytes ?? 4 << 20);
      }
      obj.load();
      if (!opts.shared) ring = new RingBuffer(obj.map('pal_events'));
      return new NetworkDatapath(obj, ring);
    } catch (e) {
      ring?.close();
      obj.close();
      throw e;
    }
  }

  get attached(): boolean {
    return this.#links.length > 0;
  }

  /** The state the maps hold now (what the last apply() wrote). */
  get state(): DatapathState {
    return this.#state;
  }

  /**
   * Attaches every program at the cgroup v2 root (default: where probeFeatures() found it), so that
   * every cgroup below is seen; only cgroups in the state's `cgroups` are policed.
   */
  attach(cgroupRoot?: string): void {
    if (this.attached) return;
    const root = cgroupRoot ?? probeFeatures().cgroup2Path;
    if (!root) throw new Error('network datapath: cgroup v2 is not mounted (no cgroup2 root found)');
    try {
      for (const p of NETPOL_PROGRAMS) this.#links.push(this.#obj.attach(p, { kind: 'cgroup', cgroupPath: root }));
      this.#links.push(this.#obj.attach('np_state', { kind: 'tp_btf' }));
    } catch (e) {
      this.detach();
      throw e;
    }
  }

  detach(): void {
    for (const l of this.#links) l.destroy();
    this.#links = [];
  }

  /** Moves the maps from the current state to `next` (see BpfPolicyMaps.apply); throws and leaves
   *  the current state in place when the kernel refuses a write. */
  apply(next: DatapathState): ApplyStats {
    this.policyMaps.apply(this.#state, next);
    this.#state = next;
    return this.policyMaps.last;
  }

  /** Sets the mark bits of a running process (as the agent seeds processes that predate a policy). */
  setProcessMarks(tgid: number, bits: bigint): void {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(tgid);
    if (bits === 0n) {
      this.procMarks.delete(k);
      return;
    }
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(bits);
    this.procMarks.update(k, v);
  }

  /** pal_stats (shared or own): the per-CPU counters every Palisade program adds to (enum pal_stat). */
  sharedStats(): BpfMap {
    return this.#obj.map('pal_stats');
  }

  counters(): NetpolCounters {
    const out = {} as NetpolCounters;
    const key = Buffer.alloc(4);
    NP_STAT_NAMES.forEach((name, i) => {
      key.writeUInt32LE(i);
      out[name] = Number(this.#stats.sumPerCpuU64(key) ?? 0n);
    });
    return out;
  }

  /** Per program: runs and ns spent, from fdinfo (counted only while kernel.bpf_stats_enabled=1). */
  programStats(): Record<string, { runs: number; ns: number }> {
    const out: Record<string, { runs: number; ns: number }> = {};
    for (const p of this.#obj.programs()) {
      if (p.fd < 0) continue;
      try {
        const t = readFileSync(`/proc/self/fdinfo/${p.fd}`, 'utf8');
        out[p.name] = {
          runs: Number(/^run_cnt:\s*(\d+)/m.exec(t)?.[1] ?? 0),
          ns: Number(/^run_time_ns:\s*(\d+)/m.exec(t)?.[1] ?? 0),
        };
      } catch {
        // closed meanwhile
      }
    }
    return out;
  }

  /** Standalone only: decodes the records waiting in the own ring buffer. Returns how many. */
  drain(fn: (r: NetRecord) => void): number {
    if (!this.#ring) throw new Error('network datapath: records go to the shared ring buffer; drain it there');
    this.#buf ??= Buffer.alloc(Math.min(this.#ring.size, 4 << 20));
    let total = 0;
    for (;;) {
      const n = this.#ring.drain(this.#buf);
      if (n === 0) return total;
      total += forEachFrame(this.#buf, n, (rec) => {
        if (rec.readUInt16LE(0) === EV_NET) fn(decodeNet(rec));
      });
    }
  }

  close(): void {
    this.detach();
    this.#ring?.close();
    this.#obj.close();
  }
}
