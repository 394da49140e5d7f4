// Network policy inside the agent: the datapath (cgroup hooks at the cgroup v2 root), the policy
// manager (both APIs, incremental compile), the workload store (labels, addresses) and the flow
// history `palisade observe` reads. Records reach it through the agent's one ring buffer.
import { policyFiles } from '../../tracing/policy/files.js';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { NetworkDatapath, type SharedNetMaps } from '../../network/datapath/datapath.js';
import { decodeNet } from '../../network/datapath/layout.js';
import { FlowHistory } from '../../network/flows/history.js';
import type { FlowJson } from '../../network/flows/types.js';
import { NetworkPolicyManager, type NetAddResult } from '../../network/manager.js';
import { ID, type DatapathState, type PolicyMode, type RuleInfo, type Workload } from '../../network/model.js';
import type { ProcessMarks } from '../../tracing/sensor/marks.js';
import type { WorkloadSource } from '../../tracing/manager.js';
import { matches } from '../../network/policy/selectors.js';
import type { Selector } from '../../network/policy/types.js';
import { formatPolicyError } from '../../tracing/policy/index.js';
import { readNetnsAddresses } from '../identity/addresses.js';
import { labelStrings } from '../identity/labels.js';
import { WorkloadStore } from '../identity/store.js';
import { flowOf, reservedIdentity, type FlowContext, type IdentityInfo } from './flows.js';

export interface NetworkServiceOptions {
  shared: SharedNetMaps;
  marks: ProcessMarks;
  cgroupRoot: string;
  labelsFile?: string | null;
  historySize?: number;
  log: Logger;
}

export type NetpolRequest =
  | { op: 'netpol_add'; file: string; text: string; mode?: PolicyMode }
  | { op: 'netpol_delete'; name: string; namespace?: string }
  | { op: 'netpol_list' };

/** A decoded network record, ready for the pipeline: the flow and the task it names (pid 0: none). */
export interface NetFlow {
  flow: FlowJson;
  pid: number;
  startBoottime: number;
}

export class NetworkService {
  readonly history: FlowHistory;
  readonly store: WorkloadStore;
  private readonly datapath: NetworkDatapath;
  private readonly manager: NetworkPolicyManager;
  private readonly markRefs = new Map<string, { bit: bigint; refs: number }>();
  private identities: Map<number, IdentityInfo> | null = null;
  private unsubscribe: (() => void) | null = null;
  /** What flows name beyond the record: identities, rules, default-deny policies, workload addresses. */
  private readonly flowContext: FlowContext = {
    identity: (id) => this.identity(id),
    rule: (id): RuleInfo | undefined => this.manager.rule(id),
    defaultDeny: (local, dir, audit) => this.manager.defaultDenyBy(local, dir, audit),
    addressesOf: (cgroupId) => this.store.ipsOf(cgroupId),
  };

  constructor(private readonly opts: NetworkServiceOptions) {
    this.history = new FlowHistory(opts.historySize);
    this.datapath = NetworkDatapath.load({ shared: opts.shared });
    this.store = new WorkloadStore({
      cgroupRoot: opts.cgroupRoot,
      labelsFile: opts.labelsFile,
      log: opts.log,
    });
    const datapath = this.datapath;
    this.manager = new NetworkPolicyManager(
      {
        apply: (_from: DatapathState, to: DatapathState) => {
          datapath.apply(to);
          this.identities = null; // rebuilt on the next lookup
        },
      },
      {
        markBits: (b) => this.markBits(b),
        releaseMarks: (b) => this.releaseMarks(b),
        // the host's own addresses are HOST (entities host, cluster); read again at each workload change
        get hostIps() {
          return readNetnsAddresses(process.pid);
        },
      },
    );
  }

  /** Attaches at the cgroup root and starts following workloads. */
  start(policyDir: string | null): void {
    this.datapath.attach(this.opts.cgroupRoot);
    this.unsubscribe = this.store.onChange((ws) => this.manager.setWorkloads(ws));
    this.store.start();
    this.manager.setWorkloads(this.store.list());
    if (!policyDir) return;
    if (!existsSync(policyDir)) {
      this.opts.log.warn({ dir: policyDir }, 'network policy folder not found: no network policies loaded');
      return;
    }
    for (const path of policyFiles(policyDir)) {
      const r = this.add(readFileSync(path, 'utf8'), path);
      for (const e of r.errors) this.opts.log.error({ file: path }, `network policy rejected: ${formatPolicyError(e)}`);
    }
  }

  add(text: string, file: string, mode?: PolicyMode): NetAddResult {
    const r = this.manager.add(text, file, mode);
    for (const key of r.added) this.opts.log.info({ policy: key, file }, 'network policy added');
    return r;
  }

  request(req: NetpolRequest): unknown {
    switch (req.op) {
      case 'netpol_add': {
        const r = this.add(req.text, req.file, req.mode);
        return { added: r.added, errors: r.errors.map(formatPolicyError) };
      }
      case 'netpol_delete': {
        const deleted = this.manager.delete(req.name, req.namespace);
        this.opts.log.info({ policies: deleted }, 'network policy deleted');
        return { deleted };
      }
      case 'netpol_list':
        return { policies: this.manager.list() };
    }
  }

  /** Workloads for TracingPolicy podSelector and namespaced policies. */
  workloadSource(): WorkloadSource {
    return {
      cgroupsOf: (scope) => {
        const sel: Selector | null = scope.selector
          ? {
            requirements: [
              ...Object.entries(scope.selector.matchLabels).map(([key, v]) => ({ key, operator: 'In' as const, values: [v] })),
              ...scope.selector.matchExpressions,
            ],
          }
          : null;
        return this.store.list()
          .filter((w) => (scope.namespace === undefined || w.namespace === scope.namespace) && (!sel || matches(sel, w.labels)))
          .map((w) => w.cgroupId);
      },
      onChange: (fn) => this.store.onChange(() => fn()),
    };
  }

  /** The identity the workload of a cgroup has, for `palisade endpoint list`. */
  identityOf(cgroupId: bigint): number | undefined {
    return this.manager.state.cgroups.find((c) => c.cgroupId === cgroupId)?.identity;
  }

  /** The flow of a pal_net record (`rec` is exactly the record). */
  flow(rec: Buffer): NetFlow {
    const r = decodeNet(rec);
    return { flow: flowOf(r, this.flowContext), pid: r.pid, startBoottime: r.startBoottime };
  }

  counters(): Record<string, number> {
    return { ...this.datapath.counters(), policies: this.manager.list().length, workloads: this.store.list().length };
  }

  stop(): void {
    this.unsubscribe?.();
    this.store.stop();
    this.datapath.close();
  }

  private identity(id: number): IdentityInfo {
    const reserved = reservedIdentity(id);
    if (reserved) return reserved;
    this.identities ??= this.buildIdentities();
    return this.identities.get(id) ?? { labels: [] };
  }

  /** identity → labels, from the current state: workloads by cgroup, CIDR identities by prefix. */
  private buildIdentities(): Map<number, IdentityInfo> {
    const out = new Map<number, IdentityInfo>();
    const state = this.manager.state;
    const byCgroup = new Map<bigint, Workload>(this.store.list().map((w) => [w.cgroupId, w]));
    for (const c of state.cgroups) {
      const w = byCgroup.get(c.cgroupId);
      if (!w || out.has(c.identity)) continue;
      out.set(c.identity, { labels: labelStrings(w.labels), namespace: w.namespace, workload: w.cgroupPath });
    }
    for (const e of state.ipcache) {
      if (e.identity & ID.CIDR_SCOPE && !out.has(e.identity)) out.set(e.identity, { labels: [`cidr:${e.cidr}`, 'reserved:world'] });
    }
    return out;
  }

  /** One mark bit per distinct binaries list, shared by the rules that name it. */
  private markBits(binaries: string[]): bigint {
    const key = [...binaries].sort().join('\0');
    const held = this.markRefs.get(key);
    if (held) {
      held.refs++;
      return held.bit;
    }
    const [bit] = this.opts.marks.add([{ kind: 'binary', offset: 0, filter: { operator: 'In', values: binaries, followChildren: false } }]);
    this.markRefs.set(key, { bit: bit!, refs: 1 });
    return bit!;
  }

  private releaseMarks(binaries: string[]): void {
    const key = [...binaries].sort().join('\0');
    const held = this.markRefs.get(key);
    if (!held || --held.refs > 0) return;
    this.markRefs.delete(key);
    this.opts.marks.release([held.bit]);
  }
}
