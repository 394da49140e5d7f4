// Network policy compiler: policies + workloads → datapath state, incrementally, and a reference evaluator.
export { compile, type CompileResult } from './compile.js';
export { PolicyCompiler, type Change, type CompileOptions } from './compiler.js';
export { StateEvaluator, type DirectionVerdict, type FlowQuery, type FlowVerdict } from './evaluate.js';
export { RuleIds, processRuleIds } from './rule-ids.js';
export { UnitError, type MarkBits } from './unit.js';
export { PROTO } from './l4.js';
