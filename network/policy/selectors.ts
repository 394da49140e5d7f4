// Label selectors (matchLabels + matchExpressions) in both dialects, into the one Selector form over a
// workload's selector labels (types.ts NAMESPACE_LABEL and NAMESPACE_LABELS_PREFIX).
import type { Node } from 'yaml';
import { readLabelSelector } from '../../tracing/policy/labels.js';
import type { Ctx } from '../../tracing/policy/reader.js';
import type { LabelRequirement, Selector } from './types.js';

/** Cilium label sources that mean a Kubernetes label; others (reserved:, cidr:, container:) are not workload labels here. */
const K8S_SOURCES = ['k8s', 'any'];

export type Dialect = 'cilium' | 'kubernetes';

interface Raw {
  key: string;
  keyNode: Node | null | undefined;
  path: string;
}

/**
 * Reads a selector. `keyPrefix` is put before every key (NetworkPolicy namespaceSelector selects
 * namespace labels). Returns undefined after reporting an error.
 */
export function parseSelector(ctx: Ctx, node: Node | null, path: string, dialect: Dialect, keyPrefix = ''): Selector | undefined {
  const r = readLabelSelector(ctx, node, path, (key, keyNode, p) => {
    const k = normalizeKey(ctx, { key, keyNode, path: p }, dialect);
    return k === undefined ? undefined : keyPrefix + k;
  });
  if (!r) return undefined;
  const requirements: LabelRequirement[] = [...r.labels.map(([key, v]): LabelRequirement => ({ key, operator: 'In', values: [v] })), ...r.expressions];
  return { requirements };
}

function normalizeKey(ctx: Ctx, raw: Raw, dialect: Dialect): string | undefined {
  const colon = raw.key.indexOf(':');
  if (colon < 0 || dialect === 'kubernetes') {
    if (raw.key === '' || colon >= 0) {
      ctx.error(raw.keyNode, raw.path, `${JSON.stringify(raw.key)} is not a valid label key`);
      return undefined;
    }
    return raw.key;
  }
  const source = raw.key.slice(0, colon);
  if (K8S_SOURCES.includes(source)) return raw.key.slice(colon + 1);
  const hint = source === 'reserved' ? ': select reserved identities with fromEntities/toEntities' : '';
  ctx.error(raw.keyNode, raw.path, `label source ${JSON.stringify(source)} is not supported (only k8s: and any: labels select workloads)${hint}`);
  return undefined;
}


export function hasKey(s: Selector, key: string): boolean {
  return s.requirements.some((r) => r.key === key);
}

export function and(...ss: Selector[]): Selector {
  return { requirements: ss.flatMap((s) => s.requirements) };
}

export const inNamespace = (key: string, ns: string): Selector => ({ requirements: [{ key, operator: 'In', values: [ns] }] });

/** Equal for selectors with the same requirements in the same order: a memo key for what they select. */
export function selectorKey(s: Selector): string {
  let key = '';
  for (const r of s.requirements) {
    key += `${r.key}\u0000${r.operator}`;
    for (const v of r.values) key += `\u0000${v}`;
    key += '\u0001';
  }
  return key;
}

/** Whether a workload with these selector labels is selected. */
export function matches(s: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of s.requirements) {
    const v = Object.hasOwn(labels, r.key) ? labels[r.key] : undefined;
    switch (r.operator) {
      case 'In':
        if (v === undefined || !r.values.includes(v)) return false;
        break;
      case 'NotIn':
        if (v !== undefined && r.values.includes(v)) return false;
        break;
      case 'Exists':
        if (v === undefined) return false;
        break;
      case 'DoesNotExist':
        if (v !== undefined) return false;
        break;
    }
  }
  return true;
}
