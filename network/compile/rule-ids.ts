// Rule ids for verdict events: the same rule (same policy, place, mode and content) gets the same id
// on every recompile, and an id is never given to another rule while the process runs. Rules that were
// deleted stay known, so a late verdict event can still be named.
import type { RuleInfo } from '../model.js';
import { policyKey, type NetPolicy, type NetRule, type Selector } from '../policy/types.js';

/** One version of a rule: its policy (for mode and names), its subject's selector, the rule itself. */
interface Known {
  id: number;
  policy: NetPolicy;
  subject: Selector;
  rule: NetRule;
}

/** Same rule: compared structurally (no key strings built per rule); the line may differ. */
function sameRule(a: Known, policy: NetPolicy, subject: Selector, rule: NetRule): boolean {
  return (
    a.policy.mode === policy.mode && a.rule.dir === rule.dir && a.rule.verdict === rule.verdict && sameValue(a.subject, subject) &&
    sameValue(a.rule.peers, rule.peers) && sameValue(a.rule.l4, rule.l4) && sameValue(a.rule.binaries, rule.binaries)
  );
}

export class RuleIds {
  /** Per policy key, per field path: the latest version of the rule there. */
  private readonly byPlace = new Map<string, Map<string, Known>>();
  /** By id (dense, so an array): the latest version of each rule ever given an id. A RuleInfo is
   *  built only when someone asks: verdict lookups are rare next to rules. */
  private readonly byId: Array<Known | undefined> = [];
  private next = 1;

  /** The id of the rule at (policy, path): the previous one if the content is unchanged, else a new one. */
  id(policy: NetPolicy, subject: Selector, rule: NetRule, key = policyKey(policy)): number {
    let places = this.byPlace.get(key);
    let prev: Known | undefined;
    if (!places) this.byPlace.set(key, (places = new Map()));
    else prev = places.get(rule.path);
    const id = prev && sameRule(prev, policy, subject, rule) ? prev.id : this.next++;
    // The file and line may move without the rule changing: keep the latest version.
    const known: Known = { id, policy, subject, rule };
    places.set(rule.path, known);
    this.byId[id] = known;
    return id;
  }

  info(id: number): RuleInfo | undefined {
    const k = this.byId[id];
    if (!k) return undefined;
    const p = k.policy;
    return { id, policy: p.name, namespace: p.namespace, kind: p.kind, path: k.rule.path, verdict: k.rule.verdict, mode: p.mode, file: p.source.file, line: k.rule.line };
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
