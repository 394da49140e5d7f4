// The body of a hook event (process_tracepoint, process_kprobe …) after its process and parent
// blocks, written from the pal_hook record straight into the line. The constant bytes between the
// values are joined per hook once (`},{"ulong_arg":"` between an int and a ulong), so an event is a
// few copies with integers and plain strings written from the record, and no string made.
import type { ArgDecode } from '../../tracing/compile/compile.js';
import type { HookRegistration } from '../../tracing/manager.js';
import { capabilityJson, credOf, int64Text, sockaddrOf, sockOf } from '../pipeline/hook-args.js';
import type { HookEvent } from '../pipeline/hook-event.js';
import { HOOK, HOOK_ARGS, HOOK_RETURN, hookArgTrunc } from '../pipeline/layout.js';
import type { LineBuffer } from './line-buffer.js';

export interface HookJsonParts {
  /** `"subsys":"syscalls","event":"sys_enter_openat","args":[` and the first argument's opening. */
  readonly head: Buffer;
  /** between[i]: argument i-1's closing, a comma, argument i's opening. */
  readonly between: Buffer[];
  /** The last argument's closing and `]`. */
  readonly close: Buffer;
  /** By action and enforced (see tailSlot): the members after the arguments, and with a line end after them. */
  readonly tails: (Buffer | undefined)[];
  readonly ends: (Buffer | undefined)[];
  readonly endOf: (Buffer | undefined)[];
  readonly fixedJson: string;
  readonly monitor: boolean;
}

/** Around each kind's value: integers and strings are written between these; the others write whole objects. */
const OPEN: Record<ArgDecode, string> = {
  int: '{"int_arg":', uint: '{"uint_arg":', long: '{"long_arg":"', ulong: '{"ulong_arg":"', size_t: '{"size_arg":"',
  string: '{"string_arg":', file: '{"file_arg":{"path":', path: '{"path_arg":{"path":',
  capability: '', sock: '', cred: '', sockaddr: '', bytes: '',
};
const CLOSE: Record<ArgDecode, string> = {
  int: '}', uint: '}', long: '"}', ulong: '"}', size_t: '"}', string: '}', file: '}}', path: '}}',
  capability: '', sock: '', cred: '', sockaddr: '', bytes: '',
};

export function hookJsonParts(reg: HookRegistration): HookJsonParts {
  const args = reg.args;
  const fixedJson =
    `"policy_name":${JSON.stringify(reg.policyName)}` +
    (reg.message ? `,"message":${JSON.stringify(reg.message)}` : '') +
    (reg.tags.length > 0 ? `,"tags":${JSON.stringify(reg.tags)}` : '');
  return {
    head: Buffer.from(`${reg.hookJson},"args":[` + (args.length > 0 ? OPEN[args[0]!] : '')),
    between: args.map((a, i) => Buffer.from(i === 0 ? '' : `${CLOSE[args[i - 1]!]},${OPEN[a]}`)),
    close: Buffer.from((args.length > 0 ? CLOSE[args[args.length - 1]!] : '') + ']'),
    tails: [], ends: [], endOf: [], fixedJson, monitor: reg.mode === 'monitor',
  };
}

const tailSlot = (ev: HookEvent): number => 2 * ev.actionId + (ev.enforced ? 1 : 0);

/** `,"action":"…",["enforced":…,]["policy_mode":"monitor",]"policy_name":…`: a handful per hook, each made once. */
export function hookTail(ev: HookEvent): Buffer {
  const parts = ev.hook.json;
  const slot = tailSlot(ev);
  let b = parts.tails[slot];
  if (b === undefined) {
    b = Buffer.from(
      `,"action":"${ev.action}"` + (ev.actionId !== 0 ? `,"enforced":${ev.enforced}` : '') +
      (parts.monitor ? ',"policy_mode":"monitor"' : '') + `,${parts.fixedJson}`,
    );
    parts.tails[slot] = b;
  }
  return b;
}

/** hookTail() followed by the writer's line end `end`, joined once per end (the end changes each second). */
export function hookTailAndEnd(ev: HookEvent, end: Buffer): Buffer {
  const parts = ev.hook.json;
  const slot = tailSlot(ev);
  if (parts.endOf[slot] !== end) {
    parts.ends[slot] = Buffer.concat([hookTail(ev), end]);
    parts.endOf[slot] = end;
  }
  return parts.ends[slot]!;
}

const RETURN = Buffer.from(',"return":');
const TRUNCATED = Buffer.from(',"truncated_args":[');

/**
 * What follows the cached `"parent":{…},"subsys":…,"args":[` and the first argument's opening (the
 * JSON writer keeps that much per process and hook, see HookJsonParts.head): the arguments, `]`,
 * the return value, truncated_args. The tail (action, policy) is the writer's to add.
 */
export function writeHookArgs(out: LineBuffer, ev: HookEvent): void {
  const { buf, dv } = ev.record();
  const rec = ev.at;
  const hook = ev.hook;
  const parts = hook.json;
  const flags = dv.getUint32(rec + HOOK.flags, true);
  const data = rec + HOOK.data;
  const n = hook.args.length; // the record has them all: the pipeline checks
  let truncated = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) out.bytes(parts.between[i]!);
    const at = rec + HOOK.args + 8 * i;
    writeValue(out, buf, data, hook.args[i]!, dv.getUint32(at, true), dv.getUint32(at + 4, true));
    truncated |= flags & hookArgTrunc(i);
  }
  out.bytes(parts.close);
  if (flags & HOOK_RETURN && hook.ret) {
    const at = rec + HOOK.args + 8 * (HOOK_ARGS - 1);
    out.bytes(RETURN);
    writeHookInt(out, hook.ret, dv.getUint32(at, true), dv.getUint32(at + 4, true));
  }
  if (truncated !== 0) {
    out.bytes(TRUNCATED);
    let first = true;
    for (let i = 0; i < n; i++) {
      if (!(truncated & hookArgTrunc(i))) continue;
      if (!first) out.byte(44); // ,
      out.int(i);
      first = false;
    }
    out.byte(93); // ]
  }
}

/** One argument's value: lo/hi are the u32 halves of args[i]; for data kinds, (len << 32) | offset into data[]. */
function writeValue(out: LineBuffer, buf: Buffer, data: number, type: ArgDecode, lo: number, hi: number): void {
  switch (type) {
    case 'int':
      return out.int(lo | 0);
    case 'uint':
      return out.int(lo >>> 0);
    case 'long':
    case 'ulong':
    case 'size_t':
      // 64-bit values are strings, as protobuf JSON prints them.
      return hi === 0 ? out.int(lo >>> 0) : out.text(int64Text(type === 'long', lo, hi));
    case 'string':
    case 'file':
    case 'path':
      return jsonString(out, buf, data + lo, data + lo + hi);
    case 'capability':
      return out.text(capabilityJson(lo | 0));
    case 'sock':
      return out.text(sockOf(buf, data + lo).json);
    case 'cred':
      return out.text(credOf(buf, data + lo).json);
    case 'sockaddr':
      return out.text(sockaddrOf(buf, data + lo).json);
    case 'bytes':
      return out.text(`{"bytes_arg":"${buf.toString('base64', data + lo, data + lo + hi)}"}`);
  }
}

const NO_DATA = Buffer.alloc(0);
const OPEN_BYTES = Object.fromEntries(Object.entries(OPEN).map(([k, v]) => [k, Buffer.from(v)])) as Record<ArgDecode, Buffer>;
const CLOSE_BYTES = Object.fromEntries(Object.entries(CLOSE).map(([k, v]) => [k, Buffer.from(v)])) as Record<ArgDecode, Buffer>;

/** An integer argument as Tetragon prints it: {"int_arg":3}, {"size_arg":"4096"}. lo/hi are u32 halves. */
export function writeHookInt(out: LineBuffer, type: ArgDecode, lo: number, hi: number): void {
  out.bytes(OPEN_BYTES[type]);
  writeValue(out, NO_DATA, 0, type, lo, hi); // integer kinds never read data[]
  out.bytes(CLOSE_BYTES[type]);
}

/** buf[from, to) as a JSON string: copied as it is when it is printable ASCII with nothing to escape. */
function jsonString(out: LineBuffer, buf: Buffer, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      out.text(JSON.stringify(buf.toString('utf8', from, to)));
      return;
    }
  }
  out.byte(34);
  out.range(buf, from, to);
  out.byte(34);
}
