// Events as JSON lines in Tetragon's shape: {"<type>":{...},"node_name":"…","time":"…"}.
// Lines are written as UTF-8 straight into one output buffer per batch, which the sinks write out
// as it is: no line is ever a JS string first. Process blocks are cached text on the cache entries;
// a process that keeps firing hooks gets its process and parent blocks cached once more, as bytes.
import type { WallClock } from '../pipeline/clock.js';
import type { PalisadeEvent, ProcessHookEvent } from '../pipeline/events.js';
import type { HookInfo } from '../pipeline/hooks.js';
import { capabilitiesJson, credentialsJson, namespacesJson, type CapSets, type Credentials, type Process } from '../process/process.js';
import { hookTail, hookTailAndEnd, writeHookArgs } from './hook-json.js';
import { LineBuffer } from './line-buffer.js';

export interface JsonOptions {
  nodeName: string;
  hostNs: ArrayLike<number>;
  /** `process_credentials` and `cap` in full process blocks (Tetragon's --enable-process-cred). */
  processCred: boolean;
  /** `ns` in full process blocks (Tetragon's --enable-process-ns). */
  processNs: boolean;
  /** The clock that formats event times: the time it formatted last is written from its bytes. */
  clock?: WallClock;
}

/** Hook events are cached per pid slot: a bounded table, so memory stays flat however many fire. */
const HEAD_SLOTS = 1024;
const EXEC_OPEN = Buffer.from('{"process_exec":{"process":');
const EXIT_OPEN = Buffer.from('{"process_exit":{"process":');
const PARENT = Buffer.from(',"parent":');
const PROCESS = Buffer.from(',"process":');
const TIME_PLACEHOLDER = Buffer.from('000000000Z"}\n');

/** Lines written so far are buf[0, pos); the buffer is replaced by a bigger one when a line does not fit. */
export class JsonLines extends LineBuffer {
  /** `},"node_name":"…","time":"`: every line ends with it, then the time and `"}\n`. */
  private readonly tail: Buffer;
  /** The tail, the clock's current second and a placeholder for `nnnnnnnnnZ"}\n`: see end(). */
  private endBytes = Buffer.alloc(0);
  private endSecond: Buffer | null = null;
  private readonly headProc: (Process | undefined)[] = new Array<Process | undefined>(HEAD_SLOTS).fill(undefined);
  private readonly headHook: (HookInfo | undefined)[] = new Array<HookInfo | undefined>(HEAD_SLOTS).fill(undefined);
  private readonly headBytes: Buffer[] = new Array<Buffer>(HEAD_SLOTS).fill(Buffer.alloc(0));
  /**
   * The optional parts of process blocks, as bytes, by value: processes share these values (the
   * cache keeps one object per distinct value), so each is built once, and held by no process.
   */
  private readonly credBytes = new WeakMap<Credentials, Buffer>();
  private readonly capBytes = new WeakMap<CapSets, Buffer>();
  private readonly nsBytes = new WeakMap<Uint32Array, Buffer>();

  constructor(private readonly opts: JsonOptions, initialBytes = 1 << 20) {
    super(initialBytes);
    this.tail = Buffer.from(`},"node_name":${JSON.stringify(opts.nodeName)},"time":"`);
  }

  /** Appends the event's line ("\n" included) and returns where it starts; it ends at `pos`. */
  append(ev: PalisadeEvent): number {
    const start = this.pos;
    switch (ev.type) {
      case 'process_exec':
      case 'process_exit':
        this.bytes(ev.type === 'process_exec' ? EXEC_OPEN : EXIT_OPEN);
        this.block(ev.process);
        if (ev.parent) {
          this.bytes(PARENT);
          this.block(ev.parent);
        }
        if (ev.ancestors.length > 0) {
          let s = ',"ancestors":[';
          for (let i = 0; i < ev.ancestors.length; i++) s += (i > 0 ? ',' : '') + ev.ancestors[i]!.slimJson();
          this.text(s + ']');
        }
        if (ev.type === 'process_exit') this.text(`,"status":${ev.status}` + (ev.signal ? `,"signal":"${ev.signal}"` : ''));
        this.end(ev.time);
        break;
      case 'network_flow': {
        const flow = JSON.stringify(ev.flow);
        this.text(`{"network_flow":${flow.slice(0, -1)}`);
        if (ev.process) {
          this.bytes(PROCESS);
          this.block(ev.process);
        }
        if (ev.parent) {
          this.bytes(PARENT);
          this.block(ev.parent);
        }
        this.end(ev.time);
        break;
      }
      case 'events_lost':
        this.text(
          `{"events_lost":{"count":${ev.count},"reason":${JSON.stringify(ev.reason)},` +
          `"where":${JSON.stringify(ev.where)}`,
        );
        this.end(ev.time);
        break;
      default:
        this.bytes(this.head(ev));
        writeHookArgs(this, ev);
        this.endHook(ev);
    }
    return start;
  }

  /**
   * Closes the event's object and the line: node_name, time, "\n". A time the clock has just
   * formatted (the pipeline's case) costs one copy and nine digits, not a string encoding.
   */
  private end(time: string): void {
    const clock = this.opts.clock;
    const second = clock?.prefixOf(time);
    if (second) return this.endAt(second, clock!.lastNsec);
    this.bytes(this.tail);
    this.text(time + '"}\n');
  }

  /**
   * A hook event's tail and the line's end, in one copy, then the nine digits: its kernel time is
   * stamped on the clock, never made text.
   */
  private endHook(ev: ProcessHookEvent): void {
    const clock = this.opts.clock;
    if (!clock) {
      this.bytes(hookTail(ev));
      return this.end(ev.time);
    }
    clock.stamp(ev.ktimeHi, ev.ktimeLo);
    this.bytes(hookTailAndEnd(ev, this.lineEnd(clock.secondBytes)));
    this.nanoseconds(clock.lastNsec);
  }

  /** The line's end for a time given as its second's bytes and its nanoseconds. */
  private endAt(second: Buffer, nsec: number): void {
    this.bytes(this.lineEnd(second));
    this.nanoseconds(nsec);
  }

  /** `},"node_name":"…","time":"YYYY-MM-DDTHH:MM:SS.000000000Z"}\n` for this second: made once a second. */
  private lineEnd(second: Buffer): Buffer {
    if (second !== this.endSecond) {
      this.endBytes = Buffer.concat([this.tail, second, TIME_PLACEHOLDER]);
      this.endSecond = second;
    }
    return this.endBytes;
  }

  /** Puts the nine digits into the placeholder of the line end just written. */
  private nanoseconds(nsec: number): void {
    const b = this.buf;
    let v = nsec;
    for (let i = this.pos - 5; i >= this.pos - 13; i--) {
      const q = (v / 10) | 0;
      b[i] = 48 + v - q * 10;
      v = q;
    }
  }

  /** A full process block: the cached core, the optional parts, the closing brace. */
  private block(p: Process): void {
    this.text(p.coreJson());
    if (this.opts.processCred) {
      let b = this.credBytes.get(p.creds);
      if (b === undefined) this.credBytes.set(p.creds, (b = Buffer.from(credentialsJson(p.creds))));
      this.bytes(b);
      b = this.capBytes.get(p.caps);
      if (b === undefined) this.capBytes.set(p.caps, (b = Buffer.from(capabilitiesJson(p.caps))));
      this.bytes(b);
    }
    if (this.opts.processNs) {
      let b = this.nsBytes.get(p.ns);
      if (b === undefined) this.nsBytes.set(p.ns, (b = Buffer.from(namespacesJson(p.ns, this.opts.hostNs))));
      this.bytes(b);
    }
    this.byte(125); // }
  }

  /**
   * `{"<type>":{"process":{…},"parent":{…},"subsys":…,"args":[` for a hook event: its process blocks
   * and its hook's head as bytes, cached by pid slot.
   */
  private head(ev: ProcessHookEvent): Buffer {
    const p = ev.process;
    const slot = p.pid & (HEAD_SLOTS - 1);
    if (this.headProc[slot] === p && this.headHook[slot] === ev.hook) return this.headBytes[slot]!;
    const start = this.pos;
    this.text(`{"${ev.type}":{"process":`);
    this.block(p);
    if (ev.parent) {
      this.bytes(PARENT);
      this.block(ev.parent);
    }
    this.byte(44); // ,
    this.bytes(ev.hook.json.head);
    // Copied out of the line buffer: exact size, and not a slice of a shared pool.
    const bytes = Buffer.allocUnsafeSlow(this.pos - start);
    this.buf.copy(bytes, 0, start, this.pos);
    this.pos = start;
    this.headProc[slot] = p;
    this.headHook[slot] = ev.hook;
    this.headBytes[slot] = bytes;
    return bytes;
  }

}
