// Network policy language: the normalized model and the parser for NetworkPolicy and Cilium policies.
export { parseNetworkPolicies, MODE_ANNOTATION, type NetParseResult, type PolicyError } from './parse.js';
export { formatPolicyError } from '../../tracing/policy/errors.js';
export { matches } from './selectors.js';
export * from './types.js';
