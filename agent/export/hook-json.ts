// The body of a hook event (process_tracepoint, process_kprobe …) after its process and parent
// blocks, written from the pal_hook record straight into the line: the hook's constant parts are
// encoded once per hook, and integers and plain strings go from the record to the line as bytes.
import type { ArgDecode } from '../../tracing/compile/compile.js';
import type { HookRegistration } from '../../tracing/manager.js';
import { ACTION_NAMES, capabilityJson, credOf, int64Text, sockaddrOf, sockOf } from '../pipeline/hook-args.js';
import { argCount, type HookEvent } from '../pipeline/hook-event.js';
import { HOOK, HOOK_ARGS, HOOK_RETURN, hookArgTrunc } from '../pipeline/layout.js';
import type { LineBuffer } from './line-buffer.js';

export interface HookJsonParts {
  /** `"subsys":"syscalls","event":"sys_enter_openat","args":[` */
  readonly head: Buffer;
  /** `,"action":"…",["enforced":…,]["policy_mode":"monitor",]"policy_name":…`, by action and enforced: see tail(). */
  readonly tails: (Buffer | undefined)[];
  readonly fixedJson: string;
  readonly monitor: boolean;
}

export function hookJsonParts(reg: HookRegistration): HookJsonParts {
  const fixedJson =
    `"policy_name":${JSON.stringify(reg.policyName)}` +
    (reg.message ? `,"message":${JSON.stringify(reg.message)}` : '') +
    (reg.tags.length > 0 ? `,"tags":${JSON.stringify(reg.tags)}` : '');
  return { head: Buffer.from(`${reg.hookJson},"args":[`), tails: [], fixedJson, monitor: reg.mode === 'monitor' };
}

/** The members after `]` of the arguments, for this action: a handful of combinations, each made once. */
function tail(parts: HookJsonParts, actionId: number, enforced: boolean): Buffer {
  const slot = 2 * actionId + (enforced ? 1 : 0);
  let b = parts.tails[slot];
  if (b === undefined) {
    b = Buffer.from(
      `,"action":"${ACTION_NAMES[actionId]!}"` + (actionId !== 0 ? `,"enforced":${enforced}` : '') +
      (parts.monitor ? ',"policy_mode":"monitor"' : '') + `,${parts.fixedJson}`,
    );
    parts.tails[slot] = b;
  }
  return b;
}

const OPEN: Partial<Record<ArgDecode, Buffer>> = {
  int: Buffer.from('{"int_arg":'),
  uint: Buffer.from('{"uint_arg":'),
  long: Buffer.from('{"long_arg":"'),
  ulong: Buffer.from('{"ulong_arg":"'),
  size_t: Buffer.from('{"size_arg":"'),
  string: Buffer.from('{"string_arg":'),
  file: Buffer.from('{"file_arg":{"path":'),
  path: Buffer.from('{"path_arg":{"path":'),
};
const QUOTE_CLOSE = Buffer.from('"}');
const RETURN = Buffer.from('],"return":');
const TRUNCATED = Buffer.from(',"truncated_args":[');
const COMMA = 44;
const CLOSE_BRACKET = 93;
const CLOSE_BRACE = 125;

/**
 * The members after `"parent":{…},"subsys":…,"args":[` (the JSON writer caches that much per
 * process and hook): the arguments, `]`, return value, action, policy.
 */
export function writeHookBody(out: LineBuffer, ev: HookEvent): void {
  const { buf, dv } = ev.record();
  const rec = ev.at;
  const hook = ev.hook;
  const flags = dv.getUint32(rec + HOOK.flags, true);
  const data = rec + HOOK.data;
  const n = argCount(dv, rec, hook);
  let truncated = 0;
  for (let i = 0; i < n; i++) {
    truncated |= flags & hookArgTrunc(i);
    if (i > 0) out.byte(COMMA);
    const at = rec + HOOK.args + 8 * i;
    const lo = dv.getUint32(at, true);
    const hi = dv.getUint32(at + 4, true);
    const type = hook.args[i]!;
    if (type === 'string') {
      out.bytes(OPEN.string!);
      jsonString(out, buf, data + lo, data + lo + hi);
      out.byte(CLOSE_BRACE);
    } else if (type === 'file' || type === 'path') {
      out.bytes(OPEN[type]!);
      jsonString(out, buf, data + lo, data + lo + hi);
      out.byte(CLOSE_BRACE);
      out.byte(CLOSE_BRACE);
    } else if (type === 'sock') out.text(sockOf(buf, data + lo).json);
    else if (type === 'cred') out.text(credOf(buf, data + lo).json);
    else if (type === 'sockaddr') out.text(sockaddrOf(buf, data + lo).json);
    else if (type === 'bytes') out.text(`{"bytes_arg":"${buf.toString('base64', data + lo, data + lo + hi)}"}`);
    else writeHookInt(out, type, lo, hi);
  }
  if (flags & HOOK_RETURN && hook.ret) {
    const at = rec + HOOK.args + 8 * (HOOK_ARGS - 1);
    out.bytes(RETURN);
    writeHookInt(out, hook.ret, dv.getUint32(at, true), dv.getUint32(at + 4, true));
  } else out.byte(CLOSE_BRACKET);
  if (truncated !== 0) {
    out.bytes(TRUNCATED);
    let first = true;
    for (let i = 0; i < n; i++) {
      if (!(truncated & hookArgTrunc(i))) continue;
      if (!first) out.byte(COMMA);
      out.int(i);
      first = false;
    }
    out.byte(CLOSE_BRACKET);
  }
  out.bytes(tail(hook.json, ev.actionId, ev.enforced));
}

/** An integer argument as Tetragon prints it: {"int_arg":3}, {"size_arg":"4096"}. lo/hi are u32 halves. */
export function writeHookInt(out: LineBuffer, type: ArgDecode, lo: number, hi: number): void {
  if (type === 'int' || type === 'uint') {
    out.bytes(OPEN[type]!);
    out.int(type === 'int' ? lo | 0 : lo >>> 0);
    out.byte(CLOSE_BRACE);
    return;
  }
  if (type === 'capability') return out.text(capabilityJson(lo | 0));
  // 64-bit values are strings, as protobuf JSON prints them.
  out.bytes(OPEN[type] ?? OPEN.long!);
  if (hi === 0) out.int(lo >>> 0);
  else out.text(int64Text(type === 'long', lo, hi));
  out.bytes(QUOTE_CLOSE);
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
