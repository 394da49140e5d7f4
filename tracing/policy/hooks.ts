// Hook specs: kprobes, tracepoints, uprobes and LSM hooks, with their arguments and selectors.
import { isMap, isScalar, type Node } from 'yaml';
import { didYouMean, unknownValue } from './errors.js';
import { LIMITS } from './limits.js';
import { Ctx, describe, join, readObj, type Item, type Obj } from './reader.js';
import { UNSUPPORTED_ARG_TYPES } from './schema.js';
import { parseSelector, type HookCtx, type Macros } from './selectors.js';
import {
  ARG_TYPES,
  type ArgSpec,
  type ArgType,
  type HookKind,
  type KprobeSpec,
  type LsmHookSpec,
  type Selector,
  type TracepointSpec,
  type UprobeSpec,
} from './types.js';
import type { ListNames } from './values.js';

/** What every hook parser needs from the rest of the policy. */
export interface PolicyCtx {
  lists: ListNames;
  macros: Macros;
}

const ARG_FIELDS = ['index', 'type', 'sizeArgIndex', 'returnCopy', 'maxData', 'label'];
const UNSUPPORTED_ARG_FIELDS = {
  resolve: 'resolving struct fields through BTF is not implemented',
  btfType: 'resolving struct fields through BTF is not implemented',
  btfTypeModule: 'resolving struct fields through BTF is not implemented',
  source: 'reading data from sources other than the arguments is not implemented',
};

const maxIndexOf = (kind: HookKind): number => (kind === 'tracepoint' ? LIMITS.maxTracepointArgIndex : LIMITS.maxFunctionArgIndex);

function parseArg(ctx: Ctx, node: Node | null, path: string, kind: HookKind): ArgSpec | undefined {
  const o = readObj(ctx, node, path, ARG_FIELDS, UNSUPPORTED_ARG_FIELDS);
  if (!o) return undefined;
  const index = o.int('index', 0, maxIndexOf(kind), true);
  const tf = o.value('type', true);
  let type: ArgType | undefined;
  if (tf) {
    const t = o.str('type', { required: true });
    if (t !== undefined && !(ARG_TYPES as readonly string[]).includes(t)) {
      ctx.error(tf.value, tf.path, unknownValue('argument type', t, ARG_TYPES));
    } else if (t !== undefined) {
      const why = UNSUPPORTED_ARG_TYPES[t as ArgType];
      if (why) ctx.error(tf.value, tf.path, `not supported by Palisade: ${why}`);
      else type = t as ArgType;
    }
  }
  const returnCopy = o.bool('returnCopy') ?? false;
  const maxData = o.bool('maxData') ?? false;
  const label = o.str('label');
  // Tetragon counts sizeArgIndex from 1 (index + 1); 0 means unset. It names an argument the way
  // index does, so it has index's range (a tracepoint field, or a function argument).
  let sizeArgIndex = o.int('sizeArgIndex', 0, maxIndexOf(kind) + 1);
  if (sizeArgIndex === 0) sizeArgIndex = undefined;
  let ok = index !== undefined && type !== undefined;
  const buf = type === 'char_buf' || type === 'char_iovec';
  const fail = (key: string, message: string): void => {
    ctx.error(o.get(key)?.key ?? o.node, join(path, key), message);
    ok = false;
  };
  if (type !== undefined) {
    if (sizeArgIndex !== undefined && !buf) fail('sizeArgIndex', `applies to char_buf and char_iovec arguments only, not ${type}`);
    if (returnCopy && !buf) fail('returnCopy', `applies to char_buf and char_iovec arguments only, not ${type}`);
    if (maxData && type !== 'char_buf') fail('maxData', `applies to char_buf arguments only, not ${type}`);
    if (returnCopy && buf && kind !== 'kprobe' && kind !== 'uprobe') fail('returnCopy', `needs a return probe, which a ${kind} does not have`);
    if (sizeArgIndex !== undefined && index !== undefined && sizeArgIndex === index + 1) {
      fail('sizeArgIndex', `points at this argument itself: sizeArgIndex counts from 1, so ${sizeArgIndex} means index ${sizeArgIndex - 1}`);
    }
    if (type === 'char_buf' && sizeArgIndex === undefined && !returnCopy) {
      fail('type', 'a char_buf needs sizeArgIndex (or returnCopy: true) to know how many bytes to read');
    }
    if (type === 'char_iovec' && sizeArgIndex === undefined) fail('type', 'a char_iovec needs sizeArgIndex (the argument holding the vector count)');
  }
  if (!ok) return undefined;
  const arg: ArgSpec = { index: index!, type: type!, returnCopy, maxData };
  if (sizeArgIndex !== undefined) arg.sizeArgIndex = sizeArgIndex;
  if (label !== undefined) arg.label = label;
  return arg;
}

function parseArgs(ctx: Ctx, o: Obj, kind: HookKind): ArgSpec[] {
  const items = o.seq('args') ?? [];
  if (items.length > LIMITS.argsPerHook) {
    ctx.error(o.get('args')?.value, join(o.path, 'args'), `${items.length} arguments, the limit is ${LIMITS.argsPerHook}`);
  }
  const out: ArgSpec[] = [];
  const seen = new Map<number, string>();
  for (const it of items) {
    const a = parseArg(ctx, it.node, it.path, kind);
    if (!a) continue;
    const prev = seen.get(a.index);
    if (prev) {
      const at = isMap(it.node) ? (it.node.get('index', true) as Node | undefined) : undefined;
      ctx.error(at ?? it.node, join(it.path, 'index'), `index ${a.index} is already declared by ${prev}`);
      continue;
    }
    seen.set(a.index, it.path.slice(o.path.length + 1));
    out.push(a);
  }
  return out;
}

/** message, tags and selectors: shared by every hook kind. */
function parseCommon(ctx: Ctx, o: Obj, hook: HookCtx, pol: PolicyCtx): { selectors: Selector[]; message?: string; tags: string[] } {
  const message = o.str('message');
  if (message !== undefined && [...message].length > LIMITS.messageChars) {
    ctx.error(o.get('message')?.value, join(o.path, 'message'), `${[...message].length} characters, the limit is ${LIMITS.messageChars}`);
  }
  const tagItems = o.seq('tags') ?? [];
  if (tagItems.length > LIMITS.tagsPerHook) ctx.error(o.get('tags')?.value, join(o.path, 'tags'), `${tagItems.length} tags, the limit is ${LIMITS.tagsPerHook}`);
  const tags = o.strList('tags');
  const selItems = o.seq('selectors') ?? [];
  if (selItems.length > LIMITS.selectorsPerHook) {
    ctx.error(o.get('selectors')?.value, join(o.path, 'selectors'), `${selItems.length} selectors, the limit is ${LIMITS.selectorsPerHook}`);
  }
  const selectors: Selector[] = [];
  for (const it of selItems) {
    const s = parseSelector(ctx, it.node, it.path, hook, pol.macros);
    if (s) selectors.push(s);
  }
  return message === undefined ? { selectors, tags: tags.map((t) => t.value) } : { selectors, message, tags: tags.map((t) => t.value) };
}

function hookCtx(kind: HookKind, path: string, args: ArgSpec[], pol: PolicyCtx, ret?: { ret: boolean; returnArg?: ArgSpec }): HookCtx {
  const h: HookCtx = { kind, path, args: new Map(args.map((a) => [a.index, a])), lists: pol.lists, maxIndex: maxIndexOf(kind) };
  if (ret?.ret) h.returnDeclared = true;
  if (ret?.ret && ret.returnArg) h.returnArg = ret.returnArg;
  return h;
}

/** return and returnArg go together (Tetragon: "ReturnArg not specified with Return=true"). */
function parseReturn(ctx: Ctx, o: Obj, kind: HookKind): { ret: boolean; returnArg?: ArgSpec } {
  const ret = o.bool('return') ?? false;
  const f = o.value('returnArg');
  const returnArg = f ? parseArg(ctx, f.value, f.path, kind) : undefined;
  if (ret && !f) ctx.error(o.get('return')!.key, join(o.path, 'returnArg'), 'required when return is true');
  if (!ret && f) ctx.error(f.key, f.path, 'is read only with return: true');
  return returnArg ? { ret, returnArg } : { ret };
}

export function parseKprobe(ctx: Ctx, item: Item, pol: PolicyCtx): KprobeSpec | undefined {
  const o = readObj(ctx, item.node, item.path, ['call', 'syscall', 'return', 'args', 'returnArg', 'returnArgAction', 'selectors', 'message', 'tags', 'ignore'], {
    data: 'data fields are not implemented',
  });
  if (!o) return undefined;
  const call = o.str('call', { required: true });
  if (call?.startsWith('list:')) {
    const name = call.slice(5);
    if (!pol.lists.has(name)) {
      const f = o.get('call')!;
      ctx.error(f.value, f.path, `list ${JSON.stringify(name)} is not defined in spec.lists${didYouMean(name, [...pol.lists])}`);
    }
  }
  const syscall = o.bool('syscall') ?? true;
  const r = parseReturn(ctx, o, 'kprobe');
  const { ret, returnArg } = r;
  const raa = o.str('returnArgAction');
  if (raa === 'TrackSock' || raa === 'UntrackSock') {
    ctx.error(o.get('returnArgAction')!.value, join(o.path, 'returnArgAction'), `${raa} is not supported by Palisade: socket tracking is not implemented`);
  } else if (raa !== undefined && raa !== 'Post') {
    ctx.error(o.get('returnArgAction')!.value, join(o.path, 'returnArgAction'), unknownValue('returnArgAction', raa, ['Post', 'TrackSock', 'UntrackSock']));
  }
  let ignoreCallNotFound = false;
  const ig = o.value('ignore');
  if (ig) ignoreCallNotFound = readObj(ctx, ig.value, ig.path, ['callNotFound'])?.bool('callNotFound') ?? false;
  const args = parseArgs(ctx, o, 'kprobe');
  const common = parseCommon(ctx, o, hookCtx('kprobe', item.path, args, pol, r), pol);
  if (call === undefined) return undefined;
  const k: KprobeSpec = { hook: 'kprobe', call, syscall, return: ret, args, ignoreCallNotFound, ...common };
  if (returnArg && ret) k.returnArg = returnArg;
  return k;
}

export function parseTracepoint(ctx: Ctx, item: Item, pol: PolicyCtx): TracepointSpec | undefined {
  const o = readObj(ctx, item.node, item.path, ['subsystem', 'event', 'args', 'selectors', 'message', 'tags', 'raw']);
  if (!o) return undefined;
  const subsystem = o.str('subsystem', { required: true });
  const event = o.str('event', { required: true });
  const raw = o.bool('raw') ?? false;
  const args = parseArgs(ctx, o, 'tracepoint');
  const common = parseCommon(ctx, o, hookCtx('tracepoint', item.path, args, pol), pol);
  if (subsystem === undefined || event === undefined) return undefined;
  return { hook: 'tracepoint', subsystem, event, raw, args, ...common };
}

export function parseUprobe(ctx: Ctx, item: Item, pol: PolicyCtx): UprobeSpec | undefined {
  const byAddress = 'attaching by virtual address is not implemented; name the function in symbols or give its file offset in offsets';
  const o = readObj(ctx, item.node, item.path, ['path', 'symbols', 'offsets', 'return', 'returnArg', 'args', 'selectors', 'message', 'tags'], {
    addrs: byAddress,
    refCtrOffsets: 'USDT semaphores (refCtrOffsets) are not implemented',
    data: 'data fields are not implemented',
    btfPath: 'resolving struct fields through BTF is not implemented',
    resolvePathInContainer: 'resolving the path inside containers is not implemented; give the path on the host',
  });
  if (!o) return undefined;
  const path = o.str('path', { required: true });
  if (path !== undefined && !path.startsWith('/')) {
    ctx.error(o.get('path')!.value, join(o.path, 'path'), `${JSON.stringify(path)} is not an absolute path`);
  }
  const symbols = o.strList('symbols');
  // Offsets: in the file, as `objdump -F` prints them (Tetragon's offsets); numbers or "0x…" strings.
  const offsets: number[] = [];
  for (const it of o.seq('offsets') ?? []) {
    const n = isScalar(it.node) && typeof it.node.value === 'number' ? it.node.value
      : isScalar(it.node) && typeof it.node.value === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(it.node.value) ? Number(it.node.value) : NaN;
    if (Number.isSafeInteger(n) && n >= 0) offsets.push(n);
    else ctx.error(it.node, it.path, `expected a file offset (a number or "0x…"), got ${describe(it.node)}`);
  }
  if (symbols.length === 0 && offsets.length === 0 && !o.has('symbols') && !o.has('offsets')) {
    ctx.error(item.node, join(item.path, 'symbols'), 'needs at least one symbol (or file offset in offsets)');
  } else if (symbols.length === 0 && offsets.length === 0) {
    const f = o.get('symbols') ?? o.get('offsets')!;
    ctx.error(f.value, f.path, 'needs at least one symbol (or file offset in offsets)');
  }
  const r = parseReturn(ctx, o, 'uprobe');
  const { ret, returnArg } = r;
  const args = parseArgs(ctx, o, 'uprobe');
  const common = parseCommon(ctx, o, hookCtx('uprobe', item.path, args, pol, r), pol);
  if (path === undefined) return undefined;
  const u: UprobeSpec = { hook: 'uprobe', path, symbols: symbols.map((s) => s.value), offsets, return: ret, args, ...common };
  if (returnArg && ret) u.returnArg = returnArg;
  return u;
}

export function parseLsmHook(ctx: Ctx, item: Item, pol: PolicyCtx): LsmHookSpec | undefined {
  const o = readObj(ctx, item.node, item.path, ['hook', 'args', 'selectors', 'message', 'tags']);
  if (!o) return undefined;
  const hook = o.str('hook', { required: true });
  if (hook?.startsWith('security_')) {
    ctx.error(o.get('hook')!.value, join(o.path, 'hook'), `name the LSM hook without the security_ prefix: ${hook.slice(9)}`);
  }
  const args = parseArgs(ctx, o, 'lsmhook');
  const common = parseCommon(ctx, o, hookCtx('lsmhook', item.path, args, pol), pol);
  if (hook === undefined) return undefined;
  return { hook: 'lsmhook', lsmHook: hook, args, ...common };
}
