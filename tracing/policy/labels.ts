// Kubernetes label selectors (matchLabels + matchExpressions), read the same way wherever a policy
// has one: TracingPolicy podSelector/containerSelector, network policy endpoint and peer selectors.
import { isMap, isScalar, type Node } from 'yaml';
import { unknownValue } from './errors.js';
import { join, readObj, readStringMap, scalarText, type Ctx } from './reader.js';

export const LABEL_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export interface LabelRequirementText {
  key: string;
  operator: (typeof LABEL_OPERATORS)[number];
  values: string[];
}

/**
 * Reads a selector. `checkKey` validates each key (and may rewrite it): it returns the key to use,
 * or undefined after reporting why not. Values are checked as Kubernetes label values. Returns
 * undefined after reporting any error.
 */
export function readLabelSelector(
  ctx: Ctx,
  node: Node | null,
  path: string,
  checkKey: (key: string, keyNode: Node | null | undefined, path: string) => string | undefined,
): { labels: Array<[string, string]>; expressions: LabelRequirementText[] } | undefined {
  const o = readObj(ctx, node, path, ['matchLabels', 'matchExpressions']);
  if (!o) return undefined;
  const mlPath = join(path, 'matchLabels');
  const ml = o.get('matchLabels');
  const map = readStringMap(ctx, ml?.value ?? null, mlPath);
  let ok = map !== undefined;
  const labels: Array<[string, string]> = [];
  for (const [k, value] of Object.entries(map ?? {})) {
    const p = join(mlPath, k);
    const pair = isMap(ml?.value) ? ml.value.items.find((i) => isScalar(i.key) && scalarText(i.key) === k) : undefined;
    const key = checkKey(k, pair?.key as Node | undefined, p);
    if (!validValue(ctx, value, (pair?.value as Node | undefined) ?? null, p)) ok = false;
    if (key === undefined) ok = false;
    else labels.push([key, value]);
  }
  const expressions: LabelRequirementText[] = [];
  for (const it of o.seq('matchExpressions') ?? []) {
    const e = readObj(ctx, it.node, it.path, ['key', 'operator', 'values']);
    if (!e) {
      ok = false;
      continue;
    }
    const k = e.str('key', { required: true });
    const key = k === undefined ? undefined : checkKey(k, e.get('key')!.value, join(it.path, 'key'));
    const op = e.str('operator', { required: true });
    const operator = LABEL_OPERATORS.find((x) => x === op);
    if (op !== undefined && !operator) ctx.error(e.get('operator')!.value, join(it.path, 'operator'), unknownValue('operator', op, LABEL_OPERATORS));
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
    if (key === undefined || !operator) ok = false;
    else expressions.push({ key, operator, values: values.map((v) => v.value) });
  }
  return ok ? { labels, expressions } : undefined;
}

function validValue(ctx: Ctx, value: string, node: Node | null, path: string): boolean {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return true;
  ctx.error(node, path, `${JSON.stringify(value)} is not a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`);
  return false;
}
