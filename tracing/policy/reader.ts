// Typed access to a YAML node tree that records every problem with its file, line, column and
// field path and keeps going, so one run reports all errors in a file.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node, type Scalar, type YAMLMap } from 'yaml';
import { closest, didYouMean } from './errors.js';
import type { PolicyError } from './types.js';

export const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);
export const at = (path: string, i: number): string => `${path}[${i}]`;

export class Ctx {
  readonly errors: PolicyError[] = [];
  /** Where each field and list item read so far starts, by field path: later stages (the compiler)
   *  point their errors at the field they are about. */
  readonly positions = new Map<string, { line: number; column: number }>();
  constructor(
    readonly file: string,
    private readonly lc: LineCounter,
    private readonly doc: Document,
  ) {}

  error(node: Node | null | undefined, path: string, message: string): void {
    const { line, col } = this.lc.linePos(node?.range?.[0] ?? 0);
    this.errors.push({ file: this.file, line, column: col, path, message });
  }

  /** A context that collects into its own list: used to re-check macros where they are used. */
  child(): Ctx {
    return new Ctx(this.file, this.lc, this.doc);
  }

  mark(node: Node | null, path: string): void {
    const { line, col } = this.lc.linePos(node?.range?.[0] ?? 0);
    this.positions.set(path, { line, column: col });
  }

  line(node: Node): number {
    return this.lc.linePos(node.range?.[0] ?? 0).line;
  }

  /** Follows `*alias` references; null for an absent value. */
  deref(node: unknown): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node as Node;
  }
}

/**
 * Every document of a YAML file, each parsed by `each` with its own context (errors sorted in the
 * order of the text). Invalid YAML and a file with no document are errors; an empty document (a
 * trailing ---) is skipped. Returns what `each` returned for the documents without errors.
 */
export function readDocuments<T>(text: string, file: string, what: string, each: (ctx: Ctx, root: Node) => T | undefined): { items: T[]; errors: PolicyError[] } {
  const lc = new LineCounter();
  const items: T[] = [];
  const errors: PolicyError[] = [];
  let documents = 0;
  for (const doc of parseAllDocuments(text, { lineCounter: lc, prettyErrors: false })) {
    documents++;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const { line, col } = lc.linePos(e.pos[0]);
        errors.push({ file, line, column: col, path: '', message: `invalid YAML: ${e.message.split('\n')[0]}` });
      }
      continue;
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) {
      documents--;
      continue;
    }
    const ctx = new Ctx(file, lc, doc);
    const item = each(ctx, root);
    // Checks run field by field, not in file order: report in the order of the text.
    errors.push(...ctx.errors.sort((x, y) => x.line - y.line || x.column - y.column));
    if (item !== undefined && ctx.errors.length === 0) items.push(item);
  }
  if (documents === 0) errors.push({ file, line: 1, column: 1, path: '', message: `no ${what} in the file` });
  return { items, errors };
}

/** The text of a scalar as written: `0x200` stays `0x200`, quoted strings lose their quotes. */
export function scalarText(s: Scalar): string {
  if (s.type === 'PLAIN' && typeof s.source === 'string') return s.source;
  return s.value === null || s.value === undefined ? '' : String(s.value);
}

/** `12`, `"abc"`, `a list`, `a mapping`, `nothing`: for "expected X, got Y" messages. */
export function describe(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    if (node.value === null) return 'nothing';
    return typeof node.value === 'string' ? JSON.stringify(node.value) : scalarText(node);
  }
  return 'an unexpected node';
}

/** True for a value that asks for nothing: absent, null, false, '', [] or {}. */
function isUnset(node: Node | null): boolean {
  if (node === null) return true;
  if (isScalar(node)) return node.value === null || node.value === false || node.value === '';
  if (isSeq(node) || isMap(node)) return node.items.length === 0;
  return false;
}

export interface Field {
  key: Scalar;
  value: Node | null;
  path: string;
}

export interface Item {
  node: Node | null;
  path: string;
}

/** A mapping whose keys were checked against a known set. Getters report and return undefined on error. */
export class Obj {
  constructor(
    readonly ctx: Ctx,
    readonly node: YAMLMap,
    readonly path: string,
    private readonly fields: Map<string, Field>,
    /** Known field names suggested for unknown keys: `value` suggests `values`. */
    private readonly suggestions: ReadonlySet<string>,
    /** How many keys were reported as unknown or not supported. */
    readonly rejectedKeys: number,
  ) {}

  /** True when an unknown key was probably meant as `key`: its absence is already explained. */
  suggested(key: string): boolean {
    return this.suggestions.has(key);
  }

  get(key: string): Field | undefined {
    return this.fields.get(key);
  }

  has(key: string): boolean {
    const f = this.fields.get(key);
    return f !== undefined && !(f.value === null || (isScalar(f.value) && f.value.value === null));
  }

  missing(key: string): void {
    if (this.suggestions.has(key)) return;
    this.ctx.error(this.node, join(this.path, key), 'required field is missing');
  }

  /** The field's value node, reporting a missing required field. */
  value(key: string, required = false): Field | undefined {
    const f = this.fields.get(key);
    if (f && !(f.value === null || (isScalar(f.value) && f.value.value === null))) return f;
    if (required) this.missing(key);
    return undefined;
  }

  str(key: string, opts: { required?: boolean; nonEmpty?: boolean } = {}): string | undefined {
    const f = this.value(key, opts.required);
    if (!f) return undefined;
    return readStr(this.ctx, f.value, f.path, opts.nonEmpty ?? opts.required);
  }

  bool(key: string): boolean | undefined {
    const f = this.value(key);
    if (!f) return undefined;
    if (isScalar(f.value) && typeof f.value.value === 'boolean') return f.value.value;
    this.ctx.error(f.value, f.path, `expected true or false, got ${describe(f.value)}`);
    return undefined;
  }

  int(key: string, min: number, max: number, required = false): number | undefined {
    const f = this.value(key, required);
    if (!f) return undefined;
    return readInt(this.ctx, f.value, f.path, min, max);
  }

  /** The items of a list field; an absent or null field is an empty list. */
  seq(key: string, required = false): Item[] | undefined {
    const f = this.value(key, required);
    if (!f) return required ? undefined : [];
    return readSeq(this.ctx, f.value, f.path);
  }

  strList(key: string, required = false): Array<{ value: string } & Item> {
    const items = this.seq(key, required) ?? [];
    const out: Array<{ value: string } & Item> = [];
    for (const it of items) {
      const s = readStr(this.ctx, it.node, it.path, true);
      if (s !== undefined) out.push({ ...it, value: s });
    }
    return out;
  }
}

export function readStr(ctx: Ctx, node: Node | null, path: string, nonEmpty = false): string | undefined {
  if (isScalar(node) && typeof node.value === 'string') {
    if (nonEmpty && node.value === '') {
      ctx.error(node, path, 'must not be empty');
      return undefined;
    }
    return node.value;
  }
  ctx.error(node, path, `expected a string, got ${describe(node)}`);
  return undefined;
}

export function readInt(ctx: Ctx, node: Node | null, path: string, min: number, max: number): number | undefined {
  if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && node.value >= min && node.value <= max) {
    return node.value;
  }
  ctx.error(node, path, `expected a whole number from ${min} to ${max}, got ${describe(node)}`);
  return undefined;
}

export function readSeq(ctx: Ctx, node: Node | null, path: string): Item[] | undefined {
  if (node === null || (isScalar(node) && node.value === null)) return [];
  if (!isSeq(node)) {
    ctx.error(node, path, `expected a list, got ${describe(node)}`);
    return undefined;
  }
  return node.items.map((n, i) => {
    const item = { node: ctx.deref(n), path: at(path, i) };
    ctx.mark(item.node, item.path);
    return item;
  });
}

/**
 * Reads every item, so that each bad one gets its error; the values in order, or undefined when any
 * failed. The list is exactly as long as the items (map, not push: a pushed one-element list keeps
 * room for 17, and parsed policies keep tens of thousands of such lists).
 */
export function readEach<T>(items: readonly Item[], read: (it: Item) => T | undefined): T[] | undefined {
  const out = items.map(read);
  return out.includes(undefined) ? undefined : (out as T[]);
}

/**
 * Checks a mapping's keys. Unknown keys are errors with a suggestion; keys Tetragon knows but
 * Palisade does not implement are errors with the reason when they ask for something.
 */
export function readObj(
  ctx: Ctx,
  node: Node | null,
  path: string,
  known: readonly string[],
  unsupported: Readonly<Record<string, string>> = {},
): Obj | undefined {
  if (!isMap(node)) {
    ctx.error(node, path || '(top level)', `expected a mapping, got ${describe(node)}`);
    return undefined;
  }
  const fields = new Map<string, Field>();
  const suggestions = new Set<string>();
  let rejected = 0;
  const all = [...known, ...Object.keys(unsupported)];
  for (const pair of node.items) {
    const keyNode = ctx.deref(pair.key);
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      ctx.error(keyNode, path || '(top level)', `field names must be strings, got ${describe(keyNode)}`);
      continue;
    }
    const key = keyNode.value;
    const p = join(path, key);
    const value = ctx.deref(pair.value);
    const reason = Object.hasOwn(unsupported, key) ? unsupported[key] : undefined;
    if (reason !== undefined) {
      if (!isUnset(value)) {
        ctx.error(keyNode, p, `not supported by Palisade: ${reason}`);
        rejected++;
      }
      continue;
    }
    if (!known.includes(key)) {
      ctx.error(keyNode, p, `unknown field${didYouMean(key, all)}`);
      const meant = closest(key, all);
      if (meant !== undefined) suggestions.add(meant);
      rejected++;
      continue;
    }
    fields.set(key, { key: keyNode, value, path: p });
    ctx.mark(keyNode, p);
  }
  return new Obj(ctx, node, path, fields, suggestions, rejected);
}

/** A string-to-string mapping (labels, annotations, matchLabels). */
export function readStringMap(ctx: Ctx, node: Node | null, path: string): Record<string, string> | undefined {
  if (node === null || (isScalar(node) && node.value === null)) return {};
  if (!isMap(node)) {
    ctx.error(node, path, `expected a mapping, got ${describe(node)}`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const pair of node.items) {
    const k = ctx.deref(pair.key);
    const v = ctx.deref(pair.value);
    if (!isScalar(k) || k.value === null) {
      ctx.error(k, path, `keys must be strings, got ${describe(k)}`);
      continue;
    }
    const key = scalarText(k);
    if (!isScalar(v) || v.value === null || typeof v.value === 'object') {
      ctx.error(v ?? k, join(path, key), `expected a string, got ${describe(v)}`);
      continue;
    }
    out[key] = scalarText(v);
  }
  return out;
}

/** A list with at most `max` items, reporting the count against the limit. */
export function limitedSeq(o: Obj, key: string, max: number, required = false): Item[] {
  const items = o.seq(key, required) ?? [];
  if (items.length > max) o.ctx.error(o.get(key)?.value, join(o.path, key), `${items.length} entries, the limit is ${max}`);
  return items;
}
