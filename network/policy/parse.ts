// Reads network-policy YAML (several documents per file) of Kubernetes NetworkPolicy and Cilium(Clusterwide)
// NetworkPolicy into NetPolicy. Every problem is reported with file, line, column and field path.
import { isMap, isScalar, type Node } from 'yaml';
import { unknownValue } from '../../tracing/policy/errors.js';
import { Ctx, readDocuments, readObj, readStringMap, type Obj } from '../../tracing/policy/reader.js';
import type { PolicyError } from '../../tracing/policy/types.js';
import type { PolicyMode } from '../model.js';
import { parseCiliumSpecs } from './cilium.js';
import { parseK8sSpec } from './k8s.js';
import { policyKey, type NetPolicy, type NetPolicyKind, type PolicySubject } from './types.js';

export type { PolicyError };

/** The annotation that puts one policy in audit mode. */
export const MODE_ANNOTATION = 'palisade.io/mode';

const API_OF: Record<NetPolicyKind, string> = {
  NetworkPolicy: 'networking.k8s.io/v1',
  CiliumNetworkPolicy: 'cilium.io/v2',
  CiliumClusterwideNetworkPolicy: 'cilium.io/v2',
};
const KINDS = Object.keys(API_OF) as NetPolicyKind[];
const IGNORED_METADATA = [
  'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'finalizers',
  'ownerReferences', 'generateName', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink',
];
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface NetParseResult {
  /** Policies of the documents that have no errors. */
  policies: NetPolicy[];
  errors: PolicyError[];
}

/**
 * Parses every document of a file. `mode` (from the add command) overrides the annotation
 * palisade.io/mode; without either a policy enforces.
 */
export function parseNetworkPolicies(text: string, file: string, mode?: PolicyMode): NetParseResult {
  const seen = new Map<string, number>();
  const { items, errors } = readDocuments(text, file, 'network policy', (ctx, root) => {
    const policy = parseDocument(ctx, root, mode);
    if (policy) {
      const key = policyKey(policy);
      const prev = seen.get(key);
      if (prev !== undefined) ctx.error(root, 'metadata.name', `${policy.kind} ${JSON.stringify(policy.name)} is already defined in this file at line ${prev}`);
      else seen.set(key, policy.source.line);
    }
    return policy;
  });
  return { policies: items, errors };
}

function parseDocument(ctx: Ctx, root: Node, modeOverride: PolicyMode | undefined): NetPolicy | undefined {
  const o = readObj(ctx, root, '', ['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'status']);
  if (!o) return undefined;
  const kind = parseKind(ctx, o);
  const meta = parseMetadata(ctx, o, kind);
  if (!kind) return undefined;
  let subjects: PolicySubject[] | undefined;
  if (kind === 'NetworkPolicy') {
    if (o.has('specs')) ctx.error(o.get('specs')!.key, 'specs', 'a NetworkPolicy has one spec; specs is a Cilium field');
    const sf = o.value('spec', true);
    const s = sf && parseK8sSpec(ctx, sf.value, meta?.namespace ?? 'default');
    subjects = s && [s];
  } else {
    subjects = parseCiliumSpecs(ctx, o, kind === 'CiliumClusterwideNetworkPolicy' ? null : (meta?.namespace ?? 'default'));
  }
  if (!meta || !subjects) return undefined;
  return {
    kind,
    name: meta.name,
    namespace: kind === 'CiliumClusterwideNetworkPolicy' ? null : meta.namespace,
    mode: modeOverride ?? meta.mode,
    subjects,
    source: { file: ctx.file, line: ctx.line(root) },
  };
}

function parseKind(ctx: Ctx, o: Obj): NetPolicyKind | undefined {
  const api = o.str('apiVersion', { required: true });
  const k = o.str('kind', { required: true });
  if (k === undefined) return undefined;
  const kind = KINDS.find((x) => x === k);
  if (!kind) {
    ctx.error(o.get('kind')!.value, 'kind', unknownValue('kind', k, KINDS));
    return undefined;
  }
  if (api !== undefined && api !== API_OF[kind]) {
    ctx.error(o.get('apiVersion')!.value, 'apiVersion', `kind ${kind} needs apiVersion ${API_OF[kind]}, got ${JSON.stringify(api)}`);
    return undefined;
  }
  return api === undefined ? undefined : kind;
}

function parseMetadata(ctx: Ctx, root: Obj, kind: NetPolicyKind | undefined): { name: string; namespace: string; mode: PolicyMode } | undefined {
  const f = root.value('metadata', true);
  if (!f) return undefined;
  const o = readObj(ctx, f.value, 'metadata', ['name', 'namespace', 'labels', 'annotations', ...IGNORED_METADATA]);
  if (!o) return undefined;
  let ok = true;
  const name = o.str('name', { required: true });
  if (name !== undefined && !NAME.test(name)) {
    ctx.error(o.get('name')!.value, 'metadata.name', `${JSON.stringify(name)} is not a valid name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`);
    ok = false;
  }
  const namespace = o.str('namespace');
  if (namespace !== undefined && kind === 'CiliumClusterwideNetworkPolicy') {
    ctx.error(o.get('namespace')!.key, 'metadata.namespace', 'a CiliumClusterwideNetworkPolicy applies to the whole cluster and has no namespace; use kind CiliumNetworkPolicy to limit it to one');
    ok = false;
  } else if (namespace !== undefined && !NAMESPACE.test(namespace)) {
    ctx.error(o.get('namespace')!.value, 'metadata.namespace', `${JSON.stringify(namespace)} is not a valid namespace name (lower-case letters, digits and '-', at most 63 characters)`);
    ok = false;
  }
  readStringMap(ctx, o.get('labels')?.value ?? null, 'metadata.labels');
  const annotations = readStringMap(ctx, o.get('annotations')?.value ?? null, 'metadata.annotations');
  let mode: PolicyMode = 'enforce';
  const m = annotations?.[MODE_ANNOTATION];
  if (m === 'audit' || m === 'enforce') mode = m;
  else if (m !== undefined) {
    const af = o.get('annotations')!.value;
    const pair = isMap(af) ? af.items.find((i) => isScalar(i.key) && i.key.value === MODE_ANNOTATION) : undefined;
    ctx.error((pair?.value as Node | undefined) ?? af, `metadata.annotations.${MODE_ANNOTATION}`, unknownValue('mode', m, ['enforce', 'audit']));
    ok = false;
  }
  if (name === undefined || !ok) return undefined;
  return { name, namespace: namespace ?? 'default', mode };
}
