// Rule ids for verdict events: the same rule (same policy, place, mode and content) gets the same id
// on every recompile, and an id is never given to another rule while the process runs. Infos of rules
// that were deleted are kept so a late verdict event can still be named.
import type { RuleInfo } from '../model.js';

export class RuleIds {
  private readonly byKey = new Map<string, number>();
  private readonly infos = new Map<number, RuleInfo>();
  private next = 1;

  /** `key` identifies the rule's content; `info` describes it (its id field is filled in). */
  id(key: string, info: Omit<RuleInfo, 'id'>): number {
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.next++;
      this.byKey.set(key, id);
    }
    // The file and line may move without the rule changing: keep the latest.
    this.infos.set(id, { id, ...info });
    return id;
  }

  info(id: number): RuleInfo | undefined {
    return this.infos.get(id);
  }
}

/** The registry shared by every compile in this process, unless a caller brings its own. */
export const processRuleIds = new RuleIds();
