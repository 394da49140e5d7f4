// A hook event (process_tracepoint, process_kprobe …) over its pal_hook record, which stays where the
// pipeline drained it: the JSON writer renders the arguments from there as bytes, and the text for
// compact lines is made only when a sink asks for it. The record is readable until the next drain.
import type { Process } from '../process/process.js';
import type { WallClock } from './clock.js';
import { ACTION_NAMES, credOf, intText, sockaddrOf, sockOf } from './hook-args.js';
import type { HookInfo } from './hooks.js';
import { HDR, HOOK, HOOK_ARGS, HOOK_ENFORCED, HOOK_RETURN } from './layout.js';

/** The pipeline's drain buffer, and how many drains it has held: an event of an earlier one may not read it. */
export class DrainBuffer {
  readonly buf: Buffer;
  readonly dv: DataView;
  epoch = 0;

  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafe(bytes);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
}

/** Argument kinds whose value is (len << 32) | offset into the record's data[]. */
export const DATA_ARGS: ReadonlySet<string> = new Set(['string', 'bytes', 'sockaddr', 'file', 'path', 'sock', 'cred']);

/**
 * Whether the record at `rec` is one of this hook's: it carries the hook's arguments, and each data
 * argument lies inside the record.
 */
export function hookRecordFits(dv: DataView, rec: number, hook: HookInfo): boolean {
  if (dv.getUint8(rec + HOOK.nargs) !== hook.args.length || hook.args.length > HOOK_ARGS) return false;
  const end = rec + dv.getUint32(rec + HDR.size, true);
  for (const i of hook.dataArgs) {
    const at = rec + HOOK.args + 8 * i;
    if (rec + HOOK.data + dv.getUint32(at, true) + dv.getUint32(at + 4, true) > end) return false;
  }
  return true;
}

export class HookEvent {
  readonly type: HookInfo['event'];
  readonly parent: Process | null;
  /** Index into ACTION_NAMES. */
  readonly actionId: number;
  /** The enforcement action was carried out (false in monitor mode). */
  readonly enforced: boolean;
  /** The record's kernel time (CLOCK_BOOTTIME ns) as u32 halves. */
  readonly ktimeHi: number;
  readonly ktimeLo: number;
  private readonly epoch: number;
  private timeText = '';
  private text: string | undefined;

  constructor(
    readonly hook: HookInfo,
    readonly process: Process,
    private readonly clock: WallClock,
    private readonly drain: DrainBuffer,
    /** Where the record starts in the drain buffer. */
    readonly at: number,
  ) {
    const dv = drain.dv;
    this.type = hook.event;
    this.parent = process.parent;
    this.actionId = Math.min(dv.getUint16(at + HOOK.action, true), ACTION_NAMES.length - 1);
    this.enforced = (dv.getUint32(at + HOOK.flags, true) & HOOK_ENFORCED) !== 0;
    this.epoch = drain.epoch;
    this.ktimeHi = dv.getUint32(at + HDR.ktime + 4, true);
    this.ktimeLo = dv.getUint32(at + HDR.ktime, true);
  }

  /** KPROBE_ACTION_POST, KPROBE_ACTION_SIGKILL … */
  get action(): string {
    return ACTION_NAMES[this.actionId]!;
  }

  get time(): string {
    return (this.timeText ||= this.clock.formatHiLo(this.ktimeHi, this.ktimeLo));
  }

  /** The drain buffer with the record at `at`; throws once a later drain has overwritten it. */
  record(): DrainBuffer {
    if (this.drain.epoch !== this.epoch) throw new Error('a hook event\'s record was read after the next drain: sinks must take what they need in write()');
    return this.drain;
  }

  /** The arguments as plain text, for compact lines: "3 /etc/passwd", "= -2" after a return value. */
  get argsText(): string {
    if (this.text !== undefined) return this.text;
    const { buf, dv } = this.record();
    const rec = this.at;
    const hook = this.hook;
    const data = rec + HOOK.data;
    let text = '';
    for (let i = 0; i < hook.args.length; i++) {
      const at = rec + HOOK.args + 8 * i;
      const lo = dv.getUint32(at, true);
      const hi = dv.getUint32(at + 4, true);
      const type = hook.args[i]!;
      let plain: string;
      if (type === 'string' || type === 'file' || type === 'path') plain = buf.toString('utf8', data + lo, data + lo + hi);
      else if (type === 'sock') plain = sockOf(buf, data + lo).text;
      else if (type === 'cred') plain = credOf(buf, data + lo).text;
      else if (type === 'bytes') plain = `<${hi} bytes>`;
      else if (type === 'sockaddr') plain = sockaddrOf(buf, data + lo).text;
      else plain = intText(type, lo, hi);
      text += (i > 0 ? ' ' : '') + plain;
    }
    if (dv.getUint32(rec + HOOK.flags, true) & HOOK_RETURN && hook.ret) {
      const at = rec + HOOK.args + 8 * (HOOK_ARGS - 1);
      text += ` = ${intText(hook.ret, dv.getUint32(at, true), dv.getUint32(at + 4, true))}`;
    }
    return (this.text = text);
  }
}
