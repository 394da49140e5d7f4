// The agent: loads the process sensor, seeds the cache from /proc, runs the pipeline on a timer,
// serves the local socket, and on stop detaches everything and flushes every sink.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BpfObject, RingBuffer, bootTimeOffsetNs, type BpfLink, type BpfMap } from '../native/index.js';
import { LocalServer } from './api/local.js';
import type { AgentConfig } from './config/config.js';
import { compactLine, viewOfEvent } from './export/compact.js';
import { FileSink } from './export/file.js';
import type { OutputFormat, Sink, SinkStats } from './export/sink.js';
import { StreamSink } from './export/stream.js';
import { WallClock } from './pipeline/clock.js';
import type { PalisadeEvent } from './pipeline/events.js';
import { STAT_NAMES } from './pipeline/layout.js';
import { Pipeline, type PipelineCounters } from './pipeline/pipeline.js';
import { ProcessCache, type ProcessCacheStats } from './process/cache.js';
import { hostNamespaces, scanProc, seedCache } from './process/procfs.js';

export class AgentStartError extends Error {}

export interface AgentStatus {
  version: string;
  node_name: string;
  pid: number;
  uptime_seconds: number;
  programs: string[];
  ring_buffer_bytes: number;
  events: PipelineCounters;
  kernel: Record<string, number>;
  process_cache: ProcessCacheStats;
  sinks: SinkStats[];
  clients: number;
}

export const VERSION = '0.1.0';
const SENSOR_PROGRAMS = ['pal_exec', 'pal_fork', 'pal_exit'];

export function formatter(fmt: OutputFormat): (ev: PalisadeEvent, json: string) => string {
  return fmt === 'json' ? (_ev, json) => json : (ev) => compactLine(viewOfEvent(ev));
}

export class Agent {
  private obj: BpfObject | null = null;
  private links: BpfLink[] = [];
  private stats: BpfMap | null = null;
  private pipeline: Pipeline | null = null;
  private server: LocalServer | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly cache: ProcessCache;
  private readonly startedAt = Date.now();
  private stopping: Promise<void> | null = null;

  constructor(private readonly cfg: AgentConfig, private readonly log: Logger) {
    this.cache = new ProcessCache({
      maxEntries: cfg.processCache.maxEntries,
      ancestorsDepth: cfg.processCache.ancestorsDepth,
      graceMs: cfg.processCache.gcGraceSeconds * 1000,
    });
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    const objPath = join(cfg.bpfDir, 'process.bpf.o');
    if (!existsSync(objPath)) {
      throw new AgentStartError(`BPF object not found: ${objPath} (build it with ./scripts/setup.sh, or point --bpf-dir at it)`);
    }
    const obj = BpfObject.open(objPath);
    this.obj = obj;
    obj.setMapMaxEntries('pal_events', cfg.ringBufferBytes);
    obj.load();
    // Attach before reading /proc: whatever starts meanwhile waits in the ring buffer.
    for (const prog of SENSOR_PROGRAMS) this.links.push(obj.attach(prog));
    this.stats = obj.map('pal_stats');
    this.log.info({ programs: SENSOR_PROGRAMS, ring_buffer_bytes: cfg.ringBufferBytes }, 'process sensor attached');

    const clock = new WallClock(bootTimeOffsetNs());
    const hostNs = hostNamespaces();
    // Processes already running: so that their children and exits resolve.
    const running = scanProc();
    seedCache(this.cache, running, cfg.nodeName, clock, hostNs);
    this.log.info({ processes: running.length }, 'process cache seeded from /proc');

    const sinks: Sink[] = [];
    const stdoutMode = cfg.export.stdout === 'auto' ? (process.stdout.isTTY ? 'compact' : 'json') : cfg.export.stdout;
    if (stdoutMode !== 'none') sinks.push(new StreamSink('stdout', process.stdout, formatter(stdoutMode)));
    const f = cfg.export.file;
    if (f) {
      sinks.push(new FileSink(f.path, { maxBytes: f.maxSizeMb * 1024 * 1024, maxFiles: f.maxFiles }, formatter(f.format)));
      this.log.info({ path: f.path, max_size_mb: f.maxSizeMb, max_files: f.maxFiles }, 'exporting to file');
    }

    const ring = new RingBuffer(obj.map('pal_events'));
    const pipeline = new Pipeline({
      source: ring,
      cache: this.cache,
      sinks,
      clock,
      nodeName: cfg.nodeName,
      hostNs,
      kernelLost: () => this.kernelStats().lost,
    });
    this.pipeline = pipeline;
    pipeline.poll();

    this.server = new LocalServer(cfg.socket, {
      status: () => this.status(),
      subscribe: (sink) => pipeline.addSink(sink),
      unsubscribe: (sink) => pipeline.removeSink(sink),
    });
    await this.server.listen();
    this.log.info({ socket: cfg.socket }, 'local API listening');

    this.timers.push(setInterval(() => this.guard('drain', () => pipeline.poll()), cfg.drainIntervalMs));
    this.timers.push(
      setInterval(() => this.guard('housekeeping', () => {
        pipeline.poll();
        const before = pipeline.counters.lost + pipeline.counters.sinkDropped;
        pipeline.checkLosses();
        const lostNow = pipeline.counters.lost + pipeline.counters.sinkDropped - before;
        if (lostNow > 0) this.log.warn({ lost: lostNow, kernel: pipeline.counters.lost, sinks: pipeline.counters.sinkDropped }, 'events lost');
        this.cache.gc();
      }), 1000),
    );
  }

  /** A bug in one round must not stop the agent: log it and go on with the next round. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `${what} failed`);
    }
  }

  kernelStats(): { lost: number } & Record<string, number> {
    const out: Record<string, number> = {};
    let lost = 0;
    if (this.stats) {
      for (let i = 0; i < STAT_NAMES.length; i++) {
        const name = STAT_NAMES[i]!;
        const v = Number(this.stats.sumPerCpuU64(Buffer.from(new Uint32Array([i]).buffer)) ?? 0n);
        out[name] = v;
        if (name.startsWith('lost_')) lost += v;
      }
    }
    return { ...out, lost };
  }

  status(): AgentStatus {
    const p = this.pipeline;
    return {
      version: VERSION,
      node_name: this.cfg.nodeName,
      pid: process.pid,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      programs: this.links.map((l) => l.program),
      ring_buffer_bytes: this.cfg.ringBufferBytes,
      events: p ? { ...p.counters } : ({} as PipelineCounters),
      kernel: this.kernelStats(),
      process_cache: this.cache.stats(),
      sinks: p ? p.sinks.map((s) => s.stats()) : [],
      clients: this.server?.clients ?? 0,
    };
  }

  /** Detaches every program, drains what is left, flushes and closes every sink. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const l of this.links) l.destroy();
    this.links = [];
    if (this.pipeline) {
      this.pipeline.poll(); // what the kernel wrote before detach
      this.pipeline.checkLosses();
      await Promise.all(this.pipeline.sinks.map((s) => s.close()));
    }
    await this.server?.close();
    this.obj?.close();
    this.obj = null;
    this.log.info('agent stopped: programs detached, sinks flushed');
  }
}
