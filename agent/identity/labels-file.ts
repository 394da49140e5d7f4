// The workload labels file (default /etc/palisade/workloads.yaml): a list of cgroups with a
// namespace and labels. Every problem names file, line, column and field, like policy files.
//
//   - cgroup: /system.slice/nginx.service
//     namespace: web
//     labels: {app: nginx, tier: front}
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { Ctx, describe, readObj, readSeq, readStringMap, scalarText } from '../../tracing/policy/reader.js';
import type { PolicyError } from '../../tracing/policy/types.js';
import { normalizeCgroupPath } from './cgroups.js';
import { DEFAULT_NAMESPACE, labelKeyProblem, labelValueProblem, namespaceProblem } from './labels.js';

export const DEFAULT_WORKLOADS_FILE = '/etc/palisade/workloads.yaml';

export interface LabelEntry {
  /** Canonical path below the cgroup2 mount ("/system.slice/nginx.service"). */
  cgroup: string;
  namespace: string;
  labels: Record<string, string>;
  line: number;
}

export interface LabelsFileResult {
  /** Entries without errors; the file is applied only when there are no errors at all. */
  entries: LabelEntry[];
  errors: PolicyError[];
}

export function parseWorkloadsFile(text: string, file: string, cgroupRoot: string): LabelsFileResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      entries: [],
      errors: doc.errors.map((e) => {
        const { line, col } = lc.linePos(e.pos[0]);
        return { file, line, column: col, path: '', message: `invalid YAML: ${e.message.split('\n')[0]}` };
      }),
    };
  }
  const ctx = new Ctx(file, lc, doc);
  const root = ctx.deref(doc.contents);
  const entries: LabelEntry[] = [];
  // An empty file labels nothing.
  if (root === null || (isScalar(root) && root.value === null)) return { entries, errors: [] };
  if (!isSeq(root)) {
    ctx.error(root, '', `expected a list of entries (- cgroup: …, namespace: …, labels: {…}), got ${describe(root)}`);
    return { entries, errors: ctx.errors };
  }
  const seen = new Map<string, number>();
  for (const item of readSeq(ctx, root, '') ?? []) {
    const o = readObj(ctx, item.node, item.path, ['cgroup', 'namespace', 'labels']);
    if (!o) continue;
    const before = ctx.errors.length;
    const raw = o.str('cgroup', { required: true });
    const cgroup = raw === undefined ? null : normalizeCgroupPath(raw, cgroupRoot);
    const cgroupField = o.get('cgroup');
    if (raw !== undefined && cgroup === null) ctx.error(cgroupField?.value, `${item.path}.cgroup`, `${JSON.stringify(raw)} leaves the cgroup tree ("..")`);
    if (cgroup !== null && seen.has(cgroup)) {
      ctx.error(cgroupField?.value, `${item.path}.cgroup`, `${cgroup} is already labelled at line ${seen.get(cgroup)}`);
    }
    const namespace = o.str('namespace', { nonEmpty: true }) ?? DEFAULT_NAMESPACE;
    const nsProblem = namespaceProblem(namespace);
    if (nsProblem) ctx.error(o.get('namespace')?.value, `${item.path}.namespace`, nsProblem);
    const lf = o.value('labels');
    const labels = (lf && readStringMap(ctx, lf.value, lf.path)) || {};
    for (const [k, v] of Object.entries(labels)) {
      const problem = labelKeyProblem(k) ?? labelValueProblem(v);
      if (problem) ctx.error(pairNode(lf?.value ?? null, k, v), `${lf?.path ?? 'labels'}.${k}`, problem);
    }
    if (cgroup !== null && ctx.errors.length === before) {
      const line = ctx.line(o.node);
      seen.set(cgroup, line);
      entries.push({ cgroup, namespace, labels, line });
    }
  }
  return { entries, errors: ctx.errors.sort((a, b) => a.line - b.line || a.column - b.column) };
}

/** The node to blame for a bad label: its key when the key is bad, else its value. */
function pairNode(map: Node | null, key: string, value: string): Node | null {
  if (!isMap(map)) return map;
  for (const pair of map.items) {
    if (isScalar(pair.key) && scalarText(pair.key) === key) {
      return labelKeyProblem(key) === null && isScalar(pair.value) && scalarText(pair.value) === value ? pair.value : pair.key;
    }
  }
  return map;
}
