// Label selectors (matchLabels + matchExpressions) in both dialects, into the one Selector form over a
// workload's selector labels (types.ts NAMESPACE_LABEL and NAMESPACE_LABELS_PREFIX).
import type { Node } from 'yaml';
import { isMap, isScalar } from 'yaml';
import { unknownValue } from '../../tracing/policy/errors.js';
import { join, readObj, readStringMap, scalarText, type Ctx } from '../../tracing/policy/reader.js';
import type { LabelRequirement, Selector } from './types.js';

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
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
  const o = readObj(ctx, node, path, ['matchLabels', 'matchExpressions']);
  if (!o) return undefined;
  let ok = true;
  const reqs: LabelRequirement[] = [];
  const key = (raw: Raw): string | undefined => {
    const k = normalizeKey(ctx, raw, dialect);
    if (k === undefined) ok = false;
    return k === undefined ? undefined : keyPrefix + k;
  };

  const mlPath = join(path, 'matchLabels');
  const ml = o.get('matchLabels');
  const labels = readStringMap(ctx, ml?.value ?? null, mlPath);
  if (!labels) ok = false;
  for (const [k, value] of Object.entries(labels ?? {})) {
    const p = join(mlPath, k);
    const pair = isMap(ml?.value) ? ml.value.items.find((i) => isScalar(i.key) && scalarText(i.key) === k) : undefined;
    const nk = key({ key: k, keyNode: pair?.key as Node | undefined, path: p });
    if (!validValue(ctx, value, (pair?.value as Node | undefined) ?? null, p)) ok = false;
    if (nk !== undefined) reqs.push({ key: nk, operator: 'In', values: [value] });
  }

  for (const it of o.seq('matchExpressions') ?? []) {
    const e = readObj(ctx, it.node, it.path, ['key', 'operator', 'values']);
    if (!e) {
      ok = false;
      continue;
    }
    const k = e.str('key', { required: true });
    const nk = k === undefined ? undefined : key({ key: k, keyNode: e.get('key')!.value, path: join(it.path, 'key') });
    const op = e.str('operator', { required: true });
    const operator = OPERATORS.find((x) => x === op);
    if (op !== undefined && !operator) ctx.error(e.get('operator')!.value, join(it.path, 'operator'), unknownValue('operator', op, OPERATORS));
    const values = e.strList('values');
    for (const v of values) if (!validValue(ctx, v.value, v.node, v.path)) ok = false;
    if (operator === 'In' || operator === 'NotIn') {
      if (values.length === 0) {
        ctx.error(e.get('values')?.value ?? e.node, join(it.path, 'values'), `${operator} needs at least one value`);
        ok = false;
      }
    } else if (operator && values.length > 0) {
      ctx.error(e.get('values')!.value, join(it.path, 'values'), `${operator} takes no values`);
      ok = false;
    }
    if (nk === undefined || !operator) ok = false;
    else reqs.push({ key: nk, operator, values: values.map((v) => v.value) });
  }
  return ok ? { requirements: reqs } : undefined;
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

function validValue(ctx: Ctx, value: string, node: Node | null, path: string): boolean {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return true;
  ctx.error(node, path, `${JSON.stringify(value)} is not a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`);
  return false;
}

export function hasKey(s: Selector, key: string): boolean {
  return s.requirements.some((r) => r.key === key);
}

export function and(...ss: Selector[]): Selector {
  return { requirements: ss.flatMap((s) => s.requirements) };
}

export const inNamespace = (key: string, ns: string): Selector => ({ requirements: [{ key, operator: 'In', values: [ns] }] });

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
