// Reads TracingPolicy YAML (several documents per file) into the checked model of types.ts.
// Every problem in the file is reported, each naming file, line, column and field path.
import { isMap, isScalar, type Node } from 'yaml';
import { didYouMean, unknownValue } from './errors.js';
import { readLabelSelector } from './labels.js';
import { parseKprobe, parseLsmHook, parseTracepoint, parseUprobe, type PolicyCtx } from './hooks.js';
import { Ctx, describe, join, readDocuments, readObj, readStr, readStringMap, scalarText, type Field, type Obj } from './reader.js';
import { OPTION_NAMES } from './schema.js';
import { parseSelector, type Macros } from './selectors.js';
import {
  API_VERSION,
  type LabelSelector,
  type ListSpec,
  type OptionSpec,
  type PolicyError,
  type PolicyKind,
  type PolicyMetadata,
  type PolicyMode,
  type PolicySpec,
  type TracingPolicy,
} from './types.js';

const KINDS: readonly PolicyKind[] = ['TracingPolicy', 'TracingPolicyNamespaced'];

/** ObjectMeta fields a manifest exported from a cluster carries; accepted and not used. */
const IGNORED_METADATA = [
  'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'finalizers',
  'ownerReferences', 'generateName', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink',
];

const SPEC_FIELDS = [
  'kprobes', 'tracepoints', 'uprobes', 'lsmhooks', 'lists', 'options', 'podSelector', 'containerSelector',
  'hostSelector', 'selectorsMacros', 'loader',
];
const UNSUPPORTED_SPEC = {
  usdts: 'USDT probes are not implemented',
  fentries: 'fentry hooks are not implemented; use kprobes',
  enforcers: 'enforcer programs are not implemented; use Sigkill, Signal or Override in a selector',
};

const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const GO_BOOLS = ['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'];

export interface ParseResult {
  /** Policies of the documents that have no errors. */
  policies: TracingPolicy[];
  errors: PolicyError[];
}

export function parsePolicies(text: string, file: string): ParseResult {
  const names = new Map<string, string>();
  const { items, errors } = readDocuments(text, file, 'TracingPolicy', (ctx, root) => parseDocument(ctx, root, names));
  return { policies: items, errors };
}

function parseDocument(ctx: Ctx, root: Node, names: Map<string, string>): TracingPolicy | undefined {
  const o = readObj(ctx, root, '', ['apiVersion', 'kind', 'metadata', 'spec']);
  if (!o) return undefined;
  const api = o.str('apiVersion', { required: true });
  if (api !== undefined && api !== API_VERSION) {
    ctx.error(o.get('apiVersion')!.value, 'apiVersion', `expected ${API_VERSION}, got ${JSON.stringify(api)}`);
  }
  let kind: PolicyKind | undefined;
  const k = o.str('kind', { required: true });
  if (k !== undefined && (KINDS as readonly string[]).includes(k)) kind = k as PolicyKind;
  else if (k !== undefined) ctx.error(o.get('kind')!.value, 'kind', unknownValue('kind', k, KINDS));

  const mf = o.value('metadata', true);
  const meta = mf && parseMetadata(ctx, mf, kind);
  const sf = o.value('spec', true);
  const spec = sf && parseSpec(ctx, sf, kind);
  if (!meta || !spec || !kind) return undefined;
  const metadata = meta.metadata;

  // Two policies with one name would replace each other when loaded.
  const key = `${kind}/${metadata.namespace ?? ''}/${metadata.name}`;
  const prev = names.get(key);
  if (prev) ctx.error(meta.nameNode, 'metadata.name', `${JSON.stringify(metadata.name)} is already the name of the policy at line ${prev}`);
  else names.set(key, String(ctx.line(root)));
  return { kind, metadata, spec, source: { file: ctx.file, line: ctx.line(root), positions: ctx.positions } };
}

function parseMetadata(ctx: Ctx, f: Field, kind: PolicyKind | undefined): { metadata: PolicyMetadata; nameNode: Node | null } | undefined {
  const o = readObj(ctx, f.value, 'metadata', ['name', 'namespace', 'labels', 'annotations', ...IGNORED_METADATA]);
  if (!o) return undefined;
  const name = o.str('name', { required: true });
  if (name !== undefined && !NAME.test(name)) {
    ctx.error(o.get('name')!.value, 'metadata.name', `${JSON.stringify(name)} is not a valid name: use letters, digits, '-', '.' and '_', starting and ending with a letter or digit, at most 253 characters`);
  }
  const namespace = o.str('namespace');
  if (kind === 'TracingPolicyNamespaced' && namespace === undefined && !o.has('namespace')) o.missing('namespace');
  if (kind === 'TracingPolicy' && namespace !== undefined) {
    ctx.error(o.get('namespace')!.key, 'metadata.namespace', 'a TracingPolicy applies to the whole cluster and has no namespace; use kind TracingPolicyNamespaced to limit it to one');
  }
  if (kind === 'TracingPolicyNamespaced' && namespace !== undefined && !NAMESPACE.test(namespace)) {
    ctx.error(o.get('namespace')!.value, 'metadata.namespace', `${JSON.stringify(namespace)} is not a valid namespace name (lower-case letters, digits and '-', at most 63 characters)`);
  }
  const labels = readStringMap(ctx, o.get('labels')?.value ?? null, 'metadata.labels');
  const annotations = readStringMap(ctx, o.get('annotations')?.value ?? null, 'metadata.annotations');
  if (name === undefined || !labels || !annotations) return undefined;
  const m: PolicyMetadata = { name, labels, annotations };
  if (namespace !== undefined && kind === 'TracingPolicyNamespaced') m.namespace = namespace;
  return { metadata: m, nameNode: o.get('name')!.value };
}

function parseSpec(ctx: Ctx, f: Field, kind: PolicyKind | undefined): PolicySpec | undefined {
  const o = readObj(ctx, f.value, 'spec', SPEC_FIELDS, UNSUPPORTED_SPEC);
  if (!o) return undefined;
  if (o.bool('loader') === true) ctx.error(o.get('loader')!.key, 'spec.loader', 'not supported by Palisade: loader events are not implemented');
  const lists = parseLists(ctx, o);
  const { options, mode } = parseOptions(ctx, o);
  const macros = parseMacros(ctx, o);
  const pol: PolicyCtx = { lists: new Set(lists.map((l) => l.name)), macros };

  const spec: PolicySpec = { kprobes: [], tracepoints: [], uprobes: [], lsmhooks: [], lists, options, mode };
  const hooks = { kprobes: 0, tracepoints: 0, uprobes: 0, lsmhooks: 0 };
  for (const it of o.seq('kprobes') ?? []) {
    hooks.kprobes++;
    const h = parseKprobe(ctx, it, pol);
    if (h) spec.kprobes.push(h);
  }
  for (const it of o.seq('tracepoints') ?? []) {
    hooks.tracepoints++;
    const h = parseTracepoint(ctx, it, pol);
    if (h) spec.tracepoints.push(h);
  }
  for (const it of o.seq('uprobes') ?? []) {
    hooks.uprobes++;
    const h = parseUprobe(ctx, it, pol);
    if (h) spec.uprobes.push(h);
  }
  for (const it of o.seq('lsmhooks') ?? []) {
    hooks.lsmhooks++;
    const h = parseLsmHook(ctx, it, pol);
    if (h) spec.lsmhooks.push(h);
  }
  // Not when a key was rejected: a misspelt or unsupported hook list already explains it.
  if (Object.values(hooks).every((n) => n === 0) && o.rejectedKeys === 0) {
    ctx.error(o.node, 'spec', 'a policy needs at least one hook: kprobes, tracepoints, uprobes or lsmhooks');
  }

  const pod = o.value('podSelector');
  if (pod) {
    const s = parseLabelSelector(ctx, pod.value, pod.path, false);
    if (s) spec.podSelector = s;
  }
  const container = o.value('containerSelector');
  if (container) {
    const s = parseLabelSelector(ctx, container.value, container.path, true);
    if (s) spec.containerSelector = s;
  }
  const host = o.get('hostSelector');
  if (host && !(isScalar(host.value) && host.value.value === null)) {
    if (kind === 'TracingPolicyNamespaced') {
      ctx.error(host.key, host.path, 'a TracingPolicyNamespaced applies to pods of its namespace only and cannot select hosts');
    } else if (!isMap(host.value) || host.value.items.length > 0) {
      ctx.error(host.value, host.path, 'must be {} (all hosts) or null: host labels are not supported, as in Tetragon');
    } else spec.hostSelector = { matchLabels: {}, matchExpressions: [] };
  }
  return spec;
}

function parseLists(ctx: Ctx, o: Obj): ListSpec[] {
  const out: ListSpec[] = [];
  const seen = new Set<string>();
  for (const it of o.seq('lists') ?? []) {
    const l = readObj(ctx, it.node, it.path, ['name', 'type', 'values', 'validated'], {
      pattern: 'generated lists are not implemented; list the syscalls in values',
    });
    if (!l) continue;
    const name = l.str('name', { required: true });
    if (name !== undefined && seen.has(name)) ctx.error(l.get('name')!.value, join(it.path, 'name'), `list ${JSON.stringify(name)} is already defined`);
    const type = l.str('type', { required: true });
    let ok = name !== undefined && !seen.has(name);
    if (type === 'generated_syscalls' || type === 'generated_ftrace') {
      ctx.error(l.get('type')!.value, join(it.path, 'type'), `list type ${type} is not supported by Palisade: generated lists are not implemented; list the syscalls in values`);
      ok = false;
    } else if (type !== undefined && type !== 'syscalls') {
      ctx.error(l.get('type')!.value, join(it.path, 'type'), unknownValue('list type', type, ['syscalls', 'generated_syscalls', 'generated_ftrace']));
      ok = false;
    }
    l.bool('validated');
    const values = l.strList('values', true);
    const vf = l.get('values');
    if (vf && values.length === 0) ctx.error(vf.value, vf.path, 'needs at least one syscall');
    for (const v of values) {
      if (!/^[A-Za-z0-9_]+$/.test(v.value)) {
        ctx.error(v.node, v.path, `${JSON.stringify(v.value)} is not a syscall name`);
        ok = false;
      }
    }
    if (name !== undefined) seen.add(name);
    if (ok && type === 'syscalls' && values.length > 0) out.push({ name: name!, type, values: values.map((v) => v.value) });
  }
  return out;
}

function parseOptions(ctx: Ctx, o: Obj): { options: OptionSpec[]; mode: PolicyMode } {
  const options: OptionSpec[] = [];
  let mode: PolicyMode = 'enforce';
  const seen = new Set<string>();
  for (const it of o.seq('options') ?? []) {
    const op = readObj(ctx, it.node, it.path, ['name', 'value']);
    if (!op) continue;
    const name = op.str('name', { required: true });
    if (name === undefined) continue;
    const nf = op.get('name')!;
    if (!(OPTION_NAMES as readonly string[]).includes(name)) {
      ctx.error(nf.value, nf.path, unknownValue('option', name, OPTION_NAMES));
      continue;
    }
    if (seen.has(name)) {
      ctx.error(nf.value, nf.path, `option ${name} is already set`);
      continue;
    }
    seen.add(name);
    const vf = op.value('value', true);
    if (!vf) continue;
    if (!isScalar(vf.value) || typeof vf.value.value === 'object') {
      ctx.error(vf.value, vf.path, `expected a value, got ${describe(vf.value)}`);
      continue;
    }
    const value = scalarText(vf.value);
    let problem: string | undefined;
    if (name === 'policy-mode') {
      if (value === 'enforce' || value === 'monitor') mode = value;
      else problem = unknownValue('policy mode', value, ['enforce', 'monitor']);
    } else if (name === 'uprobe-heap-size') {
      if (!/^[1-9][0-9]*$/.test(value)) problem = `expected a positive whole number, got ${JSON.stringify(value)}`;
    } else if (!GO_BOOLS.includes(value)) {
      problem = `expected a boolean (true, false, 1 or 0), got ${JSON.stringify(value)}`;
    }
    if (problem) ctx.error(vf.value, vf.path, problem);
    else options.push({ name, value });
  }
  return { options, mode };
}

/** Checks each macro on its own; the checks that depend on a hook run where it is used. */
function parseMacros(ctx: Ctx, o: Obj): Macros {
  const macros = new Map<string, { node: Node | null; path: string }>();
  const f = o.value('selectorsMacros');
  if (!f) return macros;
  if (!isMap(f.value)) {
    ctx.error(f.value, f.path, `expected a mapping of macro names to selectors, got ${describe(f.value)}`);
    return macros;
  }
  for (const pair of f.value.items) {
    const k = ctx.deref(pair.key);
    const name = readStr(ctx, k, f.path, true);
    if (name === undefined) continue;
    const path = join(f.path, name);
    const node = ctx.deref(pair.value);
    parseSelector(ctx, node, path, null, macros);
    macros.set(name, { node, path });
  }
  return macros;
}

function parseLabelSelector(ctx: Ctx, node: Node | null, path: string, container: boolean): LabelSelector | undefined {
  // Tetragon builds container "labels" from the container's fields; only name exists.
  const r = readLabelSelector(ctx, node, path, (key, n, p) => {
    if (!container || key === 'name') return key;
    ctx.error(n, p, `containers are selected by name only: ${JSON.stringify(key)} is not a container field${didYouMean(key, ['name'])}`);
    return undefined;
  });
  return r && { matchLabels: Object.fromEntries(r.labels), matchExpressions: r.expressions };
}
