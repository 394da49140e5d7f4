// Selectors: in-kernel filters (matchArgs, matchPIDs, matchBinaries, …); actions are in actions.ts.
// A selector is checked against its hook: argument indexes must be declared, operators must
// fit the argument's type, actions must be possible at that hook.
import { isScalar, type Node } from 'yaml';
import { didYouMean, formatPolicyError, unknownValue } from './errors.js';
import { LIMITS } from './limits.js';
import { Ctx, describe, join, limitedSeq, readEach, readObj, readStr, scalarText, type Item, type Obj } from './reader.js';
import { parseActions } from './actions.js';
import { CAPABILITIES, OPERATOR_SPELLINGS, operatorsFor, UNSUPPORTED_OPERATORS } from './schema.js';
import {
  NAMESPACE_TYPES,
  type ArgFilter,
  type ArgSpec,
  type BinaryFilter,
  type BinaryOperator,
  type CapabilityFilter,
  type CapabilitySet,
  type HookKind,
  type NamespaceChangeFilter,
  type NamespaceFilter,
  type NamespaceType,
  type PidFilter,
  type Selector,
} from './types.js';
import { parseFilterValues, type ListNames } from './values.js';

/** What a selector needs to know about its hook. */
export interface HookCtx {
  kind: HookKind;
  /** Path of the hook, e.g. spec.kprobes[0], for messages about macros. */
  path: string;
  args: ReadonlyMap<number, ArgSpec>;
  /** Set when the hook reads its return value (return: true with a returnArg). */
  returnArg?: ArgSpec;
  /** return: true was written; a missing or bad returnArg was then reported already. */
  returnDeclared?: boolean;
  lists: ListNames;
  /** Highest argument index the hook kind allows. */
  maxIndex: number;
}

/** spec.selectorsMacros, by name: the raw node, checked again at each use with the hook's arguments. */
export type Macros = ReadonlyMap<string, { node: Node | null; path: string }>;

const SELECTOR_FIELDS = [
  'label', 'macros', 'matchArgs', 'matchReturnArgs', 'matchPIDs', 'matchBinaries', 'matchNamespaces',
  'matchNamespaceChanges', 'matchCapabilities', 'matchCapabilityChanges', 'matchActions', 'matchReturnActions',
] as const;

const UNSUPPORTED_SELECTOR_FIELDS = {
  matchData: 'data fields (spec.*.data) are not implemented',
  matchParentBinaries: 'parent binary filters are not implemented; use matchBinaries with followChildren',
  matchCEL: 'CEL expressions are not implemented',
  matchCmdArgs: 'command-line argument filters are not implemented',
  matchStates: 'state objects are not implemented',
  matchUserCallers: 'caller filters are not implemented',
  matchWorkloads: 'per-selector workload filters are not implemented; use spec.podSelector or spec.containerSelector',
};

type ListField = Exclude<keyof Selector, 'label'>;
const LIST_FIELDS: readonly ListField[] = [
  'matchArgs', 'matchReturnArgs', 'matchPIDs', 'matchBinaries', 'matchNamespaces', 'matchNamespaceChanges',
  'matchCapabilities', 'matchCapabilityChanges', 'matchActions', 'matchReturnActions',
];

const IN_NOTIN = ['In', 'NotIn'] as const;
const BINARY_OPERATORS: readonly BinaryOperator[] = ['In', 'NotIn', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix'];
const CAPABILITY_SETS: readonly CapabilitySet[] = ['Effective', 'Inheritable', 'Permitted'];
const PID_MAX = 4_194_304; // PID_MAX_LIMIT on 64-bit kernels

/** A required enum field; the exact spelling of Tetragon's CRD. */
function enumField<T extends string>(o: Obj, key: string, allowed: readonly T[], what: string, required = true): T | undefined {
  const f = o.value(key, required);
  if (!f) return undefined;
  const s = readStr(o.ctx, f.value, f.path, true);
  if (s === undefined) return undefined;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  o.ctx.error(f.value, f.path, unknownValue(what, s, allowed));
  return undefined;
}

/** A list of non-empty strings; undefined when the list or any item is bad (each reported). */
function stringValues(ctx: Ctx, o: Obj, key: string, required: boolean): Array<{ value: string } & Item> | undefined {
  const items = o.seq(key, required);
  if (!items) return undefined;
  const out: Array<{ value: string } & Item> = [];
  for (const it of items) {
    const s = readStr(ctx, it.node, it.path, true);
    if (s !== undefined) out.push({ ...it, value: s });
  }
  return out.length === items.length ? out : undefined;
}

/** Values as written: scalars of any YAML type, by their source text. */
function scalarValues(ctx: Ctx, o: Obj, key: string, required: boolean): Array<{ text: string } & Item> | undefined {
  const items = o.seq(key, required);
  if (!items) return undefined;
  return readEach(items, (it) => {
    if (isScalar(it.node) && it.node.value !== null && typeof it.node.value !== 'object') return { ...it, text: scalarText(it.node) };
    ctx.error(it.node, it.path, `expected a value, got ${describe(it.node)}`);
    return undefined;
  });
}

function parseArgFilter(ctx: Ctx, item: Item, hook: HookCtx | null, ret: boolean): ArgFilter | undefined {
  const o = readObj(ctx, item.node, item.path, ['index', 'operator', 'values'], {
    args: 'the args form (operator arguments by position) is not implemented; use index',
  });
  if (!o) return undefined;
  const maxIndex = hook?.maxIndex ?? LIMITS.maxTracepointArgIndex;
  // matchReturnArgs may omit index: it can only mean the return argument.
  let index = ret && !o.has('index') ? hook?.returnArg?.index : o.int('index', 0, maxIndex, !ret);
  let operator: ArgFilter['operator'] | undefined;
  const opField = o.value('operator', true);
  const opText = opField && readStr(ctx, opField.value, opField.path, true);
  if (opField && opText !== undefined) {
    operator = OPERATOR_SPELLINGS[opText];
    const why = UNSUPPORTED_OPERATORS[opText];
    if (why) ctx.error(opField.value, opField.path, `operator ${opText} is not supported by Palisade: ${why}`);
    else if (!operator) ctx.error(opField.value, opField.path, unknownValue('operator', opText, Object.keys(OPERATOR_SPELLINGS)));
  }
  const values = scalarValues(ctx, o, 'values', false);
  if (!hook) return undefined; // a macro definition: the rest depends on the hook's arguments
  if (!o.has('values') && o.suggested('values')) return undefined; // `value:` was already reported

  let arg: ArgSpec | undefined;
  if (ret) {
    arg = hook.returnArg;
    if (arg && index !== undefined && index !== arg.index) {
      ctx.error(o.get('index')?.value, join(item.path, 'index'), `matchReturnArgs filters the return argument: index must be ${arg.index} (returnArg.index), got ${index}`);
      index = undefined;
    }
  } else if (index !== undefined) {
    arg = hook.args.get(index);
    if (!arg) {
      const declared = [...hook.args.keys()].sort((a, b) => a - b);
      const which = declared.length ? `declared: ${declared.join(', ')}` : 'no args are declared';
      ctx.error(o.get('index')?.value, join(item.path, 'index'), `argument index ${index} is not declared in args (${which})`);
    }
  }
  if (!arg || index === undefined || !operator || !values) return undefined;

  const allowed = operatorsFor(arg.type);
  const what = ret ? 'the return argument' : `argument ${index}`;
  if (allowed.length === 0) {
    ctx.error(opField!.value, opField!.path, `${what} has type ${arg.type}, which cannot be filtered`);
    return undefined;
  }
  if (!allowed.includes(operator)) {
    ctx.error(opField!.value, opField!.path, `operator ${opText} does not apply to ${what} of type ${arg.type} (it takes ${allowed.join(', ')})`);
    return undefined;
  }
  const { parsed, issues } = parseFilterValues(operator, arg.type, values.map((v) => v.text), hook.lists);
  for (const is of issues) {
    if (is.index < 0) ctx.error(o.get('values')?.value ?? o.node, join(item.path, 'values'), is.message);
    else ctx.error(values[is.index]!.node, values[is.index]!.path, is.message);
  }
  if (!parsed) return undefined;
  return { index, operator, values: values.map((v) => v.text), parsed };
}

function parsePidFilter(ctx: Ctx, item: Item): PidFilter | undefined {
  const o = readObj(ctx, item.node, item.path, ['operator', 'values', 'isNamespacePID', 'followForks']);
  if (!o) return undefined;
  const operator = enumField(o, 'operator', IN_NOTIN, 'operator');
  const isNamespacePID = o.bool('isNamespacePID') ?? false;
  const followForks = o.bool('followForks') ?? false;
  const items = scalarValues(ctx, o, 'values', true);
  if (!items) return undefined;
  if (items.length === 0) ctx.error(o.get('values')?.value, join(o.path, 'values'), 'needs at least one PID');
  if (items.length > LIMITS.pidValues) {
    ctx.error(o.get('values')?.value, join(o.path, 'values'), `${items.length} values, the limit is ${LIMITS.pidValues}`);
  }
  const values: number[] = [];
  for (const it of items) {
    const n = /^[0-9]+$/.test(it.text) ? Number(it.text) : NaN;
    if (n <= PID_MAX) values.push(n);
    else ctx.error(it.node, it.path, `${JSON.stringify(it.text)} is not a PID (0 to ${PID_MAX})`);
  }
  if (!operator || values.length !== items.length || items.length === 0 || items.length > LIMITS.pidValues) return undefined;
  return { operator, values, isNamespacePID, followForks };
}

function parseBinaryFilter(ctx: Ctx, item: Item): BinaryFilter | undefined {
  const o = readObj(ctx, item.node, item.path, ['operator', 'values', 'followChildren']);
  if (!o) return undefined;
  const operator = enumField(o, 'operator', BINARY_OPERATORS, 'operator');
  const followChildren = o.bool('followChildren') ?? false;
  const items = stringValues(ctx, o, 'values', true);
  if (!items) return undefined;
  const n = items.length;
  let ok = operator !== undefined;
  if (n === 0) {
    ctx.error(o.get('values')?.value, join(o.path, 'values'), 'needs at least one path');
    ok = false;
  }
  if (n > LIMITS.binaryValues) {
    ctx.error(o.get('values')?.value, join(o.path, 'values'), `${n} values, the limit is ${LIMITS.binaryValues}`);
    ok = false;
  }
  for (const it of items) {
    const len = Buffer.byteLength(it.value, 'utf8');
    if (len > LIMITS.binaryPathBytes) {
      ctx.error(it.node, it.path, `path is ${len} bytes, the limit is ${LIMITS.binaryPathBytes}`);
      ok = false;
    } else if (operator && operator !== 'Postfix' && operator !== 'NotPostfix' && !it.value.startsWith('/')) {
      ctx.error(it.node, it.path, `${JSON.stringify(it.value)} is not an absolute path: matchBinaries compares the full path of the executable (e.g. /usr/bin/${it.value})`);
      ok = false;
    }
  }
  if (followChildren && operator && operator !== 'In' && operator !== 'NotIn') {
    ctx.error(o.get('followChildren')?.value, join(o.path, 'followChildren'), `followChildren works with In and NotIn only, not ${operator}`);
    ok = false;
  }
  return ok && operator ? { operator, values: items.map((i) => i.value), followChildren } : undefined;
}

function parseNamespaceFilter(ctx: Ctx, item: Item): NamespaceFilter | undefined {
  const o = readObj(ctx, item.node, item.path, ['namespace', 'operator', 'values']);
  if (!o) return undefined;
  const namespace = enumField(o, 'namespace', NAMESPACE_TYPES, 'namespace');
  const operator = enumField(o, 'operator', IN_NOTIN, 'operator');
  const items = scalarValues(ctx, o, 'values', true);
  if (!items) return undefined;
  let ok = namespace !== undefined && operator !== undefined;
  if (items.length === 0 || items.length > LIMITS.namespaceValues) {
    const msg = items.length === 0 ? 'needs at least one value' : `${items.length} values, the limit is ${LIMITS.namespaceValues}`;
    ctx.error(o.get('values')?.value, join(o.path, 'values'), msg);
    ok = false;
  }
  const values: Array<number | 'host_ns'> = [];
  for (const it of items) {
    if (it.text === 'host_ns') values.push('host_ns');
    else if (/^[0-9]+$/.test(it.text) && Number(it.text) <= 0xffffffff) values.push(Number(it.text));
    else {
      ctx.error(it.node, it.path, `${JSON.stringify(it.text)} is not a namespace inode number or host_ns`);
      ok = false;
    }
  }
  return ok ? { namespace: namespace!, operator: operator!, values } : undefined;
}

/** Tetragon lower-cases namespace type names here; we accept any case and keep the CRD's. */
function parseNamespaceChange(ctx: Ctx, item: Item): NamespaceChangeFilter | undefined {
  const o = readObj(ctx, item.node, item.path, ['operator', 'values']);
  if (!o) return undefined;
  const operator = enumField(o, 'operator', IN_NOTIN, 'operator');
  const items = stringValues(ctx, o, 'values', true);
  if (!items) return undefined;
  let ok = operator !== undefined;
  if (items.length === 0) {
    ctx.error(o.get('values')?.value, join(o.path, 'values'), 'needs at least one namespace type');
    ok = false;
  }
  const values: NamespaceType[] = [];
  for (const it of items) {
    const t = NAMESPACE_TYPES.find((n) => n.toLowerCase() === it.value.toLowerCase());
    if (t) values.push(t);
    else {
      ctx.error(it.node, it.path, unknownValue('namespace type', it.value, NAMESPACE_TYPES));
      ok = false;
    }
  }
  return ok ? { operator: operator!, values } : undefined;
}

/** Tetragon upper-cases capability names; we accept any case and keep CAP_* upper case. */
function parseCapabilityFilter(ctx: Ctx, item: Item): CapabilityFilter | undefined {
  const o = readObj(ctx, item.node, item.path, ['type', 'operator', 'isNamespaceCapability', 'values']);
  if (!o) return undefined;
  const type = enumField(o, 'type', CAPABILITY_SETS, 'capability set', false) ?? (o.has('type') ? undefined : 'Effective');
  const operator = enumField(o, 'operator', IN_NOTIN, 'operator');
  const isNamespaceCapability = o.bool('isNamespaceCapability') ?? false;
  const items = stringValues(ctx, o, 'values', true);
  if (!items) return undefined;
  let ok = type !== undefined && operator !== undefined;
  if (items.length === 0) {
    ctx.error(o.get('values')?.value, join(o.path, 'values'), 'needs at least one capability');
    ok = false;
  }
  const values: string[] = [];
  for (const it of items) {
    const name = it.value.trim().toUpperCase();
    if (CAPABILITIES.includes(name)) values.push(name);
    else {
      ctx.error(it.node, it.path, unknownValue('capability', it.value, CAPABILITIES));
      ok = false;
    }
  }
  return ok ? { type: type!, operator: operator!, isNamespaceCapability, values } : undefined;
}

function emptySelector(): Selector {
  return {
    matchArgs: [], matchReturnArgs: [], matchPIDs: [], matchBinaries: [], matchNamespaces: [], matchNamespaceChanges: [],
    matchCapabilities: [], matchCapabilityChanges: [], matchActions: [], matchReturnActions: [],
  };
}

/** Parses each item, keeping the good ones; the caller decides validity from ctx.errors. */
function each<T>(items: Item[], fn: (it: Item) => T | undefined): T[] {
  const out: T[] = [];
  for (const it of items) {
    const v = fn(it);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/**
 * Parses one selector. `hook` is null for a macro definition, checked on its own first: the
 * checks that need the hook's arguments run again where the macro is used.
 */
export function parseSelector(ctx: Ctx, node: Node | null, path: string, hook: HookCtx | null, macros: Macros): Selector | undefined {
  const o = readObj(ctx, node, path, SELECTOR_FIELDS, UNSUPPORTED_SELECTOR_FIELDS);
  if (!o) return undefined;
  const sel = emptySelector();
  const label = o.str('label');
  if (label !== undefined) sel.label = label;

  const noReturn = (key: string): boolean => {
    if (!hook || hook.returnArg || !o.has(key)) return false;
    if (hook.returnDeclared) return true;
    const why = hook.kind === 'kprobe' || hook.kind === 'uprobe' ? 'needs return: true and a returnArg on the hook' : `a ${hook.kind} has no return value`;
    ctx.error(o.get(key)!.key, join(path, key), why);
    return true;
  };

  sel.matchArgs = each(limitedSeq(o, 'matchArgs', LIMITS.matchArgsPerSelector), (it) => parseArgFilter(ctx, it, hook, false));
  if (!noReturn('matchReturnArgs')) {
    sel.matchReturnArgs = each(limitedSeq(o, 'matchReturnArgs', LIMITS.matchArgsPerSelector), (it) => parseArgFilter(ctx, it, hook, true));
  }
  sel.matchPIDs = each(limitedSeq(o, 'matchPIDs', LIMITS.matchPIDsPerSelector), (it) => parsePidFilter(ctx, it));
  sel.matchBinaries = each(limitedSeq(o, 'matchBinaries', LIMITS.matchBinariesPerSelector), (it) => parseBinaryFilter(ctx, it));
  sel.matchNamespaces = each(limitedSeq(o, 'matchNamespaces', LIMITS.matchNamespacesPerSelector), (it) => parseNamespaceFilter(ctx, it));
  sel.matchNamespaceChanges = each(limitedSeq(o, 'matchNamespaceChanges', LIMITS.matchNamespaceChangesPerSelector), (it) => parseNamespaceChange(ctx, it));
  sel.matchCapabilities = each(limitedSeq(o, 'matchCapabilities', LIMITS.matchCapabilitiesPerSelector), (it) => parseCapabilityFilter(ctx, it));
  sel.matchCapabilityChanges = each(limitedSeq(o, 'matchCapabilityChanges', LIMITS.matchCapabilitiesPerSelector), (it) => parseCapabilityFilter(ctx, it));
  sel.matchActions = parseActions(ctx, o, 'matchActions', hook);
  if (!noReturn('matchReturnActions')) sel.matchReturnActions = parseActions(ctx, o, 'matchReturnActions', hook);

  const names = o.strList('macros');
  if (!hook) {
    if (names.length > 0) ctx.error(o.get('macros')!.key, join(path, 'macros'), 'a macro cannot use other macros');
    return sel;
  }
  const origin = new Map<ListField, string>();
  for (const k of LIST_FIELDS) if (o.has(k)) origin.set(k, 'the selector');
  for (const m of names) {
    const def = macros.get(m.value);
    if (!def) {
      const hint = macros.size ? didYouMean(m.value, [...macros.keys()]) : ': spec.selectorsMacros defines no macros';
      ctx.error(m.node, m.path, `macro ${JSON.stringify(m.value)} is not defined${hint}`);
      continue;
    }
    const part = useMacro(ctx, def, m.value, hook, path);
    if (!part) continue;
    for (const k of LIST_FIELDS) {
      if (part[k].length === 0) continue;
      const prev = origin.get(k);
      if (prev) {
        ctx.error(m.node, m.path, `macro ${JSON.stringify(m.value)} sets ${k}, which ${prev} already sets: each filter list may come from one place only`);
        continue;
      }
      origin.set(k, `macro ${JSON.stringify(m.value)}`);
      Object.assign(sel, { [k]: part[k] });
    }
    if (sel.label === undefined && part.label !== undefined) sel.label = part.label;
  }
  return sel;
}

/**
 * Checks a macro against the hook that uses it. Errors already reported for the definition
 * itself are not repeated; new ones (which depend on the hook) say where the macro is used.
 */
function useMacro(ctx: Ctx, def: { node: Node | null; path: string }, name: string, hook: HookCtx, usedBy: string): Selector | undefined {
  const sub = ctx.child();
  const sel = parseSelector(sub, def.node, def.path, hook, new Map());
  const known = new Set(ctx.errors.map(formatPolicyError));
  let clean = true;
  for (const e of sub.errors) {
    clean = false;
    if (known.has(formatPolicyError(e))) continue;
    ctx.errors.push({ ...e, message: `${e.message} (macro ${JSON.stringify(name)} used by ${usedBy})` });
  }
  return clean ? sel : undefined;
}

