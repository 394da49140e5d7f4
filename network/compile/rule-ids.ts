// Rule ids for verdict events: the same rule (same policy, place, mode and content) gets the same id
// on every recompile, and an id is never given to another rule while the process runs. Rules that were
// deleted stay known, so a late verdict event can still be named.
import type { RuleInfo } from '../model.js';
import { policyKey, type NetPolicy, type NetRule, type Selector } from '../policy/types.js';

/** One version of a rule as RuleIds keeps it: its policy (for mode and names), its subject's selector,
 *  the rule itself, and the id that PolicyRuleIds.id() gives it (the compiler's rule atom is one: no
 *  second object per rule). */
export interface RuleRecord {
  readonly policy: NetPolicy;
  readonly subject: Selector;
  readonly rule: NetRule;
  ruleId: number;
}

/** Same rule: compared structurally (no key strings built per rule); the line may differ. */
function sameRule(a: RuleRecord, policy: NetPolicy, subject: Selector, rule: NetRule): boolean {
  return (
    a.policy.mode === policy.mode && a.rule.dir === rule.dir && a.rule.verdict === rule.verdict && sameValue(a.subject, subject) &&
    sameValue(a.rule.peers, rule.peers) && sameValue(a.rule.l4, rule.l4) && sameValue(a.rule.binaries, rule.binaries)
  );
}

/** One version of a policy's rules, in the order they were given ids. */
interface Version {
  rules: RuleRecord[];
  /** By field path, built when a rule is not where it was (most recompiles keep the order). */
  byPath: Map<string, RuleRecord> | null;
}

export class RuleIds {
  /** Per policy key: the rules of its latest version. */
  private readonly byPolicy = new Map<string, Version>();
  /** By id (dense, so an array): the latest version of each rule ever given an id. A RuleInfo is
   *  built only when someone asks: verdict lookups are rare next to rules. */
  private readonly byId: Array<RuleRecord | undefined> = [];
  private next = 1;

  /**
   * Ids for one version of a policy: call id() for each of its rules, then commit() once they all
   * have one. A rule keeps the id it had in the last committed version when its place (field path)
   * and content are unchanged; otherwise it gets a new id.
   */
  policy(policy: NetPolicy, key = policyKey(policy)): PolicyRuleIds {
    return new PolicyRuleIds(this, key, this.byPolicy.get(key));
  }

  /** For PolicyRuleIds: gives the record its id, prev's when it is the same rule. */
  assign(r: RuleRecord, prev: RuleRecord | undefined): void {
    r.ruleId = prev && sameRule(prev, r.policy, r.subject, r.rule) ? prev.ruleId : this.next++;
    // The file and line may move without the rule changing: keep the latest version.
    this.byId[r.ruleId] = r;
  }

  /** For PolicyRuleIds: a version whose rules all have ids becomes the one to compare with. */
  commit(key: string, version: Version): void {
    this.byPolicy.set(key, version);
  }

  info(id: number): RuleInfo | undefined {
    const k = this.byId[id];
    if (!k) return undefined;
    const p = k.policy;
    return { id, policy: p.name, namespace: p.namespace, kind: p.kind, path: k.rule.path, verdict: k.rule.verdict, mode: p.mode, file: p.source.file, line: k.rule.line };
  }
}

/** The ids of one policy version being built (RuleIds.policy). */
export class PolicyRuleIds {
  private readonly version: Version = { rules: [], byPath: null };
  constructor(private readonly ids: RuleIds, private readonly key: string, private readonly prev: Version | undefined) {}

  /** Sets r.ruleId (r is a rule of this version's policy) and returns it. */
  id(r: RuleRecord): number {
    const { rules } = this.version;
    let prev: RuleRecord | undefined;
    if (this.prev) {
      // the same place in the same order: no lookup
      const same = this.prev.rules[rules.length];
      if (same?.rule.path === r.rule.path) prev = same;
      else prev = (this.prev.byPath ??= new Map(this.prev.rules.map((k) => [k.rule.path, k]))).get(r.rule.path);
    }
    this.ids.assign(r, prev);
    rules.push(r);
    return r.ruleId;
  }

  commit(): void {
    this.ids.commit(this.key, this.version);
  }
}

/** Deep equality of plain data (objects, arrays, strings, numbers, booleans, null). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** The registry shared by every compile in this process, unless a caller brings its own. */
export const processRuleIds = new RuleIds();
