// compile(): policies and workloads to the whole datapath state, in one go (the manager keeps a
// PolicyCompiler instead, to apply changes incrementally).
import type { DatapathState, RuleInfo, Workload } from '../model.js';
import type { NetPolicy } from '../policy/types.js';
import { PolicyCompiler, type CompileOptions } from './compiler.js';

export interface CompileResult {
  state: DatapathState;
  rules: RuleInfo[];
}

/** Throws UnitError when a rule cannot be compiled (e.g. binaries without mark bits). */
export function compile(policies: readonly NetPolicy[], workloads: readonly Workload[], opts: CompileOptions = {}): CompileResult {
  const c = new PolicyCompiler(opts);
  const state = c.update({ upsert: policies, workloads });
  return { state, rules: c.rules() };
}
