// TracingPolicy: the model, the parser/validator and Palisade's limits.
export { parsePolicies, type ParseResult } from './parse.js';
export { formatPolicyError } from './errors.js';
export { LIMITS } from './limits.js';
export * from './types.js';
