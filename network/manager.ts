// The loaded network policies: add (a whole file, all or nothing), delete, list, workloads, rule lookup.
// It keeps the current datapath state, computes the next one incrementally and hands both to the maps.
import type { PolicyError } from '../tracing/policy/types.js';
import { PolicyCompiler, type CompileOptions } from './compile/compiler.js';
import { UnitError } from './compile/unit.js';
import type { DatapathState, PolicyMaps, PolicyMode, RuleInfo, Workload } from './model.js';
import { parseNetworkPolicies } from './policy/parse.js';
import { policyKey, type NetPolicy, type NetPolicyKind } from './policy/types.js';

export interface NetPolicySummary {
  name: string;
  /** null for cluster-wide policies. */
  namespace: string | null;
  kind: NetPolicyKind;
  mode: PolicyMode;
  file: string;
  selectedWorkloads: number;
  rules: number;
}

export interface NetAddResult {
  /** Keys of the policies added or replaced ("CiliumNetworkPolicy/default/web"). Empty when errors. */
  added: string[];
  errors: PolicyError[];
}

export class NetPolicyNotFound extends Error {}

export class NetworkPolicyManager {
  private readonly compiler: PolicyCompiler;
  private workloads: readonly Workload[] = [];

  constructor(private readonly maps: PolicyMaps, opts: CompileOptions = {}, workloads: readonly Workload[] = []) {
    this.compiler = new PolicyCompiler(opts);
    if (workloads.length > 0) this.commit({ workloads }, { workloads: [] });
  }

  get state(): DatapathState {
    return this.compiler.state;
  }

  /**
   * Adds or replaces every policy of a file. A file with any error changes nothing; each error names
   * file:line:column and the field path. `mode` overrides the palisade.io/mode annotation.
   */
  add(text: string, file: string, mode?: PolicyMode): NetAddResult {
    const { policies, errors } = parseNetworkPolicies(text, file, mode);
    if (errors.length > 0) return { added: [], errors };
    const previous = policies.map((p) => this.compiler.unit(policyKey(p))?.policy).filter((p): p is NetPolicy => p !== undefined);
    const added = policies.map(policyKey);
    try {
      this.commit({ upsert: policies }, { upsert: previous, remove: added.filter((k) => !previous.some((p) => policyKey(p) === k)) });
    } catch (e) {
      if (e instanceof UnitError) {
        const where = e.rule.binaries ? `${e.rule.path}.binaries` : e.rule.path;
        return { added: [], errors: [{ file: e.policy.source.file, line: e.rule.line, column: 1, path: where, message: e.message }] };
      }
      throw e;
    }
    return { added, errors: [] };
  }

  /**
   * Deletes policies by name. With a namespace: every kind of that name in it. Without: the
   * cluster-wide policy of that name, else the only namespaced one. Returns the deleted keys.
   */
  delete(name: string, namespace?: string): string[] {
    const all = [...this.compiler.units()].map((u) => u.policy);
    let victims = all.filter((p) => p.name === name && (namespace === undefined ? p.namespace === null : p.namespace === namespace));
    if (victims.length === 0 && namespace === undefined) {
      const named = all.filter((p) => p.name === name);
      if (named.length > 1) throw new NetPolicyNotFound(`${name} names policies in several namespaces (${named.map((p) => p.namespace).join(', ')}): give the namespace`);
      victims = named;
    }
    if (victims.length === 0) {
      const known = all.map((p) => (p.namespace ? `${p.namespace}/${p.name}` : p.name));
      throw new NetPolicyNotFound(`no network policy ${namespace ? `${namespace}/` : ''}${name}${known.length ? ` (loaded: ${known.join(', ')})` : ' (none loaded)'}`);
    }
    const keys = victims.map(policyKey);
    this.commit({ remove: keys }, { upsert: victims });
    return keys;
  }

  list(): NetPolicySummary[] {
    return [...this.compiler.units()].map((u) => ({
      name: u.policy.name,
      namespace: u.policy.namespace,
      kind: u.policy.kind,
      mode: u.policy.mode,
      file: u.policy.source.file,
      selectedWorkloads: this.compiler.selectedWorkloads(u.key),
      rules: u.subjects.reduce((n, s) => n + s.atoms.length, 0),
    }));
  }

  setWorkloads(workloads: readonly Workload[]): void {
    const before = this.workloads;
    this.commit({ workloads }, { workloads: before });
  }

  /** The first (by key) policy that makes a direction of a local identity default-deny (see the compiler). */
  defaultDenyBy(local: number, dir: 'ingress' | 'egress', audit: boolean): NetPolicy | undefined {
    return this.compiler.defaultDenyBy(local, dir, audit);
  }

  /** What a rule id in a verdict event stands for (also after its policy was deleted). */
  rule(id: number): RuleInfo | undefined {
    return this.compiler.rule(id);
  }

  /** The rules of the loaded policies. */
  rules(): RuleInfo[] {
    return this.compiler.rules();
  }

  /** Computes the next state and applies it; if the maps refuse, the compiler goes back to where it was. */
  private commit(change: Parameters<PolicyCompiler['update']>[0], undo: Parameters<PolicyCompiler['update']>[0]): void {
    const prev = this.compiler.state;
    const next = this.compiler.update(change);
    try {
      this.maps.apply(prev, next);
    } catch (e) {
      this.compiler.update(undo);
      throw e;
    }
    if (change.workloads) this.workloads = change.workloads;
  }
}
