// Rule ids for verdict events: the same rule (same policy, place, mode and content) gets the same id
// on every recompile, and an id is never given to another rule while the process runs. Infos of rules
// that were deleted are kept so a late verdict event can still be named.
import type { RuleInfo } from '../model.js';

/** What makes a rule the same rule: compared structurally, so no key strings are built per rule. */
export interface RuleContent {
  mode: string;
  /** The selector of the rule's subject. */
  subject: unknown;
  rule: { dir: string; verdict: string; peers: unknown; l4: unknown; binaries: unknown };
}

function sameContent(a: RuleContent, b: RuleContent): boolean {
  return (
    a.mode === b.mode && a.rule.dir === b.rule.dir && a.rule.verdict === b.rule.verdict && sameValue(a.subject, b.subject) &&
    sameValue(a.rule.peers, b.rule.peers) && sameValue(a.rule.l4, b.rule.l4) && sameValue(a.rule.binaries, b.rule.binaries)
  );
}

interface Known {
  content: RuleContent;
  id: number;
}

export class RuleIds {
  /** Per policy key, per field path: the latest version of the rule there. */
  private readonly byPlace = new Map<string, Map<string, Known>>();
  /** By id (dense, so an array): the latest description of each rule ever given an id; a RuleInfo is
   *  built only when someone asks (verdict lookups are rare next to rules). */
  private readonly infos: Array<Omit<RuleInfo, 'id'> | undefined> = [];
  private next = 1;

  /** The id of the rule at (policy, path): the previous one if the content is unchanged, else a new one. */
  id(policy: string, content: RuleContent, info: Omit<RuleInfo, 'id'>): number {
    let places = this.byPlace.get(policy);
    if (!places) this.byPlace.set(policy, (places = new Map()));
    const prev = places.get(info.path);
    let id: number;
    if (prev && sameContent(prev.content, content)) id = prev.id;
    else {
      id = this.next++;
      places.set(info.path, { content, id });
    }
    // The file and line may move without the rule changing: keep the latest.
    this.infos[id] = info;
    return id;
  }

  info(id: number): RuleInfo | undefined {
    const i = this.infos[id];
    return i && { id, ...i };
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
