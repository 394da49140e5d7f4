// drain → decode → process cache → sinks. One preallocated buffer, read with a DataView; a JS
// object is made only for what the cache keeps (an exec) and for each event handed to sinks.
import { EV_NET, NET } from '../../network/datapath/layout.js';
import { JsonLines } from '../export/json.js';
import type { NetFlow } from '../network/service.js';
import type { Sink } from '../export/sink.js';
import type { ProcessCache } from '../process/cache.js';
import { Process, makeExecId } from '../process/process.js';
import type { WallClock } from './clock.js';
import { nowRfc3339 } from './clock.js';
import { decodeWaitStatus, type PalisadeEvent } from './events.js';
import { DrainBuffer, HookEvent, hookRecordFits } from './hook-event.js';
import type { HookRegistry } from './hooks.js';
import { EV_EXEC, EV_EXIT, EV_FORK, EV_HOOK, EXEC, EXEC_ARGS_TRUNC, EXIT, FORK, FRAME_HEADER, HDR, HOOK, NS_NAMES } from './layout.js';

/** Anything that fills a buffer with framed records: the native ring buffer, or a test double. */
export interface RecordSource {
  drain(out: Buffer): number;
}

export interface PipelineOptions {
  source: RecordSource;
  cache: ProcessCache;
  sinks: Sink[];
  clock: WallClock;
  nodeName: string;
  hostNs: ArrayLike<number>;
  /** What hook records mean; without it they count as decode errors. */
  hooks?: HookRegistry;
  /** Network records (pal_net) → flows; without it they count as decode errors. */
  network?: { flow(rec: Buffer): NetFlow };
  /** Total records the kernel could not write (ring buffer full), summed over CPUs. */
  kernelLost?: () => number;
  bufferBytes?: number;
  /** Frames handled per poll() before yielding to the event loop. */
  pollBudget?: number;
  /** `process_credentials` and `cap` in process blocks (config enable_process_cred). Default: true. */
  processCred?: boolean;
  /** `ns` in process blocks (config enable_process_ns). Default: true. */
  processNs?: boolean;
}

export interface PipelineCounters {
  /** Records taken from the ring buffer. */
  received: number;
  /** Records decoded into an event or a cache update. */
  decoded: number;
  decodeErrors: number;
  /** Records the kernel dropped (reserve failures). */
  lost: number;
  /** Events handed to the sinks. */
  exported: number;
  /** Events the sinks dropped (slow reader, write failure). */
  sinkDropped: number;
  /** Exits and forks of processes the cache never saw. */
  unknownProcess: number;
}

const TWO32 = 4294967296;
/** Sinks are flushed once a batch holds this many bytes of JSON lines, or at the end of a drain. */
const FLUSH_BYTES = 512 << 10;

/** Smallest valid record per type, indexed by type; a type without an entry is unknown. */
const MIN_SIZE: (number | undefined)[] = [];
MIN_SIZE[EV_EXEC] = EXEC.$size;
MIN_SIZE[EV_EXIT] = EXIT.$size;
MIN_SIZE[EV_FORK] = FORK.$size;
MIN_SIZE[EV_HOOK] = HOOK.$size;
MIN_SIZE[EV_NET] = NET.$size;

export class Pipeline {
  readonly counters: PipelineCounters = {
    received: 0, decoded: 0, decodeErrors: 0, lost: 0, exported: 0, sinkDropped: 0, unknownProcess: 0,
  };
  private readonly drained: DrainBuffer;
  private readonly buf: Buffer;
  private readonly dv: DataView;
  /** This batch's JSON lines, which every sink gets a range of. */
  private readonly lines: JsonLines;
  private readonly budget: number;
  private lostReported = 0;

  constructor(private readonly opts: PipelineOptions) {
    this.drained = new DrainBuffer(opts.bufferBytes ?? 4 << 20);
    this.buf = this.drained.buf;
    this.dv = this.drained.dv;
    this.lines = new JsonLines({
      nodeName: opts.nodeName, hostNs: opts.hostNs, processCred: opts.processCred ?? true, processNs: opts.processNs ?? true, clock: opts.clock,
    });
    this.budget = opts.pollBudget ?? 200_000;
  }

  get sinks(): Sink[] {
    return this.opts.sinks;
  }

  /** Drains what the kernel has written, up to the budget, then flushes the sinks. */
  poll(): number {
    let frames = 0;
    while (frames < this.budget) {
      this.drained.epoch++; // events of the last drain may no longer read their records
      const n = this.opts.source.drain(this.buf);
      if (n === 0) break;
      frames += this.handle(n);
      // Flush per buffer, not per budget: a backlog must never build one giant string.
      this.flush();
    }
    return frames;
  }

  /** Reports losses since the last check (kernel and sinks) as events_lost, then flushes. */
  checkLosses(): void {
    const kernelLost = this.opts.kernelLost?.() ?? 0;
    if (kernelLost > this.lostReported) {
      this.counters.lost = kernelLost;
      this.emit({ type: 'events_lost', time: nowRfc3339(), count: kernelLost - this.lostReported, reason: 'ring_buffer_full', where: 'kernel' });
      this.lostReported = kernelLost;
    }
    for (const s of this.opts.sinks) {
      const n = s.takeDropped();
      if (n > 0) {
        this.counters.sinkDropped += n;
        this.emit({ type: 'events_lost', time: nowRfc3339(), count: n, reason: 'sink_backpressure', where: s.name });
      }
    }
    this.flush();
  }

  addSink(s: Sink): void {
    this.opts.sinks.push(s);
  }

  removeSink(s: Sink): void {
    const i = this.opts.sinks.indexOf(s);
    if (i >= 0) this.opts.sinks.splice(i, 1);
  }

  /** Sinks write out what they took from the batch buffer, which then starts over. */
  private flush(): void {
    for (const s of this.opts.sinks) s.flush();
    this.lines.reset();
  }

  /** Walks the frames in buf[0, n). Returns how many there were. */
  private handle(n: number): number {
    const dv = this.dv;
    let off = 0;
    let frames = 0;
    while (off + FRAME_HEADER <= n) {
      const len = dv.getUint32(off, true);
      const rec = off + FRAME_HEADER;
      off = rec + ((len + 7) & ~7);
      frames++;
      if (len < HDR.$size || rec + len > n) {
        this.counters.decodeErrors++;
        continue;
      }
      const type = dv.getUint16(rec + HDR.type, true);
      if (len < (MIN_SIZE[type] ?? Infinity)) {
        this.counters.decodeErrors++; // unknown type, or too short for its type
        continue;
      }
      if (type === EV_EXEC) this.onExec(rec, len);
      else if (type === EV_EXIT) this.onExit(rec);
      else if (type === EV_FORK) this.onFork(rec);
      else if (type === EV_NET) this.onNet(rec, len);
      else this.onHook(rec);
    }
    this.counters.received += frames;
    return frames;
  }

  /** The record's kernel time as RFC 3339 wall time. */
  private eventTime(rec: number): string {
    return this.opts.clock.formatHiLo(this.dv.getUint32(rec + HDR.ktime + 4, true), this.dv.getUint32(rec + HDR.ktime, true));
  }

  private u64num(at: number): number {
    return this.dv.getUint32(at + 4, true) * TWO32 + this.dv.getUint32(at, true);
  }

  private u64str(at: number): string {
    return this.dv.getBigUint64(at, true).toString();
  }

  private capPair(at: number): [number, number] {
    return [this.dv.getUint32(at, true), this.dv.getUint32(at + 4, true)];
  }

  private onExec(rec: number, len: number): void {
    const dv = this.dv;
    const buf = this.buf;
    const u32 = (f: number): number => dv.getUint32(rec + f, true);
    const pid = u32(EXEC.pid);
    const ppid = u32(EXEC.ppid);
    const binLen = dv.getUint16(rec + EXEC.binary_len, true);
    const argsLen = dv.getUint16(rec + EXEC.args_len, true);
    const cwdLen = dv.getUint16(rec + EXEC.cwd_len, true);
    const cgLen = dv.getUint16(rec + EXEC.cgroup_len, true);
    let p = rec + EXEC.data;
    if (EXEC.data + binLen + argsLen + cwdLen + cgLen > len) {
      this.counters.decodeErrors++;
      return;
    }
    const binary = buf.toString('utf8', p, (p += binLen));
    const argsRaw = buf.toString('utf8', p, (p += argsLen));
    const cwd = buf.toString('utf8', p, (p += cwdLen));
    const cgroupPath = buf.toString('utf8', p, (p += cgLen));
    const args = argsRaw === '' ? [] : argsRaw.split('\0');
    if (args.length > 0 && args[args.length - 1] === '') args.pop();
    const ns = new Uint32Array(NS_NAMES.length);
    for (let i = 0; i < ns.length; i++) ns[i] = u32(EXEC.ns + 4 * i);

    const time = this.eventTime(rec);
    const parent = this.opts.cache.lookup(ppid, this.u64num(rec + EXEC.parent_start_boottime));
    const proc = new Process({
      execId: makeExecId(this.opts.nodeName, this.u64str(rec + HDR.ktime), pid),
      pid,
      tid: u32(EXEC.tid),
      ppid,
      creds: {
        uid: u32(EXEC.uid), gid: u32(EXEC.gid), euid: u32(EXEC.euid), egid: u32(EXEC.egid),
        suid: u32(EXEC.suid), sgid: u32(EXEC.sgid), fsuid: u32(EXEC.fsuid), fsgid: u32(EXEC.fsgid),
      },
      auid: u32(EXEC.auid),
      binary,
      args,
      argsTruncated: (u32(EXEC.flags) & EXEC_ARGS_TRUNC) !== 0,
      cwd,
      origin: 'execve',
      startTime: time,
      startBoottime: this.u64num(rec + EXEC.start_boottime),
      cgroupId: this.u64str(rec + EXEC.cgroup_id),
      cgroupPath,
      caps: {
        permitted: this.capPair(rec + EXEC.cap_permitted),
        effective: this.capPair(rec + EXEC.cap_effective),
        inheritable: this.capPair(rec + EXEC.cap_inheritable),
      },
      ns,
    });
    this.opts.cache.insert(proc, parent);
    this.counters.decoded++;
    this.emit({ type: 'process_exec', time, process: proc, parent: parent ?? null, ancestors: this.opts.cache.ancestors(proc) });
  }

  /** A new process that has not exec'd yet: it runs its parent's image, so it copies its parent. */
  private onFork(rec: number): void {
    const dv = this.dv;
    const pid = dv.getUint32(rec + FORK.pid, true);
    const ppid = dv.getUint32(rec + FORK.ppid, true);
    const parent = this.known(ppid, rec + FORK.parent_start_boottime);
    if (parent === undefined) return;
    const child = new Process({
      ...parent,
      execId: makeExecId(this.opts.nodeName, this.u64str(rec + HDR.ktime), pid),
      pid,
      tid: dv.getUint32(rec + FORK.tid, true),
      ppid,
      origin: 'clone',
      startTime: this.eventTime(rec),
      startBoottime: this.u64num(rec + FORK.start_boottime),
    });
    this.opts.cache.insert(child, parent);
  }

  /** The cached process a decoded record names (pid and the start time at `startAt`); counts the misses. */
  private known(pid: number, startAt: number): Process | undefined {
    this.counters.decoded++;
    const proc = this.opts.cache.lookup(pid, this.u64num(startAt));
    if (proc === undefined) this.counters.unknownProcess++;
    return proc;
  }

  private onExit(rec: number): void {
    const dv = this.dv;
    const cache = this.opts.cache;
    const proc = this.known(dv.getUint32(rec + EXIT.pid, true), rec + EXIT.start_boottime);
    if (proc === undefined) return;
    cache.exit(proc);
    const { status, signal } = decodeWaitStatus(dv.getUint32(rec + EXIT.exit_code, true));
    this.emit({ type: 'process_exit', time: this.eventTime(rec), process: proc, parent: proc.parent, ancestors: cache.ancestors(proc), status, signal });
  }

  private onHook(rec: number): void {
    const dv = this.dv;
    const hook = this.opts.hooks?.get(dv.getUint32(rec + HOOK.hook_id, true));
    if (hook === undefined || !hookRecordFits(dv, rec, hook)) {
      this.counters.decodeErrors++; // an unknown hook, or a record that is not one of its
      return;
    }
    const proc = this.known(dv.getUint32(rec + HOOK.pid, true), rec + HOOK.start_boottime);
    if (proc === undefined) return;
    // The arguments stay in the record: the JSON writer renders them from there.
    this.emit(new HookEvent(hook, proc, this.opts.clock, this.drained, rec));
  }

  private onNet(rec: number, len: number): void {
    const net = this.opts.network;
    if (!net) {
      this.counters.decodeErrors++;
      return;
    }
    const f = net.flow(this.buf.subarray(rec, rec + len));
    this.counters.decoded++;
    // Ingress verdicts run in softirq: no task. Others name one the cache may know.
    const proc = f.pid !== 0 ? this.opts.cache.lookup(f.pid, f.startBoottime) ?? null : null;
    this.emit({ type: 'network_flow', time: this.eventTime(rec), process: proc, parent: proc?.parent ?? null, flow: f.flow });
  }

  private emit(ev: PalisadeEvent): void {
    const lines = this.lines;
    const start = lines.append(ev);
    const sinks = this.opts.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.write(ev, lines.buf, start, lines.pos);
    this.counters.exported++;
    // Writes of ~512 KB: few syscalls, and the batch buffer (1 MB) rarely grows.
    if (lines.pos >= FLUSH_BYTES) this.flush();
  }
}
